"""One download per commit, whatever the number of watches: feature scans of a fleet.

The watches of one upstream wait for different markers in the same releases. A run
downloads each commit's tarball once and scans it for every watch of that upstream
(their rules, each with its own paths and stopping point), stores each watch's scan, and
never downloads the commit again (docs/architecture.md, «Talking to GitHub»). Each watch
comes to the verdict it comes to when checked alone.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.fleet import FLEET_TOKEN, fleet_config, load_fleet, upstream
from tests.standin.reqlog import RequestRecord
from tests.standin.server import StandIn

# What a watch's [watch.feature] may say besides its marker: where to look, all evidence,
# and (a scan bounded otherwise is downloaded apart) its caps.
VARIANTS = (
    "",
    "all_evidence = true",
    'paths = ["**"]',
    'paths = ["README.md"]',
    "[watch.feature.caps]\nmax_members = 1000",
)


def downloads(records: list[RequestRecord]) -> Counter[str]:
    """Tarball downloads (the API request that redirects to codeload) per ``repo@tag``."""
    counts: Counter[str] = Counter()
    for record in records:
        if record.service == "github" and "/tarball/" in record.path:
            repo, tag = record.path.split("/repos/")[1].split("/tarball/")
            counts[f"{repo}@{tag}"] += 1
    return counts


def varied(config: str, variants: list[int], concurrency: int) -> str:
    """The fleet config with watch ``i``'s feature table given ``VARIANTS[variants[i]]``."""
    head, *watches = config.split("[[watch]]\n")
    head = head.replace("[github]\n", f"[github]\nconcurrency = {concurrency}\n")
    paths = 'paths = ["pkg/**/*.go"]'
    out = []
    for index, watch in enumerate(watches):
        extra = VARIANTS[variants[index % len(variants)]]
        if extra.startswith("paths"):
            out.append(watch.replace(paths, extra))
        elif extra.startswith("["):
            out.append(watch.replace("[watch.image]", f"{extra}\n[watch.image]"))
        else:
            out.append(watch.replace(paths, f"{paths}\n{extra}"))
    return "[[watch]]\n".join([head, *out])


def verdicts(run: WatcherRun, *ids: str) -> dict[str, Any]:
    """``check --json`` of ``ids`` (all watches when none): state and signals per watch."""
    run.standin.log.clear()
    result = run("check", "--json", *ids)
    assert result.exit_code in (0, 1), result.output
    return {
        watch["id"]: (watch["state"], watch["signals"], watch["error"])
        for watch in json.loads(result.output)["watches"]
    }


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    watches=st.integers(2, 7),
    upstreams=st.integers(1, 2),
    variants=st.lists(st.integers(0, len(VARIANTS) - 1), min_size=1, max_size=7),
    concurrency=st.sampled_from([1, 4]),
)
def test_a_commit_is_downloaded_once_for_all_its_watches_and_each_verdict_is_its_own(
    tmp_path_factory: pytest.TempPathFactory,
    watches: int,
    upstreams: int,
    variants: list[int],
    concurrency: int,
) -> None:
    upstreams = min(upstreams, watches)
    with StandIn() as standin:
        load_fleet(standin, watches, upstreams)
        config = varied(fleet_config(standin, watches, upstreams), variants, concurrency)
        runs = []
        for name in ("together", "alone"):
            run = WatcherRun(standin, tmp_path_factory.mktemp(name), token=FLEET_TOKEN)
            run.config_text = config
            runs.append(run)
        together, alone = runs

        seen = verdicts(together)
        fetched = downloads(standin.log.records())
        # Caps bound one download: rules with other caps are scanned in a download of
        # their own; otherwise one per commit.
        kinds_of_caps = 1 + any(VARIANTS[v].startswith("[") for v in variants[:watches])
        assert fetched and max(fetched.values()) <= kinds_of_caps, fetched
        assert verdicts(together) == seen
        assert not downloads(standin.log.records())  # never again

        ids = sorted(seen)
        for watch_id in ids:
            assert verdicts(alone, watch_id) == {watch_id: seen[watch_id]}


def test_a_fleet_downloads_each_release_once(watcher: WatcherRun) -> None:
    watches, upstreams = 9, 3
    load_fleet(watcher.standin, watches, upstreams)
    watcher.config_text = fleet_config(watcher.standin, watches, upstreams)
    watcher.token = FLEET_TOKEN
    verdicts(watcher)
    cold = downloads(watcher.standin.log.records())
    # Every upstream's newest release (a feature it lacks is in no older one either):
    # one download each, not one per watch.
    assert cold == {f"{upstream(i)}@v1.1.0": 1 for i in range(upstreams)}
    verdicts(watcher)
    assert not downloads(watcher.standin.log.records())
