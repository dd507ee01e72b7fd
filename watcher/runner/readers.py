"""The network side of a run: one HTTP client shared by the GitHub and registry readers.

Reads only; the write side, its twin, is :meth:`watcher.runner.act.Actor.build`, for runs
that act (docs/architecture.md, «Talking to GitHub»).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher.config.model import Config
from watcher.net.credentials import read_credentials
from watcher.net.github_read import GitHubReader
from watcher.net.http import HttpClient, HttpSettings
from watcher.net.ratelimit import RequestPace
from watcher.net.registry import RegistryReader

if TYPE_CHECKING:
    from watcher.state.store import Store


@dataclass
class Readers:
    """The network side of a run: one HTTP client shared by GitHub and registry reads."""

    http: HttpClient
    github: GitHubReader
    registry: RegistryReader

    @classmethod
    def build(
        cls,
        config: Config,
        store: Store,
        *,
        sleep: Callable[[float], None] | None = None,
        pace: RequestPace | None = None,
    ) -> Readers:
        """Readers configured from ``config``; credentials come from the environment only.

        ``pace``: one kept across runs (the daemon's), else the run starts its own.
        """
        gh = config.github
        settings = HttpSettings(
            timeout_seconds=gh.timeout_seconds,
            retries=gh.retries,
            max_wait_seconds=gh.max_wait_seconds,
            quota_floor=gh.quota_floor,
            body_caps=gh.body_caps,
            requests_per_minute=gh.requests_per_minute,
        )
        # The store's clock is the process's one clock (docs/architecture.md, «State»).
        http = HttpClient(
            store, settings, sleep=sleep, clock=lambda: store.now().timestamp(), pace=pace
        )
        return cls(
            http=http,
            github=GitHubReader(http, gh.api_url, read_credentials(os.environ)),
            registry=RegistryReader(http, dict(config.registries)),
        )


@contextmanager
def open_readers(
    config: Config, store: Store, pace: RequestPace | None = None
) -> Iterator[Readers]:
    """Readers for one run, closed afterwards (``pace``: see :meth:`Readers.build`)."""
    readers = Readers.build(config, store, pace=pace)
    try:
        yield readers
    finally:
        readers.http.close()
