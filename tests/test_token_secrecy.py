"""A token is checked when it is read and never shows up anywhere.

A known token is planted, then every error path we can provoke runs with it: malformed
values in GITHUB_TOKEN and GITHUB_TOKEN_FILE, a token GitHub refuses (401), one that
may read but not write, and server faults (5xx, HTML instead of JSON, dropped
connections) on reads and writes. Afterwards stdout, stderr, every log record (all
levels) and every row of every table, plus the raw database files, are searched for it.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.prs import CHART
from tests.standin.headscale import load_headscale
from watcher.core.errors import ConfigError
from watcher.net.credentials import github_token

SECRET = "ghp_PLANTED0secret0value0d41d8cd98f00b204e98"


def run(watcher: WatcherRun, *args: str) -> str:
    """Run a command; everything it printed (and any exception) as one text."""
    result: Result = watcher(*args)
    return f"{result.output}\n{result.stderr}\n{result.exception!r}"


def database_text(watcher: WatcherRun) -> tuple[str, bytes]:
    """Every row of every table as text, and the raw bytes of the database files."""
    path = Path(watcher.db_url.removeprefix("sqlite:///"))
    rows = []
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert {"runs", "observations", "events"} <= set(tables)
        for table in tables:
            rows += [repr(row) for row in db.execute(f'SELECT * FROM "{table}"')]
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    return "\n".join(rows), raw


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (f"{SECRET}\n{SECRET}", "more than one line"),
        (f"{SECRET} extra", "space"),
        (f"{SECRET}ö", "not printable ASCII"),
        (f"{SECRET}\x1b", "not printable ASCII"),
    ],
)
def test_a_malformed_token_is_refused_by_name_without_a_request(
    watcher: WatcherRun, tmp_path: Path, value: str, problem: str
) -> None:
    load_headscale(watcher.standin, "ready")
    token_file = tmp_path / "token"
    token_file.write_bytes(value.encode() + b"\n")
    for variable, env in [
        ("GITHUB_TOKEN", {"GITHUB_TOKEN": value}),
        (f"GITHUB_TOKEN_FILE={token_file}", {"GITHUB_TOKEN_FILE": str(token_file)}),
    ]:
        watcher.env = env
        for command in (("check",), ("run", "--once")):
            watcher.standin.log.clear()
            result = watcher(*command)
            assert result.exit_code == 2, result.output
            assert f"error: {variable}: not a valid token: " in result.output
            assert problem in result.output and "Traceback" not in result.output
            assert SECRET not in result.output + result.stderr
            assert len(watcher.standin.log) == 0  # refused before any request: no retries


def test_a_token_file_that_is_no_token(watcher: WatcherRun, tmp_path: Path) -> None:
    for name, content in [("binary", b"\xff\xfe" + SECRET.encode()), ("huge", b"x" * 100_000)]:
        path = tmp_path / name
        path.write_bytes(content)
        watcher.env = {"GITHUB_TOKEN_FILE": str(path)}
        result = watcher("check")
        assert result.exit_code == 2 and f"GITHUB_TOKEN_FILE={path}" in result.output
        assert "Traceback" not in result.output and SECRET not in result.output


def test_the_token_shows_up_nowhere(
    acting: WatcherRun, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    standin = acting.standin
    printed: list[str] = []
    load_headscale(standin, "ready")

    # Malformed, from the environment and from a file.
    acting.token = f"{SECRET}\n{SECRET}"
    printed.append(run(acting, "check"))
    token_file = tmp_path / "token"
    token_file.write_text(f"{SECRET}\nsecond line\n")
    acting.token, acting.env = None, {"GITHUB_TOKEN_FILE": str(token_file)}
    printed.append(run(acting, "run", "--once"))
    acting.env = {}

    # Well-formed but unknown: 401 on reads.
    acting.token = SECRET
    printed += [run(acting, "check"), run(acting, "run", "--once")]

    # Known, may read but not write to the chart: refused writes.
    standin.github.add_token(SECRET, login="reader")
    printed.append(run(acting, "run", "--once"))

    # May write; the server fails reads and writes in every way the stand-in can.
    standin.github.add_token(SECRET, push_to=[CHART], login="watcher-bot")
    for fault in [
        {"method": "POST", "status": 500, "times": 50},
        {"method": "POST", "drop_connection": True, "times": 50},
        {"path": r"/releases", "status": 200, "body": b"<html>oops</html>", "times": 50},
        {"path": r"/releases", "status": 502, "times": 50},
        {"path": r"/releases", "truncate_after": 10, "times": 50},
        {"path": r"/git/", "status": 422, "times": 50},
    ]:
        standin.faults.add(**fault)  # type: ignore[arg-type]
        printed += [run(acting, "check"), run(acting, "run", "--once")]
        standin.faults.clear()
    printed += [
        run(acting, "run", "--once"),
        run(acting, "status"),
        run(acting, "status", "--json"),
    ]

    rows, raw = database_text(acting)
    assert "401" in "\n".join(printed)  # the paths above did fail
    for where, text in [
        ("command output", "\n".join(printed)),
        ("logs", caplog.text + "\n".join(repr(r.__dict__) for r in caplog.records)),
        ("database rows", rows),
    ]:
        assert SECRET not in text, where
        assert SECRET[4:20] not in text, where  # not even a piece of it
    assert SECRET.encode() not in raw and SECRET[4:20].encode() not in raw


def test_an_app_key_file_that_is_not_text(watcher: WatcherRun, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_bytes(b"\xff\xfe" + SECRET.encode())
    watcher.env = {
        "WATCHER_APP_ID": "1",
        "WATCHER_APP_INSTALLATION_ID": "2",
        "WATCHER_APP_PRIVATE_KEY_FILE": str(key),
    }
    result = watcher("run", "--once")
    assert result.exit_code == 2, result.output
    assert f"WATCHER_APP_PRIVATE_KEY_FILE={key}: not a PEM text file" in result.output
    assert "Traceback" not in result.output and SECRET not in result.output


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=127)))
def test_the_token_rule_and_its_error_never_echo_the_value(value: str) -> None:
    stripped = value.strip()
    valid = all(33 <= ord(c) <= 126 for c in stripped)
    try:
        got = github_token({"GITHUB_TOKEN": value})
    except ConfigError as exc:
        assert not valid
        assert exc.message.startswith("GITHUB_TOKEN: not a valid token: ")
        if len(stripped) >= 8:
            assert stripped not in exc.message + exc.hint
    else:
        assert valid and got == (stripped or None)
