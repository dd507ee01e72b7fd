"""Concurrent observation: bounded requests in flight, config order kept, a shared gate.

Watches are observed on ``[github].concurrency`` worker threads; records and output stay
in config order and equal what one thread finds; a rate limit one worker meets holds
back every worker (docs/architecture.md, «Talking to GitHub»).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.fleet import FLEET_TOKEN, fleet_config, load_fleet, upstream
from tests.standin.server import StandIn


def fleet_run(
    standin: StandIn, home: pytest.TempPathFactory, watches: int, upstreams: int, concurrency: int
) -> WatcherRun:
    run = WatcherRun(standin, home.mktemp(f"c{concurrency}"), token=FLEET_TOKEN)
    run.config_text = fleet_config(standin, watches, upstreams, f"concurrency = {concurrency}")
    return run


def check_json(run: WatcherRun) -> list[dict[str, object]]:
    result = run("check", "--json")
    assert result.exit_code in (0, 1), result.output
    watches: list[dict[str, object]] = json.loads(result.stdout)["watches"]
    return watches


def comparable(watches: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(w["id"], w.get("state"), json.dumps(w.get("target"), sort_keys=True)) for w in watches]


@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(watches=st.integers(2, 7), upstreams=st.integers(1, 3), concurrency=st.integers(2, 4))
def test_concurrent_observation_equals_one_thread_in_config_order(
    tmp_path_factory: pytest.TempPathFactory, watches: int, upstreams: int, concurrency: int
) -> None:
    upstreams = min(upstreams, watches)
    with StandIn() as standin:
        load_fleet(standin, watches, upstreams, awaiting={0})
        standin.latency = 0.02  # so that watches overlap
        serial = fleet_run(standin, tmp_path_factory, watches, upstreams, 1)
        parallel = fleet_run(standin, tmp_path_factory, watches, upstreams, concurrency)
        for _ in range(2):  # cold, then warm
            standin.most_in_flight = 0
            one = check_json(serial)
            assert standin.most_in_flight == 1
            standin.most_in_flight = 0
            many = check_json(parallel)
            # (overlap is likely, not certain: watches of one upstream wait for its reads)
            assert standin.most_in_flight <= concurrency
            assert [w["id"] for w in many] == [f"w{i:04d}" for i in range(watches)]
            assert comparable(many) == comparable(one)


def test_a_rate_limit_met_by_one_worker_holds_back_every_worker(watcher: WatcherRun) -> None:
    standin = watcher.standin
    load_fleet(standin, 8, 4)
    watcher.token = FLEET_TOKEN
    watcher.config_text = fleet_config(standin, 8, 4, "concurrency = 4")
    standin.latency = 0.02
    # The second upstream's releases meet a secondary limit that asks for 1 s of quiet.
    standin.faults.add(
        "GET", f"/repos/{upstream(1)}/releases", status=429, headers={"retry-after": "1"}
    )
    result = watcher("check")
    assert result.exit_code in (0, 1), result.output
    assert 1 < standin.most_in_flight <= 4  # four upstreams' releases are asked at once
    records = standin.log.records()
    limited = next(r for r in records if r.status == 429)
    # Requests sent before the 429 arrived may still land just after it; none later.
    quiet = [r for r in records if limited.time + 0.3 < r.time < limited.time + 0.95]
    assert quiet == [], [(r.path, r.time - limited.time) for r in quiet]
    after = [r for r in records if r.time >= limited.time + 0.95]
    assert after, "the other watches went on after the limit"
