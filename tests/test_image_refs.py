"""Image reference parsing with Docker Hub and ghcr.io conventions."""

from __future__ import annotations

import pytest

from watcher.core.errors import SourceError
from watcher.core.image_ref import ImageRef, parse_image_ref
from watcher.core.models import Release
from watcher.sources.image import image_refs


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("headscale/headscale:v0.29.0", ImageRef("docker.io", "headscale/headscale", "v0.29.0")),
        ("alpine:3.20", ImageRef("docker.io", "library/alpine", "3.20")),
        (
            "docker.io/tailscale/tailscale:v1.86.0",
            ImageRef("docker.io", "tailscale/tailscale", "v1.86.0"),
        ),
        ("ghcr.io/juanfont/headscale:0.29.0", ImageRef("ghcr.io", "juanfont/headscale", "0.29.0")),
        ("localhost:5000/a/b:1", ImageRef("localhost:5000", "a/b", "1")),
    ],
)
def test_parse(reference: str, expected: ImageRef) -> None:
    assert parse_image_ref(reference) == expected


@pytest.mark.parametrize("reference", ["headscale/headscale", "x@sha256:abc", "ghcr.io/a/b"])
def test_rejects_untagged(reference: str) -> None:
    with pytest.raises(SourceError):
        parse_image_ref(reference)


def test_templates_fill_tag_and_version() -> None:
    release = Release("v0.29.0", "0.29.0", False, False, "", None)
    refs = image_refs(
        ["headscale/headscale:{tag}", "ghcr.io/juanfont/headscale:{version}"], release
    )
    assert [str(r) for r in refs] == [
        "docker.io/headscale/headscale:v0.29.0",
        "ghcr.io/juanfont/headscale:0.29.0",
    ]
