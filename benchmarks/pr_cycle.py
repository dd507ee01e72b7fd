"""Benchmark `watcher run --once`: requests for one ready->PR cycle and for idle cycles.

Against the stand-in (headscale-like history at `pending`, the kapernikov chart), with a
push token and unpaced writes (untimed set-up), prints for each cycle the requests sent,
split into reads and writes, 304 answers and quota-counted requests:

1. the cycle in which the images appear (ready -> PR opened, dashboard, comments);
2. the first idle cycle after it (conditional reads get their validators);
3. a steady idle cycle with the PR open (goal: no writes, every read a 304, 0 quota).

Usage: ``python -m benchmarks.pr_cycle`` from the repository root.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._traffic import describe
from tests.standin.chart import CHART_TOKEN, load_chart
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config


def cycle(standin: StandIn, workdir: Path) -> str:
    """Run one `watcher run --once` and describe what it sent."""
    standin.log.clear()
    command = [sys.executable, "-m", "watcher", "run", "--once"]
    command += ["--config", str(workdir / "watcher.toml")]
    command += ["--db", f"sqlite:///{workdir / 'w.db'}"]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "GITHUB_TOKEN": CHART_TOKEN}
    code = subprocess.run(command, env=env, capture_output=True, check=False).returncode
    return describe(standin.log, code)


def main() -> int:
    """Print the figures."""
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="watcher-bench-"))
    try:
        with StandIn() as standin:
            load_chart(standin)
            standin.registry.push("docker.io", "tailscale/tailscale", "stable")
            load_headscale(standin, "pending")
            (workdir / "watcher.toml").write_text(
                standin_config(standin, {"write_interval_seconds": "0"})
            )
            print(f"pending (warm-up):        {cycle(standin, workdir)}")
            load_headscale(standin, "ready")
            print(f"ready -> PR opened:       {cycle(standin, workdir)}")
            print(f"first idle, PR open:      {cycle(standin, workdir)}")
            print(f"steady idle, PR open:     {cycle(standin, workdir)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
