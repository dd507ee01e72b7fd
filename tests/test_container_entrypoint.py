"""docker/entrypoint.sh: the daemon by default, any other watcher command passed through.

The routing is tested with a recording stand-in for the ``watcher`` executable on PATH
(the entrypoint's real start-up, with the real CLI, is tests/test_container_steps.py).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
# Writes one line per call: its arguments, NUL-separated, so the test sees each word.
RECORDER = '#!/bin/sh\nprintf "%s\\0" "$@" >> "$CALLS"\nprintf "\\n" >> "$CALLS"\n'


def entrypoint_calls(tmp_path: Path, args: list[str]) -> list[list[str]]:
    """The watcher invocations the entrypoint makes for the container arguments ``args``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "watcher").write_text(RECORDER)
    (bin_dir / "watcher").chmod(0o755)
    calls = tmp_path / "calls"
    calls.write_bytes(b"")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(calls)}
    subprocess.run(["/bin/sh", str(ENTRYPOINT), *args], env=env, check=True, timeout=30)
    return [line.split("\0")[:-1] for line in calls.read_text().splitlines()]


def test_the_entrypoint_knows_every_cli_command() -> None:
    listed = re.search(r'^COMMANDS="([^"]*)"', ENTRYPOINT.read_text(), re.MULTILINE)
    assert listed is not None
    assert sorted(listed.group(1).split()) == sorted(main.commands)


def test_no_arguments_migrate_then_run_the_daemon(tmp_path: Path) -> None:
    assert entrypoint_calls(tmp_path, []) == [["db", "upgrade"], ["run"]]


def test_other_commands_pass_through_without_the_daemon(tmp_path: Path) -> None:
    assert entrypoint_calls(tmp_path, ["check", "--json"]) == [["check", "--json"]]
    assert entrypoint_calls(tmp_path, ["config", "check"]) == [["config", "check"]]


def test_explicit_run_is_not_doubled(tmp_path: Path) -> None:
    assert entrypoint_calls(tmp_path, ["run", "--once"]) == [["db", "upgrade"], ["run", "--once"]]


@settings(max_examples=25, deadline=None)
@given(
    first=st.sampled_from([*sorted(main.commands), "headscale-peer-relay", "--log-level"]),
    rest=st.lists(st.text(alphabet="abc -=_.'\"$*", min_size=1, max_size=8), max_size=3),
)
def test_arguments_reach_watcher_unchanged(
    tmp_path_factory: pytest.TempPathFactory, first: str, rest: list[str]
) -> None:
    calls = entrypoint_calls(tmp_path_factory.mktemp("ep"), [first, *rest])
    if first in main.commands and first != "run":
        assert calls == [[first, *rest]]
    else:
        tail = rest if first == "run" else [first, *rest]
        assert calls == [["db", "upgrade"], ["run", *tail]]
