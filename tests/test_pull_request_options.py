"""Options of the chart-bump PR: prepared branch, labels/draft, pins, App auth, error comments."""

from __future__ import annotations

import itertools
from pathlib import Path

from tests.conftest import WatcherRun
from tests.prs import BRANCH, CHART, api, dashboard_comments, file_at, install_app, pulls
from tests.standin.chart import chart_file
from tests.standin.headscale import load_headscale

PREPARED = "feature/peer-relay"
TEMPLATE = "headscale/templates/client-peer-relay-service.yaml"


def prepare_branch(acting: WatcherRun, files: dict[str, str]) -> None:
    """The maintainer's branch, forked from main, and the config that names it."""
    acting.standin.github.repo(CHART).git.create_branch(PREPARED, "main")
    acting.standin.github.push_commit(CHART, PREPARED, files)
    acting.edits['# prepared_branch = "feature/peer-relay"'] = (
        'prepared_branch = "feature/peer-relay"'
    )


def test_prepared_branch_is_merged_into_the_bump(acting: WatcherRun) -> None:
    prepare_branch(acting, {TEMPLATE: "kind: Service\n"})
    load_headscale(acting.standin, "ready")
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(acting.standin)
    assert file_at(acting.standin, TEMPLATE, BRANCH) == "kind: Service\n"
    assert '"v0.29.0"' in file_at(acting.standin, "headscale/values.yaml", BRANCH)
    assert f"maintainer branch `{PREPARED}` is merged" in pr["body"]
    acting.standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert [r for r in acting.standin.log.records() if r.is_write] == []


def test_conflicting_prepared_branch_is_left_out_and_said_so(acting: WatcherRun) -> None:
    values = chart_file("kapernikov", "values.yaml").replace(
        'tag: "v0.28.0"', 'tag: "v0.29.0-beta.1"'
    )
    prepare_branch(acting, {"headscale/values.yaml": values})
    load_headscale(acting.standin, "ready")
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(acting.standin)
    assert "was not merged: it conflicts with the bump" in pr["body"]
    assert '"v0.29.0"' in file_at(acting.standin, "headscale/values.yaml", BRANCH)


def test_labels_assignees_and_draft(acting: WatcherRun) -> None:
    acting.edits["labels = []"] = 'labels = ["dependencies"]'
    acting.edits["draft = false"] = "draft = true"
    load_headscale(acting.standin, "ready")
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(acting.standin)
    assert pr["draft"] is True
    assert [label["name"] for label in pr["labels"]] == ["dependencies"]


def test_pin_below_minimum_is_raised_to_newest_release(acting: WatcherRun) -> None:
    values = chart_file("kapernikov", "values.yaml").replace('tag: "stable"', 'tag: "1.80.0"')
    acting.standin.github.push_commit(CHART, "main", {"headscale/values.yaml": values})
    for tag in ("1.80.0", "1.86.2", "1.90.1", "v1.90.1", "1.91.0-pre"):
        acting.standin.registry.push("docker.io", "tailscale/tailscale", tag)
    load_headscale(acting.standin, "ready")
    assert acting("run", "--once").exit_code == 0
    bumped = file_at(acting.standin, "headscale/values.yaml", BRANCH)
    assert 'tag: "1.90.1"' in bumped and 'tag: "v0.29.0"' in bumped


def test_floating_pin_is_kept_and_explained(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(acting.standin)
    assert 'tag: "stable"' in file_at(acting.standin, "headscale/values.yaml", BRANCH)
    assert "stays on the floating tag `stable` of tailscale/tailscale" in pr["body"]


def test_github_app_installation_auth(watcher: WatcherRun, tmp_path: Path) -> None:
    watcher.env = install_app(watcher.standin, tmp_path)
    watcher.github = {"write_interval_seconds": "0"}
    load_headscale(watcher.standin, "ready")
    result = watcher("run", "--once")
    assert result.exit_code == 0, result.output
    assert len(pulls(watcher.standin)) == 1
    assert watcher.standin.log.where(method="POST", path=r"/app/installations/77/access_tokens")


def test_persistent_error_is_commented_once(acting: WatcherRun) -> None:
    acting.edits["error_after_minutes = 60"] = "error_after_minutes = 0"
    load_headscale(acting.standin, "pending")
    assert acting("run", "--once").exit_code == 0  # pending, yet the cycle completed
    acting.standin.faults.add(method="GET", path=r"/releases$", status=500, times=None)
    assert acting("run", "--once").exit_code == 2
    assert acting("run", "--once").exit_code == 2
    errors = [c for c in dashboard_comments(acting.standin) if "failing since" in c]
    assert len(errors) == 1 and "HTTP 500" in errors[0]
    dashboard = [
        i for i in api(acting.standin, f"/repos/{CHART}/issues") if "pull_request" not in i
    ]
    assert "error: " in dashboard[0]["body"]


def test_writes_are_paced_one_second_apart_by_default(acting: WatcherRun) -> None:
    acting.github = {}  # the default write_interval_seconds (1.0)
    load_headscale(acting.standin, "ready")
    acting.standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    times = [r.time for r in acting.standin.log.records() if r.is_write]
    assert len(times) >= 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 0.9, gaps
