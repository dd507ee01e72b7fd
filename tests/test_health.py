"""Tests of watcher.health: the /healthz verdict (injectable clock) and the HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from watcher.errors import ConfigError
from watcher.health import HealthServer, HealthState
from watcher.metrics import Metrics

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
    status, body = state.check()
    assert status == 503
    assert body == {"status": "unavailable", "reason": "no cycle has finished yet"}


def test_unavailable_while_no_cycle_has_succeeded(state: HealthState) -> None:
    state.cycle_finished(ok=False, error="api.github.com: could not connect")
    status, body = state.check()
    assert status == 503
    assert body["reason"] == "no cycle has succeeded since start-up"
    assert body["last_error"] == "api.github.com: could not connect"


def test_ok_until_three_intervals_after_the_last_success(state: HealthState, clock: Clock) -> None:
    state.cycle_finished(ok=True)
    assert state.check() == (200, {"status": "ok", "last_success": _iso(T0), "age_seconds": 0.0})
    clock.now += 3 * INTERVAL
    assert state.check()[0] == 200
    clock.now += 1
    status, body = state.check()
    assert status == 503
    assert body["status"] == "stale"
    assert body["reason"] == "last successful cycle 361 s ago (limit 360 s)"


def test_one_failed_cycle_is_reported_but_not_fatal(state: HealthState, clock: Clock) -> None:
    state.cycle_finished(ok=True)
    clock.now += INTERVAL
    state.cycle_finished(ok=False, error="watch headscale: HTTP 502")
    status, body = state.check()
    assert (status, body["last_error"]) == (200, "watch headscale: HTTP 502")
    clock.now += INTERVAL
    state.cycle_finished(ok=True)
    assert "last_error" not in state.check()[1]


def test_a_governor_pause_moves_the_deadline(state: HealthState, clock: Clock) -> None:
    state.cycle_finished(ok=True)
    state.pause_until(T0 + 3600)
    clock.now = T0 + 3600 + 3 * INTERVAL
    status, body = state.check()
    assert status == 200
    assert "paused_until" not in body  # the pause is over, only its grace remains
    clock.now += 1
    assert state.check()[0] == 503


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


def test_server_healthz(server: HealthServer, state: HealthState) -> None:
    reply = httpx.get(_url(server, "/healthz"))
    assert reply.status_code == 503
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["status"] == "unavailable"
    state.cycle_finished(ok=True)
    reply = httpx.get(_url(server, "/healthz"))
    assert (reply.status_code, reply.json()["status"]) == (200, "ok")
    assert httpx.head(_url(server, "/healthz")).status_code == 200


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
