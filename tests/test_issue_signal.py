"""Issue state and the closing reference from the timeline."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.memory_cache import MemoryCache
from watcher.backtest.gather import _mention
from watcher.core.models import IssueStatus, SignalStatus
from watcher.net.github_read import GitHubReader
from watcher.net.http import HttpClient
from watcher.sources.issue import closing_pull, closing_reference, issue_signal, issue_status

REPO = "juanfont/headscale"


def xref(number: int, repo: str, pr: bool = True) -> dict[str, Any]:
    issue: dict[str, Any] = {"number": number, "repository": {"full_name": repo}}
    if pr:
        issue["pull_request"] = {"url": "x"}
    return {"event": "cross-referenced", "source": {"issue": issue}}


def test_closing_pr_from_same_repo_only() -> None:
    events = [
        xref(2841, "other/repo"),
        xref(99, REPO, pr=False),
        xref(2950, REPO),
        {"event": "closed", "commit_id": None},
    ]
    assert closing_reference(events, REPO) == "#2950"


def test_closing_pr_and_commit_are_both_named() -> None:
    closed = {"event": "closed", "commit_id": "abcdef1234567890"}
    assert closing_reference([xref(1, REPO), closed], REPO) == "#1 (commit abcdef123456)"
    assert closing_reference([closed], REPO) == "commit abcdef123456"


def test_open_issue_does_not_hold_and_closed_completed_does() -> None:
    open_one = IssueStatus(2841, "peer relay", "open", None, "u1")
    closed = IssueStatus(2180, "grants", "closed", "completed", "u2", ("enhancement",), "#2950")
    mixed = issue_signal([open_one, closed], REPO)
    assert mixed.status is SignalStatus.MISSING
    assert "juanfont/headscale#2180 closed (completed) by #2950" in mixed.summary
    assert issue_signal([closed], REPO).status is SignalStatus.HOLDS
    not_planned = IssueStatus(1, "t", "closed", "not_planned", "u")
    assert issue_signal([not_planned], REPO).status is SignalStatus.MISSING


@given(st.lists(st.booleans(), min_size=len(REPO), max_size=len(REPO)), st.booleans())
def test_check_and_backtest_share_one_case_blind_rule_for_the_same_repository(
    upper: list[bool], by_url: bool
) -> None:
    """GitHub ignores the case of owner/name: a cross-reference spelled in any case (by
    name, or only by API URL) is the same repository, for check and backtest alike."""
    spelled = "".join(c.upper() if u else c for c, u in zip(REPO, upper, strict=True))
    event = xref(2950, spelled)
    if by_url:
        source = event["source"]["issue"]
        source["repository_url"] = (
            f"https://api.github.com/repos/{source.pop('repository')['full_name']}"
        )
    assert closing_pull([event], REPO) == 2950
    assert _mention(event, REPO) == "PR #2950 (open)"
    other = xref(2950, spelled + "-fork")
    assert closing_pull([other], REPO) is None
    assert _mention(other, REPO) == f"PR {spelled}-fork#2950 (open, another repository)"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=15,
)
# Timeline events with the keys the signal reads, each holding any JSON value.
EVENT = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {"event": st.sampled_from(["cross-referenced", "connected", "closed"])},
        optional={"source": JSON, "commit_id": JSON},
    ),
    st.fixed_dictionaries(
        {"event": st.just("cross-referenced"), "source": st.fixed_dictionaries({"issue": JSON})}
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(EVENT, max_size=6),
    fields=st.dictionaries(st.sampled_from(["labels", "state_reason", "title", "html_url"]), JSON),
)
def test_any_timeline_and_issue_json_is_read_totally(
    events: list[Any], fields: dict[str, Any]
) -> None:
    """Whatever GitHub (or a proxy) sends, the issue signal is computed, never a crash."""
    reader = GitHubReader(HttpClient(MemoryCache()), "https://api.invalid", None)
    try:
        status = issue_status(reader, "o/r", 7, {**fields, "state": "closed"}, events)
    finally:
        reader.http.close()
    assert status.closing_pull is None or isinstance(status.closing_pull, int)
    assert status.state_reason is None or isinstance(status.state_reason, str)
    assert all(isinstance(label, str) for label in status.labels)
    issue_signal([status], "o/r")
