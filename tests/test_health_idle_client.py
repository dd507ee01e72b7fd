"""A client that connects to the probe server and sends nothing is dropped (issue 10).

Without a socket timeout such a client held one of the server's threads forever; a
few of them (a port scanner, a stuck load-balancer check) pile up threads.
"""

from __future__ import annotations

import socket
import time

from watcher.service.health import REQUEST_TIMEOUT, HealthServer, HealthState
from watcher.service.metrics import Metrics


def test_silent_client_is_disconnected_after_the_request_timeout() -> None:
    state = HealthState(60.0)
    with HealthServer(state, Metrics(process=False), "127.0.0.1", 0) as server:
        with socket.create_connection(server.address) as silent:
            silent.settimeout(REQUEST_TIMEOUT * 6)
            began = time.monotonic()
            # recv returns b"" once the server closed the connection; without a
            # timeout on the server side it blocks until our own timeout raises.
            assert silent.recv(1) == b""
            assert time.monotonic() - began >= REQUEST_TIMEOUT * 0.9
        # The server still answers others afterwards.
        with socket.create_connection(server.address) as other:
            other.sendall(b"GET /livez HTTP/1.0\r\n\r\n")
            assert other.recv(12).startswith(b"HTTP/1.0 200")
