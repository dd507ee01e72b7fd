"""Benchmark `watcher check`: idle-cycle cost in requests and quota, and CLI wall times.

Against the stand-in loaded with the headscale-like history at stage `ready` plus the
kapernikov chart (untimed set-up):

- idle cycle: a second `watcher check` with nothing changed upstream; counts requests
  (GitHub and registry), 304 answers and quota-counted requests, with a token and
  anonymously (goal: every GET a 304, 0 quota with a token, <= 4 requests);
- `watcher --help` wall time (goal < 0.3 s) and a warm `watcher check` (goal < 1 s),
  each the best of 5 runs of the installed console script in a subprocess.

Usage: ``python -m benchmarks.check_cycle`` from the repository root.
"""

from __future__ import annotations

import argparse
import os
import sys

from benchmarks._standin_check import standin_check, timed, watcher_command
from benchmarks._traffic import describe
from tests.standin.headscale import READ_TOKEN
from tests.standin.server import StandIn

RUNS = 5


def run(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall time and exit code of one CLI run."""
    return timed([*watcher_command(), *args], env)


def best(args: list[str], env: dict[str, str]) -> float:
    """Best wall time of RUNS runs."""
    return min(run(args, env)[0] for _ in range(RUNS))


def idle_cycle(standin: StandIn, args: list[str], env: dict[str, str]) -> str:
    """Run check twice; describe what the second (idle) run cost."""
    run(args, env)
    standin.log.clear()
    _, code = run(args, env)
    return describe(standin.log, code)


def main() -> int:
    """Print the figures."""
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    with standin_check() as setup:
        base = {"PATH": os.environ.get("PATH", ""), "HOME": str(setup.workdir)}
        for label, token in (("token", READ_TOKEN), ("anonymous", "")):
            env = {**base, "GITHUB_TOKEN": token}
            args = ["check", "--config", str(setup.config), "--db", setup.db_url(label)]
            print(f"idle cycle ({label}): {idle_cycle(setup.standin, args, env)}")
        env = {**base, "GITHUB_TOKEN": READ_TOKEN}
        help_time = best(["--help"], env)
        check_time = best(
            ["check", "--config", str(setup.config), "--db", setup.db_url("token")], env
        )
        print(f"watcher --help: {help_time * 1000:.0f} ms (best of {RUNS}; goal < 300 ms)")
        print(f"warm watcher check: {check_time * 1000:.0f} ms (best of {RUNS}; goal < 1000 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
