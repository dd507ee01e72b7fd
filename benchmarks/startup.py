"""Benchmark start-up: `watcher check` and `watcher status` as ratios to a bare interpreter.

Against the stand-in of :mod:`benchmarks.check_cycle` (untimed set-up, one untimed
check to warm the database and the HTTP cache), the three commands run interleaved,
ROUNDS rounds with the order rotated each round so that a busy moment on the machine
spreads over all of them:

- ``python -c pass`` with this interpreter (the venv's): the bare start;
- a warm ``watcher check`` (goal: median <= 4x the bare start);
- ``watcher status`` (goal: median <= 2.5x the bare start).

Then, for check and status (of both trees when comparing), ``python -X importtime``
(median of IMPORT_RUNS runs per package): the top-level packages (watcher's own by
part, ``watcher.state`` ...) by cumulative import time (the first import of the
package, everything it pulled in included) and their own time (their modules alone;
the own times add up to the whole import time).

With ``--compare DIR`` (another checkout of watcher, e.g. a worktree of an older
commit, using this interpreter's packages) its check and status run in the same rounds,
both trees through ``python -m watcher`` started in the tree: before and after side by
side, under the same load.

Usage: ``python -m benchmarks.startup`` from the repository root (``--rounds N``,
``--compare DIR``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from benchmarks._standin_check import CheckSetup, standin_check, timed, watcher_command
from tests.standin.headscale import READ_TOKEN

ROUNDS = 15
IMPORT_RUNS = 3
TOP = 15
GOALS = {"check": 4.0, "status": 2.5}


def watcher_args(setup: CheckSetup) -> dict[str, list[str]]:
    """The arguments of the measured watcher commands, by label (one database for both)."""
    common = ["--config", str(setup.config), "--db", setup.db_url("startup")]
    return {label: [label, *common] for label in GOALS}


# A timed command and the directory it starts in (None: this one).
Run = tuple[list[str], Path | None]


def timed_run(label: str, run: Run, env: dict[str, str]) -> float:
    """Wall time of one run; exit 2 (an error, not a verdict) stops the benchmark."""
    seconds, code = timed(run[0], env, run[1])
    if code not in (0, 1):
        raise SystemExit(f"{label} exited {code}: {' '.join(run[0])}")
    return seconds


def interleaved(runs: dict[str, Run], env: dict[str, str], rounds: int) -> dict[str, float]:
    """Median wall time of each command over ``rounds`` rotated rounds."""
    times: dict[str, list[float]] = defaultdict(list)
    labels = list(runs)
    for round_no in range(rounds):
        shift = round_no % len(labels)
        for label in labels[shift:] + labels[:shift]:
            times[label].append(timed_run(label, runs[label], env))
    return {label: statistics.median(values) for label, values in times.items()}


def import_times(stderr: str) -> dict[str, tuple[float, float]]:
    """Per top-level package: (cumulative, own) import time in ms, from ``-X importtime``.

    The lines come children first; read backwards they are parent first, and the depth
    of a module is its indentation. A package's cumulative time is the sum over its
    outermost imports (those with no ancestor of the same package).
    """
    entries: list[tuple[int, int, str]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        head, total, module = line.split("|", 2)
        entries.append((int(head.removeprefix("import time:")), int(total), module[1:]))
    cumulative: dict[str, float] = defaultdict(float)
    own: dict[str, float] = defaultdict(float)
    ancestors: list[str] = []
    for self_us, cumulative_us, name in reversed(entries):
        depth = (len(name) - len(name.lstrip(" "))) // 2
        package = _package(name.strip())
        del ancestors[depth:]
        if package not in ancestors:
            cumulative[package] += cumulative_us / 1000
        own[package] += self_us / 1000
        ancestors.append(package)
    return {package: (cumulative[package], own[package]) for package in own}


def _package(module: str) -> str:
    """The package a module is counted under: its top level, ``watcher.<part>`` for ours."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "watcher" else parts[0]


def median_import_times(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> dict[str, tuple[float, float]]:
    """:func:`import_times` of IMPORT_RUNS runs of ``watcher args`` (started in ``cwd``),
    the median per package."""
    samples = []
    for _ in range(IMPORT_RUNS):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "watcher", *args],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        samples.append(import_times(done.stderr))
    packages = set().union(*samples)
    return {
        package: (
            statistics.median(s.get(package, (0.0, 0.0))[0] for s in samples),
            statistics.median(s.get(package, (0.0, 0.0))[1] for s in samples),
        )
        for package in packages
    }


def top_list(label: str, packages: dict[str, tuple[float, float]]) -> Iterable[str]:
    """Lines: the import total, then the TOP packages by cumulative time."""
    total = sum(own for _, own in packages.values())
    yield f"-X importtime, watcher {label}: {total:.0f} ms importing {len(packages)} packages"
    yield f"  {'package':<24}{'cumulative':>12}{'own':>10}"
    ranked = sorted(packages.items(), key=lambda item: item[1][0], reverse=True)
    for package, (cumulative, own) in ranked[:TOP]:
        yield f"  {package:<24}{cumulative:>9.0f} ms{own:>7.0f} ms"


def main() -> int:
    """Print the medians, the ratios with their goals, and the import breakdowns."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--compare", type=Path, default=None, help="another watcher checkout")
    options = parser.parse_args()
    rounds, other = options.rounds, options.compare
    with standin_check() as setup:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(setup.workdir),
            "GITHUB_TOKEN": READ_TOKEN,
        }
        args = watcher_args(setup)
        # Both trees alike when comparing: `python -m watcher`, started in the tree.
        here = [sys.executable, "-m", "watcher"] if other else watcher_command()
        runs: dict[str, Run] = {"bare": ([sys.executable, "-c", "pass"], None)}
        for label in GOALS:
            runs[label] = ([*here, *args[label]], Path.cwd() if other else None)
            if other:
                runs[f"{label} ({other.name})"] = ([*here, *args[label]], other)
        for label, run in runs.items():
            if label.startswith("check"):
                timed_run(label, run, env)  # warm: database migrated, HTTP cache filled
        medians = interleaved(runs, env, rounds)
        bare = medians.pop("bare")
        print(f"median of {rounds} interleaved rounds:")
        print(f"  python -c pass: {bare * 1000:.0f} ms")
        for label, seconds in medians.items():
            goal = GOALS[label.split()[0]]
            ratio = seconds / bare
            verdict = "meets" if ratio <= goal else "misses"
            print(
                f"  watcher {label}: {seconds * 1000:.0f} ms = {ratio:.1f}x bare "
                f"({verdict} the goal <= {goal}x)"
            )
        for label, (_, cwd) in runs.items():
            if label != "bare":
                command = label.split()[0]
                for line in top_list(label, median_import_times(args[command], env, cwd)):
                    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
