"""Shared set-up of the CLI benchmarks: a stand-in at stage `ready` and a config for it.

The stand-in is loaded with the headscale-like history at stage ``ready`` plus the
kapernikov chart, and a ``watcher.toml`` pointing every base URL at it is written in a
temporary directory that also holds the benchmark's databases (removed on exit).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.standin.chart import load_chart
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config


@dataclass(frozen=True)
class CheckSetup:
    """A running, loaded stand-in, its config file and a scratch directory."""

    standin: StandIn
    config: Path
    workdir: Path

    def db_url(self, label: str) -> str:
        """A SQLite URL for a database called ``label`` in the scratch directory."""
        return f"sqlite:///{self.workdir / f'{label}.db'}"


@contextmanager
def standin_check() -> Iterator[CheckSetup]:
    """Start and load the stand-in, write its config; stop and clean up on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="watcher-bench-"))
    try:
        with StandIn() as standin:
            load_headscale(standin, "ready")
            load_chart(standin)
            config = workdir / "watcher.toml"
            config.write_text(standin_config(standin))
            yield CheckSetup(standin, config, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def watcher_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m watcher`."""
    script = Path(sys.executable).with_name("watcher")
    return [str(script)] if script.exists() else [sys.executable, "-m", "watcher"]


def timed(command: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, int]:
    """Wall time and exit code of one run of ``command`` in a subprocess (in ``cwd``)."""
    began = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
    code = done.returncode
    return time.perf_counter() - began, code
