"""The daemon's small HTTP side: ``/livez`` and ``/readyz`` for probes, ``/metrics``.

stdlib :class:`~http.server.ThreadingHTTPServer` in a daemon thread: a few read-only
endpoints do not justify a web framework, and a thread per request means a slow
scraper never blocks a probe. The server never runs a cycle and never touches the
database; it only reads :class:`HealthState` (which the daemon updates when a cycle
starts and ends) and renders :class:`~watcher.service.metrics.Metrics`.

Liveness and readiness answer different questions, because a restart fixes only one
kind of trouble:

- ``/livez``: is the scheduler loop alive? 200 while a cycle started or finished (or
  the daemon started) within ``stale_intervals`` intervals (never less than
  :data:`LIVE_FLOOR`, so a long cold first cycle is not killed), 503 otherwise. A
  GitHub outage or a revoked token never fails it: restarting would fix nothing.
- ``/readyz``: did the last cycle succeed? 200 when it did and is recent, 503 with the
  reason (the cycle's error, or none finished yet) otherwise.
- ``/healthz``: an alias of ``/readyz``, kept for existing probes.

A deliberate pause of the rate-limit governor moves both deadlines, so waiting for
GitHub's quota to reset is not reported as a hang.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import structlog

from watcher.core.clock import skew_warning
from watcher.core.errors import ConfigError
from watcher.service.metrics import CONTENT_TYPE, Metrics

log = structlog.stdlib.get_logger(__name__)

STALE_INTERVALS = 3.0
# The shortest liveness limit: the first cycle scans release tarballs with a cold cache
# and may take minutes; a loop is only called stuck after this long without a cycle.
LIVE_FLOOR = 600.0

Probe = tuple[int, dict[str, Any]]


class HealthState:
    """What the probes report; updated by the daemon, read by request threads."""

    def __init__(
        self,
        interval_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
        stale_intervals: float = STALE_INTERVALS,
    ) -> None:
        self.limit = interval_seconds * stale_intervals
        self.live_limit = max(self.limit, LIVE_FLOOR)
        self._clock = clock
        self._lock = threading.Lock()
        self._born = clock()
        self._last_started: float | None = None
        self._running = False
        self._last_success: float | None = None
        self._last_finished: float | None = None
        self._last_error: str | None = None
        self._paused_until: float | None = None
        self._clock_warning: str | None = None

    def cycle_started(self) -> None:
        """Record that a cycle began (the loop's heartbeat for ``/livez``)."""
        with self._lock:
            self._last_started, self._running = self._clock(), True

    def cycle_finished(
        self, *, ok: bool, error: str | None = None, clock_offset: float | None = None
    ) -> None:
        """Record a finished cycle; ``ok`` when it had no error at all; ``clock_offset``
        (GitHub's clock minus ours) shows in ``/readyz`` as a warning over a minute."""
        now = self._clock()
        with self._lock:
            self._last_finished, self._running = now, False
            if clock_offset is not None:
                self._clock_warning = skew_warning(clock_offset)
            if ok:
                self._last_success, self._last_error = now, None
            else:
                self._last_error = error or "the cycle failed"

    def pause_until(self, until: float | None) -> None:
        """Note that the next cycle is deliberately held back until ``until`` (Unix time)."""
        with self._lock:
            self._paused_until = until

    def live(self) -> Probe:
        """``(HTTP status, JSON body)`` of ``/livez``: did the loop show life lately?"""
        now = self._clock()
        with self._lock:
            started, finished = self._last_started, self._last_finished
            running, paused = self._running, self._paused_until
            beat = max(t for t in (self._born, started, finished) if t is not None)
        body: dict[str, Any] = {"cycle_running": running}
        if started is not None:
            body["last_cycle_started"] = _iso(started)
        if finished is not None:
            body["last_cycle_finished"] = _iso(finished)
        if paused is not None and paused > now:
            body["paused_until"] = _iso(paused)
        if now > max(beat, paused or beat) + self.live_limit:
            what = "a cycle has been running" if running else "no cycle started or finished"
            age = now - (started if running and started is not None else beat)
            reason = f"{what} for {age:.0f} s (limit {self.live_limit:.0f} s)"
            return HTTPStatus.SERVICE_UNAVAILABLE, {"status": "stuck", "reason": reason, **body}
        return HTTPStatus.OK, {"status": "alive", **body}

    def ready(self) -> Probe:
        """``(HTTP status, JSON body)`` of ``/readyz``: did the last cycle succeed, lately?"""
        now = self._clock()
        with self._lock:
            success, finished = self._last_success, self._last_finished
            error, paused = self._last_error, self._paused_until
            warning = self._clock_warning
        # A skewed clock is a warning, not unreadiness: GitHub's clock is used for it.
        body: dict[str, Any] = {"warning": warning} if warning else {}
        if paused is not None and paused > now:
            body["paused_until"] = _iso(paused)
        if success is not None:
            body |= {"last_success": _iso(success), "age_seconds": round(now - success, 1)}
        if finished is None:
            reason = "no cycle has finished yet"
            return HTTPStatus.SERVICE_UNAVAILABLE, {"status": "unavailable", "reason": reason}
        if error is not None:
            return HTTPStatus.SERVICE_UNAVAILABLE, {
                "status": "error",
                "reason": f"the last cycle failed: {error}",
                "last_error": error,
                **body,
            }
        assert success is not None  # finished without an error means it succeeded
        if now > max(success, paused or success) + self.limit:
            age = now - success
            reason = f"last successful cycle {age:.0f} s ago (limit {self.limit:.0f} s)"
            return HTTPStatus.SERVICE_UNAVAILABLE, {"status": "stale", "reason": reason, **body}
        return HTTPStatus.OK, {"status": "ok", **body}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


#: Seconds the probe server waits for each read of a client's request.
REQUEST_TIMEOUT = 5.0


class _Server(ThreadingHTTPServer):
    # Request threads must not keep a stopping daemon alive.
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: HealthState, metrics: Metrics) -> None:
        self.state = state
        self.metrics = metrics
        super().__init__(address, _Handler)


