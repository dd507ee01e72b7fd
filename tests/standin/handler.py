"""The HTTP/1.1 layer: parse requests, write responses (sized or chunked), damage them.

It knows nothing of GitHub or registries: a :class:`Dispatcher` turns each
:class:`Request` into a :class:`Plan`, and this module carries the plan out on the
socket, including the faults that only exist on the wire (dropped connections,
bodies cut short).
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from tests.standin.wire import Request, Response

# Idle keep-alive connections are closed after this, so threads do not pile up.
IDLE_TIMEOUT = 30.0


@dataclass
class Plan:
    """How to answer: ``response`` None drops the connection; ``truncate_after`` cuts it;
    ``drip`` sends one byte every that many seconds."""

    response: Response | None
    truncate_after: int | None = None
    drip: float = 0.0


class _DripWriter(io.BufferedIOBase):
    """A file-like writer that sends one byte per ``interval`` until ``stopping`` is set."""

    def __init__(self, raw: io.BufferedIOBase, interval: float, stopping: threading.Event) -> None:
        super().__init__()
        self._raw, self._interval, self._stopping = raw, interval, stopping

    def write(self, data: Any, /) -> int:
        for index in range(len(data)):
            if self._stopping.wait(self._interval):
                raise ConnectionResetError("the stand-in is stopping")
            self._raw.write(data[index : index + 1])
            self._raw.flush()
        return len(data)

    def flush(self) -> None:
        self._raw.flush()


class Dispatcher(Protocol):
    """Anything that turns a request into a plan."""

    def dispatch(self, request: Request) -> Plan:
        """Decide the answer to ``request``."""
        ...

    def github_now(self) -> float:
        """The server's clock (epoch seconds), for the ``Date`` header."""
        ...


class StandInHTTPServer(ThreadingHTTPServer):
    """A threading server on 127.0.0.1 (free port) that can close its open connections."""

    daemon_threads = True

    def __init__(self, dispatcher: Dispatcher, port: int = 0) -> None:
        """Bind 127.0.0.1 on ``port`` (0: a free one) and serve through ``dispatcher``."""
        # allow_reuse_address (set by HTTPServer) lets a restart rebind the same port.
        super().__init__(("127.0.0.1", port), _Handler)
        self.dispatcher = dispatcher
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        # Set when connections are closed: wakes handlers that drip an answer.
        self.stopping = threading.Event()

    def get_request(self) -> tuple[Any, Any]:
        """Accept a connection and remember it until it is shut down."""
        conn, addr = super().get_request()
        with self._open_lock:
            self._open.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        """Forget and close a finished connection."""
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (e.g. on a body over its cap) is no error of the stand-in."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut down every open keep-alive connection, waking their idle threads."""
        self.stopping.set()
        with self._open_lock:
            conns = list(self._open)
        for conn in conns:
            # A connection the peer already closed raises; it needs nothing more.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    server: StandInHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        # The request log replaces stderr logging; pytest output stays readable.
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header, from the stand-in's clock (which may be skewed)."""
        when = self.server.dispatcher.github_now() if timestamp is None else timestamp
        return super().date_time_string(when)

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _request(self) -> Request:
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Request(self.command, split.path, query, headers, body, split.query)

    def _serve(self) -> None:
        plan = self.server.dispatcher.dispatch(self._request())
        if plan.response is None:
            self.close_connection = True
            return
        wire = self.wfile
        if plan.drip:
            self.wfile = _DripWriter(wire, plan.drip, self.server.stopping)
        try:
            self._write(plan.response, plan.truncate_after)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its timeout fired during an injected delay).
            self.close_connection = True
        finally:
            self.wfile = wire
            plan.response.close_stream()

    def _write(self, response: Response, budget: int | None) -> None:
        has_body = response.status >= 200 and response.status not in (204, 304)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if has_body and response.stream is not None:
            self.send_header("transfer-encoding", "chunked")
        elif has_body:
            self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if self.command == "HEAD" or not has_body:
            return
        if response.stream is None:
            self._send_sized(response.body, budget)
        else:
            self._send_chunked(response, budget)

    def _send_sized(self, body: bytes, budget: int | None) -> None:
        if budget is not None and budget < len(body):
            self.wfile.write(body[:budget])
            self.close_connection = True
            return
        self.wfile.write(body)

    def _send_chunked(self, response: Response, budget: int | None) -> None:
        assert response.stream is not None
        sent = 0
        for chunk in response.stream:
            if not chunk:
                continue
            if budget is not None and sent + len(chunk) > budget:
                # Announce the whole chunk, send part of it, hang up: a truncated stream.
                self.wfile.write(b"%x\r\n" % len(chunk) + chunk[: budget - sent])
                self.close_connection = True
                return
            self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
        self.wfile.write(b"0\r\n\r\n")
