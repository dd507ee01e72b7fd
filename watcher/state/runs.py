"""Runs and retention: the ``runs`` table, and pruning what may be forgotten.

A run is one cycle over the watches; its observations (``VerdictStore``) name it.
:meth:`RunStore.prune` deletes, in one transaction, what only explains the past or
saves a request: old runs with their observations, sent outbox rows and cache entries.
Verdicts, events and unsent outbox rows are never pruned (docs/architecture.md,
«State»).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, delete, or_, select

from watcher.core.errors import StateError
from watcher.state.db import Clock, Database, rowcount, utc_now
from watcher.state.leases import CHART_IMAGES_KEY_PREFIX, PIN_KEY_PREFIX
from watcher.state.tables import (
    HttpCacheEntry,
    ImageCheckRow,
    KeyValueRow,
    ObservationRow,
    OutboxRow,
    RunRow,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

RUN_STATUSES = frozenset({"ok", "error"})


@dataclass(frozen=True)
class RunStats:
    """Request counters of one run, stored on its ``runs`` row."""

    requests: int
    not_modified: int
    quota_used: int


class RunStore(Database):
    """The ``runs`` table, and :meth:`prune` over every table that keeps history."""

    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        """Wrap an engine whose schema is already current (use ``Store.open`` instead)."""
        super().__init__(engine, clock)
        # The run each thread has open (a thread runs one at a time): prune must not
        # delete a live run's row. A run whose cycle failed before finish_run is
        # replaced by its thread's next one, so this never grows past the thread count.
        self._open_runs: dict[int, int] = {}

    def start_run(self) -> int:
        """Record the start of a run and return its id."""
        with self._transaction(write=True) as session:
            row = RunRow(
                started_at=self.now(), status="running", requests=0, not_modified=0, quota_used=0
            )
            session.add(row)
            session.flush()
            run_id = row.id
        self._open_runs[threading.get_ident()] = run_id
        return run_id

    def finish_run(
        self, run_id: int, status: str, stats: RunStats, error: str | None = None
    ) -> None:
        """Record the end of a run: ``status`` is 'ok' or 'error', with its counters."""
        if status not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {sorted(RUN_STATUSES)}, not {status!r}")
        with self._transaction(write=True) as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise StateError(f"run {run_id} does not exist in {self.url}")
            row.finished_at = self.now()
            row.status = status
            row.requests = stats.requests
            row.not_modified = stats.not_modified
            row.quota_used = stats.quota_used
            row.error = error
        for thread, open_run in list(self._open_runs.items()):
            if open_run == run_id:
                del self._open_runs[thread]

    def prune(self, older_than: timedelta) -> int:
        """Delete observations, runs, sent outbox rows and cache entries older than ``older_than``.

        Returns how many rows were deleted. Events, verdicts and unsent outbox rows are
        never deleted. A run counts as old when it finished before the cutoff, or never
        finished and started before it (a crashed run); the run each thread of this
        store has open is kept. The observations of a deleted run go with it.
        An outbox row counts as old when it was sent before the cutoff. Cached HTTP
        answers, image checks and pin resolutions count as old when they were stored
        (a cached answer: last confirmed by the server) before the cutoff (they are
        fetched again when next needed).
        """
        if older_than < timedelta(0):
            raise ValueError(f"older_than must not be negative, got {older_than}")
        cutoff = self.now() - older_than
        old_run: ColumnElement[bool] = or_(
            RunRow.finished_at < cutoff,
            and_(RunRow.finished_at.is_(None), RunRow.started_at < cutoff),
        )
        if self._open_runs:
            old_run = and_(old_run, RunRow.id.not_in(list(self._open_runs.values())))
        # Plain bulk deletes: no ORM objects are loaded, so none need synchronising.
        options = {"synchronize_session": False}
        with self._transaction(write=True) as session:
            observations = session.execute(
                delete(ObservationRow).where(
                    or_(
                        ObservationRow.observed_at < cutoff,
                        ObservationRow.run_id.in_(select(RunRow.id).where(old_run)),
                    )
                ),
                execution_options=options,
            )
            runs = session.execute(delete(RunRow).where(old_run), execution_options=options)
            sent = session.execute(
                delete(OutboxRow).where(OutboxRow.sent_at.is_not(None), OutboxRow.sent_at < cutoff),
                execution_options=options,
            )
            # Caches: a pruned entry only costs one full read (a 200 instead of a 304).
            cached = session.execute(
                delete(HttpCacheEntry).where(HttpCacheEntry.stored_at < cutoff),
                execution_options=options,
            )
            images = session.execute(
                delete(ImageCheckRow).where(ImageCheckRow.checked_at < cutoff),
                execution_options=options,
            )
            pins = session.execute(
                delete(KeyValueRow).where(
                    or_(
                        KeyValueRow.key.startswith(PIN_KEY_PREFIX, autoescape=True),
                        KeyValueRow.key.startswith(CHART_IMAGES_KEY_PREFIX, autoescape=True),
                    ),
                    KeyValueRow.updated_at < cutoff,
                ),
                execution_options=options,
            )
            return sum(
                rowcount(result) for result in (observations, runs, sent, cached, images, pins)
            )
