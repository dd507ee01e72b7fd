"""The stand-in's HTTP behaviour: validators and 304s, quota accounting, auth, errors."""

from __future__ import annotations

import http.client

import httpx
import pytest

from tests.standin.headscale import REPO, load_headscale
from tests.standin.history import HistoryBuilder
from tests.standin.server import StandIn

SMALL = "octo/small"
RELEASES = f"/repos/{SMALL}/releases"
READ_TOKEN = "tok-read"
PUSH_TOKEN = "tok-push"


@pytest.fixture
def small(standin: StandIn) -> StandIn:
    """A stand-in with one tiny repository, one release, one issue and two tokens."""
    builder = HistoryBuilder(standin.github, SMALL)
    builder.commit("2025-01-01T00:00:00Z", "init", {"README.md": "hi\n"})
    builder.release("v1.0.0", "2025-01-02T00:00:00Z")
    standin.github.add_issue(SMALL, 1, "An issue")
    standin.github.add_token(READ_TOKEN)
    standin.github.add_token(PUSH_TOKEN, push_to=[SMALL])
    return standin


def client(s: StandIn, token: str | None = None) -> httpx.Client:
    """An API client, with a token when given."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=s.api_url, headers=headers)


def test_etag_304_is_free_only_when_authenticated(small: StandIn) -> None:
    s = small
    for token, counted in ((None, True), (READ_TOKEN, False)):
        with client(s, token) as c:
            first = c.get(RELEASES)
            assert first.status_code == 200
            etag = first.headers["etag"]
            assert etag.startswith('"') and not etag.startswith("W/")
            s.log.clear()
            again = c.get(RELEASES, headers={"if-none-match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        record = s.log[-1]
        assert record.authenticated is (token is not None)
        assert record.quota_counted is counted
        used = int(first.headers["x-ratelimit-used"]) + (1 if counted else 0)
        assert int(again.headers["x-ratelimit-used"]) == used


def test_if_modified_since_and_last_modified(small: StandIn) -> None:
    with client(small, READ_TOKEN) as c:
        first = c.get(f"{RELEASES}/latest")
        modified = first.headers["last-modified"]
        assert (
            c.get(f"{RELEASES}/latest", headers={"if-modified-since": modified}).status_code == 304
        )
        old = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert c.get(f"{RELEASES}/latest", headers={"if-modified-since": old}).status_code == 200
        # If-None-Match wins over If-Modified-Since (RFC 9110).
        both = {"if-modified-since": modified, "if-none-match": '"other"'}
        assert c.get(f"{RELEASES}/latest", headers=both).status_code == 200


def test_etags_change_only_where_data_changed(headscale_standin: StandIn) -> None:
    s = headscale_standin
    releases, issue = f"/repos/{REPO}/releases", f"/repos/{REPO}/issues/2180"
    with client(s) as c:
        before = {p: c.get(p).headers["etag"] for p in (releases, issue)}
        load_headscale(s, "pending")
        after = {p: c.get(p).headers["etag"] for p in before}
    assert after[releases] != before[releases]
    assert after[issue] == before[issue]


def test_rate_limit_headers_limits_and_exhaustion(small: StandIn) -> None:
    s = small
    with client(s) as anon, client(s, PUSH_TOKEN) as authed:
        response = anon.get(f"/repos/{SMALL}")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "60"
        assert response.headers["x-ratelimit-remaining"] == "59"
        assert response.headers["x-ratelimit-resource"] == "core"
        assert int(response.headers["x-ratelimit-reset"]) > s.now()
        assert authed.get(f"/repos/{SMALL}").headers["x-ratelimit-limit"] == "5000"
        s.github.set_remaining(None, 0)
        s.log.clear()
        blocked = anon.get(f"/repos/{SMALL}")
        assert blocked.status_code == 403
        assert "API rate limit exceeded" in blocked.json()["message"]
        assert blocked.headers["x-ratelimit-remaining"] == "0"
        assert s.log.quota_used() == 0
        # The token's own bucket is untouched.
        assert authed.get(f"/repos/{SMALL}").status_code == 200


def test_quota_window_resets_with_the_clock() -> None:
    clock = [1_000_000.0]
    with StandIn(now=lambda: clock[0]) as s, client(s) as c:
        s.github.add_repo("o/r")
        s.github.set_remaining(None, 0)
        assert c.get("/repos/o/r").status_code == 403
        clock[0] += 3600
        response = c.get("/repos/o/r")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-remaining"] == "59"


def test_rate_limit_endpoint_is_free(small: StandIn) -> None:
    s = small
    with client(s, READ_TOKEN) as c:
        body = c.get("/rate_limit").json()
    assert body["resources"]["core"]["limit"] == 5000
    assert body["rate"]["remaining"] == 5000
    assert s.log.quota_used() == 0


def test_bad_credentials_and_unknown_paths(small: StandIn) -> None:
    s = small
    with client(s, "tok-unknown") as bad, client(s) as anon:
        denied = bad.get(f"/repos/{SMALL}")
        assert denied.status_code == 401
        assert denied.json()["message"] == "Bad credentials"
        assert not s.log[-1].quota_counted
        missing = anon.get("/repos/nobody/nothing")
        assert missing.status_code == 404
        assert missing.json()["message"] == "Not Found"
        assert "documentation_url" in missing.json()
        assert anon.get("/no/such/endpoint").status_code == 404
        assert anon.get(f"/repos/{SMALL}/issues/1/").status_code == 200
        versioned = anon.get(f"/repos/{SMALL}", headers={"x-github-api-version": "2026-03-10"})
        assert versioned.headers["x-github-api-version-selected"] == "2026-03-10"
        assert (
            anon.get(f"/repos/{SMALL}", headers={"x-github-api-version": "1999-01-01"}).status_code
            == 400
        )


def test_keep_alive_serves_many_requests_on_one_connection(standin: StandIn) -> None:
    standin.github.add_repo("o/r")
    conn = http.client.HTTPConnection("127.0.0.1", standin.port, timeout=5)
    try:
        for _ in range(3):
            conn.request("GET", "/api/repos/o/r")
            response = conn.getresponse()
            assert response.status == 200
            assert len(response.read()) == int(response.headers["content-length"])
    finally:
        conn.close()
    assert len(standin.log) == 3
