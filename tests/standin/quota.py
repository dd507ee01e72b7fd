"""GitHub REST rate-limit accounting: one bucket per token, one for anonymous clients."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 3600
ANONYMOUS_LIMIT = 60
TOKEN_LIMIT = 5000


@dataclass
class Bucket:
    """Quota of one identity in the current window."""

    limit: int
    used: int
    reset: int

    @property
    def remaining(self) -> int:
        """Requests left in this window."""
        return max(self.limit - self.used, 0)


class Quota:
    """All buckets; a bucket's window starts at its first request and lasts an hour."""

    def __init__(self, now: Callable[[], float]) -> None:
        """Use ``now`` (epoch seconds) for windows, so tests can move time."""
        self._now = now
        self._buckets: dict[str | None, Bucket] = {}
        self._lock = threading.Lock()

    def _bucket(self, identity: str | None, limit: int) -> Bucket:
        now = int(self._now())
        bucket = self._buckets.get(identity)
        if bucket is None or now >= bucket.reset:
            bucket = Bucket(limit=limit, used=0, reset=now + WINDOW_SECONDS)
            self._buckets[identity] = bucket
        return bucket

    def peek(self, identity: str | None, limit: int) -> Bucket:
        """A copy of the identity's bucket (None is the anonymous client)."""
        with self._lock:
            b = self._bucket(identity, limit)
            return Bucket(b.limit, b.used, b.reset)

    def spend(self, identity: str | None, limit: int) -> Bucket | None:
        """Count one request; None when the bucket was already empty (nothing counted)."""
        with self._lock:
            b = self._bucket(identity, limit)
            if b.remaining == 0:
                return None
            b.used += 1
            return Bucket(b.limit, b.used, b.reset)

    def set_remaining(self, identity: str | None, limit: int, remaining: int) -> None:
        """Force the remaining count (e.g. 0 to test exhaustion)."""
        with self._lock:
            b = self._bucket(identity, limit)
            b.used = max(b.limit - remaining, 0)

    def reset(self) -> None:
        """Start every bucket afresh."""
        with self._lock:
            self._buckets.clear()


def rate_headers(bucket: Bucket, resource: str = "core") -> dict[str, str]:
    """GitHub's x-ratelimit-* headers for a bucket."""
    return {
        "x-ratelimit-limit": str(bucket.limit),
        "x-ratelimit-remaining": str(bucket.remaining),
        "x-ratelimit-reset": str(bucket.reset),
        "x-ratelimit-used": str(bucket.used),
        "x-ratelimit-resource": resource,
    }
