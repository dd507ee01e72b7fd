"""Read-only GitHub REST access: JSON, pagination by Link, raw contents, tarball streams.

Everything goes through :class:`watcher.http.HttpClient`, so every GET is conditional and
retried by the shared policy. The base URL is configurable: ``https://api.github.com``,
``https://HOST/api/v3`` for GitHub Enterprise Server, or the local stand-in in tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from watcher.errors import PayloadError
from watcher.http import HttpClient
from watcher.models import CachedResponse

API_VERSION = "2022-11-28"
JSON_MEDIA = "application/vnd.github+json"
RAW_MEDIA = "application/vnd.github.raw"


@dataclass(frozen=True)
class Fetched:
    """A decoded JSON document and whether it changed since the last run."""

    data: Any
    changed: bool


class GitHubReader:
    """GETs against one GitHub API root, authenticated when a token is given."""

    def __init__(self, http: HttpClient, api_url: str, token: str | None) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.authenticated = token is not None
        self._headers = {"Accept": JSON_MEDIA, "X-GitHub-Api-Version": API_VERSION}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        """The absolute URL of an API path such as ``/repos/o/r/releases``."""
        return f"{self.api_url}{path}"

    def get_json(self, path: str, *, revalidate: bool = True) -> Fetched:
        """GET one JSON document (conditionally); PayloadError if it is not JSON."""
        url = self.url(path) if path.startswith("/") else path
        reply = self.http.get(url, headers=self._headers, revalidate=revalidate, quota=True)
        return Fetched(_decode(reply.body, url), reply.changed)

    def get_text(self, path: str, *, revalidate: bool = True) -> str | None:
        """GET a file's raw bytes through the contents API; None when it does not exist."""
        url = self.url(path)
        headers = {**self._headers, "Accept": RAW_MEDIA}
        reply = self.http.get(
            url, headers=headers, revalidate=revalidate, not_found_ok=True, quota=True
        )
        if reply.status == 404:
            return None
        return reply.body.decode("utf-8", errors="replace")

    def get_paginated(self, path: str, *, per_page: int = 100, revalidate: bool = True) -> Fetched:
        """All items of a list endpoint, following ``Link: rel="next"``.

        When page 1 answers 304 nothing newer can exist on later pages (lists are newest
        first), so the aggregate stored after the last full walk is reused without
        further requests: an idle poll costs exactly one 304.
        """
        sep = "&" if "?" in path else "?"
        first = self.url(f"{path}{sep}per_page={per_page}")
        aggregate_key = f"{first}#all"
        stored = self.http.cache.get_cached(aggregate_key)
        reply = self.http.get(first, headers=self._headers, revalidate=revalidate, quota=True)
        if not reply.changed and stored is not None:
            return Fetched(_decode(stored.body, first), changed=False)
        items = _as_list(_decode(reply.body, first), first)
        next_url = _next_link(reply.headers.get("link"))
        while next_url:
            page = self.http.get(next_url, headers=self._headers, quota=True)
            items.extend(_as_list(_decode(page.body, next_url), next_url))
            next_url = _next_link(page.headers.get("link"))
        self.http.cache.put_cached(
            CachedResponse(
                aggregate_key, None, None, 200, "application/json", json.dumps(items).encode()
            )
        )
        return Fetched(items, changed=True)

    @contextmanager
    def tarball(self, repo: str, ref: str) -> Iterator[httpx.Response]:
        """Stream ``GET /repos/{repo}/tarball/{ref}`` (GitHub answers with a redirect)."""
        url = self.url(f"/repos/{repo}/tarball/{quote(ref, safe='')}")
        with self.http.stream(url, headers=self._headers, quota=True) as reply:
            yield reply


def _decode(body: bytes, url: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise PayloadError(f"{url}: the response is not valid JSON ({exc})") from exc


def _as_list(data: Any, url: str) -> list[Any]:
    if not isinstance(data, list):
        raise PayloadError(f"{url}: expected a JSON array, got {type(data).__name__}")
    return data


def _next_link(header: str | None) -> str | None:
    """The rel="next" URL of a Link header (RFC 8288 as GitHub writes it)."""
    if not header:
        return None
    for part in header.split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        target = section[0].strip()
        if any(p.strip() == 'rel="next"' for p in section[1:]) and target.startswith("<"):
            return target[1:-1]
    return None
