"""A tiny HTTP forward proxy on 127.0.0.1 that records what it forwards (proxy tests).

It takes absolute-form requests (``GET http://host:port/path HTTP/1.1``), as clients send
them to an ``HTTP_PROXY``, sends each on to its origin and relays the answer whole.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Headers about one hop, never forwarded (RFC 9110 section 7.6.1), and the body framing
# this proxy sets itself.
HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


class ForwardProxy:
    """The proxy; ``seen`` holds (method, absolute URL, request headers) per request."""

    def __init__(self) -> None:
        """Bind a free loopback port."""
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """What HTTP_PROXY is set to."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def record(self, method: str, url: str, headers: dict[str, str]) -> None:
        """Remember one forwarded request."""
        with self._lock:
            self.seen.append((method, url, headers))

    def serve(self) -> None:
        """Serve in a thread until :meth:`stop`."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def forward_proxy() -> Iterator[ForwardProxy]:
    """A serving proxy, stopped on exit."""
    proxy = ForwardProxy()
    proxy.serve()
    try:
        yield proxy
    finally:
        proxy.stop()


def _handler(proxy: ForwardProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            target = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            proxy.record(self.command, self.path, headers)
            length = int(headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            path = target.path + (f"?{target.query}" if target.query else "")
            origin = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
            try:
                sent = {k: v for k, v in headers.items() if k not in HOP}
                origin.request(self.command, path, body=body, headers=sent)
                answer = origin.getresponse()
                data = answer.read()
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP:
                        self.send_header(name, value)
                if self.command != "HEAD" and answer.status not in (204, 304):
                    self.send_header("content-length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            finally:
                origin.close()

        do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    return Handler
