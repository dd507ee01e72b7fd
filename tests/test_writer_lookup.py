"""Randomized: whatever faults meet a write's attempts, it takes effect at most once.

Each attempt of one write (a comment, posted through :class:`GitHubWriter` with its
lookup, as the outbox does) meets a fault drawn at random: none, a 5xx or a dropped
connection before GitHub applied it, or the same after GitHub applied it (the answer
is lost). Invariants: the comment never exists twice; when the call returns, it exists
exactly once and the call returned it; when it fails, the next cycle (faults over, one
more call after a lookup) leaves it existing exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from github import Auth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.prs import pushable_repo
from tests.standin.server import StandIn
from watcher.core.errors import WatcherError
from watcher.net.github_write import GitHubWriter

REPO = "octo/dash"
TOKEN = "tok-lookup"
FAULTS = {
    "none": None,
    "502 before": {"status": 502},
    "drop before": {"drop_connection": True},
    "502 after": {"status": 502, "applied": True},
    "drop after": {"drop_connection": True, "applied": True},
}


@pytest.fixture(scope="module")
def server() -> Iterator[StandIn]:
    with pushable_repo(REPO, TOKEN) as standin:
        yield standin


def bodies(server: StandIn, number: int) -> list[str]:
    return [c.body for c in server.github.repo(REPO).issues[number].comments]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(faults=st.lists(st.sampled_from(sorted(FAULTS)), max_size=5))
def test_a_write_takes_effect_at_most_once(server: StandIn, faults: list[str]) -> None:
    repo_state = server.github.repo(REPO)
    number = max(repo_state.issues, default=0) + 1
    server.github.add_issue(REPO, number, "dashboard")
    body = f"<!-- mark {number} -->\nhello"
    server.faults.clear()
    for fault in faults:
        if FAULTS[fault] is not None:
            server.faults.add(method="POST", path=r"/comments$", **FAULTS[fault])  # type: ignore[arg-type]
        else:
            server.faults.add(method="POST", path=r"/comments$", headers={"x-none": "1"})
    writer = GitHubWriter(
        server.api_url, Auth.Token(TOKEN), write_interval=0, retries=3, sleep=lambda _: None
    )
    try:
        issue = writer.gh.get_repo(REPO).get_issue(number)

        def lookup() -> object:
            return next((c for c in issue.get_comments() if c.body == body), None)

        try:
            comment = writer.call("post", lambda: issue.create_comment(body), lookup=lookup)
        except WatcherError:
            assert bodies(server, number).count(body) <= 1
            server.faults.clear()
            # The next cycle: the outbox item was attempted, so it looks first.
            if lookup() is None:
                writer.call("post", lambda: issue.create_comment(body), lookup=lookup)
        else:
            assert getattr(comment, "body", None) == body
        assert bodies(server, number).count(body) == 1
    finally:
        writer.close()
        server.faults.clear()


def test_a_write_applied_after_the_deadline_is_found_not_sent_again(server: StandIn) -> None:
    """GitHub applies the POST after our timeout (issue 20): the lookup right after the
    timeout finds nothing, the one after the pause finds it, nothing is sent again."""
    number = max(server.github.repo(REPO).issues, default=0) + 1
    server.github.add_issue(REPO, number, "dashboard")
    body = f"<!-- late {number} -->\nhello"
    server.faults.clear()
    server.faults.add(method="POST", path=r"/comments$", delay=2.0)  # applied at 2 s
    # Cut off at 1 s; backoff 0.2 s, so the first lookup is at ~1.2 s: before GitHub
    # applies it. The pause (3 s) puts the second lookup after it.
    writer = GitHubWriter(
        server.api_url,
        Auth.Token(TOKEN),
        write_interval=0,
        timeout=1,
        settle=3.0,
        sleep=lambda seconds: time.sleep(seconds if seconds == 3.0 else 0.2),
    )
    try:
        issue = writer.gh.get_repo(REPO).get_issue(number)

        def lookup() -> object:
            return next((c for c in issue.get_comments() if c.body == body), None)

        comment = writer.call("post", lambda: issue.create_comment(body), lookup=lookup)
        deadline = time.monotonic() + 10
        while server.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)  # until the late POST was applied: then count
        assert getattr(comment, "body", None) == body
        assert bodies(server, number) == [body]
        assert writer.recovered == 1
    finally:
        writer.close()
        server.faults.clear()
