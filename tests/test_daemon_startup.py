"""The real daemon process (`python -m watcher run`) at start-up and on SIGHUP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.standin.chart import CHART_TOKEN
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config

ROOT = Path(__file__).resolve().parent.parent


def test_a_busy_port_fails_before_the_database_is_touched(standin: StandIn, tmp_path: Path) -> None:
    """A second daemon on a taken port: exit 2 naming the port, no database created."""
    config = tmp_path / "watcher.toml"
    config.write_text(standin_config(standin))
    db_file = tmp_path / "state" / "watcher.db"
    env = {**os.environ, "GITHUB_TOKEN": CHART_TOKEN, "GITHUB_TOKEN_FILE": ""}
    with socket.socket() as first:
        first.bind(("127.0.0.1", 0))
        first.listen()
        port = first.getsockname()[1]
        command = [sys.executable, "-m", "watcher", "run", "--config", str(config)]
        command += ["--db", f"sqlite:///{db_file}", "--health-port", str(port)]
        process = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
        )
    assert process.returncode == 2, process.stderr
    errors = [line for line in process.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: cannot serve the probes and /metrics on 127.0.0.1:{port} (Address already in use)"
    ], process.stderr
    assert "Traceback" not in process.stderr
    assert not db_file.exists() and not db_file.parent.exists()
