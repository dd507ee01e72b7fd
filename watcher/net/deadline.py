"""A total deadline per HTTP request (connect + headers + body), and interruption.

httpx's timeouts bound each network operation, not the request: a server that sends one
byte per second never trips a 20 s read timeout and can hold a cycle for hours
(https://github.com/encode/httpx/issues/1450). So every socket operation of our
client goes through :class:`DeadlineBackend`, which bounds it by the deadline of the
request running on the same thread (:func:`deadline`), and waits in short slices so that
an interruption (the daemon stopping) ends a stuck read within :data:`POLL_SECONDS`.

When the deadline passes or the request is interrupted, the operation raises the
httpcore exception httpx expects (a timeout, or a read error), and the
:class:`Deadline` records why, so the caller can say so in its error message.

Everything that sends requests (each :class:`~watcher.net.http.HttpClient`, the GitHub
writer) registers here, so that one :func:`interrupt_all` on shutdown ends them all.
"""

from __future__ import annotations

import enum
import functools
import ssl
import threading
import time
import urllib.request
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import httpcore
import httpx

from watcher.core.errors import NetworkError

#: How long one blocking read may wait before the deadline and interruption are checked.
POLL_SECONDS = 0.25

_current = threading.local()


class Interruptible(Protocol):
    """Something whose running and future requests a shutdown ends."""

    def interrupt(self) -> None:
        """End running and future requests at once."""


# Every registered requester not yet closed (weakly: a forgotten one is not kept alive).
_OPEN: weakref.WeakSet[Interruptible] = weakref.WeakSet()


def register(requester: Interruptible) -> None:
    """Have :func:`interrupt_all` interrupt ``requester`` until :func:`unregister`."""
    _OPEN.add(requester)


def unregister(requester: Interruptible) -> None:
    """Forget a closed requester."""
    _OPEN.discard(requester)


def interrupt_all() -> None:
    """Interrupt every registered requester: a stuck read ends within a fraction of a
    second, a stalled write is abandoned, and no new request starts (the daemon calls
    this on SIGTERM/SIGINT)."""
    for requester in list(_OPEN):
        requester.interrupt()


def interrupted(what: str) -> NetworkError:
    """The error of a request ended by :func:`interrupt_all`."""
    return NetworkError(
        f"{what}: interrupted, watcher is stopping", hint="it is done on the next start"
    )


class Ended(enum.StrEnum):
    """Why a request was cut short."""

    DEADLINE = "deadline"
    INTERRUPTED = "interrupted"


class Deadline:
    """The end of one request, and the event that interrupts it early."""

    def __init__(self, seconds: float, interrupt: threading.Event) -> None:
        """A deadline ``seconds`` from now; setting ``interrupt`` ends it at once."""
        self.seconds = seconds
        self.interrupt = interrupt
        self.ended: Ended | None = None
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; raises when the deadline passed or the request was interrupted."""
        if self.interrupt.is_set():
            self.ended = Ended.INTERRUPTED
            raise httpcore.ReadError("interrupted: watcher is stopping")
        left = self._end - time.monotonic()
        if left <= 0:
            self.ended = Ended.DEADLINE
            raise httpcore.ReadTimeout(f"total deadline of {self.seconds:g} s passed")
        return left

    def bound(self, timeout: float | None) -> float:
        """``timeout`` (None: unlimited) limited by the time left."""
        left = self.remaining()
        return left if timeout is None else min(timeout, left)


@contextmanager
def deadline(seconds: float, interrupt: threading.Event) -> Iterator[Deadline]:
    """Bound every socket operation of this thread's requests inside the block."""
    previous = getattr(_current, "deadline", None)
    _current.deadline = limit = Deadline(seconds, interrupt)
    try:
        yield limit
    finally:
        _current.deadline = previous


def _active() -> Deadline | None:
    found: Deadline | None = getattr(_current, "deadline", None)
    return found


def _bounded(timeout: float | None) -> float | None:
    """``timeout`` limited by the current request's deadline, if one is running."""
    limit = _active()
    return timeout if limit is None else limit.bound(timeout)


class _Stream(httpcore.NetworkStream):
    """A socket stream whose operations respect the thread's current deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        limit = _active()
        if limit is None:
            return self._inner.read(max_bytes, timeout)
        waited = 0.0
        while True:
            own = None if timeout is None else timeout - waited
            step = min(limit.bound(own), POLL_SECONDS)
            try:
                return self._inner.read(max_bytes, step)
            except httpcore.ReadTimeout:
                # Timing out a recv leaves the socket (and TLS state) intact: wait again.
                waited += step
                if timeout is not None and waited >= timeout:
                    raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's synchronous sockets, bounded by the current request's deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout)
        return _Stream(self._inner.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _bounded(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every client: each new one parses certifi's bundle."""
    # (about 50,000 mallocs and 1-2 MiB of OpenSSL memory, twice per HttpClient before)
    return httpx.create_ssl_context()


def transport() -> httpx.BaseTransport:
    """The transport of every read: sockets that honour :func:`deadline`, through the
    environment's proxies (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``).

    An explicit transport turns httpx's own proxy settings off, so they are read here,
    with the standard library's rules (as PyGithub's requests reads them for writes).
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` are honoured by the one TLS context.
    """
    proxies = urllib.request.getproxies_environment()
    routes = {
        scheme: _transport(proxies.get(scheme) or proxies["all"])
        for scheme in ("http", "https")
        if proxies.get(scheme) or proxies.get("all")
    }
    direct = _transport(None)
    return _Proxied(direct, routes) if routes else direct


def _transport(proxy: str | None) -> httpx.HTTPTransport:
    """An HTTP/1.1 transport (through ``proxy``, if any) whose sockets honour the deadline.

    httpx offers no parameter for httpcore's ``network_backend``, so the pool it built
    is replaced by an identical one that uses ours (httpx 0.28: ``HTTPTransport._pool``).
    """
    built = httpx.HTTPTransport(http1=True, verify=_ssl_context(), proxy=proxy)
    common: dict[str, Any] = {
        "ssl_context": _ssl_context(),
        "http1": True,
        "http2": False,
        "network_backend": DeadlineBackend(),
    }
    if proxy is None:
        built._pool = httpcore.ConnectionPool(**common)
        return built
    via = httpx.Proxy(proxy if "://" in proxy else f"http://{proxy}")
    built._pool = httpcore.HTTPProxy(
        proxy_url=httpcore.URL(
            scheme=via.url.raw_scheme,
            host=via.url.raw_host,
            port=via.url.port,
            target=via.url.raw_path,
        ),
        proxy_auth=via.raw_auth,
        proxy_headers=via.headers.raw,
        **common,
    )
    return built


class _Proxied(httpx.BaseTransport):
    """Each request through its scheme's proxy, unless ``NO_PROXY`` names its host."""

    def __init__(
        self, direct: httpx.BaseTransport, routes: Mapping[str, httpx.BaseTransport]
    ) -> None:
        self._direct, self._routes = direct, routes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the proxy for its scheme, or directly."""
        url = request.url
        route = self._routes.get(url.scheme)
        host = f"{url.host}:{url.port}" if url.port else url.host
        if route is None or urllib.request.proxy_bypass(host):
            return self._direct.handle_request(request)
        return route.handle_request(request)

    def close(self) -> None:
        """Close every transport."""
        for each in (self._direct, *self._routes.values()):
            each.close()
