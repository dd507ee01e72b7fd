"""The dashboard is adopted only from watcher's own login, never from whoever pasted the marker.

Anyone may open an issue containing ``<!-- watcher:dashboard -->``; watcher must neither
rewrite it nor comment on it. An open issue with the marker that watcher's identity
opened (the token's user from ``GET /user``, or ``<app slug>[bot]`` for a GitHub App)
is adopted, so a lost database does not lead to a second dashboard.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import WatcherRun
from tests.prs import CHART, api, install_app
from tests.standin.headscale import load_headscale
from watcher.notify.dashboard import DASHBOARD_MARK

BOT = "watcher-bot"  # CHART_TOKEN's login
APP_SLUG = "watcher-app"


def planted(acting: WatcherRun, number: int, author: str) -> dict[str, object]:
    """An open issue carrying the dashboard marker, opened by ``author``."""
    acting.standin.github.add_issue(
        CHART, number, "watcher dashboard", body=f"{DASHBOARD_MARK}\nplanted", author=author
    )
    return issue(acting, number)


def issue(acting: WatcherRun, number: int) -> dict[str, object]:
    return dict(api(acting.standin, f"/repos/{CHART}/issues/{number}"))


def comments(acting: WatcherRun, number: int) -> list[str]:
    return [c["body"] for c in api(acting.standin, f"/repos/{CHART}/issues/{number}/comments")]


def dashboards_by(acting: WatcherRun, login: str) -> list[dict[str, object]]:
    issues = api(acting.standin, f"/repos/{CHART}/issues?state=all")
    return [
        i for i in issues if DASHBOARD_MARK in (i["body"] or "") and i["user"]["login"] == login
    ]


def test_a_strangers_issue_with_the_marker_is_left_alone(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "waiting")
    before = planted(acting, 50, "stranger")
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    assert issue(acting, 50)["body"] == before["body"]
    assert comments(acting, 50) == []
    (own,) = dashboards_by(acting, BOT)
    assert own["number"] != 50 and len(comments(acting, int(str(own["number"])))) == 1


def test_its_own_dashboard_is_adopted_after_losing_the_database(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "waiting")
    planted(acting, 50, BOT)
    assert acting("run", "--once").exit_code == 0
    (own,) = dashboards_by(acting, BOT)
    assert own["number"] == 50
    assert "planted" not in str(issue(acting, 50)["body"])  # rewritten: it is ours
    assert len(comments(acting, 50)) == 1


def test_an_app_adopts_only_its_bots_dashboard(watcher: WatcherRun, tmp_path: Path) -> None:
    watcher.env = install_app(watcher.standin, tmp_path, slug=APP_SLUG)
    watcher.github = {"write_interval_seconds": "0"}
    load_headscale(watcher.standin, "waiting")
    planted(watcher, 50, BOT)  # a token user's issue: not the App's
    planted(watcher, 51, f"{APP_SLUG}[bot]")
    assert watcher("run", "--once").exit_code == 0
    assert comments(watcher, 50) == [] and "planted" in str(issue(watcher, 50)["body"])
    assert len(comments(watcher, 51)) == 1
    assert dashboards_by(watcher, f"{APP_SLUG}[bot]")[0]["number"] == 51
