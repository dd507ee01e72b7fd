"""Read-only GitHub REST access: JSON, pagination by Link, raw contents, tarball streams.

Everything goes through :class:`watcher.net.http.HttpClient`, so every GET is conditional and
retried by the shared policy. The base URL is configurable: ``https://api.github.com``,
``https://HOST/api/v3`` for GitHub Enterprise Server, or the local stand-in in tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from watcher.config.model import BodyKind
from watcher.net.credentials import Credentials, ReadAuthorization
from watcher.net.http import HttpClient, Response, decode_json
from watcher.net.pagination import read_list

API_VERSION = "2022-11-28"
JSON_MEDIA = "application/vnd.github+json"
RAW_MEDIA = "application/vnd.github.raw"


@dataclass(frozen=True)
class Fetched:
    """A decoded JSON document and whether it changed since the last run."""

    data: Any
    changed: bool


class GitHubReader:
    """GETs against one GitHub API root, authenticated when credentials are given."""

    def __init__(self, http: HttpClient, api_url: str, credentials: Credentials | None) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self._auth = ReadAuthorization(credentials, http, self.api_url)
        self.authenticated = self._auth.authenticated

    @property
    def _headers(self) -> dict[str, str]:
        """The headers of every read: JSON, the API version and the current authorization."""
        return {"Accept": JSON_MEDIA, "X-GitHub-Api-Version": API_VERSION, **self._auth.headers()}

    def url(self, path: str) -> str:
        """The absolute URL of an API path such as ``/repos/o/r/releases``."""
        return f"{self.api_url}{path}"

    def get_json(
        self, path: str, *, revalidate: bool = True, fresh_for: float | None = None
    ) -> Fetched:
        """GET one JSON document (conditionally); PayloadError if it is not JSON.

        ``fresh_for`` (seconds): an answer the server gave or confirmed less than that
        long ago is used without asking (:meth:`HttpClient.get`).
        """
        url = self.url(path) if path.startswith("/") else path
        reply = self.http.get(
            url, headers=self._headers, revalidate=revalidate, quota=True, fresh_for=fresh_for
        )
        return Fetched(decode_json(reply.body, url), reply.changed)

    def get_json_once(self, path: str) -> Any | None:
        """GET a JSON answer its caller keeps for good itself; None on a 404.

        Nothing goes into the HTTP cache (the answer is never asked again, so its body
        and validators would only take room there).
        """
        url = self.url(path)
        reply = self.http.get(
            url, headers=self._headers, not_found_ok=True, quota=True, deferred=True
        )
        if reply.status == 404:
            return None
        return decode_json(reply.body, url)

    def get_text(
        self, path: str, *, revalidate: bool = True, body: BodyKind = "file"
    ) -> str | None:
        """GET a file's raw bytes through the contents API; None when it does not exist.

        ``body`` names the cap its size is held to (a changelog may be larger than a file).
        """
        url = self.url(path)
        headers = {**self._headers, "Accept": RAW_MEDIA}
        reply = self.http.get(
            url, headers=headers, revalidate=revalidate, not_found_ok=True, quota=True, body=body
        )
        if reply.status == 404:
            return None
        return reply.body.decode("utf-8", errors="replace")

    def get_paginated(
        self,
        path: str,
        *,
        per_page: int = 100,
        revalidate: bool = True,
        oldest_first: bool = False,
    ) -> Fetched:
        """All items of a list endpoint, following ``Link: rel="next"``, as one snapshot.

        The pages and the combined list are stored together only when every page was
        read (:mod:`watcher.net.pagination`). For a newest-first list an idle poll
        costs exactly one 304; ``oldest_first`` lists (timelines, comments), where new
        items land on the last page, also re-read their last page.
        """
        sep = "&" if "?" in path else "?"
        first = self.url(f"{path}{sep}per_page={per_page}")

        def read(url: str, fresh: bool) -> Response:
            return self.http.get(
                url, headers=self._headers, revalidate=fresh, quota=True, deferred=True
            )

        items, changed = read_list(
            self.http, first, read, revalidate=revalidate, oldest_first=oldest_first
        )
        return Fetched(items, changed)

    @contextmanager
    def tarball(self, repo: str, ref: str) -> Iterator[httpx.Response]:
        """Stream ``GET /repos/{repo}/tarball/{ref}`` (GitHub answers with a redirect)."""
        url = self.url(f"/repos/{repo}/tarball/{quote(ref, safe='')}")
        with self.http.stream(url, headers=self._headers, quota=True) as reply:
            yield reply
