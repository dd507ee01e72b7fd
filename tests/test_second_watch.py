"""The second real watch: node_exporter's `swap` collector, on committed real excerpts.

The history is synthetic in its dates-and-commits skeleton but carries node_exporter's
real files (tests/fixtures/node_exporter, with provenance): the CHANGELOG at v1.9.1 and
v1.10.0 and the collector that v1.10.0 added. The release notes say 1.10.0; `backtest`
and `check` must say the same, with the real lines as evidence. On the full real history
(`make real-backtest-node-exporter`) the answer is the same (README).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import WatcherRun
from tests.standin.history import HistoryBuilder
from tests.standin.real_node_exporter import CONFIG, NODE_EXPORTER

FIXTURES = Path(__file__).parent / "fixtures" / "node_exporter"
REPO = NODE_EXPORTER.full_name
SWAP = "collector/swap_linux.go"


def fixture(tag: str, path: str) -> str:
    return (FIXTURES / tag / path).read_text("utf-8")


def load_node_exporter(watcher: WatcherRun) -> None:
    """v1.9.0 and v1.9.1 without the collector, v1.10.0 with it; every image pushed."""
    b = HistoryBuilder(watcher.standin.github, REPO, default_branch="master")
    base = {"collector/collector.go": "package collector\n", "VERSION": "1.9.0\n"}
    b.commit(
        "2025-02-10T10:00:00Z", "1.9.0", {**base, "CHANGELOG.md": fixture("v1.9.1", "CHANGELOG.md")}
    )
    b.release("v1.9.0", "2025-02-17T07:21:00Z")
    b.commit("2025-04-01T10:00:00Z", "1.9.1", {"VERSION": "1.9.1\n"})
    b.release("v1.9.1", "2025-04-01T15:14:00Z")
    b.commit(
        "2025-10-06T17:42:00Z",
        "Add /proc/swaps collector (#3428)",
        {SWAP: fixture("v1.10.0", SWAP)},
    )
    b.commit(
        "2025-10-24T10:00:00Z",
        "1.10.0",
        {"VERSION": "1.10.0\n", "CHANGELOG.md": fixture("v1.10.0", "CHANGELOG.md")},
    )
    b.release("v1.10.0", "2025-10-24T11:31:00Z")
    for rel in b.repo.releases:
        for host, image in NODE_EXPORTER.images:
            watcher.standin.registry.push(host, image, rel.tag_name)
    watcher.config_text = CONFIG.read_text("utf-8")


@pytest.fixture
def node_exporter(watcher: WatcherRun) -> WatcherRun:
    load_node_exporter(watcher)
    return watcher


def test_backtest_names_the_release_the_release_notes_name(node_exporter: WatcherRun) -> None:
    result = node_exporter("backtest", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    notes = fixture("v1.10.0", "CHANGELOG.md")
    # The release notes: the feature line sits in the section headed by this release.
    section = notes.split("## 1.10.0 / ", 1)[1].split("\n## ", 1)[0]
    assert "* [FEATURE] swaps: Add new collector #3428" in section
    assert doc["shipped"]["tag"] == "v1.10.0"
    assert doc["pull_request"]["opened_at"] == doc["shipped"]["published_at"]
    assert doc["pull_request"]["opened_at"].startswith(f"{section[:10]}T11:31")
    states = {r["event"]: r["state"] for r in doc["rows"]}
    assert states["v1.9.1 published"] == "waiting"


def test_check_quotes_the_real_lines(node_exporter: WatcherRun) -> None:
    result = node_exporter("check")
    assert result.exit_code == 0, result.output
    assert "node-exporter-swap: READY  target v1.10.0" in result.stdout
    assert (
        '  feature:   [holds] registerCollector("swap", in collector/swap_linux.go@v1.10.0\n'
        "             collector/swap_linux.go:38: "
        'registerCollector("swap", defaultDisabled, NewSwapCollector)\n'
    ) in result.stdout
    assert (
        "  image:     [holds] 2 image(s) pullable: quay.io/prometheus/node-exporter:v1.10.0, "
        "docker.io/prom/node-exporter:v1.10.0"
    ) in result.stdout
    assert (
        "  changelog: [holds] CHANGELOG.md@v1.10.0: section 1.10.0 (2025-10-24) mentions "
        "swaps: add new collector\n"
        "             * [FEATURE] swaps: Add new collector #3428\n"
    ) in result.stdout
