"""Benchmark what a lost write answer costs: extra requests per write step of `run --once`.

For each write step of tests/test_write_lost_answer.py, two identical histories on two
stand-ins: one cycle as it normally goes, and the same cycle with that write applied and
its answer lost (a 502). Prints the requests of both and the difference: the lookup that
replaces a blind retry. The happy path costs no extra request at all (the first column
is the same as without this feature).

Usage: ``python -m benchmarks.lost_answers`` from the repository root (about a minute).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.pr_cycle import cycle
from tests.standin.chart import load_chart
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from tests.test_write_lost_answer import PREPARED, STEPS, Step


def requests(step: Step, name: str, lose: bool) -> tuple[int, str]:
    """Requests of the cycle in which ``step`` happens, with or without a lost answer."""
    workdir = Path(tempfile.mkdtemp(prefix="watcher-bench-"))
    try:
        with StandIn() as standin:
            load_chart(standin)
            standin.registry.push("docker.io", "tailscale/tailscale", "stable")
            if name == "merge prepared branch":
                standin.github.repo("kapernikov/headscale-helm").git.create_branch(PREPARED, "main")
                standin.github.push_commit(
                    "kapernikov/headscale-helm", PREPARED, {"headscale/templates/x.yaml": "x\n"}
                )
            text = standin_config(standin, {"write_interval_seconds": "0"})
            for old, new in step.edits.items():
                text = text.replace(old, new)
            (workdir / "watcher.toml").write_text(text)
            load_headscale(standin, "ready")
            if step.stage == "patch":
                cycle(standin, workdir)
                load_headscale(standin, "patch")
            if lose:
                standin.faults.add(method=step.method, path=step.path, applied=True, status=502)
            summary = cycle(standin, workdir)
            return len(standin.log.records()), summary
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    """Print one line per write step."""
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    print(f"{'write step':<24} {'normal':>7} {'lost':>5} {'extra':>6}  (requests in that cycle)")
    for name, step in sorted(STEPS.items()):
        normal, _ = requests(step, name, lose=False)
        lost, summary = requests(step, name, lose=True)
        print(f"{name:<24} {normal:>7} {lost:>5} {lost - normal:>+6}  {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
