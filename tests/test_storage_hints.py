"""Storage errors name their cause: a lock another process holds, a full disk, a failed
write (SQLite itself says only `database is locked` or `disk I/O error`)."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tests.conftest import ROOT, WatcherRun
from tests.standin.headscale import load_headscale
from watcher.state.db import storage_error
from watcher.state.migrate import make_engine


def test_a_lock_held_by_another_process_is_named(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "waiting")
    assert watcher("check").exit_code == 1  # waiting
    load_headscale(watcher.standin, "pending")  # the next check has a verdict to write
    holder = sqlite3.connect(watcher.db_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = watcher("check")
    finally:
        holder.close()
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "locked by another process" in result.output
    assert "another process holds a lock on the database" in result.output


def test_a_failed_write_says_what_failed_and_how_much_room_is_left(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "pending")

    def small_files() -> None:  # in the child: files may not grow beyond 300 kB
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    done = subprocess.run(
        [sys.executable, "-m", "watcher", *watcher.argv(("check",))],
        cwd=ROOT,
        env={**os.environ, **watcher.environ},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert "reading or writing" in output and "MiB free" in output
    assert "a limit on file size" in output


def test_sqlite_full_is_reported_as_a_full_disk(tmp_path: Path) -> None:
    """SQLITE_FULL, raised for real by SQLite (a page limit stands in for the disk)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'full.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x BLOB)"))
        try:
            with engine.begin() as conn:
                conn.execute(text("PRAGMA max_page_count = 8"))
                conn.execute(text("INSERT INTO t VALUES (zeroblob(1000000))"))
        except SQLAlchemyError as exc:
            error = storage_error("database error on full.db", exc, engine)
        else:
            raise AssertionError("SQLite accepted a row beyond max_page_count")
    finally:
        engine.dispose()
    assert f"the disk holding {tmp_path / 'full.db'} is full" in error.message
    assert "MiB free" in error.message and "free some space" in error.hint
