"""The headscale-like history, stage by stage.

It holds every trap of docs/architecture.md, «What support landed means».
"""

from __future__ import annotations

import io
import tarfile
import zlib
from collections.abc import Iterator

import httpx
import pytest
from packaging.version import Version

from tests.standin.headscale import (
    FEATURE_FILE,
    IMAGES,
    MARKER,
    PUSH_TOKEN,
    REPO,
    LargeBlob,
    load_headscale,
)
from tests.standin.server import StandIn


@pytest.fixture(scope="module")
def waiting() -> Iterator[StandIn]:
    """One read-only stand-in at stage ``waiting``."""
    with StandIn() as server:
        load_headscale(server, "waiting")
        yield server


def repo_client(s: StandIn, token: str | None = None) -> httpx.Client:
    """A client rooted at the headscale repository."""
    headers = {"authorization": f"token {token}"} if token else {}
    return httpx.Client(base_url=f"{s.api_url}/repos/{REPO}", headers=headers)


def raw(c: httpx.Client, path: str, ref: str) -> str:
    """A file's text at ``ref`` ("" when it does not exist there)."""
    response = c.get(
        f"/contents/{path}", params={"ref": ref}, headers={"accept": "application/vnd.github.raw"}
    )
    return response.text if response.status_code == 200 else ""


def test_waiting_marker_traps(waiting: StandIn) -> None:
    with repo_client(waiting) as c:
        assert MARKER not in raw(c, FEATURE_FILE, "v0.28.0")
        assert MARKER in raw(c, FEATURE_FILE, "v0.29.0-beta.1")
        assert MARKER in raw(c, FEATURE_FILE, "main")
        assert MARKER not in raw(c, "go.sum", "v0.25.0")
        assert MARKER in raw(c, "go.sum", "v0.26.0")
        assert MARKER in raw(c, "vendor/tailscale.com/tailcfg/tailcfg.go", "v0.26.0")
        assert MARKER in raw(c, "hscontrol/policy/v2/types_test.go", "v0.28.0")
        assert MARKER in raw(c, "docs/ref/grants.md", "v0.28.0")


def test_waiting_release_traps(waiting: StandIn) -> None:
    with repo_client(waiting) as c:
        releases = c.get("/releases", params={"per_page": 100}).json()
        by_tag = {r["tag_name"]: r for r in releases}
        for spelling in ("-alpha12", "-beta1", "-beta.4", "-rc.1"):
            assert any(spelling in t and by_tag[t]["prerelease"] for t in by_tag), spelling
        assert "v0.27.3" not in by_tag and by_tag["v0.27.3-rc.1"]["prerelease"]
        assert by_tag["v0.24.0-docker-ko-test1"]["prerelease"]
        stable = [Version(t) for t, r in by_tag.items() if not r["prerelease"]]
        assert max(stable) == Version("v0.28.0")
        # Dates out of version order: the v0.27.2 patch is newer than v0.28.0.
        assert by_tag["v0.27.2"]["created_at"] > by_tag["v0.28.0"]["created_at"]
        assert by_tag["v0.27.2"]["target_commitish"] == "release/v0.27"
        patch = c.get("/commits/v0.27.2").json()
        assert patch["parents"][0]["sha"] == c.get("/commits/v0.27.1").json()["sha"]
        assert "tailscale/tailscale#2841" in by_tag["v0.27.2"]["body"]
        tags = {t["name"] for t in c.get("/tags", params={"per_page": 100}).json()}
        assert {"backup/main-2024-10", "tmp-grants-experiment", "upstream/v1.0"} <= tags
        assert not {"backup/main-2024-10", "v0.23-fix", "upstream/v1.0"} & set(by_tag)


def test_waiting_changelog_and_images(waiting: StandIn) -> None:
    with repo_client(waiting) as c:
        beta = raw(c, "CHANGELOG.md", "v0.29.0-beta.1")
        # headscale's real placeholder section, which names peer relays in words.
        assert "## 0.29.0 (202x-xx-xx)" in beta and "peer relay (`cap/relay`)" in beta
        old = raw(c, "CHANGELOG.md", "v0.22.0")
        assert "DERP relay" in old and "a3f2841c9e2180bd" in old
    assert waiting.registry.resolve("docker.io", "headscale/headscale", "v0.28.0")
    assert waiting.registry.resolve("docker.io", "headscale/headscale", "v0.29.0") is None


def test_stages_apply_incrementally(headscale_standin: StandIn) -> None:
    s = headscale_standin
    with repo_client(s) as anon, repo_client(s, PUSH_TOKEN) as pusher:
        issue_etag = anon.get("/issues/2841").headers["etag"]
        load_headscale(s, "pending")
        released = anon.get("/releases/tags/v0.29.0").json()
        assert not released["draft"] and not released["prerelease"]
        assert released["created_at"] == "2026-01-28T10:00:00Z"
        assert "## 0.29.0 (2026-01-28)" in raw(anon, "CHANGELOG.md", "v0.29.0")
        assert "## 0.30.0 (202x-xx-xx)" in raw(anon, "CHANGELOG.md", "main")
        assert [r["tag_name"] for r in pusher.get("/releases").json() if r["draft"]] == ["v0.30.0"]
        for host, name in IMAGES:
            assert s.registry.resolve(host, name, "v0.29.0") is None
        load_headscale(s, "ready")
        for host, name in IMAGES:
            assert s.registry.resolve(host, name, "v0.29.0") is not None
        load_headscale(s, "patch")
        patch = anon.get("/releases/tags/v0.29.1").json()
        assert patch["target_commitish"] == "release/v0.29"
        assert s.registry.resolve("ghcr.io", "juanfont/headscale", "0.29.1") is not None
        assert anon.get("/issues/2841").headers["etag"] == issue_etag
        assert anon.get("/issues/2841").json()["state"] == "open"
    with pytest.raises(ValueError, match="cannot go back"):
        load_headscale(s, "waiting")
    with pytest.raises(ValueError, match="unknown stage"):
        load_headscale(s, "done")


def test_history_is_reproducible(waiting: StandIn, standin: StandIn) -> None:
    load_headscale(standin, "waiting")
    first = {t.name: t.object_sha for t in waiting.github.repo(REPO).git.tags()}
    second = {t.name: t.object_sha for t in standin.github.repo(REPO).git.tags()}
    assert first == second


def test_large_testdata_blob(standin: StandIn) -> None:
    load_headscale(standin, "waiting", LargeBlob(size=300_000))
    response = httpx.get(
        f"{standin.api_url}/repos/{REPO}/tarball/v0.29.0-beta.1", follow_redirects=True
    )
    assert len(response.content) > 300_000
    with tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz") as tar:
        sizes = {m.name.split("/", 1)[1]: m.size for m in tar.getmembers() if "/" in m.name}
    assert sizes["hscontrol/policy/v2/testdata/grant_results/big.bin"] == 300_000
    compressible = LargeBlob(size=300_000, compressible=True).content()
    assert len(compressible) == 300_000
    assert len(zlib.compress(compressible)) < 10_000
