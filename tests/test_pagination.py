"""Paginated lists are one snapshot: a failure on any page never leaves watcher blind.

Issue 10, "What must hold" 1: the list and all its pages' validators are stored together
only when every page was read, and oldest-first lists (timelines) re-read their last
page. Everything runs against the stand-in over real HTTP, with a real SQLite store.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.headscale import REPO, load_headscale
from tests.standin.server import StandIn
from watcher.core.errors import SourceError
from watcher.net.credentials import Credentials
from watcher.net.github_read import GitHubReader
from watcher.net.http import HttpClient, HttpSettings
from watcher.state.store import Store

TOKEN = "tok-pagination"
FILLER_START = datetime(2019, 1, 1, tzinfo=UTC)


def add_old_releases(standin: StandIn, repo: str, total: int) -> None:
    """Pad ``repo`` with old releases (dated before everything else) up to ``total``."""
    have = len(standin.github.repo(repo).releases)
    for n in range(total - have):
        standin.github.add_release(
            repo, f"v0.0.{n}", created_at=FILLER_START + timedelta(days=n), body="old"
        )


def target_tag(watcher: WatcherRun) -> str:
    (watch,) = json.loads(watcher("status", "--json").stdout)["watches"]
    return str(watch["target"]["tag"])


def test_new_release_while_page_two_fails_is_seen_once_upstream_recovers(
    watcher: WatcherRun,
) -> None:
    """145 releases (two pages); v0.29.1 appears on page 1 while page 2 answers 502."""
    load_headscale(watcher.standin, "ready")
    add_old_releases(watcher.standin, REPO, 145)
    assert watcher("check").exit_code == 0
    assert target_tag(watcher) == "v0.29.0"

    load_headscale(watcher.standin, "patch")
    rule = watcher.standin.faults.add(
        method="GET", path="/releases$", query={"page": "2"}, status=502, times=None
    )
    failed = watcher("check")
    assert failed.exit_code == 2 and "502" in failed.output
    assert rule.hits >= 1

    watcher.standin.faults.clear()
    assert watcher("check").exit_code == 0
    assert target_tag(watcher) == "v0.29.1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'cache.db'}") as opened:
        yield opened


def reader(standin: StandIn, store: Store) -> GitHubReader:
    """A fresh reader, as each run opens one; no retries, so a fault fails the read."""
    http = HttpClient(store, HttpSettings(retries=0, timeout_seconds=5))
    if standin.github.token_info(TOKEN) is None:
        standin.github.add_token(TOKEN, limit=1_000_000)
    return GitHubReader(http, standin.api_url, Credentials(token=TOKEN))


def timeline_events(reader: GitHubReader, number: int) -> list[str]:
    path = f"/repos/{REPO}/issues/{number}/timeline"
    return [str(e["id"]) for e in reader.get_paginated(path, oldest_first=True).data]


def test_timeline_over_two_pages_gaining_an_event_is_seen(
    headscale_standin: StandIn, store: Store
) -> None:
    """New timeline events land on the last page; page 1 stays a 304."""
    github = headscale_standin.github
    github.add_issue(REPO, 4000, "busy issue")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(150):
        github.add_event(REPO, 4000, "labeled", start + timedelta(hours=n))
    first = timeline_events(reader(headscale_standin, store), 4000)
    assert len(first) == 150

    event = github.add_event(REPO, 4000, "closed", start + timedelta(days=30))
    second = timeline_events(reader(headscale_standin, store), 4000)
    assert second == [*first, str(event.id)]


def test_full_last_page_gaining_a_page_is_seen(headscale_standin: StandIn, store: Store) -> None:
    """A last page that was exactly full keeps its body (a 304); its Link gains a next."""
    github = headscale_standin.github
    github.add_issue(REPO, 4001, "exactly two pages")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for n in range(200):
        github.add_event(REPO, 4001, "labeled", start + timedelta(hours=n))
    assert len(timeline_events(reader(headscale_standin, store), 4001)) == 200
    github.add_event(REPO, 4001, "closed", start + timedelta(days=30))
    assert len(timeline_events(reader(headscale_standin, store), 4001)) == 201


def test_idle_newest_first_list_costs_one_request(headscale_standin: StandIn, store: Store) -> None:
    add_old_releases(headscale_standin, REPO, 145)
    path = f"/repos/{REPO}/releases"
    before = reader(headscale_standin, store).get_paginated(path)
    headscale_standin.log.clear()
    again = reader(headscale_standin, store).get_paginated(path)
    assert again.data == before.data and not again.changed
    assert [r.status for r in headscale_standin.log.records()] == [304]


# -- randomized: any schedule of list changes and page failures --------------------------

_counter = itertools.count()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.integers(min_value=0, max_value=7),
    steps=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3),  # events added before this run
            st.one_of(st.none(), st.integers(min_value=1, max_value=4)),  # failing page
        ),
        min_size=1,
        max_size=5,
    ),
)
def test_any_failure_schedule_converges_to_the_full_list(
    standin: StandIn, store: Store, initial: int, steps: list[tuple[int, int | None]]
) -> None:
    """After any run that failed part-way, the next healthy run returns the whole list.

    Pages hold 3 items, so a handful of events crosses page boundaries; a failing page
    answers 502. A healthy run must return exactly the server's list, for both orders.
    """
    repo = f"o/r{next(_counter)}"
    standin.github.add_repo(repo)
    standin.github.add_issue(repo, 1, "t")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    clock = itertools.count()

    def upstream_activity(count: int) -> None:
        """New events at the end of the timeline, new releases at the top of the list."""
        for _ in range(count):
            when = start + timedelta(hours=next(clock))
            standin.github.add_event(repo, 1, "labeled", when)
            tag = f"v1.0.{len(standin.github.repo(repo).releases)}"
            standin.github.add_release(repo, tag, created_at=when)

    upstream_activity(initial)
    # One store for every example: each example has its own repository, so its own URLs.
    db = store
    for added, failing in steps:
        upstream_activity(added)
        if failing is not None:
            standin.faults.add(
                method="GET", path=f"/{repo}/", query={"page": str(failing)}, status=502
            )
        for path, oldest in (
            (f"/repos/{repo}/issues/1/timeline", True),
            (f"/repos/{repo}/releases", False),
        ):
            with contextlib.suppress(SourceError):
                reader(standin, db).get_paginated(path, per_page=3, oldest_first=oldest)
        standin.faults.clear()
        healthy = reader(standin, db)
        timeline = healthy.get_paginated(
            f"/repos/{repo}/issues/1/timeline", per_page=3, oldest_first=True
        ).data
        releases = healthy.get_paginated(f"/repos/{repo}/releases", per_page=3).data
        issue = standin.github.repo(repo).issues[1]
        assert [e["id"] for e in timeline] == [e.id for e in issue.timeline]
        assert sorted(r["tag_name"] for r in releases) == sorted(
            r.tag_name for r in standin.github.repo(repo).releases
        )
