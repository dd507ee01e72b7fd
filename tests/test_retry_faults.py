"""Randomized: reads and writes go through one retry loop that does what the policy says.

Each attempt of a read (:class:`HttpClient`) or of a write (a comment posted by
:class:`GitHubWriter`, with or without its lookup) meets the next fault of a random
sequence the stand-in serves: a 502, a 429 with Retry-After, GitHub's secondary-limit
403, a dropped connection, and for writes the same 502 or drop after the write was
applied (its answer lost). Whatever the sequence:

- no more than ``retries + 1`` attempts are sent;
- every wait is the one :func:`watcher.net.ratelimit.decide` gives for that fault at that
  attempt (within its jitter range), none longer than ``max_wait``, all through the
  injected sleep;
- the loop only stops early when the policy, the wait limit or the exactly-once rules say
  so, and only succeeds on a clean answer or a lookup that found the write;
- a write a lookup found applied is never sent again, a write that may have been applied
  is not repeated without a lookup, and the comment never exists twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pytest
from github import Auth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.memory_cache import MemoryCache
from tests.prs import pushable_repo
from tests.standin.github_api import SECONDARY_LIMIT_MESSAGE
from tests.standin.server import StandIn
from watcher.core.errors import WatcherError
from watcher.net.github_write import GitHubWriter
from watcher.net.http import HttpClient, HttpSettings
from watcher.net.ratelimit import Action, decide

REPO = "octo/retries"
TOKEN = "tok-retries"
NOW = 1_000_000.0  # none of the drawn faults makes the policy depend on the clock


@dataclass(frozen=True)
class Fault:
    """One kind of fault: the stand-in rule, and what the client sees of it."""

    status: int | None  # None: the connection is dropped
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    applied: bool = False  # the write took effect before its answer was lost

    def rule(self) -> dict[str, object]:
        """Keyword arguments of :meth:`Faults.add`."""
        if self.status is None:
            return {"drop_connection": True, "applied": self.applied}
        body = self.body.encode() if self.body else None
        return {
            "status": self.status,
            "headers": self.headers,
            "body": body,
            "applied": self.applied,
        }

    def wait_range(self, attempt: int) -> tuple[float, float]:
        """The least and the most the policy waits after this fault at ``attempt``."""
        low, high = (
            decide(self.status, self.headers, attempt, NOW, body_hint=self.body, jitter=j)
            for j in (0.0, 1.0)
        )
        return low.wait_seconds, high.wait_seconds

    def retried_by_policy(self) -> bool:
        """Whether the policy asks for another attempt at all."""
        return decide(self.status, self.headers, 1, NOW, body_hint=self.body).action is (
            Action.RETRY
        )

    @property
    def may_have_applied(self) -> bool:
        """A failure that leaves a write's effect unknown (5xx, lost connection)."""
        return self.status is None or self.status >= 500


SECONDARY = json.dumps({"message": SECONDARY_LIMIT_MESSAGE.format("R1")})
READ_FAULTS = {
    "502": Fault(502),
    "429 retry-after 3": Fault(429, {"retry-after": "3"}),
    "429 retry-after 40": Fault(429, {"retry-after": "40"}),
    "secondary 403": Fault(403, body=SECONDARY),
    "dropped": Fault(None),
}
WRITE_FAULTS = READ_FAULTS | {
    "502 after applying": Fault(502, applied=True),
    "dropped after applying": Fault(None, applied=True),
}
EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def server() -> Iterator[StandIn]:
    with pushable_repo(REPO, TOKEN) as standin:
        yield standin


def arm(server: StandIn, method: str, path: str, faults: list[Fault]) -> None:
    """Serve ``faults`` in order to the next matching requests, one each."""
    server.faults.clear()
    server.log.clear()
    for fault in faults:
        server.faults.add(method=method, path=path, **fault.rule())  # type: ignore[arg-type]


# The writer's settle pause, a value no policy wait takes (those are jittered).
SETTLE = 0.125


def check_loop(
    faults: list[Fault],
    trials: int,
    sleeps: list[float],
    *,
    succeeded: bool,
    retries: int,
    max_wait: float,
    repeatable: bool = True,
    found: bool = False,
) -> None:
    """The invariants of one call that made ``trials`` attempts and slept ``sleeps``.

    ``faults[i]`` met attempt ``i + 1``; an attempt past the faults got a clean answer.
    ``repeatable`` says whether a failure that may have been applied may be repeated;
    ``found``: the last trial was a lookup that found the write, instead of sending it.
    """
    assert 1 <= trials <= retries + 1
    assert len(sleeps) == trials - 1, "one wait between two attempts, none after the last"
    for attempt, (fault, slept) in enumerate(zip(faults, sleeps, strict=False), start=1):
        low, high = fault.wait_range(attempt)
        assert fault.retried_by_policy()
        assert repeatable or not fault.may_have_applied
        assert low <= slept <= high and slept <= max_wait, (attempt, fault, slept)
    if found:
        assert succeeded and faults[trials - 2].applied, "only an applied write is found"
        return
    if succeeded:
        assert trials == len(faults) + 1, "success before the faults were over"
        return
    assert trials <= len(faults), "a clean answer must not fail"
    last = faults[trials - 1]
    stopped_for = (
        trials == retries + 1,
        not last.retried_by_policy(),
        last.wait_range(trials)[1] > max_wait,
        not repeatable and last.may_have_applied,
    )
    assert any(stopped_for), f"gave up after {trials} attempt(s) without a reason: {last}"


