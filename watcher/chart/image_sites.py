"""Where a chart's values name its images, and how a version-valued tag follows a release.

An *image site* is a mapping in ``values.yaml`` holding ``repository`` and optionally
``registry``, ``tag`` and ``digest`` (the ``image.registry`` + ``image.repository`` +
``image.tag`` + ``image.digest`` layout of Bitnami and many other charts; the
``registry`` key is optional, as in charts whose ``repository`` already names the
host). The sites a bump touches are named by dotted keys, or by globs over the dotted
paths of the values (``*`` is one key, ``**`` any number of keys), so
``**.image`` finds every component image of a chart like cert-manager's.

A tag is *versioned* when it reads as ``[v]X.Y[.Z...][pre-release][-suffix]``:
``v0.28.0``, ``0.29.0-beta.1``, or Bitnami's ``8.2.1-debian-12-r0`` (version ``8.2.1``,
suffix ``-debian-12-r0``). A versioned tag follows a release in its own style: the ``v``
prefix kept or left off, the suffix kept. Anything else (``latest``, ``stable``) is
*floating* and never rewritten. Pure functions; no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from packaging.version import InvalidVersion, Version

from watcher.chart.yaml_edit import find_scalar, load_data
from watcher.core.errors import ChartError

__all__ = [
    "ImageSite",
    "TagParts",
    "expand_image_keys",
    "follow_tag",
    "is_glob",
    "read_site",
    "split_tag",
]

_TAG = re.compile(r"(?P<prefix>v?)(?P<core>\d+(?:\.\d+)+)(?P<rest>.*)", re.DOTALL)
# Bitnami's charts let one global value override every image's registry:
# https://github.com/bitnami/charts/blob/main/bitnami/common/templates/_images.tpl
GLOBAL_REGISTRY_KEY = ("global", "imageRegistry")


@dataclass(frozen=True)
class TagParts:
    """A versioned tag split into ``prefix`` (``v`` or empty), ``version`` and ``suffix``."""

    prefix: str
    version: Version
    suffix: str


def split_tag(tag: str | None) -> TagParts | None:
    """The parts of a versioned tag; ``None`` for an empty or floating one."""
    match = _TAG.fullmatch(tag or "")
    if match is None:
        return None
    prefix, core, rest = match["prefix"], match["core"], match["rest"]
    try:
        # "0.29.0-beta.1" is a version as a whole (a pre-release), not "0.29.0" + suffix.
        return TagParts(prefix, Version(core + rest), "")
    except InvalidVersion:
        pass
    if not rest.startswith("-"):
        return None
    return TagParts(prefix, Version(core), rest)


def follow_tag(current: str, target_version: str) -> str | None:
    """``current`` moved to ``target_version`` in its own style; None when it must stay.

    It stays when it is floating (not versioned) or already at or past the target: a
    chart ahead of the watch is never downgraded, and a repeated bump changes nothing.
    """
    parts = split_tag(current)
    if parts is None or parts.version >= Version(target_version):
        return None
    return f"{parts.prefix}{target_version}{parts.suffix}"


@dataclass(frozen=True)
class ImageSite:
    """One image mapping in the values, as it reads before the bump.

    ``repository``, ``tag`` and ``digest`` are ``None`` when absent or empty (an empty
    tag means the templates use a default, normally the chart's ``appVersion``);
    ``tag_present`` tells an empty tag from an absent one.
    """

    key: str
    registry: str | None
    repository: str | None
    tag: str | None
    digest: str | None
    tag_present: bool = True

    def reference(self, tag: str) -> str | None:
        """The image reference the chart deploys with ``tag`` (None: no repository)."""
        if self.repository is None:
            return None
        name = f"{self.registry}/{self.repository}" if self.registry else self.repository
        return f"{name}:{tag}"


def is_glob(pattern: str) -> bool:
    """Whether an image key is a pattern rather than a literal dotted key."""
    return any(ch in pattern for ch in "*?[")


def expand_image_keys(values_yaml: str, patterns: tuple[str, ...], *, filename: str) -> list[str]:
    """The image keys named by ``patterns``, in order, each once.

    A literal key is kept as is (:func:`read_site` reports it if it is not an image); a
    glob expands to every mapping holding a ``repository`` whose dotted path matches,
    in document order, and must match at least one.
    """
    found: list[str] = []
    candidates: list[str] | None = None
    for pattern in patterns:
        if not is_glob(pattern):
            found.append(pattern)
            continue
        if candidates is None:
            candidates = list(_image_paths(load_data(values_yaml, filename=filename), ()))
        matched = [c for c in candidates if _glob_match(pattern.split("."), c.split("."))]
        if not matched:
            raise ChartError(
                f"{filename}: no image (a mapping with a repository) matches {pattern!r}",
                hint="fix [watch.chart].image_keys",
            )
        found.extend(matched)
    return list(dict.fromkeys(found))


def read_site(values_yaml: str, key: str, *, filename: str) -> ImageSite:
    """The image mapping at ``key`` (its keys may be absent: ``image: {}``)."""

    def scalar(path: str) -> tuple[bool, str | None]:
        # The scalar's text as written: an unquoted ``tag: 1.10`` must stay "1.10".
        ref = find_scalar(values_yaml, path, filename=filename)
        return ref is not None, (ref.value or None) if ref is not None else None

    _, global_registry = scalar(".".join(GLOBAL_REGISTRY_KEY))
    tag_present, tag = scalar(f"{key}.tag")
    return ImageSite(
        key=key,
        registry=global_registry or scalar(f"{key}.registry")[1],
        repository=scalar(f"{key}.repository")[1],
        tag=tag,
        digest=scalar(f"{key}.digest")[1],
        tag_present=tag_present,
    )


def _image_paths(node: Any, path: tuple[str, ...]) -> Any:
    """Dotted paths of every mapping (outside lists) that holds a string ``repository``."""
    if not isinstance(node, dict):
        return
    if path and isinstance(node.get("repository"), str):
        yield ".".join(path)
    for key, child in node.items():
        # A key with a dot cannot be addressed by a dotted path; it holds no image of ours.
        if isinstance(key, str) and key and "." not in key:
            yield from _image_paths(child, (*path, key))


def _glob_match(pattern: list[str], path: list[str]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_glob_match(rest, path[i:]) for i in range(len(path) + 1))
    return bool(path) and fnmatchcase(path[0], head) and _glob_match(rest, path[1:])
