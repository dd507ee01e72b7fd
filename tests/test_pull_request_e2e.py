"""`watcher run --once` against the stand-in: the chart-bump PR through a whole history.

waiting -> pending -> ready (PR opened) -> idle (nothing written) -> newer patch release
(same PR moved) -> merged (done, nothing written afterwards), asserting PR count, the
exact diff on the branch, and one comment per transition on the dashboard issue.
"""

from __future__ import annotations

import json

from tests.conftest import WatcherRun
from tests.prs import (
    BRANCH,
    CHART,
    api,
    dashboard_comments,
    expected_values,
    file_at,
    pulls,
    writes,
)
from tests.standin.chart import chart_file
from tests.standin.headscale import load_headscale


def test_whole_history(acting: WatcherRun) -> None:
    standin = acting.standin
    load_headscale(standin, "waiting")
    assert acting("run", "--once").exit_code == 0  # waiting: the cycle completed, nothing to do
    assert pulls(standin) == []
    assert len(dashboard_comments(standin)) == 1

    load_headscale(standin, "pending")
    assert acting("run", "--once").exit_code == 0
    assert pulls(standin) == []
    assert len(dashboard_comments(standin)) == 2

    load_headscale(standin, "ready")
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    (pr,) = pulls(standin)
    assert pr["title"] == "headscale: bump to v0.29.0 (peer relay support landed)"
    chart = "kapernikov/headscale-helm:headscale"
    marker = f"<!-- watcher:chart={chart} watches=headscale-peer-relay@v0.29.0 -->"
    assert marker in pr["body"]
    assert file_at(standin, "headscale/values.yaml", BRANCH) == expected_values("v0.29.0")
    chart = file_at(standin, "headscale/Chart.yaml", BRANCH)
    assert chart == chart_file("kapernikov", "Chart.yaml").replace(
        'appVersion: "0.28.0"', 'appVersion: "0.29.0"'
    ).replace("version: 0.2.0", "version: 0.3.0")
    comments = dashboard_comments(standin)
    assert len(comments) == 4 and "**ready**" in comments[2] and "**proposed**" in comments[3]

    standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert writes(standin) == []
    assert len(dashboard_comments(standin)) == 4

    load_headscale(standin, "patch")
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(standin)
    assert pr["title"] == "headscale: bump to v0.29.1 (peer relay support landed)"
    assert file_at(standin, "headscale/values.yaml", BRANCH) == expected_values("v0.29.1")
    assert len(dashboard_comments(standin)) == 5

    standin.github.merge_pull(CHART, pr["number"])
    assert acting("run", "--once").exit_code == 0
    status = json.loads(acting("status", "--json").stdout)["watches"][0]
    assert status["state"] == "done"
    comments = dashboard_comments(standin)
    assert len(comments) == 6 and "**done**" in comments[5]

    standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert writes(standin) == []
    assert len(pulls(standin)) == 1


def test_plan_shows_the_pr_and_writes_nothing(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    acting.standin.log.clear()
    result = acting("check", "--plan")
    assert result.exit_code == 0
    assert "branch watcher-chart/headscale" in result.stdout
    assert "title:     headscale: bump to v0.29.0 (peer relay support landed)" in result.stdout
    assert '-  tag: "v0.28.0"' in result.stdout and '+  tag: "v0.29.0"' in result.stdout
    assert "- [ ] `helm lint`" in result.stdout
    assert writes(acting.standin) == []


def test_closed_unmerged_pr_is_respected(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    acting("run", "--once")
    (pr,) = pulls(acting.standin)
    acting.standin.github.close_pull(CHART, pr["number"])
    acting.standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert len(pulls(acting.standin)) == 1
    assert [w for w in writes(acting.standin) if "/pulls" in w or "/git/" in w] == []
    # A newer target may open a new one.
    load_headscale(acting.standin, "patch")
    acting("run", "--once")
    assert len(pulls(acting.standin)) == 2


def test_human_push_is_not_overwritten(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    acting("run", "--once")
    human = acting.standin.github.push_commit(CHART, BRANCH, {"headscale/NOTES.md": "mine\n"})
    load_headscale(acting.standin, "patch")
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(acting.standin)
    assert pr["head"]["sha"] == human
    comments = api(acting.standin, f"/repos/{CHART}/issues/{pr['number']}/comments")
    assert len(comments) == 1 and "someone else pushed" in comments[0]["body"]
    acting("run", "--once")
    assert len(api(acting.standin, f"/repos/{CHART}/issues/{pr['number']}/comments")) == 1


def test_run_without_credentials_is_a_clear_error(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "waiting")
    result = watcher("run", "--once")
    assert result.exit_code == 2
    assert "needs credentials" in result.output and "Traceback" not in result.output
