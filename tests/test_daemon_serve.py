"""`serve()` end to end: the stand-in, a real database, /healthz, /metrics, SIGTERM.

The daemon runs in pytest's main thread (signal handlers need it); a helper thread
waits for /healthz to turn 200, reads /metrics, then sends SIGTERM to this process,
which the daemon's handler (installed long before /healthz can answer 200) receives.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
from github import Auth

from tests.standin.chart import CHART_TOKEN
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from watcher.config.model import DaemonConfig, parse_config
from watcher.net.github_write import GitHubWriter
from watcher.runner.act import Actor
from watcher.service.daemon import serve
from watcher.state.leases import ACTOR_LEASE
from watcher.state.store import Store

DEADLINE = 10.0


def free_port() -> int:
    """A port nobody listens on right now (the daemon binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_acts_reports_health_and_stops_on_sigterm(
    headscale_standin: StandIn, tmp_path: Path
) -> None:
    standin = headscale_standin
    standin.registry.push("docker.io", "tailscale/tailscale", "stable")
    standin.registry.push("docker.io", "tailscale/tailscale", "v1.90.1")
    load_headscale(standin, "ready")
    config = parse_config(standin_config(standin, {"write_interval_seconds": "0"}), "test")
    db_url = f"sqlite:///{tmp_path / 'watcher.db'}"
    port = free_port()
    settings = DaemonConfig(interval_seconds=3600, jitter_seconds=0, health_port=port)
    seen: dict[str, str] = {}

    done = threading.Event()

    def probe_then_stop() -> None:
        deadline = time.monotonic() + DEADLINE
        try:
            while time.monotonic() < deadline and not done.is_set():
                try:
                    reply = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                except httpx.TransportError:
                    reply = None  # not listening yet
                if reply is not None and reply.status_code == 200:
                    seen["healthz"] = reply.text
                    seen["metrics"] = httpx.get(f"http://127.0.0.1:{port}/metrics").text
                    break
                time.sleep(0.02)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    writer = GitHubWriter(config.github.api_url, Auth.Token(CHART_TOKEN), write_interval=0)
    helper = threading.Thread(target=probe_then_stop)
    # serve() replaces this handler while it runs and restores it on the way out: a
    # SIGTERM arriving when serve() has already failed must not kill pytest.
    stray: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: stray.append(signum))
    helper.start()
    try:
        code = serve(config, db_url, settings=settings, actor=Actor(lambda: writer, config.notify))
    finally:
        done.set()
        helper.join(timeout=DEADLINE)
        signal.signal(signal.SIGTERM, previous)
        writer.close()
    assert stray == []
    assert code == 0
    assert "healthz" in seen, "/healthz never answered 200"
    assert '"status": "ok"' in seen["healthz"]
    assert (
        'watcher_watch_state{state="proposed",watch="headscale-peer-relay"} 1.0'
        in (seen["metrics"])
    )
    assert 'watcher_cycles_total{outcome="ok"} 1.0' in seen["metrics"]
    with Store.open(db_url) as store:
        assert store.lease_holder(ACTOR_LEASE) is None  # given up on the way out
    assert standin.github.repo("kapernikov/headscale-helm").pulls, "no pull request opened"
