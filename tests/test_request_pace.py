"""GitHub's points a minute: the request pace, and the daemon keeping one for all cycles.

GitHub asks for no more than about 900 points a minute on REST, a GET being one
(https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits).
A :class:`RequestPace` lets ``burst`` requests through at once and then ``per_minute``;
the daemon's cycles share one, so back-to-back cycles never start a fresh burst inside
the same minute.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.standin.reqlog import most_in_a_minute
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from watcher.config.model import DaemonConfig, parse_config
from watcher.net.ratelimit import RequestPace
from watcher.service.daemon import RunCycle
from watcher.state.store import Store


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@settings(max_examples=200, deadline=None)
@given(
    per_minute=st.one_of(st.integers(1, 60), st.integers(1, 900)),
    burst=st.integers(1, 60),
    # Seconds between one request asking for its turn and the next (a cycle's workers,
    # then an idle gap, then the next cycle's).
    gaps=st.lists(
        st.one_of(st.just(0.0), st.floats(0, 2), st.floats(30, 600)), min_size=1, max_size=300
    ),
)
def test_no_minute_holds_more_than_the_burst_and_the_rate(
    per_minute: int, burst: int, gaps: list[float]
) -> None:
    clock = FakeClock()
    pace = RequestPace(per_minute, burst=burst, clock=clock)
    sent: list[float] = []
    waits: list[float] = []
    for gap in gaps:
        clock.now += gap
        waits.append(pace.delay())
        sent.append(clock.now + waits[-1])
    assert min(waits, default=0) >= 0
    assert most_in_a_minute(sent) <= burst + per_minute
    # A request waits only when the burst is spent.
    if len(gaps) <= burst:
        assert not any(waits)


def test_the_daemon_keeps_one_pace_for_all_its_cycles(
    headscale_standin: StandIn, tmp_path: Path
) -> None:
    config = parse_config(standin_config(headscale_standin), "test")
    with Store.open(f"sqlite:///{tmp_path / 'w.db'}") as store:
        cycle = RunCycle(config, store, DaemonConfig(interval_seconds=120, jitter_seconds=0))
        before = cycle.pace.available()
        for _ in range(2):
            cycle()
    paced = [r for r in headscale_standin.log.records() if r.service == "github"]
    assert paced
    # Both cycles' GitHub reads took their token from the one pace (the refill of a
    # second or two at 720 a minute is at most a few dozen tokens).
    spent = before - cycle.pace.available()
    refill = config.github.requests_per_minute / 60 * 5
    assert len(paced) - refill <= spent <= len(paced)
