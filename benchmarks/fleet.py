"""Benchmark a fleet: many watches over many upstreams, every request made slower.

Loads the stand-in (untimed) with ``--upstreams`` repositories, each with two releases
(``v1.0.0`` without the features, ``v1.1.0`` with half of them), their images in a
registry and one issue, then writes a config of ``--watches`` watches spread over them
(each its own marker, its image, the issue unless ``--without-issues``, the default
``CHANGELOG.md`` that no upstream has). Every answer of the stand-in is delayed by
``--latency`` seconds, as a far-away GitHub would be. ``watcher check`` then runs twice
in a subprocess, cold (empty database) and warm (nothing changed upstream; the issue
is informational, so within 30 minutes of its last read it is not asked again), and for
each run prints:

- wall time;
- GitHub and registry requests per upstream (apart; codeload's tarball downloads count
  as GitHub);
- peak RSS of the watcher process;
- the most requests in flight at once, and the most GitHub API requests (points) in
  any 60 s window.

Goals (issue 17): warm <= 1.1 GitHub requests per upstream and <= 20 s, cold <= 2 min,
never over GitHub's secondary limits (100 concurrent, ~900 points a minute), peak RSS
<= 200 MiB. Usage: ``python -m benchmarks.fleet [--watches N --upstreams N ...]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.standin.fleet import FLEET_TOKEN, fleet_config, load_fleet
from tests.standin.reqlog import RequestRecord, most_in_a_minute
from tests.standin.server import StandIn

# The tree this file is in: the watcher measured is this one, whatever is installed.
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Figures:
    """What one measured run came to."""

    seconds: float
    exit_code: int
    github: int
    registry: int
    peak_rss_mib: float
    most_in_flight: int
    most_per_minute: int
    kinds: Counter[str]


def kind(record: RequestRecord) -> str:
    """What a GitHub request read: releases, tags, issues, contents, tarballs or other."""
    if record.service == "codeload" or "/tarball/" in record.path:
        return "tarballs"
    for name in ("releases", "tags", "issues", "contents"):
        if f"/{name}" in record.path:
            return name
    return "other"


def measure(standin: StandIn, command: list[str], env: dict[str, str]) -> Figures:
    """Run ``command`` once against ``standin`` and collect its figures."""
    standin.log.clear()
    standin.most_in_flight = 0
    began = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - began
    if child.returncode not in (0, 1):
        sys.stderr.write(errors.decode(errors="replace")[-2000:] + "\n")
    records = standin.log.records()
    registry = sum(1 for r in records if r.service == "registry")
    return Figures(
        seconds=seconds,
        exit_code=child.returncode,
        github=len(records) - registry,
        registry=registry,
        peak_rss_mib=usage.ru_maxrss / 1024,
        most_in_flight=standin.most_in_flight,
        most_per_minute=most_in_a_minute([r.time for r in records if r.service == "github"]),
        kinds=Counter(kind(r) for r in records if r.service != "registry"),
    )


def show(label: str, figures: Figures, upstreams: int) -> str:
    """One line of figures."""
    return (
        f"{label}: {figures.seconds:.1f} s, exit {figures.exit_code}; "
        f"GitHub {figures.github} requests ({figures.github / upstreams:.2f} per upstream), "
        f"registry {figures.registry} ({figures.registry / upstreams:.2f} per upstream); "
        f"peak RSS {figures.peak_rss_mib:.0f} MiB; most in flight {figures.most_in_flight}, "
        f"most GitHub API requests per minute {figures.most_per_minute}\n"
        "  GitHub requests by kind: "
        + ", ".join(f"{name} {count}" for name, count in sorted(figures.kinds.items()))
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fleet", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--watches", type=int, default=1000, help="watches (default 1000)")
    parser.add_argument("--upstreams", type=int, default=300, help="upstreams (default 300)")
    parser.add_argument(
        "--latency", type=float, default=0.1, help="seconds added to every answer (default 0.1)"
    )
    parser.add_argument(
        "--github",
        default="",
        help='extra TOML lines for the [github] table, e.g. "concurrency = 8"',
    )
    parser.add_argument(
        "--without-issues", action="store_true", help="no watch names an upstream issue"
    )
    args = parser.parse_args(argv)
    if args.watches < 1 or args.upstreams < 1 or args.upstreams > args.watches:
        parser.error("need 1 <= --upstreams <= --watches")
    return args


def main(argv: list[str] | None = None) -> int:
    """Set up, run cold and warm, print the figures."""
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="watcher-fleet-"))
    try:
        with StandIn() as standin:
            began = time.perf_counter()
            load_fleet(standin, args.watches, args.upstreams)
            config = workdir / "fleet.toml"
            text = fleet_config(
                standin, args.watches, args.upstreams, args.github, not args.without_issues
            )
            config.write_text(text)
            print(
                f"{args.watches} watches over {args.upstreams} upstreams, "
                f"{args.latency * 1000:.0f} ms added to every request "
                f"(set-up {time.perf_counter() - began:.0f} s, untimed)",
                flush=True,
            )
            standin.latency = args.latency
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(workdir),
                "GITHUB_TOKEN": FLEET_TOKEN,
                "PYTHONPATH": str(ROOT),
            }
            command = [
                sys.executable,
                "-m",
                "watcher",
                "check",
                "--config",
                str(config),
                "--db",
                f"sqlite:///{workdir / 'fleet.db'}",
            ]
            for label in ("cold", "warm"):
                print(show(label, measure(standin, command, env), args.upstreams), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
