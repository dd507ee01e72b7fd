"""Reads per upstream, not per watch: request counts of a fleet on the stand-in.

Several watches name each upstream (tests/standin/fleet.py). In one cycle each
upstream's releases, tags and issues are read once, whatever the number of watches; an
answer about an immutable object (a file, or its 404, at a commit SHA; a scan) is asked
once ever; an idle cycle costs one GitHub request per upstream (a 304), as the issue
the watches name is informational (asked again later: tests/test_issue_reads.py), and
one registry probe per image still awaited (docs/architecture.md, «Talking to
GitHub»).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.fleet import FLEET_TOKEN, REGISTRY, fleet_config, load_fleet, upstream
from tests.standin.reqlog import RequestRecord
from tests.standin.server import StandIn


def fleet(watcher: WatcherRun, watches: int, upstreams: int, awaiting: set[int]) -> None:
    load_fleet(watcher.standin, watches, upstreams, awaiting)
    watcher.config_text = fleet_config(watcher.standin, watches, upstreams)
    watcher.token = FLEET_TOKEN


def per_upstream(records: list[RequestRecord], what: str) -> Counter[str]:
    """GitHub GETs of ``what`` (releases, tags, issues/1, contents/...) per upstream."""
    counts: Counter[str] = Counter()
    for record in records:
        parts = record.path.split("/")  # /api/repos/fleet/upNNN/<what>...
        github = record.service == "github" and len(parts) > 5 and parts[3] == "fleet"
        if github and "/".join(parts[5:]).startswith(what):
            counts[f"fleet/{parts[4]}"] += 1
    return counts


def cycle(watcher: WatcherRun) -> list[RequestRecord]:
    watcher.standin.log.clear()
    result = watcher("check")
    assert result.exit_code in (0, 1), result.output
    return watcher.standin.log.records()


def test_every_upstream_is_read_once_per_cycle_and_an_idle_cycle_costs_one_304(
    watcher: WatcherRun,
) -> None:
    # Each upstream has a watch whose feature shipped; upstream 0 has two (w0000 and
    # w0006) whose image is not pushed yet.
    watches, upstreams = 7, 3
    fleet(watcher, watches, upstreams, awaiting={0})
    names = {upstream(i) for i in range(upstreams)}
    cold = cycle(watcher)
    for what in ("releases", "tags", "issues/1"):
        assert per_upstream(cold, what) == dict.fromkeys(names, 1), what
    # The CHANGELOG.md 404 at v1.1.0's commit: once per upstream, not once per watch.
    assert per_upstream(cold, "contents/CHANGELOG.md") == dict.fromkeys(names, 1)

    warm = cycle(watcher)
    assert per_upstream(warm, "releases") == dict.fromkeys(names, 1)
    assert per_upstream(warm, "issues/1") == {}  # informational: asked again later
    github = [r for r in warm if r.service != "registry"]
    assert all(r.status == 304 for r in github), [(r.path, r.status) for r in github]
    assert len(github) == upstreams  # the releases: no issue, tags, files, tarballs
    # Registry: only the image still awaited, once a cycle however many watches wait on
    # it, never the pushed ones (a token challenge is no probe).
    probed = Counter(
        r.path
        for r in warm
        if r.service == "registry" and "/manifests/" in r.path and r.status != 401
    )
    assert probed == {f"/registry/{REGISTRY}/v2/{upstream(0)}/manifests/v1.1.0": 1}


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(watches=st.integers(1, 6), upstreams=st.integers(1, 3), data=st.data())
def test_reads_per_upstream_do_not_grow_with_watches(
    tmp_path_factory: pytest.TempPathFactory, watches: int, upstreams: int, data: st.DataObject
) -> None:
    upstreams = min(upstreams, watches)
    awaiting = data.draw(st.sets(st.integers(0, upstreams - 1)))
    with StandIn() as standin:
        watcher = WatcherRun(standin, tmp_path_factory.mktemp("fleet"))
        fleet(watcher, watches, upstreams, awaiting)
        for _ in range(2):
            records = cycle(watcher)
            for what in ("releases", "tags", "issues/1", "contents/"):
                assert all(n == 1 for n in per_upstream(records, what).values()), what
