"""The real daemon process (`python -m watcher run`) at start-up and on SIGHUP."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import WatcherRun
from tests.daemon_process import start_daemon
from tests.standin.chart import CHART_TOKEN
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config


def test_a_busy_port_fails_before_the_database_is_touched(watcher: WatcherRun) -> None:
    """A second daemon on a taken port: exit 2 naming the port, no database created."""
    watcher.token = CHART_TOKEN
    db_file = Path(watcher.db_url.removeprefix("sqlite:///"))
    with socket.socket() as first:
        first.bind(("127.0.0.1", 0))
        first.listen()
        port = first.getsockname()[1]
        process = watcher.process("run", "--health-port", str(port), timeout=60)
    assert process.returncode == 2, process.stderr
    errors = [line for line in process.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: cannot serve the probes and /metrics on 127.0.0.1:{port} (Address already in use)"
    ], process.stderr
    assert "Traceback" not in process.stderr
    assert not db_file.exists() and not db_file.parent.exists()


def wait_for_log(process: subprocess.Popen[bytes], log_path: Path, event: str, count: int) -> None:
    """Until the daemon's JSON log holds ``count`` lines of ``event``; fail if it exits."""
    deadline = time.monotonic() + 30
    while True:
        lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
        if sum(1 for line in lines if line.get("event") == event) >= count:
            return
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"no {count} x {event!r} (exit {process.poll()}):\n{log_path.read_text()}")
        time.sleep(0.05)


def test_sighup_is_logged_and_ignored(standin: StandIn, tmp_path: Path) -> None:
    """SIGHUP used to end the daemon at once with 129 and no log line."""
    config = tmp_path / "watcher.toml"
    config.write_text(standin_config(standin))
    log_path = tmp_path / "daemon.log"
    daemon = start_daemon(str(config), f"sqlite:///{tmp_path / 'w.db'}", CHART_TOKEN, log_path)
    try:
        wait_for_log(daemon, log_path, "cycle finished", 1)
        for count in (1, 2):
            daemon.send_signal(signal.SIGHUP)
            wait_for_log(daemon, log_path, "SIGHUP ignored", count)
        assert daemon.poll() is None
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    ignored = [line for line in lines if line["event"] == "SIGHUP ignored"]
    assert len(ignored) == 2
    assert all(x["level"] == "warning" and "restart the daemon" in x["hint"] for x in ignored)