PROBES: dict[str, Callable[[HealthState], Probe]] = {
    "/livez": HealthState.live,
    "/readyz": HealthState.ready,
    "/healthz": HealthState.ready,  # the name before /livez and /readyz existed
}


class _Handler(BaseHTTPRequestHandler):
    server_version = "watcher"
    sys_version = ""
    # Socket timeout per read: a client that connects and sends nothing (or trickles)
    # is dropped instead of holding a thread forever. Probes and scrapes are local and
    # small, so a few seconds is plenty.
    timeout = REQUEST_TIMEOUT

    def do_GET(self) -> None:
        """Serve /livez, /readyz (alias /healthz), /metrics, or 404."""
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        """As GET, without the body (some probes use HEAD)."""
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        server = cast(_Server, self.server)
        path = self.path.split("?", 1)[0]
        probe = PROBES.get(path)
        if probe is not None:
            status, doc = probe(server.state)
            body, content_type = json.dumps(doc).encode() + b"\n", "application/json"
        elif path == "/metrics":
            status, body, content_type = HTTPStatus.OK, server.metrics.exposition(), CONTENT_TYPE
        else:
            status, body, content_type = HTTPStatus.NOT_FOUND, b"not found\n", "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Route http.server's access log to structlog instead of bare stderr."""
        # Probes arrive every few seconds: per-request lines belong at debug level.
        log.debug("http request", client=self.client_address[0], line=format % args)


class HealthServer:
    """The probes and ``/metrics`` served from a background thread."""

    def __init__(
        self, state: HealthState, metrics: Metrics, bind: str = "127.0.0.1", port: int = 9464
    ) -> None:
        self.state, self.metrics, self.bind, self.port = state, metrics, bind, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` actually bound (port 0 asks the OS for a free one)."""
        if self._server is None:
            return self.bind, self.port
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Bind and serve in a daemon thread, or raise ConfigError when the port is taken."""
        try:
            self._server = _Server((self.bind, self.port), self.state, self.metrics)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve the probes and /metrics on {self.bind}:{self.port} ({exc.strerror})",
                hint="choose another [daemon] health_port / bind (or WATCHER_HEALTH_PORT)",
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="watcher-health",
            daemon=True,
        )
        self._thread.start()
        host, port = self.address
        log.info("health server listening", url=f"http://{host}:{port}/readyz")

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> HealthServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
