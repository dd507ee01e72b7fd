"""Tests of watcher.service.health: /livez and /readyz verdicts (injectable clock), the server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.core.errors import ConfigError
from watcher.service.health import LIVE_FLOOR, HealthServer, HealthState
from watcher.service.metrics import Metrics

INTERVAL = 120.0
T0 = 1_800_000_000.0


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> HealthState:
    return HealthState(INTERVAL, clock=clock)


def test_unavailable_before_the_first_cycle(state: HealthState) -> None:
    status, body = state.ready()
    assert status == 503
    assert body == {"status": "unavailable", "reason": "no cycle has finished yet"}


def test_unavailable_while_no_cycle_has_succeeded(state: HealthState) -> None:
    state.cycle_finished(ok=False, error="api.github.com: could not connect")
    status, body = state.ready()
    assert status == 503
    assert body["reason"] == "the last cycle failed: api.github.com: could not connect"
    assert body["last_error"] == "api.github.com: could not connect"
    assert "last_success" not in body


def test_ready_until_three_intervals_after_the_last_success(
    state: HealthState, clock: Clock
) -> None:
    state.cycle_finished(ok=True)
    assert state.ready() == (200, {"status": "ok", "last_success": _iso(T0), "age_seconds": 0.0})
    clock.now += 3 * INTERVAL
    assert state.ready()[0] == 200
    clock.now += 1
    status, body = state.ready()
    assert status == 503
    assert body["status"] == "stale"
    assert body["reason"] == "last successful cycle 361 s ago (limit 360 s)"


def test_one_failed_cycle_makes_the_daemon_unready_not_dead(
    state: HealthState, clock: Clock
) -> None:
    state.cycle_finished(ok=True)
    clock.now += INTERVAL
    state.cycle_started()
    state.cycle_finished(ok=False, error="watch headscale: HTTP 502")
    status, body = state.ready()
    assert (status, body["status"], body["last_error"]) == (
        503,
        "error",
        "watch headscale: HTTP 502",
    )
    assert body["reason"] == "the last cycle failed: watch headscale: HTTP 502"
    assert body["last_success"] == _iso(T0)  # when it last worked stays visible
    assert state.live()[0] == 200
    clock.now += INTERVAL
    state.cycle_finished(ok=True)
    assert state.ready()[0] == 200 and "last_error" not in state.ready()[1]


def test_a_governor_pause_moves_the_deadline(state: HealthState, clock: Clock) -> None:
    state.cycle_finished(ok=True)
    state.pause_until(T0 + 3600)
    clock.now = T0 + 3600 + 3 * INTERVAL
    status, body = state.ready()
    assert status == 200
    assert "paused_until" not in body  # the pause is over, only its grace remains
    assert state.live()[0] == 200
    clock.now += 1
    assert state.ready()[0] == 503
    clock.now = T0 + 3600 + state.live_limit + 1
    assert state.live()[0] == 503


def test_alive_from_start_up_until_the_limit_without_any_cycle(
    state: HealthState, clock: Clock
) -> None:
    assert state.live() == (200, {"status": "alive", "cycle_running": False})
    clock.now += state.live_limit
    assert state.live()[0] == 200
    clock.now += 1
    status, body = state.live()
    assert (status, body["status"]) == (503, "stuck")
    assert body["reason"] == "no cycle started or finished for 601 s (limit 600 s)"


def test_a_cycle_stuck_longer_than_the_limit_fails_liveness(
    state: HealthState, clock: Clock
) -> None:
    state.cycle_started()
    clock.now += state.live_limit
    assert state.live() == (
        200,
        {"status": "alive", "cycle_running": True, "last_cycle_started": _iso(T0)},
    )
    clock.now += 10
    status, body = state.live()
    assert status == 503
    assert body["reason"] == "a cycle has been running for 610 s (limit 600 s)"


def test_the_liveness_limit_follows_long_intervals(clock: Clock) -> None:
    state = HealthState(3600.0, clock=clock)
    assert state.live_limit == 3 * 3600.0
    assert HealthState(1.0, clock=clock).live_limit == LIVE_FLOOR


# One cycle per step: (seconds since the previous step, whether it failed).
cycles = st.lists(st.tuples(st.floats(0, 2 * INTERVAL), st.booleans()), max_size=30)


@given(steps=cycles, wait=st.floats(0, 4 * LIVE_FLOOR))
def test_liveness_ignores_errors_and_readiness_follows_the_last_cycle(
    steps: list[tuple[float, bool]], wait: float
) -> None:
    """Randomized: /livez depends only on when cycles ran; /readyz on the last one's result."""
    clock = Clock()
    state = HealthState(INTERVAL, clock=clock)
    twin = HealthState(INTERVAL, clock=clock)  # the same timeline, every cycle succeeding
    last_ok: float | None = None
    for gap, failed in steps:
        clock.now += gap
        for each in (state, twin):
            each.cycle_started()
        state.cycle_finished(ok=not failed, error="boom" if failed else None)
        twin.cycle_finished(ok=True)
        last_ok = clock.now if not failed else last_ok
    clock.now += wait
    assert state.live()[0] == twin.live()[0]
    last = clock.now - wait  # when the last cycle (or the start-up) happened
    assert state.live()[0] == (200 if clock.now <= last + LIVE_FLOOR else 503)
    ready = state.ready()[0]
    if not steps or steps[-1][1]:
        assert ready == 503
    else:
        assert last_ok is not None
        assert ready == (200 if clock.now <= last_ok + 3 * INTERVAL else 503)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@pytest.fixture
def server(state: HealthState) -> Iterator[HealthServer]:
    metrics = Metrics(process=False)
    with HealthServer(state, metrics, "127.0.0.1", 0) as running:
        yield running


def _url(server: HealthServer, path: str) -> str:
    host, port = server.address
    return f"http://{host}:{port}{path}"


@pytest.mark.parametrize("path", ["/readyz", "/healthz"])
def test_server_readiness(server: HealthServer, state: HealthState, path: str) -> None:
    reply = httpx.get(_url(server, path))
    assert reply.status_code == 503
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["status"] == "unavailable"
    state.cycle_finished(ok=True)
    reply = httpx.get(_url(server, path))
    assert (reply.status_code, reply.json()["status"]) == (200, "ok")
    assert httpx.head(_url(server, path)).status_code == 200
    state.cycle_finished(ok=False, error="401 Bad credentials")
    reply = httpx.get(_url(server, path))
    assert (reply.status_code, reply.json()["last_error"]) == (503, "401 Bad credentials")


def test_server_liveness_while_cycles_fail(
    server: HealthServer, state: HealthState, clock: Clock
) -> None:
    state.cycle_started()
    state.cycle_finished(ok=False, error="api.github.com: could not connect")
    reply = httpx.get(_url(server, "/livez"))
    assert (reply.status_code, reply.json()["status"]) == (200, "alive")
    assert httpx.head(_url(server, "/livez")).status_code == 200
    clock.now += state.live_limit + 1
    reply = httpx.get(_url(server, "/livez"))
    assert (reply.status_code, reply.json()["status"]) == (503, "stuck")


def test_server_metrics_and_unknown_paths(server: HealthServer) -> None:
    reply = httpx.get(_url(server, "/metrics"))
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    assert "# TYPE watcher_cycles_total counter" in reply.text
    assert httpx.get(_url(server, "/")).status_code == 404


def test_port_in_use_is_a_config_error(server: HealthServer, state: HealthState) -> None:
    host, port = server.address
    with pytest.raises(ConfigError, match=f"{host}:{port}"):
        HealthServer(state, server.metrics, host, port).start()
