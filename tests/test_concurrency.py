"""`watcher check` and `watcher status` beside a running daemon on one SQLite file.

docs/architecture.md, «State» promises WAL and ``busy_timeout`` so the daemon can write while the
read-side commands run. This module runs the real daemon (`python -m watcher run`, a
cycle every second) against the stand-in and, at the same time, keeps several other
processes running `watcher check` / `watcher status` on the same database file, from
the moment the file is created until the daemon has finished several cycles (one of
them opening a pull request and posting comments, the write-heaviest cycle there is).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import WatcherRun
from tests.daemon_process import start_daemon
from tests.prs import pulls
from tests.standin.headscale import load_headscale

ROOT = Path(__file__).resolve().parent.parent
# Commands run side by side with the daemon; each loops over these.
WORKERS = 3
COMMANDS = (("check",), ("status",), ("check", "--json"), ("status", "--json"))
# Daemon cycles to overlap with; the first ones create the database and open the PR.
CYCLES = 6
DEADLINE = 30.0


@dataclass(frozen=True)
class Finished:
    """One command run beside the daemon: what it was, its exit code and its output."""

    args: tuple[str, ...]
    code: int
    output: str


def daemon_cycles(log_path: Path) -> int:
    """How many cycles the daemon has finished, from its JSON log."""
    count = 0
    for line in log_path.read_text().splitlines():
        try:
            count += json.loads(line).get("event") == "cycle finished"
        except ValueError:
            continue  # a line being written right now
    return count


def test_check_and_status_while_the_daemon_writes(acting: WatcherRun, tmp_path: Path) -> None:
    """Every `check`/`status` run beside the daemon answers (exit 0 or 1, never 2) and
    no process, the daemon included, ever reports "database is locked": readers and
    the daemon's writes share the SQLite file, including while it is being created and
    migrated, and while the daemon opens a pull request."""
    load_headscale(acting.standin, "ready")
    acting.edits = {
        "interval_seconds = 120": "interval_seconds = 1",
        "jitter_seconds = 15": "jitter_seconds = 0",
    }
    config, db_url = str(acting.config_path), acting.db_url
    env = {**os.environ, "GITHUB_TOKEN": acting.token or "", "GITHUB_TOKEN_FILE": ""}
    log_path = tmp_path / "daemon.log"
    daemon = start_daemon(config, db_url, acting.token or "", log_path)
    finished: list[Finished] = []
    stop = threading.Event()

    def worker(offset: int) -> None:
        # Different starting commands per worker, so checks and statuses overlap too.
        turn = offset
        while not stop.is_set():
            args = COMMANDS[turn % len(COMMANDS)]
            turn += 1
            command, *rest = args
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "watcher",
                    command,
                    "--config",
                    config,
                    "--db",
                    db_url,
                    *rest,
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=DEADLINE,
                check=False,
            )
            finished.append(Finished(args, proc.returncode, proc.stdout + proc.stderr))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + DEADLINE
        # Bounded wait for the daemon's cycles, never a fixed sleep.
        while daemon_cycles(log_path) < CYCLES:
            if daemon.poll() is not None:
                pytest.fail(f"daemon exited ({daemon.returncode}):\n{log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"daemon did not finish {CYCLES} cycles:\n{log_path.read_text()}")
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=DEADLINE)
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=DEADLINE)
    log = log_path.read_text()
    print(f"\n{len(finished)} commands beside {daemon_cycles(log_path)} daemon cycles")
    assert code == 0, log
    assert "database is locked" not in log
    assert '"cycle failed"' not in log, log
    assert len(pulls(acting.standin)) == 1  # the daemon really wrote meanwhile
    # Enough overlap to mean something: every worker got several commands in.
    assert len(finished) >= 2 * WORKERS, finished
    assert {f.args[0] for f in finished} == {"check", "status"}
    for run in finished:
        assert "database is locked" not in run.output, run
        assert run.code in (0, 1), run
