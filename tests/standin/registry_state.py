"""The data behind the OCI registry stand-in: manifests pushed per host, name and tag.

A push stores a multi-platform index (OCI image index, or a Docker manifest list)
and one image manifest per platform, all addressable by digest, with deterministic
bodies so digests are stable across runs.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
# The image manifest type an index of each kind points at, and its config type.
CHILD_TYPES = {
    OCI_INDEX: (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json"),
    DOCKER_LIST: (DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json"),
}
DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")


@dataclass(frozen=True)
class Manifest:
    """A stored manifest: its media type, exact bytes and ``sha256:`` digest."""

    media_type: str
    body: bytes

    @property
    def digest(self) -> str:
        """The content digest, as in ``Docker-Content-Digest``."""
        return "sha256:" + hashlib.sha256(self.body).hexdigest()


def _encode(data: object) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode()


def _fake_digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


@dataclass
class _Repository:
    tags: dict[str, str] = field(default_factory=dict)
    manifests: dict[str, Manifest] = field(default_factory=dict)


class RegistryState:
    """Every registry host's repositories; safe to change while the server runs."""

    def __init__(self) -> None:
        """Start with nothing pushed anywhere."""
        self._repos: dict[tuple[str, str], _Repository] = {}
        self._lock = threading.Lock()
        # Tag-list pages link the next one by absolute URL instead of by path.
        self.absolute_links = False

    def push(
        self,
        host: str,
        name: str,
        tag: str,
        media_type: str = OCI_INDEX,
        platforms: Sequence[str] = DEFAULT_PLATFORMS,
    ) -> Manifest:
        """Push ``host/name:tag`` as an index of ``media_type`` over ``platforms``."""
        if media_type not in CHILD_TYPES:
            raise ValueError(f"media type {media_type} is not an index type")
        child_type, config_type = CHILD_TYPES[media_type]
        seed = f"{host}/{name}:{tag}"
        children = []
        for platform in platforms:
            os_name, arch = platform.split("/", 1)
            child = Manifest(
                child_type,
                _encode(
                    {
                        "schemaVersion": 2,
                        "mediaType": child_type,
                        "config": {
                            "mediaType": config_type,
                            "digest": _fake_digest(f"{seed}/{platform}/config"),
                            "size": 1024,
                        },
                        "layers": [],
                    }
                ),
            )
            children.append((child, os_name, arch))
        index = Manifest(
            media_type,
            _encode(
                {
                    "schemaVersion": 2,
                    "mediaType": media_type,
                    "manifests": [
                        {
                            "mediaType": child.media_type,
                            "digest": child.digest,
                            "size": len(child.body),
                            "platform": {"os": os_name, "architecture": arch},
                        }
                        for child, os_name, arch in children
                    ],
                }
            ),
        )
        with self._lock:
            repo = self._repos.setdefault((host, name), _Repository())
            for child, _, _ in children:
                repo.manifests[child.digest] = child
            repo.manifests[index.digest] = index
            repo.tags[tag] = index.digest
        return index

    def delete(self, host: str, name: str, tag: str) -> None:
        """Remove tag ``host/name:tag`` (KeyError when it was not pushed)."""
        with self._lock:
            del self._repos[(host, name)].tags[tag]

    def exists(self, host: str, name: str) -> bool:
        """Whether anything was ever pushed to ``host/name``."""
        with self._lock:
            return (host, name) in self._repos

    def resolve(self, host: str, name: str, reference: str) -> Manifest | None:
        """The manifest a tag or ``sha256:`` digest names, or None."""
        with self._lock:
            repo = self._repos.get((host, name))
            if repo is None:
                return None
            digest = reference if reference.startswith("sha256:") else repo.tags.get(reference)
            return repo.manifests.get(digest) if digest else None

    def tags(self, host: str, name: str) -> list[str]:
        """The tags of ``host/name``, sorted (empty when nothing was pushed)."""
        with self._lock:
            repo = self._repos.get((host, name))
            return sorted(repo.tags) if repo else []
