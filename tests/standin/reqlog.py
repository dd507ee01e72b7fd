"""The request log: one record per request, so tests and benchmarks can count what was sent."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass


def most_in_a_minute(times: list[float]) -> int:
    """The most of ``times`` (seconds) within any 60 s window: GitHub's points a minute."""
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 60:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass(frozen=True)
class RequestRecord:
    """What one request was and how it was answered.

    ``quota_counted`` tells whether it used GitHub REST quota, so a benchmark can count
    quota-used requests; ``fault`` tells whether an injected fault answered it; ``time``
    is when it arrived (epoch seconds, the stand-in's clock), e.g. to check that writes
    are paced.
    """

    method: str
    path: str
    query: Mapping[str, str]
    status: int
    authenticated: bool
    quota_counted: bool
    request_headers: Mapping[str, str]
    service: str = "other"
    fault: bool = False
    time: float = 0.0

    @property
    def is_write(self) -> bool:
        """Whether the request was content-creating (POST, PATCH, PUT or DELETE)."""
        return self.method in ("POST", "PATCH", "PUT", "DELETE")


class RequestLog:
    """Thread-safe, list-like log of :class:`RequestRecord` (server threads append)."""

    def __init__(self) -> None:
        """Start empty."""
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        """Add one record."""
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        """Forget every record (e.g. between the set-up and the measured part of a test)."""
        with self._lock:
            self._records.clear()

    def records(self) -> list[RequestRecord]:
        """A snapshot copy of the records, oldest first."""
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        """How many requests were recorded."""
        with self._lock:
            return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        """Iterate over a snapshot."""
        return iter(self.records())

    def __getitem__(self, index: int) -> RequestRecord:
        """Record ``index`` (negative counts from the newest)."""
        with self._lock:
            return self._records[index]

    def quota_used(self) -> int:
        """How many recorded requests counted against GitHub REST quota."""
        return sum(1 for r in self.records() if r.quota_counted)

    def where(
        self, method: str | None = None, path: str | None = None, service: str | None = None
    ) -> list[RequestRecord]:
        """Records whose method equals ``method`` and whose path matches regex ``path``."""
        return [
            r
            for r in self.records()
            if (method is None or r.method == method)
            and (path is None or re.search(path, r.path))
            and (service is None or r.service == service)
        ]
