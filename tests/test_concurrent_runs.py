"""Several `watcher run --once` started together on one database write once between them.

A CronJob overlapping another, or an operator's manual run beside it: two or three real
CLI processes start at the same moment on one fresh database (SQLite file, or a
PostgreSQL schema), at every stage of the headscale history. Between them they must
open one pull request, one dashboard, and post each transition's comment once: the
actor lease lets one process write (the others only evaluate and say so), outbox items
are claimed before they are posted, and creating the dashboard is claimed too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import WatcherRun
from tests.prs import CHART, api, dashboard_comments, pulls
from tests.standin.headscale import load_headscale
from tests.test_state_store import postgres_schema_url
from watcher.state.leases import ACTOR_LEASE
from watcher.state.store import Store

ROOT = Path(__file__).resolve().parent.parent
WATCH = "headscale-peer-relay"
STAGES = ("waiting", "pending", "ready", "patch")
# What one process running alone records through these stages (test_pull_request_e2e):
# (state, target) after each transition.
ALONE = [
    ("waiting", None),
    ("pending", "v0.29.0"),
    ("ready", "v0.29.0"),
    ("proposed", "v0.29.0"),
    ("proposed", "v0.29.1"),
]
# A process that only evaluates never moves a watch out of "proposed", not even to a
# newer target: the writer records that when it moves the PR, so several processes
# record exactly what one process alone does (no proposed -> ready -> proposed pair).
DEADLINE = 120


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: an SQLite file not yet created, or an empty PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared' / 'watcher.db'}"
    else:
        yield from postgres_schema_url(request.getfixturevalue("postgres_url"))


def run_together(acting: WatcherRun, db_url: str, count: int) -> list[tuple[int, str]]:
    """Start ``count`` `watcher run --once` at the same moment; their exit codes and stderr."""
    env = {**os.environ, "GITHUB_TOKEN": acting.token or "", "GITHUB_TOKEN_FILE": ""}
    command = [sys.executable, "-m", "watcher", "run", "--once"]
    command += ["--config", str(acting.config_path), "--db", db_url]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(count)
    ]
    results = []
    for process in processes:
        _, stderr = process.communicate(timeout=DEADLINE)
        results.append((process.returncode, stderr.decode()))
    return results


def dashboards(acting: WatcherRun) -> list[dict[str, object]]:
    issues = api(acting.standin, f"/repos/{CHART}/issues?state=all")
    return [i for i in issues if "<!-- watcher:dashboard -->" in str(i["body"] or "")]


@pytest.mark.parametrize("count", [2, 3])
def test_runs_started_together_write_once(acting: WatcherRun, database: str, count: int) -> None:
    for stage in STAGES:
        load_headscale(acting.standin, stage)
        results = run_together(acting, database, count)
        for code, stderr in results:
            assert code in (0, 1), f"{stage}: exit {code}\n{stderr}"
            assert "Traceback" not in stderr, stderr
        # One process wrote; every other one said it only evaluated.
        notes = [s for _, s in results if "holds the write lease" in s]
        assert len(notes) <= count - 1, results
        assert len(dashboards(acting)) == 1, f"{stage}: dashboards {dashboards(acting)}"
        assert len([p for p in pulls(acting.standin) if p["state"] == "open"]) <= 1, stage
        comments = dashboard_comments(acting.standin)
        assert len(comments) == len(set(comments)), f"{stage}: a comment twice: {comments}"
    # A run alone delivers what a non-writing run recorded after the writer had finished.
    ((code, stderr),) = run_together(acting, database, 1)
    assert code == 0, stderr
    (pr,) = pulls(acting.standin)
    assert "v0.29.1" in pr["title"]
    with Store.open(database) as store:
        history = store.history(WATCH)
    assert [(e.to_state, e.to_target) for e in history] == ALONE, history
    comments = dashboard_comments(acting.standin)
    assert len(comments) == len(set(comments)) == len(history), comments


def test_a_run_without_the_lease_only_evaluates_and_says_so(acting: WatcherRun) -> None:
    """Another process (here: a daemon elsewhere) holds the lease: `run --once` writes
    nothing to GitHub, records its verdict, names the holder, and exits 0."""
    load_headscale(acting.standin, "ready")
    with Store.open(acting.db_url) as store:
        assert store.acquire_lease(ACTOR_LEASE, "elsewhere:1", timedelta(minutes=5))
    acting.standin.log.clear()
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    assert "elsewhere:1" in result.stderr and "only evaluates" in result.stderr
    assert [r for r in acting.standin.log.records() if r.is_write] == []
    with Store.open(acting.db_url) as store:
        stored = store.get_verdict(WATCH)
        assert stored is not None and stored.verdict is not None
        assert stored.verdict.state.value == "ready"
        store.release_lease(ACTOR_LEASE, "elsewhere:1")
    assert acting("run", "--once").exit_code == 0  # the lease is free: now it writes
    assert len(pulls(acting.standin)) == 1
