"""Resolve extra image pins of a chart (e.g. the tailscale client sidecar) against a registry.

A pin below its minimum is raised to the newest release tag >= the minimum that exists
in the registry. A floating tag (``stable``, ``latest``) is left alone; we report which
release it points at today by matching its digest against the newest release tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from watcher.chart.bump import ImagePin
from watcher.chart.yaml_edit import find_scalar
from watcher.config.model import PinConfig
from watcher.core.errors import ChartError, SourceError
from watcher.core.image_ref import parse_image_ref
from watcher.net.registry import RegistryReader

_RELEASE_TAG = re.compile(r"^v?\d+\.\d+\.\d+$")
FLOATING_PROBES = 5


@dataclass(frozen=True)
class ResolvedPin:
    """A pin with what the registry says about it."""

    pin: ImagePin
    image: str
    current: str | None
    floating_resolves_to: str | None = None

    @property
    def floating(self) -> bool:
        """Whether the chart pins a tag that is no version (``stable``, ``latest``)."""
        return bool(self.current) and _version(self.current) is None


@dataclass(frozen=True)
class PinSite:
    """What the chart pins now: the image and its current tag (read from values.yaml once)."""

    image: str
    current: str | None


def pin_site(values_yaml: str, values_path: str, pin: PinConfig) -> PinSite:
    """Where ``pin`` points in the chart's values; a resolution depends only on this."""
    current = find_scalar(values_yaml, pin.key, filename=values_path)
    image = pin.image or _sibling_repository(values_yaml, values_path, pin.key)
    return PinSite(image, current.value if current else None)


def resolve_pin(registry: RegistryReader, site: PinSite, pin: PinConfig) -> ResolvedPin:
    """Look up what ``pin`` needs: a newer tag when it is too old, a name when it floats."""
    image, current = site.image, site.current
    minimum = Version(pin.minimum)
    version = _version(current)
    if version is not None and version >= minimum:
        return ResolvedPin(ImagePin(pin.key, pin.minimum), image, current)
    if version is None and current:
        try:
            resolved = _floating(registry, image, current, _releases(registry, image))
        except SourceError:
            # What a floating tag points at is information for the PR body, not a gate.
            resolved = None
        return ResolvedPin(ImagePin(pin.key, pin.minimum), image, current, resolved)
    releases = _releases(registry, image)
    prefixed = bool(current and current.startswith("v"))
    suitable = [t for v, t in releases if v >= minimum and t.startswith("v") == prefixed]
    suitable = suitable or [t for v, t in releases if v >= minimum]
    return ResolvedPin(
        ImagePin(pin.key, pin.minimum, suitable[0] if suitable else None), image, current
    )


def _releases(registry: RegistryReader, image: str) -> list[tuple[Version, str]]:
    """The image's release tags (``1.2.3`` / ``v1.2.3``), newest first."""
    tags = registry.tags(parse_image_ref(f"{image}:latest"))
    return sorted(
        ((v, t) for t in tags if _RELEASE_TAG.match(t) and (v := _version(t)) is not None),
        reverse=True,
    )


def _floating(
    registry: RegistryReader, image: str, tag: str, releases: list[tuple[Version, str]]
) -> str | None:
    floating = registry.manifest(parse_image_ref(f"{image}:{tag}"))
    if floating is None or not floating.digest:
        return None
    for _, candidate in releases[:FLOATING_PROBES]:
        info = registry.manifest(parse_image_ref(f"{image}:{candidate}"))
        if info is not None and info.digest == floating.digest:
            return candidate
    return f"digest {floating.digest}"


def _sibling_repository(values_yaml: str, values_path: str, key: str) -> str:
    repo_key = key.rsplit(".", 1)[0] + ".repository"
    found = find_scalar(values_yaml, repo_key, filename=values_path)
    if found is None or not found.value:
        raise ChartError(
            f"{values_path}: no {repo_key} for pin {key!r}",
            hint="set `image` on the [[watch.chart.pins]] entry",
        )
    return found.value


def _version(text: str | None) -> Version | None:
    if not text:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None
