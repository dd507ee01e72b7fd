"""An upstream issue is asked every cycle only when a verdict can turn on it.

An informational issue (not required, no closing pull requests to follow) is re-read
when its watch's releases changed, else at most every ISSUE_RECHECK: an idle cycle
costs one GitHub request per upstream. The HTTP layer's rule behind it (``fresh_for``:
an answer the server gave or confirmed less than that long ago is used unasked, and
does not count as asked this run) is checked against the stand-in with random
sequences (docs/architecture.md, «Talking to GitHub»).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.standin.fleet import FLEET_TOKEN, fleet_config, load_fleet, upstream
from tests.standin.history import HistoryBuilder
from tests.standin.reqlog import RequestRecord
from tests.standin.server import StandIn
from watcher.config.model import parse_config
from watcher.core.models import SignalName, VerdictState
from watcher.net.http import HttpClient
from watcher.runner.cycle import run_once
from watcher.runner.observe import ISSUE_RECHECK
from watcher.runner.readers import open_readers
from watcher.runner.report import RunReport
from watcher.state.store import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GAP = timedelta(minutes=2)  # the daemon's default interval between cycles


class Clock:
    """The store's clock, moved by the test (the HTTP client reads the same one)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        """Now in seconds, the HTTP client's form."""
        return self.now.timestamp()


@dataclass
class Fleet:
    """A fleet on the stand-in, observed by ``run_once`` over a store with a fake clock."""

    standin: StandIn
    store: Store
    clock: Clock
    config_text: str

    def cycle(self, after: timedelta = GAP) -> tuple[RunReport, list[RequestRecord]]:
        """One cycle, ``after`` the previous one: its report and the GitHub requests it sent."""
        self.clock.now += after
        self.standin.log.clear()
        config = parse_config(self.config_text, "<test>")
        with open_readers(config, self.store) as readers:
            report = run_once(config, self.store, readers)
        assert not report.crashes
        return report, [r for r in self.standin.log.records() if r.service == "github"]


@pytest.fixture
def make_fleet(
    standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Fleet]:
    monkeypatch.setenv("GITHUB_TOKEN", FLEET_TOKEN)
    clock = Clock()
    with Store.open(f"sqlite:///{tmp_path / 'watcher.db'}", clock=clock) as store:
        yield Fleet(standin, store, clock, "")


def issue_reads(records: list[RequestRecord]) -> list[tuple[str, int]]:
    """(upstream, status) of every read of an upstream's issue #1."""
    return [
        (record.path.split("/")[4], record.status)
        for record in records
        if record.path.endswith("/issues/1")
    ]


def test_an_informational_issue_is_asked_every_recheck_period_or_when_releases_change(
    make_fleet: Fleet,
) -> None:
    fleet, upstreams = make_fleet, 3
    load_fleet(fleet.standin, 6, upstreams)
    fleet.config_text = fleet_config(fleet.standin, 6, upstreams)
    _, cold = fleet.cycle()
    assert len(issue_reads(cold)) == upstreams

    _, idle = fleet.cycle()
    assert sorted((r.path.split("/")[4:], r.status) for r in idle) == [
        (["up000", "releases"], 304),
        (["up001", "releases"], 304),
        (["up002", "releases"], 304),
    ]
    # Just short of ISSUE_RECHECK after the cold read: still not asked.
    _, idle = fleet.cycle(ISSUE_RECHECK - GAP - timedelta(seconds=1))
    assert issue_reads(idle) == []
    _, recheck = fleet.cycle(timedelta(seconds=1))
    assert sorted(issue_reads(recheck)) == [(f"up{i:03d}", 304) for i in range(upstreams)]
    assert len(recheck) == 2 * upstreams
    # The 304 confirmed the stored answer: the next ISSUE_RECHECK starts there.
    _, idle = fleet.cycle(ISSUE_RECHECK - 2 * GAP)
    assert issue_reads(idle) == []

    # Closed upstream meanwhile, then a new release: the watches of that upstream read
    # the issue again in the cycle that sees the release, and report it closed.
    fleet.standin.github.close_issue(upstream(0), 1, T0)
    history = HistoryBuilder(fleet.standin.github, upstream(0))
    history.commit("2026-03-01T10:00:00Z", "fix", {"pkg/fix.go": "package pkg\n"})
    history.release("v1.1.1", "2026-03-01T11:00:00Z")
    report, moved = fleet.cycle()
    assert issue_reads(moved) == [("up000", 200)]
    for outcome in report.outcomes:
        assert outcome.verdict is not None
        (issue,) = [s for s in outcome.verdict.signals if s.name is SignalName.ISSUE]
        closed = outcome.watch.repo == upstream(0)
        assert ("#1 closed" in issue.summary) is closed, issue.summary


