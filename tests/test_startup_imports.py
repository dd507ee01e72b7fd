"""What `watcher check` and `watcher status` import: nothing they do not use.

Start-up time is mostly imports (benchmarks/startup.py measures it); a heavy package
imported at the top of a module a command loads would undo that quietly. These tests
run the real commands in a subprocess with ``PYTHONPROFILEIMPORTTIME`` (the environment
form of ``-X importtime``) and read the imported modules off its report. No timings are
asserted: they would flake on a busy machine. One more test checks that the garbage
collector gets back, after a command, what the command froze for the length of its work.
"""

from __future__ import annotations

import gc
import subprocess

import pytest

from tests.conftest import WatcherRun
from tests.standin.headscale import READ_TOKEN, load_headscale

# Alembic only migrates; PyGithub (``github``), JWT and Apprise only act; structlog and
# the logging set-up only when a logging option is given; the database here is SQLite.
NOT_FOR_CHECK = frozenset(
    {
        "alembic",
        "apprise",
        "github",
        "jwt",
        "sqlalchemy.dialects.postgresql",
        "structlog",
        "watcher.actions.pull_request",
        "watcher.backtest",
        "watcher.net.github_write",
        "watcher.notify.apprise",
        "watcher.service",
    }
)
# status reads the database: no HTTP stack, no chart model, no network readers.
NOT_FOR_STATUS = NOT_FOR_CHECK | {
    "h11",
    "httpcore",
    "httpx",
    "ruamel",
    "tenacity",
    "watcher.actions",
    "watcher.chart",
    "watcher.net",
    "watcher.runner",
    "watcher.sources",
}


def imported_modules(run: subprocess.CompletedProcess[str]) -> set[str]:
    """The modules a process imported, from its ``-X importtime`` report on stderr."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "imported package" not in line
    }


def found(modules: set[str], unwanted: frozenset[str] | set[str]) -> list[str]:
    """The modules that are one of ``unwanted`` or inside one of those packages."""
    return sorted(m for m in modules if any(m == u or m.startswith(f"{u}.") for u in unwanted))


def profiled(watcher: WatcherRun, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m watcher ARGS`` against the stand-in, reporting its imports."""
    watcher.env["PYTHONPROFILEIMPORTTIME"] = "1"
    return watcher.process(*args)


@pytest.fixture
def ready(watcher: WatcherRun) -> WatcherRun:
    """The CLI against the stand-in at stage `ready`, with a read token."""
    load_headscale(watcher.standin, "ready")
    watcher.token = READ_TOKEN
    return watcher


def test_first_run_migrates_with_alembic_and_the_report_shows_it(ready: WatcherRun) -> None:
    # The probe itself: a new database is migrated, so Alembic shows up in the report.
    run = profiled(ready, "check")
    assert run.returncode == 0, run.stderr[-2000:]
    assert found(imported_modules(run), frozenset({"alembic"}))


def test_warm_check_imports_only_what_evaluating_needs(ready: WatcherRun) -> None:
    assert ready.process("check").returncode == 0  # migrates the new database
    run = profiled(ready, "check")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "headscale-peer-relay: READY" in run.stdout
    modules = imported_modules(run)
    assert {"httpx", "watcher.runner.cycle", "sqlalchemy"} <= modules  # it did the work
    assert found(modules, NOT_FOR_CHECK) == []


def test_status_imports_no_network_and_no_migration_code(ready: WatcherRun) -> None:
    assert ready.process("check").returncode == 0  # a verdict to show
    run = profiled(ready, "status")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "headscale-peer-relay: READY" in run.stdout
    modules = imported_modules(run)
    assert {"watcher.state.store", "watcher.config.model"} <= modules
    assert found(modules, NOT_FOR_STATUS) == []


def test_an_acting_run_loads_pygithub_only_when_it_writes(acting: WatcherRun) -> None:
    # A daemon waiting for a release spends its life in idle cycles: they must not load
    # PyGithub (with requests, PyJWT and cryptography, about 20 MiB resident).
    load_headscale(acting.standin, "waiting")
    first = profiled(acting, "run", "--once")  # new verdict: dashboard written
    assert first.returncode == 0, first.stderr[-2000:]
    assert found(imported_modules(first), frozenset({"github"}))  # the probe sees it
    idle = profiled(acting, "run", "--once")
    assert idle.returncode == 0, idle.stderr[-2000:]
    modules = imported_modules(idle)
    assert "watcher.runner.act" in modules  # it was an acting run
    assert (
        found(modules, frozenset({"github", "jwt", "requests", "watcher.net.github_write"})) == []
    )


def test_check_in_process_gives_the_frozen_objects_back(ready: WatcherRun) -> None:
    # check freezes what start-up built for the duration of its work (fewer objects for
    # the collector to walk); an in-process caller must get a collectable heap back.
    assert gc.get_freeze_count() == 0
    result = ready("check")
    assert result.exit_code == 0, result.output
    assert gc.get_freeze_count() == 0
