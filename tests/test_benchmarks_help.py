"""Every benchmark answers ``--help`` with its usage instead of running (soak.py used to
start a 2-hour soak); `make bench` runs them without arguments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = sorted((ROOT / "benchmarks").glob("[a-z]*.py"))


@pytest.mark.slow  # a process per benchmark
@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_every_benchmark_takes_help(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{script.stem}", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: "), done.stdout[:200]
    assert done.stderr == ""
