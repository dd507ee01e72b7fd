"""Several watches, one chart: one pull request through a whole timeline (`watcher run --once`).

Two watches of the headscale chart (the built-in peer-relay watch and a second one on
the relay constant alone) become ready together: one PR on the chart's branch carries
both, each with its own section; a patch release moves the same PR; after the merge both
are done and an idle cycle writes nothing. An older single-watch PR is superseded, and a
PR whose bump the base branch already has is closed with a comment saying why.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import WatcherRun
from tests.prs import BRANCH, CHART, api, expected_values, file_at, pulls, writes
from tests.standin.headscale import load_headscale
from watcher.actions.grouping import parse_chart_marker
from watcher.config.model import default_config_text

KEY = "kapernikov/headscale-helm:headscale"
FIRST, SECOND = "headscale-peer-relay", "headscale-relay-constant"


def two_watches() -> str:
    """The built-in config with a second watch of the same chart (the constant alone)."""
    text = default_config_text()
    start, end = text.index("[[watch]]"), text.index("[daemon]")
    second = (
        text[start:end]
        .replace(f'id = "{FIRST}"', f'id = "{SECOND}"')
        .replace(
            'markers = ["tailscale.com/cap/relay", "tailcfg.PeerCapabilityRelay"]',
            'markers = ["tailcfg.PeerCapabilityRelay"]',
        )
        .replace("(peer relay support landed)", "(relay constant landed)")
    )
    return text[:end] + second + text[end:]


def open_pulls(acting: WatcherRun) -> list[dict[str, Any]]:
    return [p for p in pulls(acting.standin) if p["state"] == "open"]


def comments(acting: WatcherRun, number: int) -> list[str]:
    return [c["body"] for c in api(acting.standin, f"/repos/{CHART}/issues/{number}/comments")]


def states(acting: WatcherRun) -> dict[str, str]:
    doc = json.loads(acting("status", "--json").stdout)
    return {w["id"]: w["state"] for w in doc["watches"]}


def test_two_watches_share_one_pull_request_through_a_timeline(acting: WatcherRun) -> None:
    acting.config_text = two_watches()
    load_headscale(acting.standin, "ready")
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    (pr,) = pulls(acting.standin)
    assert pr["head"]["ref"] == BRANCH
    assert parse_chart_marker(pr["body"]) == (KEY, {FIRST: "v0.29.0", SECOND: "v0.29.0"})
    assert FIRST in pr["title"] and SECOND in pr["title"]
    # Each watch's evidence in its own section; one diff: both moved image.tag to v0.29.0.
    assert pr["body"].count("### What this pull request changes") == 2
    assert file_at(acting.standin, "headscale/values.yaml", BRANCH) == expected_values("v0.29.0")
    chart = file_at(acting.standin, "headscale/Chart.yaml", BRANCH)
    assert "version: 0.3.0" in chart  # the chart version bumped once, not once per watch
    assert states(acting) == {FIRST: "proposed", SECOND: "proposed"}

    acting.standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert writes(acting.standin) == []  # idle: nothing on GitHub changes

    load_headscale(acting.standin, "patch")
    assert acting("run", "--once").exit_code == 0
    (moved,) = pulls(acting.standin)
    assert moved["number"] == pr["number"]
    assert parse_chart_marker(moved["body"]) == (KEY, {FIRST: "v0.29.1", SECOND: "v0.29.1"})
    assert file_at(acting.standin, "headscale/values.yaml", BRANCH) == expected_values("v0.29.1")

    acting.standin.github.merge_pull(CHART, pr["number"])
    assert acting("run", "--once").exit_code == 0
    assert states(acting) == {FIRST: "done", SECOND: "done"}
    acting.standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert writes(acting.standin) == []
    assert len(pulls(acting.standin)) == 1


def test_a_single_watch_pr_of_an_older_version_is_superseded(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    legacy_branch = f"watcher/{FIRST}"
    acting.standin.github.push_commit(CHART, legacy_branch, {"headscale/values.yaml": "old\n"})
    legacy = acting.standin.github.open_pull(
        CHART,
        legacy_branch,
        "main",
        "headscale: bump to v0.29.0",
        body=f"<!-- watcher:watch={FIRST} target=v0.29.0 -->\nold body",
        author="watcher-bot",
    )
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    (kept,) = open_pulls(acting)
    assert kept["head"]["ref"] == BRANCH
    old = api(acting.standin, f"/repos/{CHART}/pulls/{legacy.number}")
    assert old["state"] == "closed" and old["merged_at"] is None
    (why,) = comments(acting, legacy.number)
    assert f"superseded by #{kept['number']}" in why
    # Closed by watcher itself, so it is neither respected nor reopened: idle from now on.
    acting.standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert writes(acting.standin) == []


def test_a_pr_with_nothing_left_to_change_is_closed_and_its_watch_done(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(acting.standin)
    # A maintainer bumps the chart by hand on main, without merging the PR.
    bumped = file_at(acting.standin, "headscale/values.yaml", BRANCH)
    acting.standin.github.push_commit(CHART, "main", {"headscale/values.yaml": bumped})
    acting.standin.github.push_commit(
        CHART,
        "main",
        {"headscale/Chart.yaml": file_at(acting.standin, "headscale/Chart.yaml", BRANCH)},
    )
    assert acting("run", "--once").exit_code == 0
    closed = api(acting.standin, f"/repos/{CHART}/pulls/{pr['number']}")
    assert closed["state"] == "closed"
    (why,) = comments(acting, pr["number"])
    assert "nothing is left to change" in why and "already has v0.29.0" in why
    assert states(acting) == {FIRST: "done"}


def test_a_watch_that_stops_being_ready_leaves_the_pr_to_the_others(acting: WatcherRun) -> None:
    acting.config_text = two_watches()
    load_headscale(acting.standin, "ready")
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(acting.standin)
    # The second watch now looks for a feature no release has: it is waiting again.
    acting.config_text = two_watches().replace(
        'markers = ["tailcfg.PeerCapabilityRelay"]', 'markers = ["tailcfg.NoSuchCapability"]'
    )
    assert acting("run", "--once").exit_code == 0
    (moved,) = pulls(acting.standin)
    assert moved["number"] == pr["number"] and moved["state"] == "open"
    assert parse_chart_marker(moved["body"]) == (KEY, {FIRST: "v0.29.0"})
    assert moved["title"] == "headscale: bump to v0.29.0 (peer relay support landed)"
    assert file_at(acting.standin, "headscale/values.yaml", BRANCH) == expected_values("v0.29.0")
    assert states(acting)[FIRST] == "proposed" and states(acting)[SECOND] == "waiting"
