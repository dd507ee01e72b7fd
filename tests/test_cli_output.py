"""What the CLI prints: the offline error, status hints, history, plans, backtest options.

The newcomer's view (issue 9): offline `check` is one error line and its hint, `status
--json` carries `hint` like `check --json`, `history` has a header and no placeholder
noise, `check --plan` shows the diff once, `backtest` refuses two outputs at once and
says where it wrote the picture, and `--verbose` / `--log-level` work on every command.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.headscale import load_headscale
from watcher.cli import render
from watcher.cli.main import main
from watcher.state.store import Event

WATCH = "headscale-peer-relay"


def closed_port_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_unreachable_github_is_one_error_line_and_its_hint(watcher: WatcherRun) -> None:
    watcher.api_url = closed_port_url()
    result = watcher("check")
    assert result.exit_code == 2
    assert result.stdout == ""
    error, hint = result.stderr.splitlines()
    assert error.startswith(f"error: {WATCH}: {watcher.api_url}/") and "could not connect" in error
    assert hint.startswith("hint: ")


def test_an_error_beside_a_verdict_names_it_the_last_good_one(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "waiting")
    assert watcher("check").exit_code == 1
    watcher.api_url = closed_port_url()
    result = watcher("check")
    assert result.exit_code == 2
    head = result.stdout.splitlines()[0]
    assert head.startswith(f"{WATCH}: WAITING") and "last good verdict" in head
    assert "no verdict yet" not in result.stdout


def test_status_json_carries_the_hint_of_the_last_error(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "waiting")
    watcher("check")
    (clean,) = json.loads(watcher("status", "--json").stdout)["watches"]
    assert clean["error"] is None and clean["hint"] is None
    watcher.api_url = closed_port_url()
    checked = json.loads(watcher("check", "--json").stdout)["watches"][0]
    (failed,) = json.loads(watcher("status", "--json").stdout)["watches"]
    assert failed["error"] == checked["error"] and failed["hint"] == checked["hint"]
    assert failed["hint"]
    assert f"  hint:      {checked['hint']}" in watcher("status").stdout


def test_plan_shows_the_diff_once(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "ready")
    watcher.standin.registry.push("docker.io", "tailscale/tailscale", "stable")
    result = watcher("check", "--plan", "--json")
    diff = json.loads(result.stdout)["watches"][0]["plan"]["diff"]
    first_hunk = next(line for line in diff.splitlines() if line.startswith("@@"))
    text = watcher("check", "--plan").stdout
    assert text.count(first_hunk) == 1


def test_backtest_refuses_json_with_another_format(watcher: WatcherRun) -> None:
    result = watcher("backtest", "--format", "svg", "--json")
    assert result.exit_code == 2
    assert "--json and --format svg" in result.stderr


def test_backtest_plot_says_what_it_wrote(watcher: WatcherRun, tmp_path: Path) -> None:
    load_headscale(watcher.standin, "ready")
    picture = tmp_path / "timeline.svg"
    result = watcher("backtest", "--plot", str(picture))
    assert picture.read_text().startswith("<svg")
    assert f"wrote the timeline picture to {picture}" in result.stderr
    assert str(picture) not in result.stdout


STATES = st.sampled_from(["waiting", "pending", "ready", "proposed", "done"])
TARGETS = st.one_of(st.none(), st.sampled_from(["v0.28.0", "v0.29.0", "v0.29.1"]))


@st.composite
def event_lists(draw: st.DrawFn) -> list[Event]:
    """A watch's transitions: the first from nothing, each next from the previous."""
    count = draw(st.integers(1, 8))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    events, state, target = [], None, None
    for i in range(count):
        new_state, new_target = draw(STATES), draw(TARGETS)
        at += timedelta(minutes=draw(st.integers(1, 10_000)))
        events.append(Event(i + 1, WATCH, at, state, new_state, target, new_target, {}))
        state, target = new_state, new_target
    return events


@given(event_lists())
def test_history_text_has_a_header_and_one_plain_line_per_transition(
    events: list[Event],
) -> None:
    title, header, *rows = render.history_text(WATCH, events).splitlines()
    assert title == f"{WATCH}: {len(events)} transition(s)"
    assert header.split() == ["date", "(UTC)", "state", "target"]
    assert len(rows) == len(events)
    for row, event in zip(rows, events, strict=True):
        assert row.startswith(f"{event.at:%Y-%m-%d %H:%M:%S}")
        assert " - " not in f"{row} " and "None" not in row
        assert event.to_state in row
        if event.from_state is not None:
            assert f"{event.from_state} -> {event.to_state}" in row
        if event.to_target:
            assert event.to_target in row
        if event.from_target and event.from_target != event.to_target:
            assert f"{event.from_target} -> {event.to_target or 'none'}" in row


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess (logging is process-wide: keep it out of this one)."""
    base = {"PATH": os.environ["PATH"], "HOME": env.get("HOME", "/nonexistent")}
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("flags", "env"),
    [
        (["-v"], {}),
        (["--log-level", "debug"], {}),
        ([], {"WATCHER_LOG_LEVEL": "debug"}),
    ],
)
def test_debug_logs_on_request_only(
    watcher: WatcherRun, flags: list[str], env: dict[str, str]
) -> None:
    load_headscale(watcher.standin, "waiting")
    args = ["check", "--config", str(watcher.config_path), "--db", watcher.db_url]
    quiet = run_cli(args, {"HOME": str(watcher.tmp_path)})
    assert quiet.returncode == 1 and quiet.stderr == "", quiet.stderr
    loud = run_cli([*args, *flags], {"HOME": str(watcher.tmp_path), **env})
    assert loud.returncode == 1, loud.stderr
    lines = [json.loads(line) for line in loud.stderr.splitlines()]  # not a TTY: JSON lines
    # httpx's line per request is what --verbose lets through (quiet otherwise).
    assert any(line["event"].startswith("HTTP Request: GET") for line in lines), loud.stderr
    # Logs never reach stdout: the verdict table is all there is.
    assert loud.stdout.startswith(f"{WATCH}: WAITING") and "{" not in loud.stdout


def test_every_command_takes_the_logging_options() -> None:
    def commands(group: object, path: str) -> list[tuple[str, object]]:
        found = []
        for name, command in getattr(group, "commands", {}).items():
            if hasattr(command, "commands"):
                found += commands(command, f"{path}{name} ")
            else:
                found.append((f"{path}{name}", command))
        return found

    for name, command in commands(main, ""):
        options = {opt for p in command.params for opt in p.opts}  # type: ignore[attr-defined]
        assert {"--verbose", "-v", "--log-level", "--log-format"} <= options, name


def test_make_run_offline_prints_the_error_and_its_hint_and_succeeds(
    watcher: WatcherRun,
) -> None:
    # `make run` on this venv (-o: never reinstall here), GitHub unreachable.
    watcher.api_url = closed_port_url()
    venv = Path(sys.executable).parent.parent
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        ["make", "--no-print-directory", "-o", f"{venv}/.runtime", "run", f"VENV={venv}"],
        cwd=root,
        env={
            "PATH": os.environ["PATH"],
            "HOME": str(watcher.tmp_path),
            "WATCHER_CONFIG": str(watcher.config_path),
            "WATCHER_DB_URL": watcher.db_url,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
    error, hint = done.stderr.splitlines()
    assert error.startswith(f"error: {WATCH}: ") and hint.startswith("hint: ")
