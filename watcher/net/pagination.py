"""A paginated GitHub list read as one snapshot (docs/architecture.md, «Talking to GitHub»).

The list and the validators of all its pages are stored together, in one transaction,
and only after every page was read. A failure anywhere (a 502 on page 2, a timeout)
stores nothing, so the previous complete snapshot *and its validators* stay: the next
run's page 1 is not a 304 against validators of a list that was never combined, and it
re-reads instead of trusting the old list.

What a 304 on page 1 proves depends on the order of the list:

- **newest first** (releases, tags): anything new lands on page 1, so a 304 there means
  the whole list is unchanged; an idle poll costs one request.
- **oldest first** (an issue's timeline, comments): new items land on the *last* page,
  which page 1's 304 says nothing about. The last page of the snapshot is re-read
  (conditionally, so unchanged costs a free 304 when authenticated), and when it
  changed or gained a ``next`` page the whole list is walked again.

Pages answering 304 during a walk contribute their stored body. GitHub sends the
current ``Link`` header with a 304, which can differ from the stored one when a page
was added behind a full last page without changing its body
(https://github.com/app-sre/github-mirror/pull/113); the snapshot also keeps each
page's ``next`` for a server that leaves it out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from watcher.core.errors import PayloadError
from watcher.core.models import CachedResponse
from watcher.net.http import HttpClient, Response, decode_json, next_link

#: Reads one page: ``(url, revalidate) -> Response`` (deferred: nothing is stored).
PageReader = Callable[[str, bool], Response]


@dataclass(frozen=True)
class Page:
    """One page of a walk: where it is, how many items it held, where the next one is."""

    url: str
    count: int
    next: str | None


@dataclass
class Snapshot:
    """A complete list with its pages, as stored under ``{first page URL}#all``."""

    items: list[Any]
    pages: list[Page]

    def to_record(self, key: str) -> CachedResponse:
        """The cache row that holds this snapshot."""
        doc = {"items": self.items, "pages": [page.__dict__ for page in self.pages]}
        return CachedResponse(key, None, None, 200, "application/json", json.dumps(doc).encode())

    @classmethod
    def from_record(cls, record: CachedResponse | None) -> Snapshot | None:
        """The stored snapshot; None when absent or in an older format (then re-read)."""
        if record is None:
            return None
        try:
            doc = json.loads(record.body)
            pages = [Page(str(p["url"]), int(p["count"]), p["next"]) for p in doc["pages"]]
            items = doc["items"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(items, list) or not pages or sum(p.count for p in pages) != len(items):
            return None
        return cls(items, pages)

    def next_of(self, url: str) -> str | None:
        """The ``next`` page recorded for ``url`` in this snapshot, if it has that page."""
        return next((page.next for page in self.pages if page.url == url), None)


@dataclass
class _Walk:
    """The pages read so far in this run, and what storing them will take."""

    read: PageReader
    previous: Snapshot | None
    replies: dict[str, Response] = field(default_factory=dict)

    def page(self, url: str, revalidate: bool = True) -> Response:
        """Page ``url``, asked at most once per walk."""
        if url not in self.replies:
            self.replies[url] = self.read(url, revalidate)
        return self.replies[url]

    def next_url(self, url: str, reply: Response) -> str | None:
        """The page after ``url``: from its answer's Link header, else from the snapshot."""
        if reply.headers.get("link") is not None or reply.changed or self.previous is None:
            return next_link(reply.headers, url)
        return self.previous.next_of(url)

    def unchanged_tail(self, snapshot: Snapshot) -> bool:
        """Whether the snapshot's last page is as stored and still has nothing after it."""
        last = snapshot.pages[-1]
        reply = self.page(last.url)
        return not reply.changed and self.next_url(last.url, reply) is None

    def everything(self, first: str) -> Snapshot:
        """Every page from ``first`` on, following ``next`` links."""
        items: list[Any] = []
        pages: list[Page] = []
        url: str | None = first
        seen: set[str] = set()
        while url is not None:
            if url in seen:
                raise PayloadError(f"{url}: the Link header leads back to a page already read")
            seen.add(url)
            reply = self.page(url)
            got = _as_list(decode_json(reply.body, url), url)
            following = self.next_url(url, reply)
            items.extend(got)
            pages.append(Page(url, len(got), following))
            url = following
        return Snapshot(items, pages)


def read_list(
    http: HttpClient, first: str, read: PageReader, *, revalidate: bool, oldest_first: bool
) -> tuple[list[Any], bool]:
    """All items of the list whose first page is ``first``, and whether they changed.

    ``read`` must not store anything (a deferred GET); the pages and the combined list
    are committed together here, once the walk is complete.
    """
    key = f"{first}#all"
    with http.flight(key):
        previous = Snapshot.from_record(http.cache.get_cached(key))
        asked = http.asked(key)
        if previous is not None and asked is not None:
            return previous.items, asked  # read once per run, whoever asks again
        items, changed = _walk(http, first, read, previous, revalidate, oldest_first)
        if revalidate:
            http.remember(key, changed)
        return items, changed


def _walk(
    http: HttpClient,
    first: str,
    read: PageReader,
    previous: Snapshot | None,
    revalidate: bool,
    oldest_first: bool,
) -> tuple[list[Any], bool]:
    key = f"{first}#all"
    walk = _Walk(read, previous)
    head = walk.page(first, revalidate)
    if previous is not None and _still_current(walk, previous, head, revalidate, oldest_first):
        http.commit([], walk.replies)
        return previous.items, False
    snapshot = walk.everything(first)
    records = [reply.record for reply in walk.replies.values() if reply.record is not None]
    http.commit([*records, snapshot.to_record(key)], walk.replies)
    return snapshot.items, previous is None or snapshot.items != previous.items


def _still_current(
    walk: _Walk, previous: Snapshot, head: Response, revalidate: bool, oldest_first: bool
) -> bool:
    """Whether the stored snapshot is the list as it is now, after page 1's answer."""
    if head.changed or previous.pages[0].url != head.url:
        return False
    # Oldest first: page 1 unchanged says nothing about the end, where items land.
    return not revalidate or not oldest_first or walk.unchanged_tail(previous)


def _as_list(data: Any, url: str) -> list[Any]:
    if not isinstance(data, list):
        raise PayloadError(f"{url}: expected a JSON array, got {type(data).__name__}")
    return data
