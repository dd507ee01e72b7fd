"""Hostile upstream values, as `watcher check` meets them: never "a bug in watcher".

Absurd headers and JSON become the watch's one-line error (with the last good verdict
kept); a single absurd release is skipped with a note instead of failing the watch on
every cycle (docs/architecture.md, «What support landed means»).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.headscale import READ_TOKEN, load_headscale

RELEASES = r"/repos/juanfont/headscale/releases$"


def assert_clean_error(output: str, *needles: str) -> None:
    assert "Traceback" not in output and "bug in watcher" not in output, output
    assert "error: " in output and "hint: " in output, output
    for needle in needles:
        assert needle in output, output


def state(watcher: WatcherRun) -> str:
    (watch,) = json.loads(watcher("status", "--json").stdout)["watches"]
    return str(watch["state"])


@pytest.fixture
def pending(watcher: WatcherRun) -> WatcherRun:
    """A watcher whose last good verdict is `pending` (v0.29.0 without images)."""
    load_headscale(watcher.standin, "pending")
    assert watcher("check").exit_code == 1
    return watcher


def real_releases(watcher: WatcherRun) -> list[dict[str, Any]]:
    reply = httpx.get(
        f"{watcher.standin.api_url}/repos/juanfont/headscale/releases?per_page=100",
        headers={"Authorization": f"Bearer {READ_TOKEN}"},
    )
    reply.raise_for_status()
    return list(reply.json())


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "-5"])
def test_absurd_retry_after_is_a_clean_rate_limit_error(pending: WatcherRun, value: str) -> None:
    pending.standin.faults.add(
        method="GET", path=RELEASES, status=429, headers={"retry-after": value}, times=None
    )
    result = pending("check")
    assert result.exit_code == 2
    assert_clean_error(result.output, "rate limited", "UTC")
    assert state(pending) == "pending"


@pytest.mark.parametrize("reset", ["nan", "1e20", "²"])
def test_absurd_quota_reset_is_a_clean_rate_limit_error(pending: WatcherRun, reset: str) -> None:
    pending.github = {"retries": "0"}
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
    pending.standin.faults.add(method="GET", path=RELEASES, status=403, headers=headers)
    result = pending("check")
    assert result.exit_code == 2
    assert_clean_error(result.output, "rate limited")
    assert state(pending) == "pending"


def test_absurd_quota_headers_on_a_good_answer_are_ignored(pending: WatcherRun) -> None:
    headers = {"x-ratelimit-remaining": "²", "x-ratelimit-reset": "9" * 20}
    pending.standin.faults.add(method="GET", path=RELEASES, headers=headers)
    pending.github = {"quota_floor": "10"}
    result = pending("check")
    assert result.exit_code == 1, result.output  # pending, as before
    assert "bug in watcher" not in result.output


def test_json_nested_100000_deep_is_the_watch_error(pending: WatcherRun) -> None:
    pending.standin.faults.add(method="GET", path=RELEASES, status=200, body=b"[" * 100_000)
    result = pending("check")
    assert result.exit_code == 2
    assert_clean_error(result.output, "/repos/juanfont/headscale/releases", "nested")
    assert state(pending) == "pending"


def serve_releases(watcher: WatcherRun, releases: Any) -> None:
    body = json.dumps(releases).encode()
    # A 200 whatever the request's If-None-Match: the cached releases are not used.
    watcher.standin.faults.add(method="GET", path=RELEASES, status=200, body=body, times=None)


def test_a_5000_digit_release_is_skipped_with_a_note(pending: WatcherRun) -> None:
    releases = real_releases(pending)
    monster = {**releases[0], "id": 999_999, "tag_name": "v1.0." + "7" * 5000}
    serve_releases(pending, [monster, *releases])
    for _ in range(2):  # not only once: the watch keeps working on every cycle
        result = pending("check")
        assert result.exit_code == 1, result.output  # pending on v0.29.0, as before
        assert "bug in watcher" not in result.output
        assert "skipped as absurd: 'v1.0.77777" in result.output
        assert "7" * 100 not in result.output
    assert state(pending) == "pending"


def test_prerelease_given_as_a_string_is_never_taken_as_a_flag(pending: WatcherRun) -> None:
    releases = real_releases(pending)
    (newest,) = [r for r in releases if r["tag_name"] == "v0.29.0"]
    newest["prerelease"] = "false"
    serve_releases(pending, releases)
    result = pending("check")
    assert "bug in watcher" not in result.output
    assert "'v0.29.0': prerelease is 'false'" in result.output, result.output


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
RELEASE_FIELDS = ("tag_name", "prerelease", "draft", "name", "html_url", "published_at")


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    releases=st.one_of(
        JSON,
        st.lists(
            st.fixed_dictionaries({}, optional=dict.fromkeys(RELEASE_FIELDS, JSON))
            | st.fixed_dictionaries(
                {"tag_name": st.just("v0.29.0")}, optional={"prerelease": JSON}
            ),
            max_size=4,
        ),
    )
)
def test_any_json_as_the_releases_is_never_a_bug(pending: WatcherRun, releases: Any) -> None:
    """Whatever the releases endpoint answers, check ends with a verdict or one error line."""
    pending.standin.faults.clear()
    serve_releases(pending, releases)
    result = pending("check")
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output and "bug in watcher" not in result.output, result.output
