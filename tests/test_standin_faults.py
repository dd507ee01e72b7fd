"""Fault injection: every kind of fault, used mid-test, and recorded in the log."""

from __future__ import annotations

import json
import re

import github
import httpx
import pytest

from tests.standin.history import HistoryBuilder
from tests.standin.server import StandIn

REPO = "octo/faulty"


@pytest.fixture
def s(standin: StandIn) -> StandIn:
    """A stand-in with one small repository holding a tag."""
    builder = HistoryBuilder(standin.github, REPO)
    builder.commit("2025-01-01T00:00:00Z", "init", {"README.md": "x" * 50_000})
    builder.release("v1.0.0", "2025-01-02T00:00:00Z")
    return standin


def test_status_fault_with_headers_then_normal(s: StandIn) -> None:
    url = f"{s.api_url}/repos/{REPO}/releases"
    with httpx.Client() as c:
        assert c.get(url).status_code == 200
        rule = s.faults.add(
            method="GET",
            path=r"/releases$",
            status=429,
            headers={"retry-after": "7", "x-ratelimit-remaining": "0"},
            times=2,
        )
        for _ in range(2):
            limited = c.get(url)
            assert limited.status_code == 429
            assert limited.headers["retry-after"] == "7"
            assert limited.headers["x-ratelimit-remaining"] == "0"
        assert c.get(url).status_code == 200
    assert rule.hits == 2 and s.faults.pending() == []
    faulted = [r for r in s.log if r.fault]
    assert [r.status for r in faulted] == [429, 429]
    assert not any(r.quota_counted for r in faulted)


def test_method_filter_and_unlimited_rules(s: StandIn) -> None:
    s.faults.add(method="HEAD", path="/repos/", status=503, times=None)
    with httpx.Client(base_url=s.api_url) as c:
        assert c.get(f"/repos/{REPO}").status_code == 200
        assert [c.head(f"/repos/{REPO}").status_code for _ in range(3)] == [503] * 3
        s.faults.clear()
        assert c.head(f"/repos/{REPO}").status_code == 200


def test_invalid_json_body_keeps_real_status_and_headers(s: StandIn) -> None:
    s.faults.add(path=r"/releases/latest$", body=b'{"tag_name": "v1')
    response = httpx.get(f"{s.api_url}/repos/{REPO}/releases/latest")
    assert response.status_code == 200
    assert "x-ratelimit-remaining" in response.headers
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_delay_triggers_client_timeout(s: StandIn) -> None:
    s.faults.add(path=f"/repos/{REPO}$", delay=1.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{s.api_url}/repos/{REPO}", timeout=0.2)
    # The server keeps serving afterwards.
    assert httpx.get(f"{s.api_url}/repos/{REPO}", timeout=5).status_code == 200


def test_dropped_connection(s: StandIn) -> None:
    s.faults.add(path=f"/repos/{REPO}$", drop_connection=True)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{s.api_url}/repos/{REPO}")
    assert s.log[-1].status == 0 and s.log[-1].fault


def test_truncated_sized_body(s: StandIn) -> None:
    s.faults.add(path="/contents/README.md", truncate_after=100)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{s.api_url}/repos/{REPO}/contents/README.md")


def test_truncated_tarball_stream(s: StandIn) -> None:
    s.faults.add(path="/codeload/", truncate_after=64)
    with httpx.Client(follow_redirects=True) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(f"{s.api_url}/repos/{REPO}/tarball/v1.0.0")
        whole = c.get(f"{s.api_url}/repos/{REPO}/tarball/v1.0.0")
    assert whole.status_code == 200 and len(whole.content) > 64


def test_fault_rules_are_validated(s: StandIn) -> None:
    with pytest.raises(ValueError, match="status"):
        s.faults.add(status=42)
    with pytest.raises(ValueError, match="times"):
        s.faults.add(status=500, times=0)


@pytest.mark.parametrize("lost", [{"status": 502}, {"drop_connection": True}])
def test_applied_write_whose_answer_is_lost(s: StandIn, lost: dict[str, object]) -> None:
    """The write takes effect, then the client sees a 502 or a dropped connection."""
    s.github.add_token("tok-faulty", push_to=[REPO])
    s.github.add_issue(REPO, 1, "an issue")
    rule = s.faults.add(method="POST", path=r"/comments$", applied=True, **lost)  # type: ignore[arg-type]
    url = f"{s.api_url}/repos/{REPO}/issues/1/comments"
    headers = {"Authorization": "Bearer tok-faulty"}
    try:
        answer = httpx.post(url, json={"body": "hello"}, headers=headers)
    except httpx.RemoteProtocolError:
        assert lost.get("drop_connection")
    else:
        assert answer.status_code == 502
    assert rule.hits == 1
    comments = httpx.get(url, headers=headers).json()
    assert [c["body"] for c in comments] == ["hello"]  # applied exactly once
    assert s.log.where(method="POST", path=r"/comments$")[0].fault


def test_applied_fault_needs_a_way_to_lose_the_answer(s: StandIn) -> None:
    with pytest.raises(ValueError, match="applied"):
        s.faults.add(applied=True)


def test_a_fault_can_match_one_request_header(s: StandIn) -> None:
    """`header=(name, regex)` picks the requests it damages: here PyGithub's `token X`."""
    s.github.add_token("tok-faults")
    rule = s.faults.add(
        path=f"/repos/{REPO}$", status=502, times=None, header=("authorization", "^token ")
    )
    url = f"{s.api_url}/repos/{REPO}"
    with httpx.Client() as c:
        assert c.get(url).status_code == 200  # no header: no match
        assert c.get(url, headers={"Authorization": "Bearer tok-faults"}).status_code == 200
        assert c.get(url, headers={"Authorization": "token tok-faults"}).status_code == 502
    gh = github.Github(base_url=s.api_url, auth=github.Auth.Token("tok-faults"), retry=None)
    with pytest.raises(github.GithubException) as caught:
        gh.get_repo(REPO)
    assert caught.value.status == 502 and rule.hits == 2
    with pytest.raises(re.error):
        s.faults.add(header=("authorization", "("))
