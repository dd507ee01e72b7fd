"""Tests of watcher.service.daemon: the rate-limit governor, the schedule, and one real cycle.

Signal handling needs a main thread of its own, so it is tested in subprocesses in
test_daemon_signals. Here the scheduler runs in a thread (signals off) and tests wait
for what they expect with deadlines, never with fixed sleeps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from watcher.config.model import DaemonConfig, parse_config
from watcher.core.errors import RateLimitedError
from watcher.net.http import RequestStats
from watcher.runner.report import RunReport
from watcher.service.daemon import (
    MAX_PAUSE,
    RESET_MARGIN,
    CycleResult,
    Daemon,
    Pace,
    RunCycle,
    next_delay,
)
from watcher.state.store import Store

NOW = 1_800_000_000.0
INTERVAL = 120.0


def stats(remaining: int | None, reset_in: float | None) -> RequestStats:
    """RequestStats with the given quota; ``reset_in`` seconds after NOW."""
    return RequestStats(
        requests=3,
        quota_remaining=remaining,
        quota_reset=None if reset_in is None else NOW + reset_in,
    )


@pytest.mark.parametrize(
    ("last", "floor", "limited_in", "expected"),
    [
        pytest.param(None, 20, None, INTERVAL, id="no-report"),
        pytest.param(stats(None, None), 20, None, INTERVAL, id="quota-unknown"),
        pytest.param(stats(4000, 1800), 20, None, INTERVAL, id="plenty-left"),
        pytest.param(stats(21, 1800), 20, None, INTERVAL, id="one-above-floor"),
        pytest.param(stats(20, 1800), 20, None, 1800 + RESET_MARGIN, id="at-floor"),
        pytest.param(stats(0, 600), 0, None, 600 + RESET_MARGIN, id="exhausted"),
        pytest.param(stats(5, 60), 20, None, INTERVAL, id="resets-before-next-cycle"),
        pytest.param(stats(5, -30), 20, None, INTERVAL, id="reset-already-passed"),
        pytest.param(stats(5, None), 20, None, INTERVAL, id="reset-unknown"),
        pytest.param(stats(5, 86_400), 20, None, MAX_PAUSE, id="absurd-reset-capped"),
        pytest.param(None, 20, 900, 900 + RESET_MARGIN, id="rate-limited"),
        pytest.param(None, 20, -5, INTERVAL, id="rate-limit-over"),
        pytest.param(stats(4000, 100), 20, 90, INTERVAL, id="short-rate-limit"),
        pytest.param(stats(3, 300), 20, 900, 900 + RESET_MARGIN, id="both-later-limit-wins"),
        pytest.param(stats(3, 900), 20, 300, 900 + RESET_MARGIN, id="both-later-reset-wins"),
    ],
)
def test_governor(
    last: RequestStats | None, floor: int, limited_in: float | None, expected: float
) -> None:
    limited = None if limited_in is None else NOW + limited_in
    pace = next_delay(INTERVAL, NOW, stats=last, quota_floor=floor, rate_limited_until=limited)
    assert pace.delay == pytest.approx(expected)
    assert pace.paused == (expected != INTERVAL)
    if pace.paused:
        assert pace.reason is not None
        assert ("quota" in pace.reason) or ("rate limited" in pace.reason)


def test_governor_never_shortens_a_long_interval() -> None:
    pace = next_delay(7200.0, NOW, stats=stats(0, 86_400))
    assert pace == Pace(7200.0)


@pytest.mark.parametrize(
    "raw",
    [
        {"interval_seconds": 0},
        {"interval_seconds": 60, "jitter_seconds": 60},
        {"jitter_seconds": -1},
        {"health_port": 70000},
        {"retention_days": 0},
        {"intervall_seconds": 60},
    ],
)
def test_daemon_config_rejects(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DaemonConfig.model_validate(raw)


def test_daemon_config_defaults() -> None:
    settings = DaemonConfig()
    assert (settings.interval_seconds, settings.jitter_seconds) == (120.0, 15.0)
    assert (settings.bind, settings.health_port, settings.retention_days) == (
        "127.0.0.1",
        9464,
        90.0,
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


class FakeCycle:
    """Returns (or raises) the scripted results in turn, then repeats the last one."""

    def __init__(self, *script: CycleResult | Exception) -> None:
        self.script = list(script)
        self.calls = 0

    def __call__(self) -> CycleResult:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if isinstance(step, Exception):
            raise step
        return step


@contextmanager
def running(daemon: Daemon) -> Iterator[list[int]]:
    """Serve ``daemon`` in a thread; stop it on exit and check it returned 0."""
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(daemon.run(handle_signals=False)))
    thread.start()
    try:
        yield codes
    finally:
        daemon.request_stop()
        thread.join(timeout=5)
    assert not thread.is_alive(), "the daemon did not stop"
    assert codes == [0]


def fast(interval: float = 0.05) -> DaemonConfig:
    return DaemonConfig(interval_seconds=interval, jitter_seconds=0)


def test_first_cycle_runs_at_once_then_on_the_interval() -> None:
    cycle = FakeCycle(CycleResult(1))
    daemon = Daemon(cycle, fast())
    with running(daemon):
        wait_for(lambda: cycle.calls >= 3, "three cycles")
    assert daemon.health.ready()[0] == 200


def test_a_failing_cycle_does_not_end_the_daemon() -> None:
    cycle = FakeCycle(RuntimeError("database is locked"), CycleResult(0))
    daemon = Daemon(cycle, fast())
    with running(daemon):
        wait_for(lambda: cycle.calls >= 2, "a second cycle")
        wait_for(lambda: daemon.health.ready()[0] == 200, "health to recover")
    text = daemon.metrics.exposition().decode()
    assert 'watcher_errors_total{class="RuntimeError"} 1.0' in text
    assert 'watcher_cycles_total{outcome="failed"} 1.0' in text


def paused_until(daemon: Daemon) -> float:
    """When the daemon's next cycle is due after a governor pause (as /readyz reports it)."""
    wait_for(lambda: "paused_until" in daemon.health.ready()[1], "the pause")
    return datetime.fromisoformat(daemon.health.ready()[1]["paused_until"]).timestamp()


