"""`check` and `backtest` treat a signal's error alike: reported by both, fatal only if required."""

from __future__ import annotations

import json

import pytest

from tests.conftest import WatcherRun
from tests.standin.headscale import load_headscale

ISSUES = "numbers = [2841, 2180]"
GONE = 9999  # no such issue in the stand-in: GitHub answers 404


@pytest.fixture
def ready_with_a_gone_issue(watcher: WatcherRun) -> WatcherRun:
    load_headscale(watcher.standin, "ready")
    watcher.edits[ISSUES] = f"numbers = [2841, {GONE}]"
    return watcher


def test_a_non_required_issue_404_is_reported_by_both_and_fails_neither(
    ready_with_a_gone_issue: WatcherRun,
) -> None:
    watcher = ready_with_a_gone_issue
    check = watcher("check")
    assert check.exit_code == 0, check.output
    (issue_line,) = [line for line in check.stdout.splitlines() if line.startswith("  issue:")]
    assert (
        issue_line.startswith("  issue:     [error, not required] ")
        and f"/issues/{GONE}" in issue_line
    )

    backtest = watcher("backtest", "--json")
    assert backtest.exit_code == 0, backtest.output
    doc = json.loads(backtest.stdout)
    (note,) = [n for n in doc["notes"] if f"#{GONE}" in n]
    assert note.startswith(f"issue juanfont/headscale#{GONE} left out: ")
    assert f"/issues/{GONE}" in note and note.endswith("(the issue signal is not required)")
    text = watcher("backtest")
    assert text.exit_code == 0 and f"juanfont/headscale#{GONE} left out" in text.stdout


def test_a_required_issue_404_fails_both(ready_with_a_gone_issue: WatcherRun) -> None:
    watcher = ready_with_a_gone_issue
    watcher.edits['required = ["release", "feature", "image"]'] = (
        'required = ["release", "feature", "image", "issue"]'
    )
    check = watcher("check")
    assert check.exit_code == 2, check.output
    assert f"/issues/{GONE}" in check.output
    backtest = watcher("backtest")
    assert backtest.exit_code == 2, backtest.output
    assert f"/issues/{GONE}" in backtest.output


def test_a_required_issue_that_holds_lets_the_watch_be_ready(watcher: WatcherRun) -> None:
    # The issue signal is watch-wide: when required and every issue is closed as
    # completed, it holds for each candidate (it used to be looked up per candidate only).
    load_headscale(watcher.standin, "ready")
    watcher.edits[ISSUES] = "numbers = [2180]"
    watcher.edits['required = ["release", "feature", "image"]'] = (
        'required = ["release", "feature", "image", "issue"]'
    )
    check = watcher("check")
    assert check.exit_code == 0, check.output
    assert "  issue:     [holds] juanfont/headscale#2180 closed (completed)" in check.stdout
    watcher.edits[ISSUES] = "numbers = [2841]"  # still open: not ready
    assert watcher("check").exit_code == 1
