"""Request and response values exchanged between the HTTP handler and the emulated services.

Keeping them plain dataclasses lets every service be a function from ``Request`` to
``Response`` that can be read (and tested) without sockets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request; header names are lower-case, the query keeps last values."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    raw_query: str = ""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        return self.headers.get(name.lower())

    @property
    def decoded_path(self) -> str:
        """The path with percent-escapes decoded, which is what routes match against."""
        return unquote(self.path)


@dataclass
class Response:
    """What to send back: a byte body, or a ``stream`` of chunks sent chunked.

    ``authenticated`` and ``quota_counted`` are not sent; they go into the request log.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Iterator[bytes] | None = None
    authenticated: bool = False
    quota_counted: bool = False

    def close_stream(self) -> None:
        """Release the stream's resources (e.g. a git subprocess) when it is not sent."""
        close = getattr(self.stream, "close", None)
        if callable(close):
            close()


def json_response(status: int, data: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response; compact separators like GitHub, so bodies stay small."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return Response(status, {"content-type": JSON_TYPE, **(headers or {})}, body)