def test_quota_at_the_floor_pauses_until_reset() -> None:
    now = time.time()
    report = RunReport(1, (), RequestStats(requests=5, quota_remaining=10, quota_reset=now + 600))
    cycle = FakeCycle(CycleResult(1, report))
    daemon = Daemon(cycle, DaemonConfig(interval_seconds=60, jitter_seconds=0), quota_floor=20)
    with running(daemon):
        assert paused_until(daemon) == pytest.approx(now + 600 + RESET_MARGIN, abs=2)
    assert cycle.calls == 1
    # The pause moves the staleness deadline: a healthy daemon waiting for the quota.
    assert daemon.health.ready()[0] == 200


def test_rate_limit_raised_by_a_cycle_pauses_until_its_reset() -> None:
    until = time.time() + 900
    cycle = FakeCycle(RateLimitedError("secondary rate limit", reset_at=until))
    daemon = Daemon(cycle, DaemonConfig(interval_seconds=60, jitter_seconds=0))
    with running(daemon):
        assert paused_until(daemon) == pytest.approx(until + RESET_MARGIN, abs=2)


def test_stop_requested_inside_a_cycle_lets_it_finish() -> None:
    daemon: Daemon
    finished: list[bool] = []

    def cycle() -> CycleResult:
        daemon.request_stop()
        finished.append(True)  # still runs: a stop never interrupts a cycle
        return CycleResult(0)

    daemon = Daemon(cycle, fast())
    assert daemon.run(handle_signals=False) == 0
    assert finished == [True]


@pytest.mark.parametrize(("code", "level"), [(0, "info"), (1, "info"), (2, "warning")])
def test_a_failed_cycle_is_logged_above_info(code: int, level: str) -> None:
    daemon: Daemon

    def cycle() -> CycleResult:
        daemon.request_stop()  # one cycle, then stop
        return CycleResult(code)

    daemon = Daemon(cycle, fast())
    with capture_logs() as logs:
        daemon.run(handle_signals=False)
    finished = [entry for entry in logs if entry["event"] == "cycle finished"]
    assert [(entry["code"], entry["log_level"]) for entry in finished] == [(code, level)]


def test_every_line_of_a_cycle_names_its_run(headscale_standin: StandIn, tmp_path: Path) -> None:
    config = parse_config(standin_config(headscale_standin), source="test")
    with Store.open(f"sqlite:///{tmp_path / 'watcher.db'}") as store, capture_logs() as logs:
        cycle = RunCycle(config, store, fast())
        runs = [cycle().report, cycle().report]
    run_ids = [report.run_id for report in runs if report is not None]
    watch_lines = [entry for entry in logs if entry["event"] == "watch evaluated"]
    assert len(set(run_ids)) == 2 and len(watch_lines) == 2 * len(config.watch)
    assert [entry["run"] for entry in watch_lines] == [run for run in run_ids for _ in config.watch]
