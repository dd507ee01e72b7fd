"""Fault injection: rules that replace or damage the answers to matching requests.

A rule matches by method, a regex searched in the request path (without the query)
and, optionally, a regex searched in one request header (e.g. ``Authorization`` to hit
only the PyGithub writer, which says ``token X`` where the reader says ``Bearer X``)
and exact query parameters (e.g. ``{"page": "2"}``).
Each match uses up one of its ``times`` (None: forever). Rules are checked in the order
they were added and can be added or cleared while the server runs.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class FaultRule:
    """One fault. Fields that are None/False/0 leave that part of the answer alone.

    - ``status``: answer with this status, ``headers`` and ``body`` instead of the real one
      (``body`` None gives a small JSON message);
    - ``status`` None with ``body`` set: the real status and headers with this body
      (e.g. invalid JSON with a 200);
    - ``headers`` alone: added to (or overriding) the real response headers;
    - ``delay``: seconds to wait before answering, to trigger client timeouts;
    - ``drop_connection``: close the connection without sending anything;
    - ``truncate_after``: send only this many body bytes, then close the connection;
    - ``applied``: the request takes effect for real first, then its answer is lost:
      replaced by ``status`` (e.g. a proxy's 502) or a dropped connection. This is what
      a timeout or a failing proxy does to a write on github.com.
    - ``header``: ``(name, regex)``: match only requests whose header ``name`` (absent:
      empty) contains ``regex``;
    - ``drip``: seconds between single bytes of the whole answer (status line, headers,
      body): a server that trickles, which per-read timeouts never cut off;
    - ``query``: only requests whose query has these exact parameter values;
    - ``chunked``: send the answer's body chunked, without a Content-Length (a streamed
      answer whose size shows only at its end);
    - ``applied_after``: the request takes effect this many seconds after it arrived, in
      the background, while its answer is ``status`` (a gateway's 504) or a dropped
      connection at once: GitHub applying a write after the client's deadline (issue 20).
    """

    path: str = ".*"
    method: str | None = None
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    times: int | None = 1
    delay: float = 0.0
    truncate_after: int | None = None
    drop_connection: bool = False
    applied: bool = False
    header: tuple[str, str] | None = None
    drip: float = 0.0
    query: Mapping[str, str] = field(default_factory=dict)
    chunked: bool = False
    applied_after: float = 0.0
    hits: int = 0

    def __post_init__(self) -> None:
        """Reject rules that cannot mean anything, so a typo does not pass silently."""
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status {self.status} is not an HTTP status")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for every request)")
        if self.truncate_after is not None and self.truncate_after < 0:
            raise ValueError("truncate_after must be >= 0")
        if self.applied and self.status is None and not self.drop_connection:
            raise ValueError("applied needs a status or drop_connection: how is the answer lost?")
        if self.applied_after < 0 or (self.applied_after and self.applied):
            raise ValueError("applied_after is a delay >= 0, and excludes applied")
        if self.applied_after and self.status is None and not self.drop_connection:
            raise ValueError("applied_after needs a status or drop_connection: the answer lost")
        if self.drip < 0:
            raise ValueError("drip must be >= 0 seconds")
        re.compile(self.path)
        if self.header is not None:
            re.compile(self.header[1])

    @property
    def exhausted(self) -> bool:
        """Whether the rule has been used as often as it may be."""
        return self.times is not None and self.hits >= self.times

    def matches(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether this (unused-up) rule applies to a request (header names lower-case)."""
        if self.exhausted or (self.method is not None and self.method != method):
            return False
        if self.header is not None:
            name, pattern = self.header
            if re.search(pattern, (headers or {}).get(name.lower(), "")) is None:
                return False
        asked = query or {}
        if any(asked.get(name) != value for name, value in self.query.items()):
            return False
        return re.search(self.path, path) is not None

    def canned_body(self) -> bytes:
        """The body sent with ``status``: the given one or a GitHub-like JSON message."""
        if self.body is not None:
            return self.body
        return json.dumps({"message": f"Injected fault {self.status}"}).encode()


class Faults:
    """The set of active fault rules, shared with the server threads."""

    def __init__(self) -> None:
        """Start with no faults."""
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(
        self,
        method: str | None = None,
        path: str = ".*",
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        truncate_after: int | None = None,
        drop_connection: bool = False,
        applied: bool = False,
        header: tuple[str, str] | None = None,
        drip: float = 0.0,
        query: Mapping[str, str] | None = None,
        chunked: bool = False,
        applied_after: float = 0.0,
    ) -> FaultRule:
        """Add a rule (see :class:`FaultRule`) and return it; its ``hits`` counts uses."""
        rule = FaultRule(
            path=path,
            method=method,
            status=status,
            headers=dict(headers or {}),
            body=body,
            times=times,
            delay=delay,
            truncate_after=truncate_after,
            drop_connection=drop_connection,
            applied=applied,
            header=header,
            drip=drip,
            query=dict(query or {}),
            chunked=chunked,
            applied_after=applied_after,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def take(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> FaultRule | None:
        """The first rule matching the request, with one use consumed, or None."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, headers, query):
                    rule.hits += 1
                    return rule
        return None

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def pending(self) -> list[FaultRule]:
        """Rules that still have uses left (to assert that a test used its faults)."""
        with self._lock:
            return [r for r in self._rules if not r.exhausted]
