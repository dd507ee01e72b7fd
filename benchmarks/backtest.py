"""Benchmark ``watcher backtest`` against the stand-in: 150 releases, a cold and a warm run.

Builds (untimed) a headscale-shaped history in the stand-in: 150 published releases
(stable ``v0.M.P`` and ``-beta.N`` / ``-rc.N`` prereleases, 30 minors), images pushed for
every stable release, the two watched issues with their timeline events; the marker and
a testdata blob of ``--testdata-mib`` MiB (compressible JSON, like the grants work's
``hscontrol/policy/v2/testdata/``) arrive together 30 releases from the end, plus about
1,000 small Go files so an archive has realistic member counts.

Then times ``backtest_command`` (the whole CLI path: releases, tags, bisection scans
through the SQLite feature-scan cache, registry checks, issue timelines, rendering):
once with an empty database (cold: tarballs streamed) and once more on the same
database (warm: every scan from the cache, every GET a 304 or a cache hit).

Usage: ``python -m benchmarks.backtest [--testdata-mib N]`` from the repository root.
Goals: cold < 60 s with at most 10 tarball scans; warm < 5 s with none.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.standin.headscale import MARKER, PUSH_TOKEN, types_go
from tests.standin.history import HistoryBuilder, at
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from watcher.backtest.command import backtest_command
from watcher.config.model import Config, parse_config
from watcher.runner.readers import open_readers
from watcher.state.store import Store

REPO = "juanfont/headscale"
MINORS = 30
FEATURE_FROM = 120  # index (in publication order) of the first release with the marker
COLD_GOAL, WARM_GOAL, SCAN_GOAL = 60.0, 5.0, 10
MiB = 1024 * 1024


def release_plan() -> list[tuple[str, bool]]:
    """150 (tag, prerelease) in publication order: per minor a beta, an rc, x.0, x.1, x.2."""
    plan = []
    for minor in range(MINORS):
        plan += [(f"v0.{minor}.0-beta.1", True), (f"v0.{minor}.0-rc.1", True)]
        plan += [(f"v0.{minor}.{patch}", False) for patch in range(3)]
    return plan


def build(standin: StandIn, testdata_mib: int) -> int:
    """Write the history into the stand-in; returns the number of releases."""
    standin.github.add_token(PUSH_TOKEN, push_to=[REPO])
    b = HistoryBuilder(standin.github, REPO)
    filler = {f"hscontrol/pkg{i // 50}/file{i}.go": f"package pkg\n\n// {i}\n" for i in range(1000)}
    b.commit(
        "2019-01-01T00:00:00Z",
        "Initial import",
        {**filler, "hscontrol/policy/v2/types.go": types_go(False)},
    )
    line = b'{"src":["tag:client"],"dst":["tag:relay"],"ip":["*"]},\n'
    blob = (line * (testdata_mib * MiB // len(line) + 1))[: testdata_mib * MiB]
    standin.github.add_issue(REPO, 2180, "Support grants", created_at=at("2019-02-01T00:00:00Z"))
    for index, (tag, prerelease) in enumerate(release_plan()):
        day = f"{2019 + index // 24}-{index % 24 // 2 + 1:02d}-{10 + index % 2 * 10}"
        files: dict[str, str | bytes | None] = {"hscontrol/version.go": f'const V = "{tag}"\n'}
        if index == FEATURE_FROM:
            files["hscontrol/policy/v2/types.go"] = types_go(True)
            files["hscontrol/policy/v2/testdata/grants.json"] = blob
            standin.github.close_issue(REPO, 2180, at(f"{day}T00:00:00Z"))
        b.commit(f"{day}T10:00:00Z", f"Release {tag}", files)
        b.release(tag, f"{day}T12:00:00Z", prerelease=prerelease)
        if not prerelease:
            for host, name in (
                ("docker.io", "headscale/headscale"),
                ("ghcr.io", "juanfont/headscale"),
            ):
                standin.registry.push(host, name, tag)
    standin.github.add_issue(REPO, 2841, f"Support {MARKER}", created_at=at("2023-01-01T00:00:00Z"))
    return len(release_plan())


def config_for(standin: StandIn) -> Config:
    """The built-in headscale watch, pointed at the stand-in."""
    return parse_config(standin_config(standin), "<benchmark>")


def timed_run(standin: StandIn, config: Config, db: Path) -> dict[str, object]:
    """One backtest through the CLI function; seconds, scans, requests, verdict."""
    standin.log.clear()
    with Store.open(f"sqlite:///{db}") as store:
        began = time.perf_counter()
        with open_readers(config, store) as readers:
            out, _ = backtest_command(
                config, store, readers, watch_id=None, since=None, until=None, fmt="json"
            )
        seconds = time.perf_counter() - began
    doc = json.loads(out)
    return {
        "seconds": round(seconds, 2),
        "tarballs": len(standin.log.where(service="codeload")),
        "scans": doc["feature_scans"],
        "requests": len(standin.log),
        "rows": len(doc["rows"]),
        "pr": doc["pull_request"]
        and f"{doc['pull_request']['target']} at {doc['pull_request']['opened_at']}",
    }


def main() -> int:
    """Build, run cold and warm, print the figures; exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testdata-mib", type=int, default=40)
    args = parser.parse_args()
    os.environ["GITHUB_TOKEN"] = PUSH_TOKEN
    with StandIn() as standin, tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        count = build(standin, args.testdata_mib)
        took = time.perf_counter() - began
        print(f"built {count} releases, testdata {args.testdata_mib} MiB, in {took:.1f} s")
        config = config_for(standin)
        db = Path(tmp) / "watcher.db"
        cold = timed_run(standin, config, db)
        warm = timed_run(standin, config, db)
    print(f"cold: {cold}")
    print(f"warm: {warm}")
    ok = (
        float(str(cold["seconds"])) < COLD_GOAL
        and int(str(cold["tarballs"])) <= SCAN_GOAL
        and float(str(warm["seconds"])) < WARM_GOAL
        and warm["tarballs"] == 0
    )
    goals = f"cold < {COLD_GOAL:.0f} s, <= {SCAN_GOAL} scans; warm < {WARM_GOAL:.0f} s, 0 scans"
    print(f"goals ({goals}): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
