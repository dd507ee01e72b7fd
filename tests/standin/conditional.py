"""Validators for conditional GETs: strong ETags, Last-Modified and the 304 decision.

Last-Modified is the time the current ETag was first served for that URL (and
request variant), so it moves exactly when the body changes, like GitHub's.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from email.utils import formatdate, parsedate_to_datetime

from tests.standin.wire import Request, Response

# GitHub varies its JSON on these request headers; so does the cache key.
VARY = "Accept, Authorization"


def etag_for(body: bytes) -> str:
    """A strong ETag: a quoted hash of the body."""
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


class ConditionalCache:
    """Remembers, per URL variant, the current ETag and when it first appeared."""

    def __init__(self, now: Callable[[], float]) -> None:
        """Use ``now`` (epoch seconds) to date new ETags."""
        self._now = now
        self._seen: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def stamp(self, request: Request, body: bytes) -> tuple[str, float]:
        """The ETag of ``body`` and the Last-Modified time (epoch) for this request's URL."""
        key = "\0".join(
            (
                request.path,
                request.raw_query,
                request.header("accept") or "",
                request.header("authorization") or "",
            )
        )
        etag = etag_for(body)
        with self._lock:
            known = self._seen.get(key)
            if known is None or known[0] != etag:
                known = (etag, float(int(self._now())))
                self._seen[key] = known
        return known

    def apply(self, request: Request, response: Response) -> Response:
        """Add validators to a 200 GET/HEAD response; turn it into a 304 when they match."""
        if request.method not in ("GET", "HEAD") or response.status != 200:
            return response
        if response.stream is not None:
            return response
        etag, modified = self.stamp(request, response.body)
        response.headers.update(
            {"etag": etag, "last-modified": formatdate(modified, usegmt=True), "vary": VARY}
        )
        if not_modified(request, etag, modified):
            headers = {k: v for k, v in response.headers.items() if k != "content-type"}
            return Response(304, headers)
        return response


def not_modified(request: Request, etag: str, modified: float) -> bool:
    """RFC 9110 evaluation: If-None-Match wins; If-Modified-Since only without it."""
    if_none_match = request.header("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request.header("if-modified-since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since).timestamp()
    except (TypeError, ValueError):
        # An unparsable date is ignored, as the RFC says.
        return False
    return modified <= since
