"""One httpx client for every read: conditional GETs, retries by policy, request counting.

Every GET that may be cached is *conditional*: the ETag / Last-Modified of each URL is
kept in a :class:`ValidatorCache` (the database) and sent back as If-None-Match /
If-Modified-Since, so an unchanged resource costs a 304 (free of GitHub quota when
authenticated). Retries follow the pure policy in :mod:`watcher.net.ratelimit`, run by
the loop in :mod:`watcher.net.retry` that the GitHub writer shares (docs/architecture.md,
«Talking to GitHub»); the sleep between attempts is cut short by a shutdown.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from watcher import PROJECT_URL, __version__
from watcher.config.model import BodyCaps, BodyKind
from watcher.core.errors import (
    AuthError,
    NetworkError,
    NotFoundError,
    PayloadError,
    RateLimitedError,
    SourceError,
)
from watcher.core.models import CachedResponse
from watcher.net import deadline
from watcher.net.ratelimit import (
    Action,
    Decision,
    RequestPace,
    below_floor,
    parse_count,
    parse_reset,
)
from watcher.net.retry import Retry, judge, run

USER_AGENT = f"watcher/{__version__} (+{PROJECT_URL})"
#: ``RequestStats.by_status`` key (and metric label) of a registry's expected 401 challenge.
CHALLENGE = "challenge"
#: An archive download may take this many times ``timeout_seconds`` in all.
ARCHIVE_DEADLINE_FACTOR = 30


class ValidatorCache(Protocol):
    """Where ETag / Last-Modified and the last body of each URL are kept."""

    def get_cached(self, url: str) -> CachedResponse | None:
        """The stored response for ``url``, if any."""

    def put_cached(self, response: CachedResponse) -> None:
        """Store (replace) the response for its URL."""

    def put_many(self, responses: Sequence[CachedResponse]) -> None:
        """Store (replace) several responses at once: all of them or, on failure, none."""

    def touch_cached(self, url: str) -> None:
        """Stamp the stored response for ``url`` as confirmed by the server now (a 304)."""


@dataclass
class RequestStats:
    """What one run cost: requests sent, 304s, quota-counted requests, by status."""

    requests: int = 0
    not_modified: int = 0
    quota_used: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    #: ``github_read`` (quota-counted GitHub API reads) or ``registry`` (everything else).
    by_kind: Counter[str] = field(default_factory=Counter)
    quota_remaining: int | None = None
    quota_reset: float | None = None
    #: GitHub's clock minus ours (seconds), from the ``Date`` header of its last answer.
    clock_offset: float | None = None


@dataclass(frozen=True)
class Response:
    """A body to use, whether it came over the wire or from the cache after a 304."""

    url: str
    status: int
    body: bytes
    headers: Mapping[str, str]
    changed: bool
    #: What a ``deferred`` GET would have stored (a 200 answer), for :meth:`HttpClient.commit`.
    record: CachedResponse | None = None


@dataclass
class HttpSettings:
    """Knobs of the HTTP layer, from the [github] config section."""

    timeout_seconds: float = 20.0
    retries: int = 3
    max_wait_seconds: float = 30.0
    quota_floor: int = 0
    body_caps: BodyCaps = field(default_factory=BodyCaps)
    #: GitHub requests a minute, at most, after a first burst of PACE_BURST (0: unpaced);
    #: the client's own :class:`RequestPace` unless it is handed one to share.
    requests_per_minute: float = 0.0


class HttpClient:
    """The shared keep-alive client with conditional GETs and the retry policy."""

    def __init__(
        self,
        cache: ValidatorCache,
        settings: HttpSettings | None = None,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
        pace: RequestPace | None = None,
    ) -> None:
        self.cache = cache
        self.settings = settings or HttpSettings()
        self.stats = RequestStats()
        # Keys asked this run -> whether their answer changed since the last run: a client
        # lives for one run, so every later reader of a key gets the first one's answer.
        self._asked: dict[str, bool] = {}
        self._flights = _Flights()
        self._stats_lock = threading.Lock()
        self._mine = threading.local()  # this thread's requests and 304s (one watch's cost)
        # Host -> until when (clock time) no request to it may start: a rate limit one
        # worker met slows every worker, not only that one (docs/architecture.md,
        # «Talking to GitHub»).
        self._gates: dict[str, float] = {}
        # GitHub's points a minute (secondary limit), shared by workers (and by the
        # daemon's cycles, when it hands its own in).
        self.pace = pace or RequestPace(self.settings.requests_per_minute)
        # Set by deadline.interrupt_all(): running reads end within deadline.POLL_SECONDS.
        self._interrupt = threading.Event()
        self._sleep = sleep or self._interruptible_sleep
        self._clock = clock
        self._client = httpx.Client(
            http1=True,
            timeout=httpx.Timeout(self.settings.timeout_seconds),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
            transport=transport or deadline.transport(),
        )
        deadline.register(self)

    def close(self) -> None:
        """Close the connection pool."""
        deadline.unregister(self)
        self._client.close()

    def interrupt(self) -> None:
        """End running and future requests of this client at once (shutdown)."""
        self._interrupt.set()

    def _interruptible_sleep(self, seconds: float) -> None:
        if self._interrupt.wait(seconds):
            raise deadline.interrupted("waiting to retry a request")

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        revalidate: bool = True,
        cache_key: str | None = None,
        not_found_ok: bool = False,
        quota: bool = False,
        deferred: bool = False,
        body: BodyKind = "api_json",
        fresh_for: float | None = None,
    ) -> Response:
        """A conditional GET; ``revalidate=False`` serves a cached copy without asking.

        ``revalidate=False`` is for resources that cannot change (content at a commit
        SHA) or that only change when another resource did. A client lives for one run,
        so a URL already validated in this run is not asked again either (the chart is
        read for the image signal and again for the bump plan, and every watch of one
        upstream reads its releases): later readers get the first one's ``changed``, and
        concurrent readers of one key wait for the first one's answer. A 404 raises
        NotFoundError unless ``not_found_ok``: then it is an answer, a Response with
        status 404, stored like a 200, so a file missing at a commit SHA is asked once.

        ``deferred`` stores nothing: a new answer comes back as ``Response.record`` and
        the caller stores it with :meth:`commit`, together with the other parts of a
        snapshot (the pages of a list), once every part was read.

        ``fresh_for`` (seconds) serves, without asking, a stored answer the server gave
        or confirmed less than that long ago (``CachedResponse.stored_at``, on this
        client's clock), with ``changed=False``. Such an answer does not count as asked
        this run: a later reader without ``fresh_for`` still asks. Every 304 to a
        non-deferred GET stamps its entry as confirmed now.
        """
        key = cache_key or url
        with self._flights.hold(key):
            cached = self.cache.get_cached(key)
            unasked = self._asked.get(key) is None
            if cached is not None and unasked and _fresh(cached, fresh_for, self._clock()):
                return self._served(url, cached, not_found_ok, changed=False)
            return self._get(
                url, key, cached, headers, revalidate, not_found_ok, quota, deferred, body
            )

    @staticmethod
    def _served(url: str, cached: CachedResponse, not_found_ok: bool, changed: bool) -> Response:
        """The stored answer, without asking; a stored 404 raises unless ``not_found_ok``."""
        if cached.status == 404 and not not_found_ok:
            raise NotFoundError(f"{url}: 404 Not Found")
        return Response(url, cached.status, cached.body, {}, changed=changed)

    def _get(
        self,
        url: str,
        key: str,
        cached: CachedResponse | None,
        headers: Mapping[str, str] | None,
        revalidate: bool,
        not_found_ok: bool,
        quota: bool,
        deferred: bool,
        body_kind: BodyKind,
    ) -> Response:
        asked = self._asked.get(key)
        if cached is not None and (not revalidate or asked is not None):
            return self._served(url, cached, not_found_ok, changed=bool(asked))
        send = dict(headers or {})
        if cached is not None:
            if cached.etag:
                send["If-None-Match"] = cached.etag
            if cached.last_modified:
                send["If-Modified-Since"] = cached.last_modified
        reply = self.request(
            "GET", url, headers=send, not_found_ok=not_found_ok, quota=quota, body=body_kind
        )
        if reply.status_code == 304 and cached is not None:
            if not deferred:
                # Confirmed now: served while fresh (``fresh_for``), kept by the pruning.
                # A deferred read (a list's page) stores nothing itself, a 304 included.
                self.cache.touch_cached(key)
                self._asked[key] = False
            return Response(url, cached.status, cached.body, reply.headers, changed=False)
        body = reply.content
        record = None
        if reply.status_code in (200, 404):
            record = CachedResponse(
                url=key,
                etag=reply.headers.get("etag"),
                last_modified=reply.headers.get("last-modified"),
                status=reply.status_code,
                content_type=reply.headers.get("content-type"),
                body=body,
            )
            if not deferred:
                self.commit([record], [key])
        return Response(url, reply.status_code, body, reply.headers, changed=True, record=record)

    def commit(self, records: Sequence[CachedResponse], validated: Iterable[str] = ()) -> None:
        """Store ``records`` in one transaction; they count as asked (and changed) this run,
        ``validated`` keys as asked (unchanged, unless a record or an earlier read changed them)."""
        if records:
            self.cache.put_many(records)
        for key in validated:
            self._asked.setdefault(key, False)
        self._asked.update((record.url, True) for record in records)

    def asked(self, key: str) -> bool | None:
        """Whether ``key`` changed when asked this run; None when not asked yet."""
        return self._asked.get(key)

    def remember(self, key: str, changed: bool) -> None:
        """Count ``key`` (e.g. a whole list) as asked this run, and whether it changed."""
        self._asked[key] = changed

    def flight(self, key: str) -> AbstractContextManager[None]:
        """Hold ``key``: other threads asking for it wait until this one has its answer."""
        return self._flights.hold(key)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        not_found_ok: bool = False,
        challenge: bool = False,
        quota: bool = False,
        body: BodyKind = "api_json",
    ) -> httpx.Response:
        """Send one request under the retry policy; errors become WatcherErrors naming the URL.

        With ``challenge`` a 401 is returned, not raised, and counted as an expected
        token challenge (status ``challenge``), not as a failure.
        ``quota`` marks requests that count against the GitHub quota and its reserve.
        The body is read while it streams in, up to the cap for its ``body`` kind
        (``[github.body_caps]``); a larger one is a PayloadError, never read to its end.
        """
        if quota:
            self._check_reserve()
        return run(
            lambda number: self._attempt(
                method, url, headers, params, number, not_found_ok, challenge, quota, body
            ),
            retries=self.settings.retries,
            max_wait=self.settings.max_wait_seconds,
            sleep=self._sleep,
        )

    @contextmanager
    def stream(
        self, url: str, headers: Mapping[str, str] | None = None, *, quota: bool = False
    ) -> Iterator[httpx.Response]:
        """Stream a GET body (tarballs); redirects are followed, nothing is retried.

        The whole download, body included, must end within ``timeout_seconds`` times
        :data:`ARCHIVE_DEADLINE_FACTOR`: archives are far larger than API answers.
        """
        if quota:
            self._check_reserve()
        self._wait_at_gate(url)
        if quota:
            self._pace()
        seconds = self.settings.timeout_seconds * ARCHIVE_DEADLINE_FACTOR
        with deadline.deadline(seconds, self._interrupt) as limit:
            try:
                with self._client.stream("GET", url, headers=dict(headers or {})) as reply:
                    self._count(reply, quota)
                    if reply.status_code >= 400:
                        # An error page is an API answer: held to that cap, not the archive's.
                        failed = _read_capped(reply, self.settings.body_caps, "api_json", url)
                        raise self._error_for(failed, url, quota=quota)
                    yield reply
            except httpx.TransportError as exc:
                raise _network_error(url, exc, limit) from exc
            except (httpx.TooManyRedirects, httpx.DecodingError) as exc:
                raise _protocol_error(url, exc) from exc

    def _attempt(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None,
        attempt: int,
        not_found_ok: bool,
        challenge: bool,
        quota: bool,
        body: BodyKind,
    ) -> httpx.Response:
        if self._interrupt.is_set():
            raise deadline.interrupted(url)
        if attempt == 1:  # a retry waits what its own decision says
            self._wait_at_gate(url)
        if quota:
            self._pace()
        request = self._client.build_request(
            method, url, headers=dict(headers or {}), params=params
        )
        with deadline.deadline(self.settings.timeout_seconds, self._interrupt) as limit:
            try:
                sent = self._client.send(request, stream=True)
                reply = _read_capped(sent, self.settings.body_caps, body, url)
            except httpx.TransportError as exc:
                failure = _network_error(url, exc, limit)
                if limit.ended is not None or _unresolvable(exc) is not None:
                    # Interrupted, a server too slow for the deadline (asking again would
                    # hold the cycle as long again), or a name DNS does not know: final.
                    raise failure from exc
                raise Retry(judge(None, {}, attempt, self._clock()), failure) from exc
            except (httpx.TooManyRedirects, httpx.DecodingError) as exc:
                raise _protocol_error(url, exc) from exc  # the same answer again: no retry
        challenged = challenge and reply.status_code == 401
        self._count(reply, quota, challenge=challenged)
        if challenged or (reply.status_code == 404 and not_found_ok):
            return reply
        lowered = {k.lower(): v for k, v in reply.headers.items()}
        decision = judge(
            reply.status_code,
            lowered,
            attempt,
            self._clock(),
            body_hint=reply.text[:300] if reply.status_code in (403, 429) else "",
        )
        if decision.action is Action.ACCEPT:
            return reply
        if decision.rate_limited:
            self._close_gate(url, decision.reset_at or self._clock() + decision.wait_seconds)
        error = self._error_for(reply, url, decision, quota=quota)
        if decision.action is Action.RETRY:
            raise Retry(decision, error)
        raise error

    def _close_gate(self, url: str, until: float) -> None:
        host = httpx.URL(url).host
        with self._stats_lock:
            self._gates[host] = max(self._gates.get(host, 0.0), until)

    def _wait_at_gate(self, url: str) -> None:
        """Wait while a rate limit met by any request of this client to the host lasts."""
        until = self._gates.get(httpx.URL(url).host, 0.0)
        wait = until - self._clock()
        if wait <= 0:
            return
        if wait > self.settings.max_wait_seconds:
            raise RateLimitedError(
                f"{url}: not sent: another request was rate limited; "
                f"try again after {_when(until)}",
                reset_at=until,
            )
        self._sleep(wait)

    def _pace(self) -> None:
        """Wait for this request's place within the pace of GitHub's points a minute."""
        wait = self.pace.delay()
        if wait and self._interrupt.wait(wait):
            raise deadline.interrupted("waiting for the request pace")

    def thread_counts(self) -> tuple[int, int]:
        """Requests and 304s this thread has sent through this client (one watch's cost)."""
        return getattr(self._mine, "requests", 0), getattr(self._mine, "not_modified", 0)

    def _check_reserve(self) -> None:
        stats, floor = self.stats, self.settings.quota_floor
        if stats.quota_remaining is None:
            return
        reset = stats.quota_reset or 0.0
        if below_floor(stats.quota_remaining, floor) and reset > self._clock():
            raise RateLimitedError(
                f"GitHub quota reserve reached ({stats.quota_remaining} left, floor {floor}); "
                f"resets at {_when(reset)}",
                reset_at=reset,
            )

    def _count(self, reply: httpx.Response, quota: bool, *, challenge: bool = False) -> None:
        with self._stats_lock:  # workers of one run share the counters
            self._count_locked(reply, quota, challenge)

    def _count_locked(self, reply: httpx.Response, quota: bool, challenge: bool) -> None:
        stats, mine = self.stats, self._mine
        mine.requests = getattr(mine, "requests", 0) + 1
        mine.not_modified = getattr(mine, "not_modified", 0) + (reply.status_code == 304)
        stats.requests += 1
        # A registry's token challenge is the expected first step, not a failed request.
        stats.by_status[CHALLENGE if challenge else str(reply.status_code)] += 1
        stats.by_kind["github_read" if quota else "registry"] += 1
        if reply.status_code == 304:
            stats.not_modified += 1
        if quota and not (reply.status_code == 304 and "authorization" in reply.request.headers):
            # GitHub's rule: every REST request counts, except a 304 to an authorised one
            # (https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api).
            stats.quota_used += 1
        remaining = parse_count(reply.headers.get("x-ratelimit-remaining"))
        # Only GitHub's answers speak for the GitHub quota: a registry (or any other host)
        # may send x-ratelimit-* headers about its own limits.
        if quota and remaining is not None:
            stats.quota_remaining = remaining
            reset = parse_reset(reply.headers.get("x-ratelimit-reset"), self._clock())
            stats.quota_reset = reset if reset is not None else stats.quota_reset
        offset = _clock_offset(reply.headers.get("date"), self._clock())
        if quota and offset is not None:
            stats.clock_offset = offset

    def _error_for(
        self,
        reply: httpx.Response,
        url: str,
        decision: Decision | None = None,
        *,
        quota: bool = False,
    ) -> SourceError:
        status = reply.status_code
        message = _api_message(reply)
        if decision is not None and decision.rate_limited:
            reset = decision.reset_at
            return RateLimitedError(
                f"{url}: rate limited by the server ({message or status}); "
                f"try again after {_when(reset)}",
                reset_at=reset,
                hint=_rate_limit_hint(reply, quota),
            )
        if status == 401:
            return AuthError(f"{url}: 401 Unauthorized ({message or 'bad credentials'})")
        if status == 403:
            return AuthError(
                f"{url}: 403 Forbidden ({message or 'no permission'})",
                hint="the token lacks a permission for this resource, or needs SSO authorisation",
            )
        if status == 404:
            return NotFoundError(f"{url}: 404 Not Found")
        detail = f" ({message})" if message else ""
        return SourceError(
            f"{url}: HTTP {status}{detail} after {self.settings.retries + 1} attempt(s)",
            hint="the server is failing; it is retried on the next poll",
        )


class _Flights:
    """One lock per key, so concurrent readers of one URL send one request (single flight)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold ``key``'s lock (re-entrant: a list's walk reads its pages under it)."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.RLock())
        with lock:
            yield


def _fresh(cached: CachedResponse, fresh_for: float | None, now: float) -> bool:
    """Whether ``cached`` was given or confirmed by the server less than ``fresh_for`` ago."""
    if fresh_for is None or cached.stored_at is None:
        return False
    return now - cached.stored_at.timestamp() < fresh_for


def _read_capped(reply: httpx.Response, caps: BodyCaps, kind: BodyKind, url: str) -> httpx.Response:
    """``reply`` with its body read (decoded) while it streams in, at most the cap of its
    ``kind`` of body.

    A larger body is never read to its end nor kept: the connection is closed and a
    PayloadError names the URL and the cap (a 50 MB changelog, or a proxy's endless
    answer, must not take the process's memory or land in the database).
    """
    cap = caps.cap(kind)
    try:
        declared = reply.headers.get("content-length", "")
        # A HEAD's Content-Length tells the size of a body it does not send.
        head = reply.request.method == "HEAD"
        if not head and declared.isascii() and declared.isdigit() and int(declared) > cap:
            raise _too_large(url, cap, kind)
        body = bytearray()
        for chunk in reply.iter_bytes():
            body += chunk
            if len(body) > cap:
                raise _too_large(url, cap, kind)
    finally:
        reply.close()
    # The body is decoded already: the copy must not claim an encoding (or a length).
    # Raw bytes: values as sent (a latin-1 "²" would not encode back as ASCII).
    headers = [
        (name, value)
        for name, value in reply.headers.raw
        if name.lower() not in (b"content-encoding", b"content-length")
    ]
    return httpx.Response(
        reply.status_code, headers=headers, content=bytes(body), request=reply.request
    )


def _too_large(url: str, cap: int, kind: BodyKind) -> PayloadError:
    return PayloadError(
        f"{url}: the response body is larger than the cap of {cap:,} bytes; not read further",
        hint="a proxy or the server answered absurdly; if the answer is genuine, raise "
        f"[github.body_caps] {kind}_bytes",
    )


def decode_json(body: bytes, url: str) -> Any:
    """The JSON document in ``body``; PayloadError naming ``url`` when it is not JSON.

    A document nested deeper than the interpreter's recursion limit (``[[[[...``, a few
    hundred kilobytes suffice) is refused the same way, never a RecursionError.
    """
    try:
        return json.loads(body)
    except ValueError as exc:
        raise PayloadError(f"{url}: the response is not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise PayloadError(f"{url}: the response is JSON nested absurdly deep") from exc


def next_link(headers: Mapping[str, str], url: str) -> str | None:
    """The absolute ``rel="next"`` URL of a ``Link`` header (RFC 8288), if any.

    httpx parses the header; a relative target (as registries often send) is resolved
    against ``url``, an absolute one (allowed by the distribution spec, and what
    GitHub sends) is kept.
    """
    header = headers.get("link")
    if not header:
        return None
    target = httpx.Response(200, headers={"link": header}).links.get("next", {}).get("url")
    return str(httpx.URL(url).join(target)) if target else None


def _rate_limit_hint(reply: httpx.Response, quota: bool) -> str | None:
    """What helps against this limit: a token only helps GitHub reads made without one."""
    if not quota:
        return "wait until the reset time; this host limits requests on its own terms"
    if "authorization" in reply.request.headers:
        return (
            "wait until the reset time; the token's quota is spent (every tool using the "
            "same token shares it)"
        )
    return None  # RateLimitedError's default: set GITHUB_TOKEN for a larger quota


def _api_message(reply: httpx.Response) -> str:
    try:
        data = reply.json()
    except (ValueError, RecursionError):
        return ""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])[:200]
    return ""


def _network_error(url: str, exc: httpx.TransportError, limit: deadline.Deadline) -> NetworkError:
    if limit.ended is deadline.Ended.INTERRUPTED:
        return deadline.interrupted(url)
    if limit.ended is deadline.Ended.DEADLINE:
        return NetworkError(
            f"{url}: timed out: no complete answer within the total deadline of "
            f"{limit.seconds:g} s",
            hint="the server is stalled or trickling; it is asked again on the next poll "
            "(raise [github] timeout_seconds if it is only slow)",
        )
    host = _unresolvable(exc)
    if host is not None:
        return NetworkError(
            f"{url}: cannot resolve the host name {host!r} ({exc})",
            hint="the machine may be offline (no DNS), or the host name in the config "
            "(api_url, [registries]) is wrong",
        )
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not connect"
    return NetworkError(f"{url}: {kind} ({type(exc).__name__}: {exc})")


def _protocol_error(url: str, exc: httpx.TooManyRedirects | httpx.DecodingError) -> PayloadError:
    """A server (or a proxy) that redirects in circles or sends an undecodable body."""
    if isinstance(exc, httpx.TooManyRedirects):
        return PayloadError(f"{url}: too many redirects (a redirect loop?)")
    detail = " ".join(str(exc).split())[:200]
    return PayloadError(f"{url}: the response body could not be decoded ({detail})")


def _unresolvable(exc: BaseException) -> str | None:
    """The host name when ``exc`` was caused by a failed DNS lookup (socket.gaierror)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            request = exc.request if isinstance(exc, httpx.RequestError) else None
            return request.url.host if request is not None else "?"
        cause = cause.__cause__ or cause.__context__
    return None


def _clock_offset(date: str | None, now: float) -> float | None:
    """A ``Date`` header's time minus ``now`` (seconds); None when absent or absurd."""
    try:
        sent = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if sent is None or sent.tzinfo is None:
        return None
    offset = sent.timestamp() - now
    return offset if abs(offset) < 1e9 else None  # beyond 30 years: no clock, a bad header


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "an unknown time"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
