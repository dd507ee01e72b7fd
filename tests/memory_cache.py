"""A validator cache in a dict, for tests that need an HttpClient without a database."""

from __future__ import annotations

from collections.abc import Sequence

from watcher.core.models import CachedResponse


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

    def put_many(self, responses: Sequence[CachedResponse]) -> None:
        """Store (replace) several responses at once."""
        self._items.update((response.url, response) for response in responses)

    def touch_cached(self, url: str) -> None:
        """Nothing: this cache keeps no times, so ``fresh_for`` never serves from it."""
