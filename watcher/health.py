"""The daemon's small HTTP side: ``/healthz`` for probes and ``/metrics`` for Prometheus.

stdlib :class:`~http.server.ThreadingHTTPServer` in a daemon thread: two read-only
endpoints do not justify a web framework, and a thread per request means a slow
scraper never blocks a probe. The server never runs a cycle and never touches the
database; it only reads :class:`HealthState` (which the daemon updates after every
cycle) and renders :class:`~watcher.metrics.Metrics`.

``/healthz`` answers 200 while the last successful cycle is at most ``stale_intervals``
intervals old, 503 with the reason otherwise (including before the first cycle has
finished, which a container's HEALTHCHECK start period covers). A deliberate pause of
the rate-limit governor moves that deadline, so waiting for GitHub's quota to reset is
not reported as a hang.
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

from watcher.errors import ConfigError
from watcher.metrics import CONTENT_TYPE, Metrics

log = structlog.stdlib.get_logger(__name__)

STALE_INTERVALS = 3.0


class HealthState:
    """What ``/healthz`` reports; updated by the daemon, read by request threads."""

    def __init__(
        self,
        interval_seconds: float,
        *,
        clock: Callable[[], float] = time.time,
        stale_intervals: float = STALE_INTERVALS,
    ) -> None:
        self.limit = interval_seconds * stale_intervals
        self._clock = clock
        self._lock = threading.Lock()
        self._last_success: float | None = None
        self._last_finished: float | None = None
        self._last_error: str | None = None
        self._paused_until: float | None = None

    def cycle_finished(self, *, ok: bool, error: str | None = None) -> None:
        """Record a finished cycle; ``ok`` when it had no error at all."""
        now = self._clock()
        with self._lock:
            self._last_finished = now
            if ok:
                self._last_success, self._last_error = now, None
            else:
                self._last_error = error or "the cycle failed"

    def pause_until(self, until: float | None) -> None:
        """Note that the next cycle is deliberately held back until ``until`` (Unix time)."""
        with self._lock:
            self._paused_until = until

    def check(self) -> tuple[int, dict[str, Any]]:
        """``(HTTP status, JSON body)`` of ``/healthz`` at this moment."""
        now = self._clock()
        with self._lock:
            success, finished = self._last_success, self._last_finished
            error, paused = self._last_error, self._paused_until
        body: dict[str, Any] = {}
        if error:
            body["last_error"] = error
        if paused is not None and paused > now:
            body["paused_until"] = _iso(paused)
        if success is None:
            reason = (
                "no cycle has finished yet"
                if finished is None
                else "no cycle has succeeded since start-up"
            )
            return HTTPStatus.SERVICE_UNAVAILABLE, {
                "status": "unavailable",
                "reason": reason,
                **body,
            }
        age = now - success
        deadline = max(success, paused or success) + self.limit
        body |= {"last_success": _iso(success), "age_seconds": round(age, 1)}
        if now > deadline:
            reason = f"last successful cycle {age:.0f} s ago (limit {self.limit:.0f} s)"
            return HTTPStatus.SERVICE_UNAVAILABLE, {"status": "stale", "reason": reason, **body}
        return HTTPStatus.OK, {"status": "ok", **body}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


class _Server(ThreadingHTTPServer):
    # Request threads must not keep a stopping daemon alive.
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: HealthState, metrics: Metrics) -> None:
        self.state = state
        self.metrics = metrics
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server_version = "watcher"
    sys_version = ""

    def do_GET(self) -> None:
        """Serve /healthz, /metrics, or 404."""
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        """As GET, without the body (some probes use HEAD)."""
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        server = cast(_Server, self.server)
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            status, doc = server.state.check()
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
    """``/healthz`` and ``/metrics`` served from a background thread."""

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
                f"cannot serve /healthz on {self.bind}:{self.port} ({exc.strerror})",
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
        log.info("health server listening", url=f"http://{host}:{port}/healthz")

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
