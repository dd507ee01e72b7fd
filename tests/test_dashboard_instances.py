"""Dashboards per instance, self-repairing, bounded (`watcher run --once` on the stand-in).

Two instances (two configs, two databases) on one chart repository keep one dashboard
each and never erase the other's rows; a hand edit of the body is repaired by the next
cycle (the body is compared with the issue as GitHub has it, by a conditional read); a
second dashboard of the same instance is closed with a pointer to the kept one; a
fleet of 1,000 watches renders within GitHub's body limit, summarised.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import WatcherRun
from tests.prs import CHART, api, writes
from tests.standin.headscale import load_headscale
from watcher.config.model import default_config_text, parse_config
from watcher.core.models import Signal, SignalName, SignalStatus, Verdict, VerdictState
from watcher.notify.dashboard import (
    BODY_LIMIT,
    DASHBOARD_MARK,
    INSTANCE_MARK,
    is_dashboard,
    render_dashboard,
)
from watcher.state.store import Store


def named(run: WatcherRun, instance: str) -> WatcherRun:
    """``run``'s stand-in and token under another instance name, with its own database."""
    text = default_config_text().replace('instance = "watcher"', f'instance = "{instance}"')
    path = run.tmp_path / instance
    path.mkdir()
    return replace(run, tmp_path=path, config_text=text)


def dashboards(run: WatcherRun, state: str = "open") -> list[dict[str, Any]]:
    issues = api(run.standin, f"/repos/{CHART}/issues?state={state}")
    return [i for i in issues if DASHBOARD_MARK in (i["body"] or "") and "pull_request" not in i]


def of(run: WatcherRun, instance: str) -> dict[str, Any]:
    (found,) = [i for i in dashboards(run) if is_dashboard(i["body"], instance)]
    return found


def test_two_instances_on_one_repository_keep_their_own_dashboards(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "waiting")
    alpha, beta = named(acting, "alpha"), named(acting, "beta")
    assert alpha("run", "--once").exit_code == 0
    assert beta("run", "--once").exit_code == 0
    assert len(dashboards(acting)) == 2
    first = of(acting, "alpha")
    assert INSTANCE_MARK.format(instance="alpha") in first["body"]
    assert (
        "headscale-peer-relay" in first["body"]
        and "headscale-peer-relay" in of(acting, "beta")["body"]
    )
    acting.standin.log.clear()
    assert alpha("run", "--once").exit_code == 0  # beta's dashboard is not alpha's to touch
    assert beta("run", "--once").exit_code == 0
    assert writes(acting.standin) == []
    assert of(acting, "alpha") == first


def test_a_hand_edit_of_the_dashboard_is_repaired(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "waiting")
    assert acting("run", "--once").exit_code == 0
    issue = of(acting, "watcher")
    kept = issue["body"]
    state = acting.standin.github.repo(CHART).issues[issue["number"]]
    state.body = "someone tidied this up"
    state.updated_at = datetime.now(UTC)
    assert acting("run", "--once").exit_code == 0
    assert api(acting.standin, f"/repos/{CHART}/issues/{issue['number']}")["body"] == kept
    acting.standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    assert writes(acting.standin) == []


def written_ago(run: WatcherRun, number: int, age: timedelta) -> str:
    """Make the dashboard look written ``age`` ago (its shown time, and the stored one)."""
    state = run.standin.github.repo(CHART).issues[number]
    store = Store.open(run.db_url)
    try:
        key = f"dashboard:{CHART}:heartbeat"
        shown = datetime.fromisoformat(str(store.get_value(key)))
        then = shown - age
        store.set_value(key, then.isoformat())
        store.set_value(f"dashboard:{CHART}:hash", "")  # the body hash no longer matches
    finally:
        store.close()
    line = f"Last cycle finished: {then:%Y-%m-%d %H:%M} UTC"
    state.body = re.sub(r"Last cycle finished: [^U]* UTC", line, state.body)
    state.updated_at = datetime.now(UTC)
    return line


