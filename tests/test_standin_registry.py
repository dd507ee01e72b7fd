"""The OCI registry side of the stand-in: challenge, token, HEAD/GET manifests, tag lists."""

from __future__ import annotations

import hashlib
import re

import httpx

from tests.standin.registry_state import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST
from tests.standin.server import StandIn

ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST])


def challenge(response: httpx.Response) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer`` challenge."""
    header = response.headers["www-authenticate"]
    assert header.startswith("Bearer ")
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def pull_token(c: httpx.Client, base: str, name: str) -> str:
    """Follow the anonymous flow: 401 challenge, then the realm's token."""
    denied = c.head(f"{base}/v2/{name}/manifests/latest")
    assert denied.status_code == 401
    params = challenge(denied)
    assert params["scope"] == f"repository:{name}:pull"
    reply = c.get(params["realm"], params={"service": params["service"], "scope": params["scope"]})
    body = reply.json()
    assert body["token"] == body["access_token"]
    return str(body["token"])


def test_challenge_token_and_manifest_flow(standin: StandIn) -> None:
    pushed = standin.registry.push("docker.io", "headscale/headscale", "v0.29.0")
    base = standin.registry_url("docker.io")
    with httpx.Client() as c:
        root = c.get(f"{base}/v2/")
        assert root.status_code == 401
        params = challenge(root)
        assert params == {"realm": f"{base}/token", "service": "registry.docker.io"}
        token = pull_token(c, base, "headscale/headscale")
        bearer = {"authorization": f"Bearer {token}", "accept": ACCEPT}
        assert c.get(f"{base}/v2/", headers=bearer).status_code == 200
        head = c.head(f"{base}/v2/headscale/headscale/manifests/v0.29.0", headers=bearer)
        assert head.status_code == 200
        assert head.headers["content-type"] == OCI_INDEX
        assert head.headers["docker-content-digest"] == pushed.digest
        assert head.content == b""
        got = c.get(f"{base}/v2/headscale/headscale/manifests/v0.29.0", headers=bearer)
        assert "sha256:" + hashlib.sha256(got.content).hexdigest() == pushed.digest
        child = got.json()["manifests"][0]["digest"]
        child_url = f"{base}/v2/headscale/headscale/manifests/{child}"
        # The per-platform manifest has its own media type, which Accept must allow too.
        assert c.head(child_url, headers=bearer).status_code == 404
        with_child = {**bearer, "accept": f"{ACCEPT}, {OCI_MANIFEST}"}
        assert c.head(child_url, headers=with_child).status_code == 200
        missing = c.get(f"{base}/v2/headscale/headscale/manifests/v9.9.9", headers=bearer)
        assert missing.status_code == 404
        assert missing.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
    assert standin.log[-1].authenticated


def test_accept_header_must_allow_the_pushed_media_type(standin: StandIn) -> None:
    standin.registry.push("ghcr.io", "juanfont/headscale", "v0.29.0", media_type=DOCKER_LIST)
    base = standin.registry_url("ghcr.io")
    with httpx.Client() as c:
        token = pull_token(c, base, "juanfont/headscale")
        url = f"{base}/v2/juanfont/headscale/manifests/v0.29.0"
        for accept, status in (("", 404), (OCI_INDEX, 404), ("*/*", 404), (ACCEPT, 200)):
            headers = {"authorization": f"Bearer {token}", "accept": accept}
            response = c.get(url, headers=headers)
            assert response.status_code == status, accept
            if status == 404:
                assert response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
            else:
                assert response.headers["content-type"] == DOCKER_LIST


def test_token_scope_is_per_repository_and_host(standin: StandIn) -> None:
    standin.registry.push("docker.io", "library/alpine", "3")
    standin.registry.push("ghcr.io", "library/alpine", "3")
    with httpx.Client() as c:
        token = pull_token(c, standin.registry_url("docker.io"), "headscale/headscale")
        headers = {"authorization": f"Bearer {token}", "accept": ACCEPT}
        other = c.get(
            f"{standin.registry_url('docker.io')}/v2/library/alpine/manifests/3", headers=headers
        )
        assert other.status_code == 401
        assert challenge(other)["error"] == "insufficient_scope"
        good = pull_token(c, standin.registry_url("docker.io"), "library/alpine")
        elsewhere = c.get(
            f"{standin.registry_url('ghcr.io')}/v2/library/alpine/manifests/3",
            headers={"authorization": f"Bearer {good}", "accept": ACCEPT},
        )
        assert elsewhere.status_code == 401
        bad = c.get(
            f"{standin.registry_url('ghcr.io')}/token", params={"service": "registry.docker.io"}
        )
        assert bad.status_code == 400


def test_tags_list_pagination_and_delete(standin: StandIn) -> None:
    for tag in ("v0.27.0", "v0.28.0", "v0.29.0", "0.29.0"):
        standin.registry.push("docker.io", "headscale/headscale", tag)
    base = standin.registry_url("docker.io")
    with httpx.Client(base_url=standin.url) as c:
        token = pull_token(c, base, "headscale/headscale")
        headers = {"authorization": f"Bearer {token}"}
        first = c.get(f"{base}/v2/headscale/headscale/tags/list", params={"n": 2}, headers=headers)
        assert first.json() == {"name": "headscale/headscale", "tags": ["0.29.0", "v0.27.0"]}
        following = first.links["next"]["url"]
        second = c.get(following, headers=headers)
        assert second.json()["tags"] == ["v0.28.0", "v0.29.0"]
        assert "link" not in second.headers
        standin.registry.delete("docker.io", "headscale/headscale", "v0.29.0")
        after = c.get(f"{base}/v2/headscale/headscale/tags/list", headers=headers).json()
        assert "v0.29.0" not in after["tags"]
        gone = c.head(
            f"{base}/v2/headscale/headscale/manifests/v0.29.0",
            headers={**headers, "accept": ACCEPT},
        )
        assert gone.status_code == 404
