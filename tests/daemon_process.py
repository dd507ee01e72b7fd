"""Start the real daemon (`python -m watcher run`) as a subprocess for a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_daemon(config: str, db_url: str, token: str, log_path: Path) -> subprocess.Popen[bytes]:
    """The daemon on ``config`` and ``db_url`` with ``token``, JSON logs in ``log_path``.

    /healthz and /metrics go to a free port (0) so several daemons can run side by side.
    """
    env = {**os.environ, "GITHUB_TOKEN": token, "GITHUB_TOKEN_FILE": ""}
    command = [sys.executable, "-m", "watcher", "run", "--config", config, "--db", db_url]
    command += ["--health-port", "0", "--log-format", "json"]
    with log_path.open("wb") as stderr:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
