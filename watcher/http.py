"""One httpx client for every read: conditional GETs, retries by policy, request counting.

Every GET that may be cached is *conditional*: the ETag / Last-Modified of each URL is
kept in a :class:`ValidatorCache` (the database) and sent back as If-None-Match /
If-Modified-Since, so an unchanged resource costs a 304 (free of GitHub quota when
authenticated). Retries follow the pure policy in :mod:`watcher.github.ratelimit`;
tenacity runs the loop (attempt bookkeeping, injectable sleep for tests).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import httpx
import tenacity

from watcher import PROJECT_URL, __version__
from watcher.errors import (
    AuthError,
    NetworkError,
    NotFoundError,
    PayloadError,
    RateLimitedError,
    SourceError,
)
from watcher.github.ratelimit import Action, Decision, below_floor, decide
from watcher.models import CachedResponse

USER_AGENT = f"watcher/{__version__} (+{PROJECT_URL})"


class ValidatorCache(Protocol):
    """Where ETag / Last-Modified and the last body of each URL are kept."""

    def get_cached(self, url: str) -> CachedResponse | None:
        """The stored response for ``url``, if any."""

    def put_cached(self, response: CachedResponse) -> None:
        """Store (replace) the response for its URL."""


class MemoryCache:
    """A ValidatorCache in a dict, for one-off use without a database."""

    def __init__(self) -> None:
        self._items: dict[str, CachedResponse] = {}

    def get_cached(self, url: str) -> CachedResponse | None:
        """The stored response for ``url``, if any."""
        return self._items.get(url)

    def put_cached(self, response: CachedResponse) -> None:
        """Store (replace) the response for its URL."""
        self._items[response.url] = response


@dataclass
class RequestStats:
    """What one run cost: requests sent, 304s, quota-counted requests, by status."""

    requests: int = 0
    not_modified: int = 0
    quota_used: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    quota_remaining: int | None = None
    quota_reset: float | None = None


@dataclass(frozen=True)
class Response:
    """A body to use, whether it came over the wire or from the cache after a 304."""

    url: str
    status: int
    body: bytes
    headers: Mapping[str, str]
    changed: bool


class _Retry(Exception):
    """Raised inside the tenacity loop to ask for another attempt."""

    def __init__(self, decision: Decision, error: SourceError) -> None:
        super().__init__(decision.reason)
        self.decision = decision
        self.error = error


@dataclass
class HttpSettings:
    """Knobs of the HTTP layer, from the [github] config section."""

    timeout_seconds: float = 20.0
    retries: int = 3
    max_wait_seconds: float = 30.0
    quota_floor: int = 0


class HttpClient:
    """The shared keep-alive client with conditional GETs and the retry policy."""

    def __init__(
        self,
        cache: ValidatorCache,
        settings: HttpSettings | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.cache = cache
        self.settings = settings or HttpSettings()
        self.stats = RequestStats()
        self._validated: set[str] = set()
        self._sleep = sleep
        self._clock = clock
        self._client = httpx.Client(
            http1=True,
            timeout=httpx.Timeout(self.settings.timeout_seconds),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=True,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        revalidate: bool = True,
        cache_key: str | None = None,
        not_found_ok: bool = False,
        quota: bool = False,
    ) -> Response:
        """A conditional GET; ``revalidate=False`` serves a cached copy without asking.

        ``revalidate=False`` is for resources that cannot change (content at a commit
        SHA) or that only change when another resource did. A client lives for one run,
        so a URL already validated in this run is not asked again either (the chart is
        read for the image signal and again for the bump plan). A 404 raises
        NotFoundError unless ``not_found_ok`` (then a Response with status 404 is returned).
        """
        key = cache_key or url
        cached = self.cache.get_cached(key)
        if cached is not None and (not revalidate or key in self._validated):
            return Response(url, cached.status, cached.body, {}, changed=False)
        send = dict(headers or {})
        if cached is not None:
            if cached.etag:
                send["If-None-Match"] = cached.etag
            if cached.last_modified:
                send["If-Modified-Since"] = cached.last_modified
        reply = self.request("GET", url, headers=send, not_found_ok=not_found_ok, quota=quota)
        if reply.status_code == 304 and cached is not None:
            self._validated.add(key)
            return Response(url, cached.status, cached.body, reply.headers, changed=False)
        body = reply.content
        if reply.status_code == 200:
            self._validated.add(key)
            self.cache.put_cached(
                CachedResponse(
                    url=key,
                    etag=reply.headers.get("etag"),
                    last_modified=reply.headers.get("last-modified"),
                    status=reply.status_code,
                    content_type=reply.headers.get("content-type"),
                    body=body,
                )
            )
        return Response(url, reply.status_code, body, reply.headers, changed=True)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        not_found_ok: bool = False,
        expect: tuple[int, ...] = (),
        quota: bool = False,
    ) -> httpx.Response:
        """Send one request under the retry policy; errors become WatcherErrors naming the URL.

        Statuses in ``expect`` (e.g. 401 for a registry challenge) are returned, not raised.
        ``quota`` marks requests that count against the GitHub quota and its reserve.
        """
        if quota:
            self._check_reserve()
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.retries + 1),
            retry=tenacity.retry_if_exception_type(_Retry),
            wait=self._wait_for,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    return self._attempt(
                        method, url, headers, params, number, not_found_ok, expect, quota
                    )
        except _Retry as exhausted:
            raise exhausted.error from exhausted
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _wait_for(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if not isinstance(error, _Retry):
            return 0.0
        wait = error.decision.wait_seconds
        if wait > self.settings.max_wait_seconds:
            # Waiting longer than this command may wait: report instead of hanging.
            raise error.error
        return wait

    @contextmanager
    def stream(
        self, url: str, headers: Mapping[str, str] | None = None, *, quota: bool = False
    ) -> Iterator[httpx.Response]:
        """Stream a GET body (tarballs); redirects are followed, nothing is retried."""
        if quota:
            self._check_reserve()
        try:
            with self._client.stream("GET", url, headers=dict(headers or {})) as reply:
                self._count(reply, quota)
                if reply.status_code >= 400:
                    reply.read()
                    raise self._error_for(reply, url)
                yield reply
        except httpx.TransportError as exc:
            raise _network_error(url, exc) from exc
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
        expect: tuple[int, ...],
        quota: bool,
    ) -> httpx.Response:
        try:
            reply = self._client.request(method, url, headers=dict(headers or {}), params=params)
        except httpx.TransportError as exc:
            decision = decide(None, {}, attempt, self._clock(), jitter=random.random())
            raise _Retry(decision, _network_error(url, exc)) from exc
        except (httpx.TooManyRedirects, httpx.DecodingError) as exc:
            raise _protocol_error(url, exc) from exc  # the same answer again: no retry
        self._count(reply, quota)
        if reply.status_code in expect or (reply.status_code == 404 and not_found_ok):
            return reply
        lowered = {k.lower(): v for k, v in reply.headers.items()}
        decision = decide(
            reply.status_code,
            lowered,
            attempt,
            self._clock(),
            body_hint=reply.text[:300] if reply.status_code in (403, 429) else "",
            jitter=random.random(),
        )
        if decision.action is Action.ACCEPT:
            return reply
        error = self._error_for(reply, url, decision)
        if decision.action is Action.RETRY:
            raise _Retry(decision, error)
        raise error

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

    def _count(self, reply: httpx.Response, quota: bool) -> None:
        stats = self.stats
        stats.requests += 1
        stats.by_status[str(reply.status_code)] += 1
        if reply.status_code == 304:
            stats.not_modified += 1
        if quota and not (reply.status_code == 304 and "authorization" in reply.request.headers):
            # GitHub's rule: every REST request counts, except a 304 to an authorised one
            # (https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api).
            stats.quota_used += 1
        remaining = reply.headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.isdigit():
            stats.quota_remaining = int(remaining)
            reset = reply.headers.get("x-ratelimit-reset", "")
            stats.quota_reset = float(reset) if reset.isdigit() else stats.quota_reset

    def _error_for(
        self, reply: httpx.Response, url: str, decision: Decision | None = None
    ) -> SourceError:
        status = reply.status_code
        message = _api_message(reply)
        if decision is not None and decision.rate_limited:
            reset = decision.reset_at
            return RateLimitedError(
                f"{url}: rate limited by the server ({message or status}); "
                f"try again after {_when(reset)}",
                reset_at=reset,
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


def _api_message(reply: httpx.Response) -> str:
    try:
        data = reply.json()
    except ValueError:
        return ""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])[:200]
    return ""


def _network_error(url: str, exc: httpx.TransportError) -> NetworkError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "could not connect"
    return NetworkError(f"{url}: {kind} ({type(exc).__name__}: {exc})")


def _protocol_error(url: str, exc: httpx.TooManyRedirects | httpx.DecodingError) -> PayloadError:
    """A server (or a proxy) that redirects in circles or sends an undecodable body."""
    if isinstance(exc, httpx.TooManyRedirects):
        return PayloadError(f"{url}: too many redirects (a redirect loop?)")
    detail = " ".join(str(exc).split())[:200]
    return PayloadError(f"{url}: the response body could not be decoded ({detail})")


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "an unknown time"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
