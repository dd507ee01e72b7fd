"""The `image` signal: is every configured image reference for a release pullable?"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from watcher.config.model import fill_placeholders
from watcher.core.image_ref import ImageRef, parse_image_ref
from watcher.core.models import Release, Signal, SignalName, SignalStatus
from watcher.net.registry import ManifestInfo


def image_refs(templates: Sequence[str], release: Release) -> list[ImageRef]:
    """Fill ``{tag}`` / ``{version}`` of each template for ``release`` and parse them."""
    fields = {"tag": release.tag, "version": release.version}
    return [parse_image_ref(fill_placeholders(t, fields)) for t in templates]


def image_signal(
    refs: Sequence[ImageRef],
    release: Release,
    lookup: Callable[[ImageRef], ManifestInfo | None],
) -> Signal:
    """HOLDS when every reference has a manifest; evidence lists each with its digest."""
    if not refs:
        return Signal(
            SignalName.IMAGE,
            SignalStatus.SKIPPED,
            "no image references configured",
            release_tag=release.tag,
        )
    present: list[str] = []
    missing: list[str] = []
    for ref in refs:
        info = lookup(ref)
        if info is None:
            missing.append(str(ref))
        else:
            present.append(f"{ref}@{info.digest or 'digest unknown'}")
    if missing:
        return Signal(
            SignalName.IMAGE,
            SignalStatus.MISSING,
            f"not pullable yet: {', '.join(missing)}",
            evidence=tuple(present),
            release_tag=release.tag,
        )
    return Signal(
        SignalName.IMAGE,
        SignalStatus.HOLDS,
        f"{len(present)} image(s) pullable: {', '.join(str(r) for r in refs)}",
        evidence=tuple(present),
        release_tag=release.tag,
    )
