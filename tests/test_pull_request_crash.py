"""Crash safety of `watcher run --once`: whatever step dies, the re-run ends with exactly
one PR with the right content and exactly one comment per transition."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.conftest import WatcherRun
from tests.prs import BRANCH, dashboard_comments, expected_values, file_at, pulls
from tests.standin.chart import CHART_TOKEN
from tests.standin.headscale import load_headscale
from watcher.state.leases import ACTOR_LEASE
from watcher.state.store import Store


def assert_converged(acting: WatcherRun) -> None:
    """Exactly one open PR with the v0.29.0 bump, and start->ready, ready->proposed comments."""
    (pr,) = pulls(acting.standin)
    assert pr["state"] == "open"
    assert file_at(acting.standin, "headscale/values.yaml", BRANCH) == expected_values("v0.29.0")
    comments = dashboard_comments(acting.standin)
    assert len(comments) == 2, comments
    assert "**ready**" in comments[0] and "**proposed**" in comments[1]


@pytest.mark.parametrize(
    ("method", "path", "step"),
    [
        ("POST", r"/git/trees$", "before the tree exists"),
        ("POST", r"/git/commits$", "tree created, no commit"),
        ("POST", r"/git/refs$", "commit created, ref not moved"),
        ("POST", r"/pulls$", "ref moved, PR not opened"),
        ("POST", r"/issues/\d+/comments$", "PR opened, transition comments not delivered"),
    ],
)
def test_failure_at_each_write_step_converges(
    acting: WatcherRun, method: str, path: str, step: str
) -> None:
    load_headscale(acting.standin, "ready")
    acting.standin.faults.add(method=method, path=path, status=500, times=None)
    assert acting("run", "--once").exit_code == 2, step
    acting.standin.faults.clear()
    assert acting("run", "--once").exit_code == 0, step
    assert_converged(acting)
    acting.standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert [r for r in acting.standin.log.records() if r.is_write] == []


def wait_for(condition: Callable[[], object], what: str, seconds: float = 30.0) -> None:
    """Poll ``condition`` until it holds (never a fixed sleep: the machine may be slow)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigkill_while_the_pr_is_being_opened(acting: WatcherRun) -> None:
    """The PR is created on GitHub but the process dies before recording it.

    The killed run held the actor lease for minutes (3 x (interval + jitter)); the next
    run sees that its holder has ended on this machine, takes over at once and finishes.
    """
    load_headscale(acting.standin, "ready")
    held = acting.standin.faults.add(method="POST", path=r"/pulls$", delay=2.0)
    env = {**os.environ, "GITHUB_TOKEN": CHART_TOKEN, "GITHUB_TOKEN_FILE": ""}
    command = [
        sys.executable,
        "-m",
        "watcher",
        "run",
        "--once",
        "--config",
        str(acting.config_path),
        "--db",
        acting.db_url,
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # A rule counts its hit when the request arrives, before holding it for the delay.
    wait_for(lambda: held.hits == 1, "POST /pulls to arrive")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    # The stand-in finishes creating the PR, as GitHub would.
    wait_for(lambda: len(pulls(acting.standin)) == 1, "the pull request")
    # The killed run still holds the lease, but it is gone from this machine: the next
    # run takes the lease over at once instead of waiting out its TTL.
    with Store.open(acting.db_url) as store:
        assert store.lease_holder(ACTOR_LEASE) is not None
    assert acting("run", "--once").exit_code == 0
    assert_converged(acting)


def test_secondary_limit_mid_sequence_is_waited_out(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    rule = acting.standin.faults.add(
        method="POST",
        path=r"/git/commits$",
        status=403,
        headers={"retry-after": "1"},
        body=b'{"message": "You have exceeded a secondary rate limit"}',
    )
    assert acting("run", "--once").exit_code == 0
    assert rule.hits == 1
    assert_converged(acting)


def test_transient_5xx_on_a_write_is_retried_once(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    rule = acting.standin.faults.add(method="POST", path=r"/pulls$", status=502)
    assert acting("run", "--once").exit_code == 0
    assert rule.hits == 1
    assert_converged(acting)


def test_conflict_on_ref_update_is_an_error_then_converges(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    acting("run", "--once")
    load_headscale(acting.standin, "patch")
    acting.standin.faults.add(method="PATCH", path=r"/git/refs/heads/", status=409, times=None)
    assert acting("run", "--once").exit_code == 2
    acting.standin.faults.clear()
    assert acting("run", "--once").exit_code == 0
    assert len(pulls(acting.standin)) == 1
    assert file_at(acting.standin, "headscale/values.yaml", BRANCH) == expected_values("v0.29.1")


def test_stand_in_restart_between_steps(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    assert acting("run", "--once").exit_code == 0
    acting.standin.restart()
    load_headscale(acting.standin, "patch")
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(acting.standin)
    assert "v0.29.1" in pr["title"]