@pytest.mark.parametrize(
    ("requiring_first", "concurrency"), [(True, 1), (False, 1), (True, 2), (False, 2)]
)
def test_a_required_issue_is_asked_every_cycle_even_beside_an_informational_one(
    make_fleet: Fleet, requiring_first: bool, concurrency: int
) -> None:
    # Two watches of one upstream name issue #1: one requires it, the other not; in
    # config order either way, in one thread or on workers.
    fleet = make_fleet
    requiring = 0 if requiring_first else 1
    load_fleet(fleet.standin, 2, 1)
    fleet.config_text = fleet_config(
        fleet.standin, 2, 1, f"concurrency = {concurrency}", require_issue={requiring}
    )
    # Both features ship in v1.1.0 (marker of watch 1 too): only the issue is missing.
    history = HistoryBuilder(fleet.standin.github, upstream(0))
    history.commit(
        "2026-02-02T10:00:00Z", "w1", {"pkg/w1.go": "package pkg\nconst FeatureW0001 = 1\n"}
    )
    history.release("v1.1.1", "2026-02-02T12:00:00Z")
    fleet.standin.registry.push("ghcr.io", upstream(0), "v1.1.1")

    def state(report: RunReport) -> VerdictState:
        verdict = report.outcomes[requiring].verdict
        assert verdict is not None
        return verdict.state

    report, _ = fleet.cycle()
    assert state(report) is VerdictState.PENDING
    for _ in range(2):
        report, idle = fleet.cycle()
        assert issue_reads(idle) == [("up000", 304)]  # asked, and once for both watches
        assert state(report) is VerdictState.PENDING
    fleet.standin.github.close_issue(upstream(0), 1, T0)
    report, closed = fleet.cycle()
    assert issue_reads(closed) == [("up000", 200)]
    assert state(report) is VerdictState.READY


# -- the HTTP layer's freshness rule ------------------------------------------------


@dataclass(frozen=True)
class Get:
    """One GET of the issue, after what happened since the previous one."""

    wait: float  # seconds the clock moves first
    new_run: bool  # a new run (a new client) starts first
    edit: bool  # upstream edits the issue first
    fresh_for: float | None


GETS = st.builds(
    Get,
    wait=st.sampled_from([0.0, 1.0, 59.0, 1799.0]),
    new_run=st.booleans(),
    edit=st.booleans(),
    fresh_for=st.sampled_from([None, 0.0, 60.0, 1800.0]),
)
NUMBERS = itertools.count(1)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(gets=st.lists(GETS, max_size=10))
def test_a_get_asks_unless_asked_this_run_or_a_fresh_enough_answer_is_stored(
    standin: StandIn, tmp_path: Path, gets: list[Get]
) -> None:
    """The invariant, per URL: a GET is sent iff it was not asked yet this run and no
    stored answer was given or confirmed by the server less than ``fresh_for`` ago; an
    answer served that way is the stored body with changed=False and leaves the URL
    unasked; a GET sent stores or confirms its answer now."""
    standin.github.add_token(FLEET_TOKEN, limit=1_000_000)
    repo, number = "fresh/rule", next(NUMBERS)  # an issue of its own per example
    if standin.github.find_repo(*repo.split("/")) is None:
        standin.github.add_repo(repo)
    issue = standin.github.add_issue(repo, number, "v0")
    url = f"{standin.api_url}/repos/{repo}/issues/{number}"
    headers = {"Authorization": f"Bearer {FLEET_TOKEN}"}
    clock = Clock()
    with Store.open(f"sqlite:///{tmp_path / 'rule.db'}", clock=clock) as store:
        http = HttpClient(store, clock=clock.epoch)
        confirmed: datetime | None = None  # the model: when the server last answered
        stored = ""  # the title of the stored answer
        asked: bool | None = None  # this run: None, else whether it changed
        try:
            for get in gets:
                clock.now += timedelta(seconds=get.wait)
                if get.new_run:
                    http.close()
                    http = HttpClient(store, clock=clock.epoch)
                    asked = None
                if get.edit:
                    issue.title = f"v{int(issue.title[1:]) + 1}"
                age = None if confirmed is None else (clock.now - confirmed).total_seconds()
                fresh = get.fresh_for is not None and age is not None and age < get.fresh_for
                unasked = asked is None and fresh
                before = len(standin.log.records())
                reply = http.get(url, headers=headers, quota=True, fresh_for=get.fresh_for)
                sent = len(standin.log.records()) - before
                assert sent == int(asked is None and not fresh), (get, age, asked)
                if sent:
                    asked = issue.title != stored
                    confirmed, stored = clock.now, issue.title
                assert reply.changed is (False if unasked else asked)
                assert json.loads(reply.body)["title"] == stored
        finally:
            http.close()
