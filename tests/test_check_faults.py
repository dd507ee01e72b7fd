"""Bad input and faults: exit 2, one line naming the cause, a hint, no traceback,
and the last good verdict untouched."""

from __future__ import annotations

import json
import socket
import time

import pytest
from click.testing import CliRunner

from tests.conftest import WatcherRun
from tests.standin.headscale import READ_TOKEN, load_headscale
from watcher.cli.main import main

WATCH = "headscale-peer-relay"


def assert_clean_error(result_output: str, *needles: str) -> None:
    assert "Traceback" not in result_output
    assert "error: " in result_output and "hint: " in result_output
    for needle in needles:
        assert needle in result_output, result_output


def status_doc(watcher: WatcherRun) -> dict[str, object]:
    (watch,) = json.loads(watcher("status", "--json").stdout)["watches"]
    return dict(watch)


@pytest.fixture
def ready(watcher: WatcherRun) -> WatcherRun:
    """A watcher whose last good verdict is `pending` (v0.29.0 without images)."""
    load_headscale(watcher.standin, "pending")
    assert watcher("check").exit_code == 1
    return watcher


def test_unreachable_github_names_url_and_offline_hint(watcher: WatcherRun) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    watcher.api_url = f"http://127.0.0.1:{port}/api"
    result = watcher("check")
    assert result.exit_code == 2
    assert_clean_error(
        result.output,
        f"http://127.0.0.1:{port}/api/repos/juanfont/headscale/releases",
        "could not connect",
        "offline",
    )


def test_bad_token_is_401_with_token_hint(ready: WatcherRun) -> None:
    ready.token = "not-a-real-token"
    result = ready("check")
    assert result.exit_code == 2
    assert_clean_error(result.output, "401", "GITHUB_TOKEN")
    assert status_doc(ready)["state"] == "pending"


def test_unknown_repository_is_404(watcher: WatcherRun) -> None:
    result = watcher("check")  # the stand-in is empty: juanfont/headscale does not exist
    assert result.exit_code == 2
    assert_clean_error(result.output, "404", "/repos/juanfont/headscale/releases")


def test_primary_rate_limit_gives_reset_time_and_records_nothing(ready: WatcherRun) -> None:
    ready.standin.github.set_remaining(None, 0)
    result = ready("check")
    assert result.exit_code == 2
    assert_clean_error(result.output, "rate limited", "UTC")
    doc = status_doc(ready)
    assert doc["state"] == "pending" and "rate limit" in str(doc["error"])


def test_secondary_rate_limit_429_with_long_retry_after(ready: WatcherRun) -> None:
    ready.standin.faults.add(
        method="GET", path="/releases$", status=429, headers={"retry-after": "600"}
    )
    result = ready("check")
    assert result.exit_code == 2
    assert_clean_error(result.output, "rate limited", "try again after")


def test_short_retry_after_is_honoured_then_succeeds(ready: WatcherRun) -> None:
    rule = ready.standin.faults.add(
        method="GET",
        path="/releases$",
        status=403,
        headers={"retry-after": "1"},
        body=b'{"message": "You have exceeded a secondary rate limit"}',
    )
    began = time.monotonic()
    result = ready("check")
    assert result.exit_code == 1 and rule.hits == 1
    assert time.monotonic() - began >= 1.0


def test_server_error_is_retried_then_succeeds(ready: WatcherRun) -> None:
    # The releases: asked every cycle (the informational issue is not, within 30 minutes).
    rule = ready.standin.faults.add(method="GET", path="/releases$", status=502)
    assert ready("check").exit_code == 1
    assert rule.hits == 1


def test_persistent_server_error_is_a_clear_error(ready: WatcherRun) -> None:
    ready.standin.faults.add(method="GET", path="/releases$", status=503, times=None)
    result = ready("check")
    assert result.exit_code == 2
    assert_clean_error(result.output, "HTTP 503", "2 attempt(s)")
    assert status_doc(ready)["state"] == "pending"


def test_timeout_is_retried_then_reported(ready: WatcherRun) -> None:
    ready.github = {"timeout_seconds": "0.3", "retries": "0"}
    ready.standin.faults.add(method="GET", path="/releases$", delay=1.5)
    result = ready("check")
    assert result.exit_code == 2
    assert_clean_error(result.output, "timed out")


def test_malformed_json_names_the_url(ready: WatcherRun) -> None:
    ready.token = READ_TOKEN  # a fresh token: no cached validators are reused
    ready.standin.faults.add(method="GET", path="/releases$", status=200, body=b"{not json")
    result = ready("check")
    assert result.exit_code == 2
    assert_clean_error(result.output, "/repos/juanfont/headscale/releases", "not valid JSON")


def test_truncated_tarball_is_an_archive_error(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "waiting")
    watcher.standin.faults.add(
        method="GET", path="legacy.tar.gz|/codeload/", truncate_after=300, times=None
    )
    result = watcher("check")
    assert result.exit_code == 2
    assert_clean_error(result.output, "truncated")
    assert status_doc(watcher)["state"] is None  # nothing was ever recorded as a verdict


def test_registry_refusing_the_token_is_an_error(ready: WatcherRun) -> None:
    ready.standin.faults.add(method="HEAD", path="/manifests/", status=401, times=None)
    result = ready("check")
    assert result.exit_code == 2
    assert_clean_error(result.output, "registry")


def test_missing_image_is_pending_not_an_error(ready: WatcherRun) -> None:
    result = ready("check")
    assert result.exit_code == 1 and "not pullable yet" in result.stdout


def test_error_then_recovery_clears_the_error(ready: WatcherRun) -> None:
    ready.standin.faults.add(method="GET", path="/releases$", status=500, times=None)
    assert ready("check").exit_code == 2
    assert status_doc(ready)["error"]
    ready.standin.faults.clear()
    load_headscale(ready.standin, "ready")
    assert ready("check").exit_code == 0
    doc = status_doc(ready)
    assert doc["state"] == "ready" and doc["error"] is None


def test_bad_config_is_exit_2_with_key_path(watcher: WatcherRun) -> None:
    path = watcher.tmp_path / "bad.toml"
    path.write_text(
        '[[watch]]\nid = "x"\nrepo = "a/b"\ntag_pattern = "(["\n[watch.feature]\nmarker = "abc"\n'
    )
    result = CliRunner().invoke(main, ["check", "--config", str(path), "--db", watcher.db_url])
    assert result.exit_code == 2
    assert_clean_error(
        result.output, f"{path}: watch[0].tag_pattern: not a valid regular expression"
    )
