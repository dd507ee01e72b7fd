"""A local webhook receiver for Apprise's ``json://`` URLs (loopback, real HTTP).

Apprise's JSON plugin POSTs ``{"version", "title", "message", "type", "attachments"}``
to the URL's host and path. The receiver records every body it accepted, can refuse
the next N requests with a 500 (a service that fails, then recovers) and can answer
slowly (to widen the window in which two processes race).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """What the webhook got: accepted bodies, and how many requests it refused."""

    def __init__(self) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.refused = 0
        self.fail_next = 0
        self.delay = 0.0
        self.port = 0
        self._lock = threading.Lock()

    def url(self, userinfo: str = "", path: str = "/hook") -> str:
        """The Apprise URL of this receiver (``userinfo`` like ``user:password@``)."""
        return f"json://{userinfo}127.0.0.1:{self.port}{path}"

    def titles(self) -> list[str]:
        """The titles of the accepted messages, in arrival order."""
        with self._lock:
            return [str(body["title"]) for body in self.accepted]

    def _take(self, body: dict[str, Any]) -> int:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.refused += 1
                return 500
            self.accepted.append(body)
            return 200


@contextmanager
def webhook() -> Iterator[Receiver]:
    """A started receiver on 127.0.0.1 (a free port), stopped afterwards."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            time.sleep(receiver.delay)
            status = receiver._take(body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
