"""The real daemon process (`python -m watcher run`) at start-up and on SIGHUP."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import WatcherRun
from tests.daemon_process import start_daemon
from tests.standin.chart import CHART_TOKEN
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from watcher.state.migrate import HEAD_REVISION
from watcher.state.store import Store


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


@contextmanager
def terminated_after(daemon: subprocess.Popen[bytes]) -> Iterator[None]:
    """SIGTERM after the block, which must end the daemon with 0; killed if the block fails."""
    try:
        yield
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def test_sighup_is_logged_and_ignored(standin: StandIn, tmp_path: Path) -> None:
    """SIGHUP used to end the daemon at once with 129 and no log line."""
    config = tmp_path / "watcher.toml"
    config.write_text(standin_config(standin))
    log_path = tmp_path / "daemon.log"
    daemon = start_daemon(str(config), f"sqlite:///{tmp_path / 'w.db'}", CHART_TOKEN, log_path)
    with terminated_after(daemon):
        wait_for_log(daemon, log_path, "cycle finished", 1)
        for count in (1, 2):
            daemon.send_signal(signal.SIGHUP)
            wait_for_log(daemon, log_path, "SIGHUP ignored", count)
        assert daemon.poll() is None
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    ignored = [line for line in lines if line["event"] == "SIGHUP ignored"]
    assert len(ignored) == 2
    assert all(x["level"] == "warning" and "restart the daemon" in x["hint"] for x in ignored)


def imported(log_path: Path) -> set[str]:
    """Modules the daemon imported, from its ``-X importtime`` lines in the log."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in log_path.read_text().splitlines()
        if line.startswith("import time:") and "imported package" not in line
    }


def test_a_database_at_the_head_never_loads_alembic_into_the_daemon(
    standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The container's entrypoint runs `watcher db upgrade` before the daemon starts: the
    # daemon then reads the revision with SQLAlchemy alone and never imports Alembic.
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    config = tmp_path / "watcher.toml"
    config.write_text(standin_config(standin))
    log_path, db_url = tmp_path / "daemon.log", f"sqlite:///{tmp_path / 'w.db'}"
    Store.open(db_url).close()  # what `watcher db upgrade` does
    daemon = start_daemon(str(config), db_url, CHART_TOKEN, log_path)
    with terminated_after(daemon):
        wait_for_log(daemon, log_path, "cycle finished", 1)
    modules = imported(log_path)
    assert "watcher.state.store" in modules  # the probe reads this process's imports
    assert not {m for m in modules if m == "alembic" or m.startswith("alembic.")}


def test_a_new_database_is_migrated_by_the_daemon(standin: StandIn, tmp_path: Path) -> None:
    config = tmp_path / "watcher.toml"
    config.write_text(standin_config(standin))
    log_path, db_path = tmp_path / "daemon.log", tmp_path / "w.db"
    daemon = start_daemon(str(config), f"sqlite:///{db_path}", CHART_TOKEN, log_path)
    with terminated_after(daemon):
        wait_for_log(daemon, log_path, "cycle finished", 1)
    with sqlite3.connect(db_path) as db:
        (revision,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == HEAD_REVISION


def test_a_failed_migration_stops_the_daemon_with_its_message(
    standin: StandIn, tmp_path: Path
) -> None:
    config = tmp_path / "watcher.toml"
    config.write_text(standin_config(standin))
    db_path = tmp_path / "w.db"
    with sqlite3.connect(db_path) as db:  # as if a newer watcher had migrated it
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version VALUES ('9999')")
    log_path = tmp_path / "daemon.log"
    daemon = start_daemon(str(config), f"sqlite:///{db_path}", CHART_TOKEN, log_path)
    assert daemon.wait(timeout=60) == 2
    log = log_path.read_text()
    assert "schema revision 9999, which this version of watcher does not know" in log
    assert "upgrade watcher" in log  # the hint
    assert "Traceback" not in log


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5])
def test_sigterm_during_start_up_exits_as_at_any_other_time(
    standin: StandIn, tmp_path: Path, delay: float
) -> None:
    """From its first log line on, SIGTERM stops the daemon with 0: no longer Python's
    default death (143) while the config, credentials and database are set up."""
    config = tmp_path / "watcher.toml"
    config.write_text(standin_config(standin))
    log_path = tmp_path / "daemon.log"
    daemon = start_daemon(str(config), f"sqlite:///{tmp_path / 'w.db'}", CHART_TOKEN, log_path)
    try:
        wait_for_log(daemon, log_path, "watcher starting", 1)
        time.sleep(delay)  # anywhere in start-up: config, credentials, port, migration
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0, log_path.read_text()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    assert lines[0]["event"] == "watcher starting" and lines[0]["version"]
    assert lines[-1]["event"] == "daemon stopped"
    assert "Traceback" not in log_path.read_text()
