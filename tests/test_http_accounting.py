"""What the HTTP layer counts and says: quota only from GitHub, registry limits and
challenges told apart, absolute Link URLs followed, DNS failures fast and named.

Issue 10 (review items) and issue 11 (429 hints, DNS, challenge counting); every test
runs against the stand-in over real HTTP.
"""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.memory_cache import MemoryCache
from tests.standin.headscale import READ_TOKEN, load_headscale
from tests.standin.server import StandIn
from watcher.core.errors import NetworkError, RateLimitedError
from watcher.core.image_ref import ImageRef
from watcher.net.http import HttpClient, HttpSettings
from watcher.net.registry import RegistryReader
from watcher.runner.report import RunReport
from watcher.service.metrics import Metrics


def check_json(watcher: WatcherRun) -> tuple[int, dict[str, object]]:
    result = watcher("check", "--json")
    return result.exit_code, json.loads(result.stdout)


def test_registry_ratelimit_headers_do_not_touch_the_github_quota(watcher: WatcherRun) -> None:
    """A registry saying "0 left" of its own limit must not stop GitHub reads."""
    load_headscale(watcher.standin, "ready")
    watcher.token = READ_TOKEN
    reset = str(int(time.time()) + 3600)
    watcher.standin.faults.add(
        path="^/registry/",
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
        times=None,
    )
    code, doc = check_json(watcher)
    assert code == 0, doc
    requests = doc["requests"]
    assert isinstance(requests, dict)
    assert requests["quota_remaining"] not in (None, 0)


def test_quota_metric_only_follows_github(standin: StandIn) -> None:
    standin.registry.push("docker.io", "library/alpine", "3.20")
    standin.faults.add(path="^/registry/", headers={"x-ratelimit-remaining": "7"}, times=None)
    http = HttpClient(MemoryCache(), HttpSettings(retries=0))
    registry = RegistryReader(http, {"docker.io": standin.registry_url("docker.io")})
    assert registry.manifest(ImageRef("docker.io", "library/alpine", "3.20")) is not None
    metrics = Metrics()
    metrics.observe_run(RunReport(0, (), http.stats), 0.1)
    assert metrics.registry.get_sample_value("watcher_github_quota_remaining") != 7.0
    assert http.stats.quota_remaining is None


def test_registry_challenge_is_not_counted_as_401(standin: StandIn) -> None:
    standin.registry.push("docker.io", "library/alpine", "3.20")
    http = HttpClient(MemoryCache(), HttpSettings(retries=0))
    registry = RegistryReader(http, {"docker.io": standin.registry_url("docker.io")})
    # A reference no other test asks for: the process-wide token cache has nothing yet.
    registry.manifest(ImageRef("docker.io", "library/alpine", "3.20"))
    assert [r.status for r in standin.log.records()].count(401) == 1  # it was challenged
    metrics = Metrics()
    metrics.observe_run(RunReport(0, (), http.stats), 0.1)
    sample = metrics.registry.get_sample_value
    assert sample("watcher_http_requests_total", {"status": "401"}) is None
    assert sample("watcher_http_requests_total", {"status": "challenge"}) == 1.0


def test_registry_429_hint_names_the_registry_not_a_github_token(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "ready")
    watcher.token = READ_TOKEN
    watcher.standin.faults.add(
        path="^/registry/docker.io/v2/.+/manifests/",
        status=429,
        headers={"retry-after": "3600"},
        times=None,
    )
    result = watcher("check")
    assert result.exit_code == 2
    assert "docker.io" in result.output and "mirror" in result.output
    assert "GITHUB_TOKEN" not in result.output


def test_github_429_with_a_token_does_not_ask_for_a_token(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "ready")
    watcher.token = READ_TOKEN
    watcher.standin.faults.add(
        path="/releases$", status=429, headers={"retry-after": "3600"}, times=None
    )
    result = watcher("check")
    assert result.exit_code == 2
    assert "rate limited" in result.output
    assert "set GITHUB_TOKEN" not in result.output


def test_unresolvable_host_fails_at_once_naming_it() -> None:
    """RFC 6761: resolvers answer ``.invalid`` names negatively without asking anyone."""
    sleeps: list[float] = []
    http = HttpClient(MemoryCache(), HttpSettings(retries=3), sleep=sleeps.append)
    with pytest.raises(NetworkError) as caught:
        http.get("http://no-such-host.invalid/api/repos/o/r")
    assert "no-such-host.invalid" in caught.value.message
    assert "resolve" in caught.value.message
    assert sleeps == []  # not retried


def test_unresolvable_api_host_in_check_names_it(watcher: WatcherRun) -> None:
    watcher.api_url = "http://no-such-host.invalid/api"
    result = watcher("check")
    assert result.exit_code == 2
    assert "cannot resolve the host name 'no-such-host.invalid'" in result.output
    assert "Traceback" not in result.output


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    count=st.integers(min_value=0, max_value=12),
    page=st.integers(min_value=1, max_value=5),
    absolute=st.booleans(),
)
def test_tag_lists_follow_relative_and_absolute_next_links(
    standin: StandIn, count: int, page: int, absolute: bool
) -> None:
    name = f"paging/r{count}-{page}-{int(absolute)}"
    for n in range(count):
        standin.registry.push("ghcr.io", name, f"v1.{n}.0")
    standin.registry.absolute_links = absolute
    http = HttpClient(MemoryCache(), HttpSettings(retries=0))
    registry = RegistryReader(http, {"ghcr.io": standin.registry_url("ghcr.io")})
    if count == 0:
        return  # nothing pushed: the repository does not exist
    tags = registry.tags(ImageRef("ghcr.io", name, "latest"), page_size=page)
    assert tags == standin.registry.tags("ghcr.io", name)


def test_absolute_next_link_is_followed_past_the_first_thousand(standin: StandIn) -> None:
    for n in range(1001):
        standin.registry.push("ghcr.io", "big/repo", f"t{n:04d}", platforms=("linux/amd64",))
    standin.registry.absolute_links = True
    http = HttpClient(MemoryCache(), HttpSettings(retries=0))
    registry = RegistryReader(http, {"ghcr.io": standin.registry_url("ghcr.io")})
    assert len(registry.tags(ImageRef("ghcr.io", "big/repo", "latest"))) == 1001


def test_registry_429_in_a_rate_limited_error_keeps_its_reset(standin: StandIn) -> None:
    standin.faults.add(path="^/registry/", status=429, headers={"retry-after": "3600"})
    http = HttpClient(MemoryCache(), HttpSettings(retries=0, max_wait_seconds=1))
    registry = RegistryReader(http, {"docker.io": standin.registry_url("docker.io")})
    with pytest.raises(RateLimitedError) as caught:
        registry.manifest(ImageRef("docker.io", "library/busybox", "1"))
    assert caught.value.reset_at is not None and caught.value.reset_at > time.time() + 3000
    assert "docker.io" in caught.value.hint
