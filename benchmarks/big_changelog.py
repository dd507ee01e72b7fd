"""Benchmark bounded reads: peak RSS of `watcher check` when CHANGELOG.md is huge.

Against the stand-in at stage `ready` (benchmarks/_standin_check.py), three cold
`watcher check` runs, each in its own process and with a fresh database:

- normal: the real changelog;
- capped: the changelog answer replaced by ``--size-mb`` MB (default 50), under the
  default ``[github.body_caps]``;
- uncapped: the same answer with ``changelog_bytes`` raised above its size (what every
  read did before the caps).

Printed per run: the process's peak RSS (``ru_maxrss`` of that child), its exit code and
the largest body stored in the database. Goal: capped within 20 MiB of normal, and
nothing over the cap stored.

Usage: ``python -m benchmarks.big_changelog [--size-mb N]`` from the repository root.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys

from benchmarks._standin_check import CheckSetup, standin_check, watcher_command
from tests.standin.headscale import READ_TOKEN

MiB = 1024 * 1024
GOAL_MIB = 20.0


def peak_rss(setup: CheckSetup, label: str, config: str) -> tuple[float, int, int]:
    """Peak RSS (MiB), exit code and largest stored body (bytes) of one cold check."""
    path = setup.workdir / f"{label}.toml"
    path.write_text(config)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(setup.workdir),
        "GITHUB_TOKEN": READ_TOKEN,
    }
    url = setup.db_url(label)
    command = [*watcher_command(), "check", "--config", str(path), "--db", url]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        (largest,) = db.execute("SELECT coalesce(max(length(body)), 0) FROM http_cache").fetchone()
    return usage.ru_maxrss / 1024, child.returncode, int(largest)


def main() -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=50, help="changelog size (default 50)")
    size = parser.parse_args().size_mb * 1000 * 1000
    with standin_check() as setup:
        base = setup.config.read_text()
        uncapped = base.replace(
            "\nretries =", f"\nbody_caps = {{ changelog_bytes = {2 * size} }}\nretries =", 1
        )
        normal = peak_rss(setup, "normal", base)
        line = b"- a changelog line of a very long history, repeated\n"
        setup.standin.faults.add(
            method="GET",
            path=r"/contents/CHANGELOG\.md$",
            status=200,
            body=line * (size // len(line)),
            chunked=True,
            times=None,
        )
        capped = peak_rss(setup, "capped", base)
        before = peak_rss(setup, "uncapped", uncapped)
    for label, (rss, code, largest) in (
        ("normal", normal),
        (f"{size / 1e6:.0f} MB changelog, capped", capped),
        (f"{size / 1e6:.0f} MB changelog, uncapped", before),
    ):
        print(
            f"{label:>28}: peak RSS {rss:6.1f} MiB, exit {code}, "
            f"largest stored body {largest / MiB:6.2f} MiB"
        )
    growth = capped[0] - normal[0]
    verdict = "ok" if growth < GOAL_MIB else "OVER GOAL"
    print(f"capped - normal: {growth:+.1f} MiB (goal < {GOAL_MIB:g} MiB): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
