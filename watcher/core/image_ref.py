"""Image references (``[host/]name:tag``) parsed with Docker Hub's conventions. No I/O.

Apart from the registry client so that loading the configuration, which checks every
image reference template, does not import the HTTP stack (`watcher status` reads only
the database).
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.core.errors import SourceError

DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference: registry host, repository name, tag."""

    host: str
    name: str
    tag: str

    def __str__(self) -> str:
        return f"{self.host}/{self.name}:{self.tag}"


def parse_image_ref(reference: str) -> ImageRef:
    """Parse ``[host/]name:tag`` with Docker Hub's conventions (``alpine`` = library/alpine)."""
    if "@" in reference:
        raise SourceError(f"image reference {reference!r}: digests are not supported, use a tag")
    head, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag or not head:
        raise SourceError(f"image reference {reference!r} has no tag", hint="write it as name:tag")
    first, slash, rest = head.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, name = first, rest
    else:
        host, name = DOCKER_HUB, head
    if host == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    return ImageRef(host=host, name=name, tag=tag)
