"""Tests for the pure backtest: moments, replayed verdicts, conclusions, renderings.

Histories are built by hand here; ``test_backtest_standin.py`` gathers them from the
stand-in. Every trap of docs/architecture.md, «What support landed means»,
that a history can show is in ``HISTORY``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from xml.etree import ElementTree

import httpx
import pytest
from packaging.version import Version

from tests.memory_cache import MemoryCache
from watcher.backtest.command import _inclusive_end, _utc, select_watch
from watcher.backtest.gather import (
    DockerHubPushTimes,
    FeatureFact,
    History,
    ImageFact,
    IssueEvent,
    IssueFact,
    ReleaseFact,
    locate_feature,
)
from watcher.backtest.replay import ASSUMED_IMAGE_TIME, EventKind, backtest, observation_at
from watcher.backtest.svg import backtest_svg
from watcher.backtest.text import backtest_json, backtest_text
from watcher.config.model import default_config_text, parse_config
from watcher.core.errors import ConfigError
from watcher.core.image_ref import ImageRef
from watcher.core.models import Release, Signal, SignalName, SignalStatus, VerdictState
from watcher.net.http import HttpClient

MARKER = "tailscale.com/cap/relay"
REPO = "up/stream"
WAITING, PENDING, READY = VerdictState.WAITING, VerdictState.PENDING, VerdictState.READY


def at(stamp: str) -> datetime:
    """``2025-01-02`` or ``2025-01-02T10:00`` as an aware UTC datetime."""
    when = datetime.fromisoformat(stamp if "T" in stamp else f"{stamp}T12:00")
    return when.replace(tzinfo=UTC)


def release(tag: str, day: str | None, *, pre: bool = False, draft: bool = False) -> Release:
    """A release as parse_releases would produce it."""
    version = str(Version(tag.lstrip("v")))
    return Release(
        tag=tag,
        version=version,
        prerelease=pre or Version(version).is_prerelease,
        draft=draft,
        url=f"https://example.test/{tag}",
        published_at=None if draft or day is None else at(day),
    )


def feature(tag: str, holds: bool, scanned: bool = True) -> FeatureFact:
    """A feature fact as a scan (or the bisection) would produce it."""
    status = SignalStatus.HOLDS if holds else SignalStatus.MISSING
    where = "in hscontrol/types.go" if holds else "not in hscontrol/**/*.go"
    return FeatureFact(
        Signal(SignalName.FEATURE, status, f"{MARKER} {where}@{tag}", release_tag=tag), scanned
    )


def images(tag: str, docker: str | None, ghcr: bool = True) -> tuple[ImageFact, ...]:
    """Docker Hub with a known push time (None: unknown), ghcr.io without one."""
    hub = ImageFact(ImageRef("docker.io", "up/stream", tag), True, "sha256:d", None)
    if docker is not None:
        hub = replace(hub, pushed_at=at(docker))
    gh = ImageFact(ImageRef("ghcr.io", "up/stream", tag), ghcr, "sha256:g" if ghcr else None, None)
    return hub, gh


def fact(
    tag: str,
    day: str | None,
    has: bool,
    *,
    pre: bool = False,
    draft: bool = False,
    pushed: str | None = None,
    ghcr: bool = True,
    created: str | None = None,
    updated: str | None = None,
) -> ReleaseFact:
    """A gathered release: the feature fact, and images when it is stable with the feature."""
    rel = release(tag, day, pre=pre, draft=draft)
    with_images = rel.stable and has
    return ReleaseFact(
        release=rel,
        created_at=at(created) if created else None,
        updated_at=at(updated) if updated else None,
        feature=None if draft else feature(tag, has),
        images=images(tag, pushed, ghcr) if with_images else (),
    )


# Traps: prerelease spellings and an -rc never released; a release edited into a stable
# one later; the feature first in a prerelease; an image pushed two days after the
# release; a patch of an older line published after the newer minor (dates out of
# version order); a draft; an issue closed months before any release had the feature;
# the feature issue still open after it shipped; a mention from another repository.
HISTORY = History(
    watch_id="relay",
    repo=REPO,
    marker=MARKER,
    required=frozenset({SignalName.RELEASE, SignalName.FEATURE, SignalName.IMAGE}),
    max_candidates=3,
    releases=(
        fact("v1.1.1", "2025-07-01", True, pushed="2025-07-01T11:00"),
        fact("v1.1.0", "2025-06-01", True, pushed="2025-06-03T09:00"),
        fact("v1.1.0-beta.1", "2025-05-01", True),
        fact("v1.0.1", "2025-06-10", False),
        fact("v1.0.1-rc.1", "2025-04-20", False),
        fact("v1.0.0", "2025-01-10", False, updated="2025-01-11"),
        fact("v1.0.0-alpha12", "2024-12-01", False),
        fact("v1.2.0", None, False, draft=True, created="2025-07-05"),
    ),
    issues=(
        IssueFact(
            2841,
            "Support peer relays",
            "https://example.test/2841",
            at("2025-02-01"),
            events=(
                IssueEvent(
                    2841,
                    "cross-referenced",
                    at("2025-02-02"),
                    mention="issue other/chart#12 (open, another repository)",
                ),
            ),
        ),
        IssueFact(
            2180,
            "Grants",
            "https://example.test/2180",
            at("2024-11-01"),
            events=(IssueEvent(2180, "closed", at("2025-03-01"), "completed", closing="#2862"),),
        ),
    ),
    notes=("release flags are as of today",),
)

EXPECTED = [
    ("2024-11-01 12:00", "#2180 opened: Grants", WAITING, None, True),
    (
        "2024-12-01 12:00",
        "v1.0.0-alpha12 published (prerelease, not a candidate)",
        WAITING,
        None,
        False,
    ),
    ("2025-01-10 12:00", "v1.0.0 published", WAITING, None, False),
    ("2025-02-01 12:00", "#2841 opened: Support peer relays", WAITING, None, False),
    (
        "2025-02-02 12:00",
        "#2841 referenced by issue other/chart#12 (open, another repository)",
        WAITING,
        None,
        False,
    ),
    ("2025-03-01 12:00", "#2180 closed (completed) by #2862", WAITING, None, False),
    (
        "2025-04-20 12:00",
        "v1.0.1-rc.1 published (prerelease, not a candidate)",
        WAITING,
        None,
        False,
    ),
    (
        "2025-05-01 12:00",
        "v1.1.0-beta.1 published (prerelease, not a candidate, has the marker)",
        WAITING,
        None,
        False,
    ),
    ("2025-06-01 12:00", "v1.1.0 published", PENDING, "v1.1.0", True),
    ("2025-06-03 09:00", "image docker.io/up/stream:v1.1.0 pushed", READY, "v1.1.0", True),
    ("2025-06-10 12:00", "v1.0.1 published", READY, "v1.1.0", False),
    ("2025-07-01 12:00", "v1.1.1 published", READY, "v1.1.1", True),
    (
        "2025-07-05 12:00",
        "draft v1.2.0 created (drafts are never candidates)",
        READY,
        "v1.1.1",
        False,
    ),
]


def _rows(history: History) -> list[tuple[str, str, VerdictState, str | None, bool]]:
    result = backtest(history)
    return [
        (f"{r.at:%Y-%m-%d %H:%M}", r.event, r.state, r.target.tag if r.target else None, r.changed)
        for r in result.rows
    ]


def test_full_timeline_of_a_history_with_every_trap() -> None:
    assert _rows(HISTORY) == EXPECTED


def test_rows_say_when_image_times_are_assumed() -> None:
    result = backtest(HISTORY)
    noted = {r.event: r.notes for r in result.rows if r.notes}
    # ghcr.io has no push time: assumed = release time, and the row says so.
    assert noted == {
        "v1.1.0 published": (ASSUMED_IMAGE_TIME,),
        "v1.1.1 published": (ASSUMED_IMAGE_TIME,),
        "v1.0.0 published": ("edited 2025-01-11; flags as of today",),
    }


def test_pull_request_opens_at_first_ready_and_follows_newer_targets() -> None:
    result = backtest(HISTORY)
    assert [(p.action, p.target.tag, p.at) for p in result.pull_requests] == [
        ("open", "v1.1.0", at("2025-06-03T09:00")),
        ("update", "v1.1.1", at("2025-07-01")),
    ]
    assert result.shipped is not None and result.shipped.tag == "v1.1.0"
    assert result.first_in_code is not None and result.first_in_code.tag == "v1.1.0-beta.1"


def test_issue_state_alone_gives_the_wrong_answer() -> None:
    answer = backtest(HISTORY).issue_only
    assert answer.said == "not supported (#2841 not closed as completed)"
    assert answer.wrong_because == "v1.1.0 has shipped it since 2025-06-01"
    assert answer.per_issue == (
        "#2841 still open at 2025-07-05, 34 days after v1.1.0 shipped it (2025-06-01)",
        "#2180 closed (completed) 2025-03-01, 92 days before v1.1.0 shipped it (2025-06-01)",
    )


def test_issues_all_closed_before_any_release_is_wrong_the_other_way() -> None:
    closed = IssueEvent(2841, "closed", at("2025-04-01"), "completed", closing="#2900")
    issues = (replace(HISTORY.issues[0], events=(closed,)), HISTORY.issues[1])
    answer = backtest(replace(HISTORY, issues=issues)).issue_only
    assert (
        answer.said == "supported from 2025-04-01 (when #2841, #2180 were all closed as completed)"
    )
    assert (
        answer.wrong_because == "no stable release had it until v1.1.0 on 2025-06-01, 61 days later"
    )


def test_reopened_issue_is_not_done() -> None:
    events = (
        IssueEvent(2841, "closed", at("2025-04-01"), "completed"),
        IssueEvent(2841, "reopened", at("2025-04-02")),
    )
    history = replace(
        HISTORY, issues=(replace(HISTORY.issues[0], events=events), HISTORY.issues[1])
    )
    assert backtest(history).issue_only.said.startswith("not supported (#2841")


def test_image_never_pushed_keeps_the_release_pending() -> None:
    releases = (fact("v1.1.0", "2025-06-01", True, pushed="2025-06-02", ghcr=False),)
    result = backtest(replace(HISTORY, releases=releases, issues=()))
    assert [(r.state, r.target.tag if r.target else None) for r in result.rows] == [
        (PENDING, "v1.1.0"),
        (PENDING, "v1.1.0"),
    ]
    assert result.pull_requests == ()
    assert "would not have opened a PR in this window (final verdict: pending)" in backtest_text(
        result
    )


def test_the_walk_stops_like_check_at_the_first_release_without_the_feature() -> None:
    observation = observation_at(HISTORY, at("2025-06-02"))
    # v1.1.0 has the feature but no image yet; v1.0.1 (published later, older version)
    # is not yet out; v1.0.0 lacks the feature, so the walk stops there.
    assert [c.release.tag for c in observation.candidates] == ["v1.1.0", "v1.0.0"]
    assert observation.prerelease_hint is None


def test_prerelease_with_the_feature_is_a_hint_while_waiting() -> None:
    observation = observation_at(HISTORY, at("2025-05-02"))
    assert (
        observation.prerelease_hint
        == f"{MARKER} in hscontrol/types.go@v1.1.0-beta.1 (prerelease, not counted)"
    )


def test_window_starts_with_the_state_at_its_start_and_ends_at_until() -> None:
    result = backtest(HISTORY, since=at("2025-06-02"), until=at("2025-06-30"))
    assert [(r.kind, r.event, r.state) for r in result.rows] == [
        (EventKind.START, "state at the start of the window", PENDING),
        (EventKind.IMAGE, "image docker.io/up/stream:v1.1.0 pushed", READY),
        (EventKind.RELEASE, "v1.0.1 published", READY),
    ]
    assert [p.target.tag for p in result.pull_requests] == ["v1.1.0"]


def test_locate_feature_bisects_in_version_order() -> None:
    releases = [release(f"v1.{i}.0", "2025-01-01") for i in range(150)]
    probed: list[str] = []

    def probe(rel: Release) -> Signal:
        probed.append(rel.tag)
        return feature(rel.tag, Version(rel.version) >= Version("1.97.0")).signal

    facts = locate_feature(list(reversed(releases)), probe, MARKER)
    assert len(probed) <= 9
    assert {t for t, f in facts.items() if f.signal.holds} == {f"v1.{i}.0" for i in range(97, 150)}
    assert {t for t, f in facts.items() if f.scanned} == set(probed)
    assert (
        facts["v1.120.0"].signal.summary
        == f"{MARKER} inferred at v1.120.0: the older v1.97.0 has it (not scanned)"
    )
    assert (
        facts["v1.3.0"].signal.summary
        == f"{MARKER} inferred absent at v1.3.0: it first appears in v1.97.0 (not scanned)"
    )


def test_locate_feature_with_no_release_having_it_probes_once() -> None:
    releases = [release(f"v1.{i}.0", "2025-01-01") for i in range(20)]
    probed: list[str] = []

    def probe(rel: Release) -> Signal:
        probed.append(rel.tag)
        return feature(rel.tag, False).signal

    facts = locate_feature(releases, probe, MARKER)
    assert probed == ["v1.19.0"]
    assert not any(f.signal.holds for f in facts.values())
    assert locate_feature(releases, probe, MARKER, scan_all=True)["v1.3.0"].scanned


def test_text_rendering() -> None:
    text = backtest_text(backtest(HISTORY))
    lines = text.splitlines()
    assert lines[0] == "backtest of relay (up/stream), all history: 13 row(s)"
    assert lines[1].split(" | ") == ["date (UTC)      ", "event" + " " * 64, "verdict   ", "target"]
    assert "2025-06-03 09:00 | image docker.io/up/stream:v1.1.0 pushed" in text
    assert lines[-9:] == [
        "would have opened its PR at 2025-06-03 09:00 for v1.1.0",
        "  then would have updated it at 2025-07-01 12:00 to v1.1.1",
        "supported from v1.1.0 (stable, published 2025-06-01 12:00); the marker was first in "
        "v1.1.0-beta.1 (2025-05-01 12:00)",
        "issue-state alone would have said: not supported (#2841 not closed as completed) "
        "(wrong because v1.1.0 has shipped it since 2025-06-01)",
        "  #2841 still open at 2025-07-05, 34 days after v1.1.0 shipped it (2025-06-01)",
        "  #2180 closed (completed) 2025-03-01, 92 days before v1.1.0 shipped it (2025-06-01)",
        "feature: 0 tarball(s) scanned, 0 from the cache, 0 inferred by version order",
        "notes:",
        "  - release flags are as of today",
    ]


def test_json_rendering() -> None:
    doc = json.loads(backtest_json(backtest(HISTORY)))
    assert doc["pull_request"] == {
        "opened_at": "2025-06-03T09:00:00+00:00",
        "target": "v1.1.0",
        "updates": [{"at": "2025-07-01T12:00:00+00:00", "target": "v1.1.1"}],
    }
    assert doc["issue_only"]["wrong"] is True
    assert doc["shipped"]["tag"] == "v1.1.0"
    assert doc["first_in_code"] == {
        "tag": "v1.1.0-beta.1",
        "published_at": "2025-05-01T12:00:00+00:00",
        "prerelease": True,
        "url": "https://example.test/v1.1.0-beta.1",
    }
    row = doc["rows"][8]
    assert {k: row[k] for k in ("at", "kind", "state", "target", "changed")} == {
        "at": "2025-06-01T12:00:00+00:00",
        "kind": "release",
        "state": "pending",
        "target": "v1.1.0",
        "changed": True,
    }
    assert row["notes"] == [ASSUMED_IMAGE_TIME]
    assert any(r.startswith("image: not pullable yet") for r in row["reasons"])


def test_svg_rendering_is_well_formed_and_shows_every_part() -> None:
    svg = backtest_svg(backtest(HISTORY))
    root = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    fills = {r.get("fill") for r in root.iter(f"{ns}rect")}
    assert {"#c8ccd2", "#f4b740", "#43b36a"} <= fills  # waiting, pending, ready bands
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "PR opened: v1.1.0" in texts
    assert "PR updated: v1.1.1" in texts
    assert "issue #2180" in texts and "issue #2841" in texts
    dots = [c for c in root.iter(f"{ns}circle") if c.find(f"{ns}title") is not None]
    assert len(dots) == 4  # two openings, a reference, a closing (legend dots have no title)
    assert svg == backtest_svg(backtest(HISTORY))  # deterministic


@pytest.mark.parametrize(
    "history",
    [replace(HISTORY, issues=()), replace(HISTORY, releases=())],
    ids=["no-issues", "no-releases"],
)
def test_empty_inputs_render(history: History) -> None:
    result = backtest(history)
    assert backtest_text(result).startswith("backtest of relay")
    ElementTree.fromstring(backtest_svg(result))


def test_docker_hub_push_times() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/repositories/headscale/headscale/tags/v0.29.0":
            return httpx.Response(200, json={"tag_last_pushed": "2026-01-29T08:00:00.123456Z"})
        if request.url.path.endswith("/broken"):
            return httpx.Response(200, content=b"<html>")
        return httpx.Response(404, json={"message": "not found"})

    http = HttpClient(MemoryCache(), transport=httpx.MockTransport(answer))
    hub = DockerHubPushTimes(http, "https://hub.test")
    pushed = hub(ImageRef("docker.io", "headscale/headscale", "v0.29.0"))
    assert pushed == datetime(2026, 1, 29, 8, 0, 0, 123456, tzinfo=UTC)
    assert hub(ImageRef("docker.io", "headscale/headscale", "v9.9.9")) is None
    requests = http.stats.requests
    assert hub(ImageRef("ghcr.io", "juanfont/headscale", "v0.29.0")) is None
    assert http.stats.requests == requests  # other registries are not asked
    assert hub(ImageRef("docker.io", "headscale/headscale", "broken")) is None
    assert len(hub.failures) == 1 and "hub.test" in hub.failures[0]


def test_window_bounds_are_utc_and_a_bare_until_date_covers_its_day() -> None:
    config = parse_config(default_config_text(), "<built-in>")
    assert select_watch(config, None).id == "headscale-peer-relay"
    with pytest.raises(ConfigError):
        select_watch(config, "nope")
    assert _inclusive_end(_utc(datetime(2026, 1, 28))) == datetime(
        2026, 1, 28, 23, 59, 59, 999999, tzinfo=UTC
    )
    assert _inclusive_end(_utc(datetime(2026, 1, 28, 6))) == datetime(2026, 1, 28, 6, tzinfo=UTC)
