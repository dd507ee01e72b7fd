"""Every request has a total deadline; a trickling server cannot hold a run or a shutdown.

Issue 10, "What must hold" 4. The stand-in's ``drip`` fault sends the whole answer one
byte at a time, which per-read timeouts never cut off.
"""

from __future__ import annotations

import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpcore
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.daemon_process import start_daemon
from tests.memory_cache import MemoryCache
from tests.standin.headscale import READ_TOKEN, load_headscale
from tests.standin.server import StandIn
from watcher.core.errors import NetworkError
from watcher.net.http import ARCHIVE_DEADLINE_FACTOR, HttpClient, HttpSettings

T = TypeVar("T")
# Far beyond any deadline under test; the code before the fix ran for hours here.
BOUND = 90.0


def bounded(call: Callable[[], T]) -> T:
    """``call()`` in a thread; fail (rather than hang) when it does not end within BOUND."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(call())
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(BOUND)
    if worker.is_alive():
        pytest.fail(f"still running after {BOUND} s: no total deadline")
    if errors:
        raise errors[0]
    return results[0]


def test_trickling_api_server_ends_in_a_timeout_naming_the_url(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "waiting")
    watcher.standin.faults.add(method="GET", path="/releases$", drip=1.0, times=None)
    result = bounded(lambda: watcher("check"))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "/repos/juanfont/headscale/releases" in result.output
    assert "total deadline of 2 s" in result.output  # timeout_seconds = 2 in tests


def test_archive_downloads_get_a_larger_derived_deadline(headscale_standin: StandIn) -> None:
    """An API read and a tarball from the same trickling server: each cut at its own bound."""
    headscale_standin.faults.add(drip=0.05, times=None)
    http = HttpClient(MemoryCache(), HttpSettings(timeout_seconds=0.2, retries=0))
    with pytest.raises(NetworkError, match=r"total deadline of 0\.2 s"):
        bounded(lambda: http.get(f"{headscale_standin.api_url}/repos/juanfont/headscale"))

    archive = f"{headscale_standin.url}/codeload/juanfont/headscale/legacy.tar.gz/v0.28.0"

    def download() -> int:
        with http.stream(archive) as reply:
            return sum(len(chunk) for chunk in reply.iter_bytes())

    began = time.monotonic()
    expected = 0.2 * ARCHIVE_DEADLINE_FACTOR
    with pytest.raises(NetworkError, match=rf"total deadline of {expected:g} s"):
        bounded(download)
    assert time.monotonic() - began >= expected


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seconds=st.floats(min_value=0.05, max_value=0.4), drip=st.floats(0.001, 0.03))
def test_deadline_cuts_any_trickle_at_its_bound(
    standin: StandIn, seconds: float, drip: float
) -> None:
    """Randomized: whatever the deadline and pace, a trickling answer ends at the deadline."""
    standin.faults.clear()
    standin.faults.add(drip=drip, times=None)
    http = HttpClient(MemoryCache(), HttpSettings(timeout_seconds=seconds, retries=0))
    began = time.monotonic()
    with pytest.raises(NetworkError, match=f"total deadline of {seconds:g} s"):
        bounded(lambda: http.get(f"{standin.api_url}/rate_limit"))
    http.close()
    assert time.monotonic() - began >= seconds


def test_sigterm_interrupts_a_stuck_read_in_the_daemon(watcher: WatcherRun, tmp_path: Path) -> None:
    load_headscale(watcher.standin, "waiting")
    watcher.github = {"timeout_seconds": "600"}  # the deadline is not what ends it
    rule = watcher.standin.faults.add(method="GET", path="/releases$", drip=1.0, times=None)
    process = start_daemon(str(watcher.config_path), watcher.db_url, READ_TOKEN, tmp_path / "log")
    try:
        until = time.monotonic() + 60
        while rule.hits == 0 and time.monotonic() < until and process.poll() is None:
            time.sleep(0.05)
        assert rule.hits >= 1, (tmp_path / "log").read_text()
        process.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("the daemon ignored SIGTERM while a read was stuck")
        assert code == 0, (tmp_path / "log").read_text()
        assert time.monotonic() - stopped < 15
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_every_transport_shares_one_verifying_tls_context() -> None:
    """Each client used to parse certifi's bundle twice (about 9 MiB of OpenSSL heap per
    cycle that glibc kept: the soak's RSS grew 29 MiB); one context now serves all, and it
    still verifies certificates and host names."""
    from watcher.net import deadline

    first, second = deadline.transport(), deadline.transport()
    # (no proxy in the environment: the direct transport itself)
    assert isinstance(first, httpx.HTTPTransport) and isinstance(second, httpx.HTTPTransport)
    contexts = {id(t._pool._ssl_context) for t in (first, second)}
    assert len(contexts) == 1
    context = first._pool._ssl_context
    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


def test_the_private_pool_httpx_is_given_is_ours_in_every_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx has no public hook for httpcore's network backend, so net/deadline.py replaces
    ``HTTPTransport._pool`` (pinned to httpx 0.28 in pyproject.toml). Should a new httpx
    rename or rebuild it, requests would silently lose the total deadline: this fails first."""
    from watcher.net import deadline

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    routed = deadline.transport()
    monkeypatch.delenv("HTTPS_PROXY")
    direct = deadline.transport()
    transports = [direct, *getattr(routed, "_routes", {}).values()]
    assert len(transports) >= 2, "the proxy route was not built"
    for built in transports:
        assert isinstance(built, httpx.HTTPTransport)
        pool = built._pool
        assert isinstance(pool, httpcore.ConnectionPool | httpcore.HTTPProxy)
        assert isinstance(pool._network_backend, deadline.DeadlineBackend)