@EXAMPLES
@given(
    names=st.lists(st.sampled_from(sorted(READ_FAULTS)), max_size=5),
    retries=st.integers(min_value=0, max_value=3),
    max_wait=st.sampled_from([2.0, 45.0, 100.0]),
)
def test_a_read_retries_as_the_policy_says(
    server: StandIn, names: list[str], retries: int, max_wait: float
) -> None:
    faults = [READ_FAULTS[name] for name in names]
    arm(server, "GET", rf"/repos/{REPO}$", faults)
    sleeps: list[float] = []
    http = HttpClient(
        MemoryCache(),
        HttpSettings(retries=retries, max_wait_seconds=max_wait, timeout_seconds=5),
        sleep=sleeps.append,
    )
    try:
        http.request("GET", f"{server.api_url}/repos/{REPO}")
        succeeded = True
    except WatcherError:
        succeeded = False
    finally:
        http.close()
        server.faults.clear()
    trials = len(server.log.where(method="GET", path=rf"/repos/{REPO}$"))
    assert http.stats.requests == trials - sum(f.status is None for f in faults[:trials])
    check_loop(faults, trials, sleeps, succeeded=succeeded, retries=retries, max_wait=max_wait)


@EXAMPLES
@given(
    names=st.lists(st.sampled_from(sorted(WRITE_FAULTS)), max_size=5),
    retries=st.integers(min_value=0, max_value=3),
    max_wait=st.sampled_from([2.0, 45.0, 100.0]),
    with_lookup=st.booleans(),
)
def test_a_write_retries_as_the_policy_says_and_takes_effect_at_most_once(
    server: StandIn, names: list[str], retries: int, max_wait: float, with_lookup: bool
) -> None:
    faults = [WRITE_FAULTS[name] for name in names]
    number = max(server.github.repo(REPO).issues, default=0) + 1
    server.github.add_issue(REPO, number, "dashboard")
    body = f"<!-- mark {number} -->\nhello"
    path = rf"/issues/{number}/comments$"
    sleeps: list[float] = []
    writer = GitHubWriter(
        server.api_url,
        Auth.Token(TOKEN),
        write_interval=0,
        retries=retries,
        max_wait=max_wait,
        timeout=5,
        sleep=sleeps.append,
        settle=SETTLE,
    )
    try:
        issue = writer.gh.get_repo(REPO).get_issue(number)
        arm(server, "POST", path, faults)

        def lookup() -> object:
            return next((c for c in issue.get_comments() if c.body == body), None)

        try:
            comment: object = writer.call(
                "post",
                lambda: issue.create_comment(body),
                lookup=lookup if with_lookup else None,
            )
        except WatcherError:
            comment = None
    finally:
        writer.close()
        server.faults.clear()
    posts = len(server.log.where(method="POST", path=path))
    existing = [c.body for c in server.github.repo(REPO).issues[number].comments].count(body)
    assert existing <= 1, "the write took effect twice"
    succeeded = comment is not None
    if succeeded:
        assert getattr(comment, "body", None) == body and existing == 1
    applied = [i for i, fault in enumerate(faults[:posts]) if fault.applied]
    if with_lookup and applied:
        assert posts == applied[0] + 1, "a write the lookup could find was sent again"
    # A write the lookup found ends its loop like a clean answer: one more trial, no send.
    assert writer.recovered in (0, 1)
    # The pause before a lost write's second lookup (net/retry.py) is no policy wait: it
    # comes only with a lookup, after a failure that may have been applied.
    pauses = sleeps.count(SETTLE)
    uncertain = any(fault.may_have_applied for fault in faults[:posts])
    assert pauses == 0 or (with_lookup and uncertain), "a pause without a lost write"
    assert pauses <= posts
    check_loop(
        faults,
        posts + writer.recovered,
        [s for s in sleeps if s != SETTLE],
        succeeded=succeeded,
        retries=retries,
        max_wait=max_wait,
        repeatable=with_lookup,
        found=writer.recovered == 1,
    )
