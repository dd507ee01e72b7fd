"""GitHub's clock, not ours (issue 20 item 2): times sent to GitHub are on its clock.

The comment lookup asks GitHub for comments ``since`` a moment; GitHub filters by its own
clock. A machine whose clock runs days ahead used to ask "since" a moment GitHub had not
reached, found nothing, and posted a comment whose answer was lost a second time. The
stand-in's ``clock_skew`` moves its clock (its stamps, its ``Date`` header, its ``since``
filters) away from the watcher's; the offset comes from the ``Date`` header of its
answers, and `status`, the dashboard and ``/readyz`` warn about a skew over a minute.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.prs import dashboard_comments
from tests.standin.headscale import load_headscale
from watcher.core.clock import on_github, parse_offset, skew_warning
from watcher.service.health import HealthState

DAY = 86400.0
COMMENTS = r"/issues/\d+/comments$"


@pytest.mark.parametrize("skew_days", [-3.0, 3.0])
def test_a_lost_comment_answer_is_found_whatever_the_skew(
    acting: WatcherRun, skew_days: float
) -> None:
    """Our clock ahead of GitHub's by days (negative skew) or behind: posted once."""
    standin = acting.standin
    standin.clock_skew = skew_days * DAY
    load_headscale(standin, "ready")
    rule = standin.faults.add(method="POST", path=COMMENTS, applied=True, status=502)
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    assert rule.hits == 1
    comments = dashboard_comments(standin)
    assert comments and len(comments) == len(set(comments)), Counter(comments)
    posts = standin.log.where(method="POST", path=COMMENTS)
    assert len(posts) == len(comments), "a comment whose answer was lost was posted again"

    status = acting("status")
    warning = next(line for line in status.output.splitlines() if line.startswith("warning:"))
    side = "ahead of" if skew_days < 0 else "behind"
    assert f"3 days {side} GitHub's" in warning
    (in_json,) = json.loads(acting("status", "--json").stdout)["warnings"]
    assert f"3 days {side} GitHub's" in in_json
    issues = [i for i in api_issues(acting) if "<!-- watcher:dashboard -->" in (i["body"] or "")]
    assert f"3 days {side} GitHub's" in issues[0]["body"]


def test_no_warning_when_the_clocks_agree(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    assert acting("run", "--once").exit_code == 0
    assert "warning:" not in acting("status").output
    assert json.loads(acting("status", "--json").stdout)["warnings"] == []
    (dashboard,) = [i for i in api_issues(acting) if "<!-- watcher:dashboard" in (i["body"] or "")]
    assert "Warning" not in dashboard["body"]


def api_issues(acting: WatcherRun) -> list[dict[str, str]]:
    from tests.prs import CHART, api

    return list(api(acting.standin, f"/repos/{CHART}/issues?state=all"))


@given(st.floats(min_value=-1e8, max_value=1e8, allow_nan=False))
def test_a_warning_exactly_when_the_skew_is_over_a_minute(offset: float) -> None:
    warning = skew_warning(offset)
    assert (warning is not None) == (abs(offset) > 60)
    if warning is not None:
        assert ("ahead of" in warning) == (offset < 0)
        assert parse_offset(f"{offset:.0f}") == pytest.approx(round(offset))


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.floats(min_value=-1e8, max_value=1e8, allow_nan=False),
)
def test_our_time_on_githubs_clock_moves_by_the_offset(ours: datetime, offset: float) -> None:
    moved = on_github(ours, offset)
    assert abs((moved - ours).total_seconds() - offset) < 1e-3
    assert on_github(ours, None) == ours


def test_readyz_warns_about_a_skew_and_stays_ready() -> None:
    health = HealthState(60.0, clock=lambda: 1000.0)
    health.cycle_finished(ok=True, clock_offset=-2 * DAY)
    status, body = health.ready()
    assert status == 200 and "2 days ahead of GitHub's" in body["warning"]
    health.cycle_finished(ok=True, clock_offset=5.0)
    assert "warning" not in health.ready()[1]