def test_the_last_cycle_shown_is_refreshed_once_an_hour_old(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "waiting")
    assert acting("run", "--once").exit_code == 0
    number = of(acting, "watcher")["number"]
    recent = written_ago(acting, number, timedelta(minutes=30))
    acting.standin.log.clear()
    assert acting("run", "--once").exit_code == 0
    body = api(acting.standin, f"/repos/{CHART}/issues/{number}")["body"]
    assert recent in body and writes(acting.standin) == []  # within the hour: kept
    stale = written_ago(acting, number, timedelta(hours=2))
    assert acting("run", "--once").exit_code == 0
    assert writes(acting.standin) == [f"PATCH /api/repos/{CHART}/issues/{number}"]
    body = api(acting.standin, f"/repos/{CHART}/issues/{number}")["body"]
    assert stale not in body and "Last cycle finished: " in body


def test_a_duplicate_dashboard_is_closed_with_a_pointer(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "waiting")
    assert acting("run", "--once").exit_code == 0
    kept = of(acting, "watcher")
    # Another process of this instance (its own database) raced and opened a second one.
    twin = replace(acting, tmp_path=acting.tmp_path / "twin")
    Path(twin.tmp_path).mkdir()
    acting.standin.github.add_issue(
        CHART, 90, "watcher dashboard", body=kept["body"], author="watcher-bot"
    )
    assert acting("run", "--once").exit_code == 0
    assert [i["number"] for i in dashboards(acting)] == [kept["number"]]
    comments = api(acting.standin, f"/repos/{CHART}/issues/90/comments")
    assert [c for c in comments if f"duplicates #{kept['number']}" in c["body"]]
    assert twin("run", "--once").exit_code == 0  # the twin adopts the kept one, opens none
    assert [i["number"] for i in dashboards(acting)] == [kept["number"]]


def test_the_body_of_a_thousand_watches_stays_within_githubs_limit() -> None:
    config = parse_config(default_config_text(), source="test")
    (template,) = config.watch
    rows = []
    for i in range(1_000):
        watch = template.model_copy(update={"id": f"watch-{i:04d}"})
        state = VerdictState.PROPOSED if i % 50 == 0 else VerdictState.WAITING
        verdict = Verdict(watch.id, state, None, (), ())
        if state is VerdictState.PROPOSED:
            verdict.extra["pr_url"] = f"https://github.com/{CHART}/pull/{i}"
        rows.append((watch, verdict, "GitHub answered 502" if i % 100 == 7 else None))
    body = render_dashboard(rows, instance="fleet", heartbeat=datetime(2026, 12, 6, tzinfo=UTC))
    assert len(body) <= BODY_LIMIT
    assert is_dashboard(body, "fleet")
    assert "1000 watches: 20 proposed, 980 waiting, 10 failing" in body
    listed = re.findall(r"^\| `(watch-\d+)` ", body, flags=re.MULTILINE)
    assert listed == [f"watch-{i:04d}" for i in range(1_000) if i % 50 == 0 or i % 100 == 7]
    assert "<details><summary>970 other watches</summary>" in body
    assert "Last cycle finished: 2026-12-06 00:00 UTC" in body


def test_a_signal_the_verdict_does_not_wait_for_says_so() -> None:
    config = parse_config(default_config_text(), source="test")
    (watch,) = config.watch
    assert SignalName.IMAGE in watch.required and SignalName.ISSUE not in watch.required
    signals = (
        Signal(SignalName.IMAGE, SignalStatus.MISSING, "not pullable yet"),
        Signal(SignalName.ISSUE, SignalStatus.MISSING, "juanfont/headscale#2841 open"),
        Signal(SignalName.CHANGELOG, SignalStatus.HOLDS, "section 0.29.0"),
    )
    verdict = Verdict(watch.id, VerdictState.PENDING, None, signals, ())
    body = render_dashboard([(watch, verdict, None)], instance="watcher")
    assert "- image: missing: not pullable yet" in body
    assert "- issue: missing, not required: juanfont/headscale#2841 open" in body
    assert "- changelog: holds: section 0.29.0" in body
