"""The one gateway to the database: the ``Store`` facade over its table groups.

A :class:`Store` is opened from a URL (SQLite file by default, PostgreSQL through the
same code) and migrates the database on first use. Every public method is its own
short transaction and raises only ``StateError`` for database trouble, so the runner
and CLI never see SQLAlchemy exceptions. Timestamps are aware UTC datetimes from an
injectable clock (docs/architecture.md, «State»).

The methods live with their tables, one module per group, each a subclass of
:class:`~watcher.state.db.Database` (engine, clock, transaction):

- ``caches``: HTTP validators, feature scans, image checks;
- ``runs``: runs, and pruning of everything that keeps history;
- ``verdicts``: verdicts, events, observations and error hints;
- ``outbox``: notifications written with what they announce, claimed, marked sent;
- ``leases``: the replicas' leases and small named values;
- ``pull_requests``: pull requests as last seen;
- ``deliveries``: fan-out of outbox rows to Apprise targets.

``Store`` inherits them all, so callers keep one object with one set of method names,
and this module also exports the records those methods take and return. Inheritance
rather than a facade that forwards to group objects: forwarding would repeat every
signature (about forty), while each group class is still type-checked against its
own bases alone, so a group cannot lean on a sibling unnoticed (an outbox claim is a
lease, hence ``OutboxStore`` extends ``LeaseStore``), and a test checks that no two
groups define the same name.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from watcher.core.errors import StateError
from watcher.core.models import CachedResponse
from watcher.state.caches import CacheStore
from watcher.state.db import Clock, storage_error, utc_now
from watcher.state.deliveries import DeliveryStore
from watcher.state.leases import CHART_IMAGES_KEY_PREFIX, PIN_KEY_PREFIX, LeaseStore
from watcher.state.migrate import (
    HEAD_REVISION,
    URL_HINT,
    current_revision,
    make_engine,
    upgrade,
)
from watcher.state.outbox import ErrorEpisode, Notice, OutboxItem, OutboxStore, Transition
from watcher.state.pull_requests import PULL_REQUEST_STATES, PullRequestRecord, PullRequestStore
from watcher.state.runs import RunStats, RunStore
from watcher.state.verdicts import Event, StoredVerdict, VerdictStore

__all__ = [
    "CHART_IMAGES_KEY_PREFIX",
    "PIN_KEY_PREFIX",
    "PULL_REQUEST_STATES",
    "CachedResponse",
    "Clock",
    "ErrorEpisode",
    "Event",
    "Notice",
    "OutboxItem",
    "PullRequestRecord",
    "RunStats",
    "Store",
    "StoredVerdict",
    "Transition",
]


class Store(
    CacheStore,
    RunStore,
    VerdictStore,
    OutboxStore,
    LeaseStore,
    PullRequestStore,
    DeliveryStore,
):
    """Typed access to watcher's database; open it with :meth:`Store.open`."""

    @classmethod
    def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        clock: Clock | None = None,
    ) -> Store:
        """Open the database at ``url``, creating and migrating it when ``migrate`` is true.

        The stored schema revision is compared with ``HEAD_REVISION`` first, so Alembic
        is only imported when there is something to do. With ``migrate=False`` a
        database that is not at the head revision raises ``StateError``.
        """
        engine = make_engine(url)
        try:
            if cls._needs_migration(engine, migrate):
                upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock or utc_now)

    @staticmethod
    def _needs_migration(engine: Engine, migrate: bool) -> bool:
        """Whether the schema is behind (and may be migrated); StateError if unreadable."""
        shown = engine.url.render_as_string(hide_password=True)
        try:
            with engine.connect() as conn:
                revision = current_revision(conn)
        except SQLAlchemyError as exc:
            error = storage_error(f"cannot open database {shown}", exc, engine)
            if error.hint == StateError.default_hint:
                error.hint = (
                    "check that the location is writable and the server reachable; " + URL_HINT
                )
            raise error from exc
        if revision == HEAD_REVISION:
            return False
        if not migrate:
            raise StateError(
                f"database {shown} is at schema revision {revision or '(none)'}, "
                f"this watcher needs {HEAD_REVISION}",
                hint="run `watcher db upgrade`",
            )
        return True
