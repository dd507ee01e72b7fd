"""The one gateway to the database: caches, runs, verdicts and their history (DESIGN.md §6).

A :class:`Store` is opened from a URL (SQLite file by default, PostgreSQL through the
same code) and migrates the database on first use. Every public method is its own
short transaction and raises only ``StateError`` for database trouble, so the runner
and CLI never see SQLAlchemy exceptions. Timestamps are aware UTC datetimes from an
injectable clock.

Verdict bookkeeping follows the state machine of DESIGN.md section 2: the current
verdict per watch lives in ``verdicts``, every change of state or target appends an
``events`` row in the same transaction, and an error is stored beside the last good
verdict, never instead of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, cast

from sqlalchemy import ColumnElement, CursorResult, Engine, and_, delete, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from watcher.errors import StateError
from watcher.models import (
    CachedResponse,
    FeatureScan,
    Verdict,
    VerdictState,
)
from watcher.state.codec import (
    hit_from_json,
    hit_to_json,
    release_from_json,
    release_to_json,
    signal_from_json,
    signal_to_json,
)
from watcher.state.migrate import (
    HEAD_REVISION,
    URL_HINT,
    WRITE_LOCK_OPTION,
    current_revision,
    describe_error,
    make_engine,
    upgrade,
)
from watcher.state.tables import (
    EventRow,
    FeatureScanRow,
    HttpCacheEntry,
    ImageCheckRow,
    ObservationRow,
    RunRow,
    VerdictRow,
)

__all__ = [
    "CachedResponse",
    "Clock",
    "Event",
    "RunStats",
    "Store",
    "StoredVerdict",
]

Clock = Callable[[], datetime]

#: ``observations.signal`` of the row ``record_error`` writes (not a ``SignalName``).
ERROR_SIGNAL = "error"

RUN_STATUSES = frozenset({"ok", "error"})


@dataclass(frozen=True)
class Event:
    """One verdict transition, as appended to ``events``."""

    id: int
    watch_id: str
    at: datetime
    from_state: str | None
    to_state: str
    from_target: str | None
    to_target: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class StoredVerdict:
    """The stored verdict of one watch and the last error beside it.

    ``verdict`` is None when the watch has failed but never been evaluated; ``error``
    is then the reason. A later good verdict clears ``error`` and ``error_at``.
    """

    watch_id: str
    verdict: Verdict | None
    error: str | None
    error_at: datetime | None


@dataclass(frozen=True)
class RunStats:
    """Request counters of one run, stored on its ``runs`` row."""

    requests: int
    not_modified: int
    quota_used: int


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Typed access to watcher's database; open it with :meth:`Store.open`."""

    def __init__(self, engine: Engine, clock: Clock = _utc_now) -> None:
        """Wrap an engine whose schema is already current (use :meth:`open` instead)."""
        self._engine = engine
        self._write_engine = engine.execution_options(**{WRITE_LOCK_OPTION: True})
        self._clock = clock
        # Runs started here and not finished: prune must not delete a live run's row.
        self._open_runs: set[int] = set()

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, clock: Clock | None = None) -> Store:
        """Open the database at ``url``, creating and migrating it when ``migrate`` is true.

        The stored schema revision is compared with ``HEAD_REVISION`` first, so Alembic
        is only imported when there is something to do. With ``migrate=False`` a
        database that is not at the head revision raises ``StateError``.
        """
        engine = make_engine(url)
        try:
            cls._ensure_schema(engine, migrate)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, clock or _utc_now)

    @staticmethod
    def _ensure_schema(engine: Engine, migrate: bool) -> None:
        shown = engine.url.render_as_string(hide_password=True)
        try:
            with engine.connect() as conn:
                revision = current_revision(conn)
        except SQLAlchemyError as exc:
            raise StateError(
                f"cannot open database {shown}: {describe_error(exc, engine.url.password)}",
                hint="check that the location is writable and the server reachable; " + URL_HINT,
            ) from exc
        if revision == HEAD_REVISION:
            return
        if not migrate:
            raise StateError(
                f"database {shown} is at schema revision {revision or '(none)'}, "
                f"this watcher needs {HEAD_REVISION}",
                hint="run `watcher db upgrade`",
            )
        upgrade(engine)

    @property
    def url(self) -> str:
        """The database URL with the password masked, for status output."""
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Close every pooled connection; the store is unusable afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        """Use the store as a context manager that closes it."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()

    @contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction, committed on success; database errors -> StateError."""
        engine = self._write_engine if write else self._engine
        try:
            with Session(engine, expire_on_commit=False) as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            raise StateError(
                f"database error on {self.url}: {describe_error(exc, engine.url.password)}"
            ) from exc

    def _now(self) -> datetime:
        return self._clock()

    # -- HTTP validator cache -------------------------------------------------------

    def get_cached(self, url: str) -> CachedResponse | None:
        """The stored response for ``url`` (validators and body), if any."""
        with self._transaction() as session:
            row = session.get(HttpCacheEntry, url)
            if row is None:
                return None
            return CachedResponse(
                url=row.url,
                etag=row.etag,
                last_modified=row.last_modified,
                status=row.status,
                content_type=row.content_type,
                body=row.body,
            )

    def put_cached(self, response: CachedResponse) -> None:
        """Store (or replace) the response for its URL."""
        with self._transaction(write=True) as session:
            session.merge(
                HttpCacheEntry(
                    url=response.url,
                    etag=response.etag,
                    last_modified=response.last_modified,
                    status=response.status,
                    content_type=response.content_type,
                    body=response.body,
                    stored_at=self._now(),
                )
            )

    # -- feature scans --------------------------------------------------------------

    def get_feature_scan(self, repo: str, commit_sha: str, rule_key: str) -> FeatureScan | None:
        """The stored scan of ``commit_sha`` under ``rule_key``, if it was scanned before."""
        with self._transaction() as session:
            row = session.get(FeatureScanRow, (repo, commit_sha, rule_key))
            if row is None:
                return None
            try:
                hits = tuple(hit_from_json(hit) for hit in row.hits)
            except (KeyError, TypeError, ValueError) as exc:
                raise _corrupt(f"feature scan of {repo}@{commit_sha}", exc) from exc
            return FeatureScan(
                found=row.found,
                hits=hits,
                commit_sha=row.commit_sha,
                members_seen=row.members_seen,
                bytes_read=row.bytes_read,
                complete=row.complete,
            )

    def put_feature_scan(
        self, repo: str, commit_sha: str, rule_key: str, scan: FeatureScan
    ) -> None:
        """Store (or replace) the scan of ``commit_sha`` under ``rule_key``."""
        with self._transaction(write=True) as session:
            session.merge(
                FeatureScanRow(
                    repo=repo,
                    commit_sha=commit_sha,
                    rule_key=rule_key,
                    found=scan.found,
                    hits=[hit_to_json(hit) for hit in scan.hits],
                    members_seen=scan.members_seen,
                    bytes_read=scan.bytes_read,
                    complete=scan.complete,
                    scanned_at=self._now(),
                )
            )

    # -- image presence cache -------------------------------------------------------

    def get_image_check(self, reference: str) -> tuple[str, datetime] | None:
        """``(digest, checked_at)`` of the last successful check of ``reference``."""
        with self._transaction() as session:
            row = session.get(ImageCheckRow, reference)
            return None if row is None else (row.digest, row.checked_at)

    def put_image_check(self, reference: str, digest: str, media_type: str | None) -> None:
        """Remember that ``reference`` resolved to ``digest`` now."""
        with self._transaction(write=True) as session:
            session.merge(
                ImageCheckRow(
                    reference=reference,
                    digest=digest,
                    media_type=media_type,
                    checked_at=self._now(),
                )
            )

    # -- runs -----------------------------------------------------------------------

    def start_run(self) -> int:
        """Record the start of a run and return its id."""
        with self._transaction(write=True) as session:
            row = RunRow(
                started_at=self._now(), status="running", requests=0, not_modified=0, quota_used=0
            )
            session.add(row)
            session.flush()
            run_id = row.id
        self._open_runs.add(run_id)
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
            row.finished_at = self._now()
            row.status = status
            row.requests = stats.requests
            row.not_modified = stats.not_modified
            row.quota_used = stats.quota_used
            row.error = error
        self._open_runs.discard(run_id)

    # -- verdicts, events, observations --------------------------------------------

    def record_verdict(self, run_id: int, verdict: Verdict) -> Event | None:
        """Store ``verdict`` as the watch's current one, with its observations and event.

        In one transaction: the ``verdicts`` row is replaced (its error becomes
        ``verdict.error``, normally None), one ``observations`` row is added per signal,
        and when the state or the target tag differs from the previous verdict (or
        there was none) an event is appended and returned. ``changed_at`` moves only
        then. Times are ``verdict.evaluated_at`` when set, else the clock's now.
        """
        at = verdict.evaluated_at or self._now()
        target_tag = verdict.target.tag if verdict.target is not None else None
        with self._transaction(write=True) as session:
            row = self._verdict_row_for_update(session, verdict.watch_id)
            previous_state, previous_target = row.state, row.target_tag
            changed = (
                previous_state is None
                or previous_state != verdict.state.value
                or previous_target != target_tag
            )
            row.state = verdict.state.value
            row.target_tag = target_tag
            row.target = release_to_json(verdict.target) if verdict.target is not None else None
            row.signals = [signal_to_json(signal) for signal in verdict.signals]
            row.reasons = list(verdict.reasons)
            row.extra = dict(verdict.extra)
            row.evaluated_at = at
            row.error = verdict.error
            row.error_at = at if verdict.error is not None else None
            if changed:
                row.changed_at = at
            session.add_all(
                ObservationRow(
                    run_id=run_id,
                    watch_id=verdict.watch_id,
                    signal=signal.name.value,
                    release_tag=signal.release_tag,
                    status=signal.status.value,
                    summary=signal.summary,
                    evidence=list(signal.evidence),
                    observed_at=at,
                )
                for signal in verdict.signals
            )
            if not changed:
                return None
            event_row = EventRow(
                watch_id=verdict.watch_id,
                at=at,
                from_state=previous_state,
                to_state=verdict.state.value,
                from_target=previous_target,
                to_target=target_tag,
                detail={"run_id": run_id, "reasons": list(verdict.reasons)},
            )
            session.add(event_row)
            session.flush()
            return _event(event_row)

    def record_error(self, run_id: int, watch_id: str, message: str) -> None:
        """Record a failed evaluation of ``watch_id`` beside its last good verdict.

        The verdict itself is left untouched (a failed poll changes nothing). Without a
        verdict yet, a row with no state is created, so ``get_verdict`` returns a
        ``StoredVerdict`` whose ``verdict`` is None and whose ``error`` is ``message``.
        The error is also added to the run's observations (signal ``"error"``).
        """
        now = self._now()
        with self._transaction(write=True) as session:
            row = self._verdict_row_for_update(session, watch_id)
            row.error = message
            row.error_at = now
            session.add(
                ObservationRow(
                    run_id=run_id,
                    watch_id=watch_id,
                    signal=ERROR_SIGNAL,
                    release_tag=None,
                    status="error",
                    summary=message,
                    evidence=[],
                    observed_at=now,
                )
            )

    @staticmethod
    def _verdict_row_for_update(session: Session, watch_id: str) -> VerdictRow:
        """The watch's verdict row, locked on PostgreSQL; a new state-less row if none."""
        row = session.get(VerdictRow, watch_id, with_for_update=True)
        if row is None:
            row = VerdictRow(
                watch_id=watch_id,
                state=None,
                target_tag=None,
                target=None,
                signals=[],
                reasons=[],
                extra={},
                evaluated_at=None,
                changed_at=None,
                error=None,
                error_at=None,
            )
            session.add(row)
        return row

    def get_verdict(self, watch_id: str) -> StoredVerdict | None:
        """The stored verdict and error of ``watch_id``; None if nothing was ever recorded."""
        with self._transaction() as session:
            row = session.get(VerdictRow, watch_id)
            return None if row is None else _stored_verdict(row)

    def list_verdicts(self) -> list[StoredVerdict]:
        """Every stored verdict (including error-only ones), ordered by watch id."""
        with self._transaction() as session:
            rows = session.scalars(select(VerdictRow).order_by(VerdictRow.watch_id))
            return [_stored_verdict(row) for row in rows]

    def history(self, watch_id: str, limit: int | None = None) -> list[Event]:
        """The events of ``watch_id``, oldest first; with ``limit``, only the newest ones."""
        stmt = select(EventRow).where(EventRow.watch_id == watch_id).order_by(EventRow.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._transaction() as session:
            rows = session.scalars(stmt).all()
            return [_event(row) for row in reversed(rows)]

    def prune(self, older_than: timedelta) -> int:
        """Delete observations and runs older than ``older_than``; return how many rows.

        Events and verdicts are never deleted. A run counts as old when it finished
        before the cutoff, or never finished and started before it (a crashed run);
        runs this store started and has not finished yet are kept. The observations
        of a deleted run go with it.
        """
        if older_than < timedelta(0):
            raise ValueError(f"older_than must not be negative, got {older_than}")
        cutoff = self._now() - older_than
        old_run: ColumnElement[bool] = or_(
            RunRow.finished_at < cutoff,
            and_(RunRow.finished_at.is_(None), RunRow.started_at < cutoff),
        )
        if self._open_runs:
            old_run = and_(old_run, RunRow.id.not_in(self._open_runs))
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
            return _rowcount(observations) + _rowcount(runs)


def _rowcount(result: object) -> int:
    return cast(CursorResult[Any], result).rowcount


def _corrupt(what: str, exc: Exception) -> StateError:
    return StateError(
        f"the stored {what} cannot be read ({type(exc).__name__}: {exc})",
        hint="the row was written by an incompatible watcher; delete it to have it recomputed",
    )


def _event(row: EventRow) -> Event:
    return Event(
        id=row.id,
        watch_id=row.watch_id,
        at=row.at,
        from_state=row.from_state,
        to_state=row.to_state,
        from_target=row.from_target,
        to_target=row.to_target,
        detail=dict(row.detail),
    )


def _stored_verdict(row: VerdictRow) -> StoredVerdict:
    verdict = None
    if row.state is not None:
        try:
            verdict = Verdict(
                watch_id=row.watch_id,
                state=VerdictState(row.state),
                target=release_from_json(row.target) if row.target is not None else None,
                signals=tuple(signal_from_json(signal) for signal in row.signals),
                reasons=tuple(row.reasons),
                error=row.error,
                evaluated_at=row.evaluated_at,
                changed_at=row.changed_at,
                extra=dict(row.extra),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _corrupt(f"verdict of watch {row.watch_id!r}", exc) from exc
    return StoredVerdict(
        watch_id=row.watch_id, verdict=verdict, error=row.error, error_at=row.error_at
    )
