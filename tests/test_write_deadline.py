"""Every GitHub call is under the deadline and the daemon's stop, writes included (issue 20).

With GitHub stalling a write, the daemon used to exit 22 s and 59 s after SIGTERM:
reads were interrupted, PyGithub's calls were not. The stand-in's ``delay`` fault holds
every write far beyond the test; SIGTERM must end the daemon within a few seconds, with
exit 0 (a stop is a clean exit, «Exit codes» in the README), and the next cycle finds
what the abandoned write may have done instead of doing it twice.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from github import Auth

from tests.conftest import WatcherRun
from tests.daemon_process import start_daemon
from tests.prs import CHART, api
from tests.standin.chart import CHART_TOKEN
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from watcher.core.errors import NetworkError
from watcher.net.github_write import GitHubWriter

# Where the writer's requests go (PyGithub says "token X", the reader "Bearer X").
WRITER = ("authorization", "^token ")
# What "within a few seconds" means here: the stop is seen within deadline.POLL_SECONDS,
# the rest is the interpreter's exit on a loaded 2-core machine.
STOP_BOUND = 5.0


def test_sigterm_ends_the_daemon_while_github_stalls_a_write(
    acting: WatcherRun, tmp_path: Path
) -> None:
    load_headscale(acting.standin, "ready")
    acting.github = {"timeout_seconds": "600", "write_interval_seconds": "0"}
    stall = acting.standin.faults.add(
        method="POST", path=r"/repos/", header=WRITER, delay=600.0, times=None
    )
    log = tmp_path / "log"
    process = start_daemon(str(acting.config_path), acting.db_url, CHART_TOKEN, log)
    try:
        until = time.monotonic() + 60
        while stall.hits == 0 and time.monotonic() < until and process.poll() is None:
            time.sleep(0.05)
        assert stall.hits >= 1, log.read_text()
        process.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the daemon was still running 30 s after SIGTERM:\n{log.read_text()}")
        took = time.monotonic() - stopped
        assert code == 0, log.read_text()
        assert took < STOP_BOUND, f"exited {took:.1f} s after SIGTERM"
        assert "interrupted, watcher is stopping" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def writer_on(standin: StandIn, timeout: float) -> GitHubWriter:
    """A writer with the chart token, unpaced, at most one retry."""
    return GitHubWriter(
        standin.api_url, Auth.Token(CHART_TOKEN), write_interval=0, timeout=timeout, retries=1
    )


def test_a_write_stalled_past_the_deadline_is_looked_up_not_repeated(acting: WatcherRun) -> None:
    """The writer abandons a call at its total deadline; the write may still land, so its
    lookup runs before any retry, and the write is not sent again."""
    standin = acting.standin
    load_headscale(standin, "ready")
    stall = standin.faults.add(method="POST", path=r"/issues$", header=WRITER, delay=3.0)
    writer = writer_on(standin, timeout=1.0)
    repo = writer.call("read repository", lambda: writer.gh.get_repo(CHART), write=False)
    lookups: list[str] = []

    def lookup() -> bool | None:
        lookups.append("asked")
        return None  # not applied yet: the retry is what would double it

    began = time.monotonic()
    created = writer.call("open issue", lambda: repo.create_issue("x").number, lookup=lookup)
    took = time.monotonic() - began
    writer.close()
    assert lookups, "the abandoned write was retried without looking it up"
    assert stall.hits == 1
    opened = [i for i in api(standin, f"/repos/{CHART}/issues?state=all") if i["title"] == "x"]
    # The stalled first attempt lands 3 s after it was sent, beside the retry: the
    # lookup after a pause (fleet-pr's settle) is what keeps that to one.
    assert created in [i["number"] for i in opened]
    assert took < 3.0 + 2.0


def test_interrupt_abandons_a_running_call_and_refuses_the_next(acting: WatcherRun) -> None:
    standin = acting.standin
    load_headscale(standin, "ready")
    standin.faults.add(method="GET", path=f"/repos/{CHART}$", header=WRITER, delay=30.0)
    writer = writer_on(standin, timeout=60.0)
    threading.Timer(0.3, writer.interrupt).start()
    began = time.monotonic()
    with pytest.raises(NetworkError, match="interrupted, watcher is stopping"):
        writer.call("read repository", lambda: writer.gh.get_repo(CHART), write=False)
    assert time.monotonic() - began < 2.0
    with pytest.raises(NetworkError, match="interrupted"):
        writer.call("read repository", lambda: writer.gh.get_repo(CHART), write=False)
    writer.close()
