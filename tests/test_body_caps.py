"""Bounded reads: every body is read while it streams in, up to the cap for its kind.

A larger one is an error naming the URL and the cap, and nothing of it is stored
(docs/architecture.md, «Talking to GitHub»).
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import WatcherRun
from tests.standin.headscale import load_headscale

CAP = 64 * 1024


def largest_cached_body(watcher: WatcherRun) -> int:
    path = watcher.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        (size,) = db.execute("SELECT max(length(body)) FROM http_cache").fetchone()
    return int(size)


def with_caps(watcher: WatcherRun, caps: str) -> None:
    watcher.edits["retries = 1\n"] = f"retries = 1\nbody_caps = {{ {caps} }}\n"


@pytest.mark.parametrize("chunked", [True, False])
def test_an_oversized_changelog_is_the_signal_error_and_never_stored(
    watcher: WatcherRun, chunked: bool
) -> None:
    load_headscale(watcher.standin, "pending")
    with_caps(watcher, f"changelog_bytes = {CAP}")
    # Chunked, without a Content-Length, the cap must hold while the body streams in.
    rule = watcher.standin.faults.add(
        method="GET",
        path=r"/contents/CHANGELOG\.md$",
        status=200,
        body=b"## x\n" * CAP,
        chunked=chunked,
    )
    result = watcher("check", "--verbose")
    assert rule.hits == 1
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output  # still pending: the changelog is reported only
    assert "/contents/CHANGELOG.md" in result.output
    assert f"larger than the cap of {CAP:,} bytes" in result.output, result.output
    assert largest_cached_body(watcher) <= CAP


def test_an_oversized_api_answer_is_the_watch_error(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "pending")
    with_caps(watcher, "api_json_bytes = 2048")
    result = watcher("check")
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "bug in watcher" not in result.output
    assert "/repos/juanfont/headscale/releases" in result.output
    assert "larger than the cap of 2,048 bytes" in result.output
    assert "body_caps" in result.output  # the hint says which setting raises it


def test_an_oversized_error_page_for_a_tarball_is_not_read_to_its_end(
    watcher: WatcherRun,
) -> None:
    load_headscale(watcher.standin, "pending")
    with_caps(watcher, f"api_json_bytes = {16 * CAP}")  # above every real API answer
    watcher.standin.faults.add(
        method="GET", path=r"/codeload/", status=404, body=b"x" * 32 * CAP, chunked=True, times=None
    )
    result = watcher("check")
    assert "Traceback" not in result.output and "bug in watcher" not in result.output
    (line,) = [line for line in result.output.splitlines() if "larger than the cap" in line]
    assert "/tarball/v0.29.0" in line and f"cap of {16 * CAP:,} bytes" in line, result.output
