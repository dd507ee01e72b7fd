"""A manifest HEAD counts only when it looks like one: a manifest media type and a digest.

A captive portal (or a misrouted proxy) answers ``200 text/html`` to every request; that
must not make the image signal hold, nor open a pull request for images that do not exist.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.memory_cache import MemoryCache
from tests.prs import pulls
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from watcher.core.errors import PayloadError
from watcher.core.image_ref import parse_image_ref
from watcher.net.http import HttpClient
from watcher.net.registry import MANIFEST_TYPES, RegistryReader

PORTAL = b"<html><body>Please accept the terms of use to continue.</body></html>"


def test_captive_portal_registry_opens_no_pull_request(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    acting.standin.faults.add(
        path=r"^/registry/",
        status=200,
        headers={"content-type": "text/html; charset=utf-8"},
        body=PORTAL,
        times=None,
    )
    result = acting("run", "--once")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert re.search(r"registry (docker\.io|ghcr\.io): http://\S+/manifests/", result.output)
    assert "text/html" in result.output
    assert pulls(acting.standin) == []


HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
DIGEST = "sha256:" + "ab" * 32


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content_type=st.one_of(st.sampled_from(sorted(MANIFEST_TYPES)), HEADER_TEXT),
    # Without a colon no text is a digest (algorithm ":" encoded).
    digest=st.one_of(st.just(DIGEST), HEADER_TEXT.filter(lambda text: ":" not in text)),
)
def test_manifest_counts_only_with_type_and_digest(
    standin: StandIn, content_type: str, digest: str
) -> None:
    standin.faults.clear()
    standin.faults.add(
        method="HEAD",
        path=r"/manifests/",
        status=200,
        headers={"content-type": content_type, "docker-content-digest": digest},
        body=b"",
    )
    http = HttpClient(MemoryCache())
    try:
        reader = RegistryReader(http, {"docker.io": standin.registry_url("docker.io")})
        ref = parse_image_ref("docker.io/library/alpine:3")
        genuine = content_type.strip().lower() in MANIFEST_TYPES and digest == DIGEST
        if genuine:
            info = reader.manifest(ref)
            assert info is not None and info.digest == digest
        else:
            with pytest.raises(PayloadError, match=r"registry docker\.io: http://"):
                reader.manifest(ref)
    finally:
        http.close()
