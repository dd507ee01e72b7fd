"""The one gateway to the database: caches, runs, verdicts, outbox and lease (DESIGN.md §6).

A :class:`Store` is opened from a URL (SQLite file by default, PostgreSQL through the
same code) and migrates the database on first use. Every public method is its own
short transaction and raises only ``StateError`` for database trouble, so the runner
and CLI never see SQLAlchemy exceptions. Timestamps are aware UTC datetimes from an
injectable clock.

Verdict bookkeeping follows the state machine of DESIGN.md section 2: the current
verdict per watch lives in ``verdicts``, every change of state or target appends an
``events`` row in the same transaction, and an error is stored beside the last good
verdict, never instead of it.

Notifications (DESIGN.md section 5) go through ``outbox``: a row is written in the
same transaction as the event or error episode it announces, so a crash can delay a
notification but never lose it. The deliverer claims an item with
:meth:`Store.claim_outbox` (one process at a time, expiring if it dies) before posting
and calls :meth:`Store.mark_sent` after; the attempt count tells it whether an earlier
attempt may already have posted.

With several replicas on one PostgreSQL database, :meth:`Store.acquire_lease`
decides which one acts; it relies on one conditional statement per step, so two
processes can never both believe they hold the lease.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Engine,
    and_,
    case,
    delete,
    inspect,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from watcher.core.errors import StateError
from watcher.core.models import (
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
from watcher.state.deliveries import DeliveryStore
from watcher.state.lease import holder_is_gone
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
    Base,
    EventRow,
    FeatureScanRow,
    HttpCacheEntry,
    ImageCheckRow,
    KeyValueRow,
    LeaseRow,
    ObservationRow,
    OutboxRow,
    PullRequestRow,
    RunRow,
    UTCDateTime,
    VerdictRow,
)

__all__ = [
    "OUTBOX_ERROR",
    "OUTBOX_TRANSITION",
    "PULL_REQUEST_STATES",
    "CachedResponse",
    "Clock",
    "Event",
    "OutboxItem",
    "PullRequestRecord",
    "RunStats",
    "Store",
    "StoredVerdict",
]

Clock = Callable[[], datetime]

#: ``kv`` keys of cached pin resolutions start with this (pruned like other caches).
PIN_KEY_PREFIX = "pin:"

#: ``observations.signal`` of the row ``record_error`` writes (not a ``SignalName``).
ERROR_SIGNAL = "error"

RUN_STATUSES = frozenset({"ok", "error"})

#: ``outbox.kind`` of a verdict transition (written by ``record_verdict``).
OUTBOX_TRANSITION = "transition"
#: ``outbox.kind`` of an error episode that lasted ``notify_after`` (``record_error``).
OUTBOX_ERROR = "error"

PULL_REQUEST_STATES = frozenset({"open", "closed", "merged"})

#: Verdict states only a writing run reaches (a pull request was opened or merged).
ACTED_STATES = frozenset({VerdictState.PROPOSED.value, VerdictState.DONE.value})


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
    is then the reason. ``error_since`` is when the current run of consecutive errors
    began. A later good verdict clears all three.
    """

    watch_id: str
    verdict: Verdict | None
    error: str | None
    error_at: datetime | None
    error_since: datetime | None = None


@dataclass(frozen=True)
class OutboxItem:
    """An undelivered notification; ``payload`` depends on ``kind``.

    ``transition``: ``watch_id``, ``from_state``, ``to_state``, ``from_target``,
    ``to_target``, ``reasons`` and ``at`` (ISO 8601). ``error``: ``watch_id``,
    ``error``, ``since`` (ISO 8601) and ``state`` (the last good state, or None).
    """

    id: int
    watch_id: str
    event_id: int | None
    kind: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None


@dataclass(frozen=True)
class PullRequestRecord:
    """A pull request opened for a watch, as last seen; ``state`` is open/closed/merged."""

    watch_id: str
    number: int
    repo: str
    target_tag: str
    head_branch: str
    head_sha: str | None
    state: str
    url: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RunStats:
    """Request counters of one run, stored on its ``runs`` row."""

    requests: int
    not_modified: int
    quota_used: int


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store(DeliveryStore):
    """Typed access to watcher's database; open it with :meth:`Store.open`."""

    def __init__(self, engine: Engine, clock: Clock = _utc_now) -> None:
        """Wrap an engine whose schema is already current (use :meth:`open` instead)."""
        self._engine = engine
        self._write_engine = engine.execution_options(**{WRITE_LOCK_OPTION: True})
        self._clock = clock
        # The run each thread has open (a thread runs one at a time): prune must not
        # delete a live run's row. A run whose cycle failed before finish_run is
        # replaced by its thread's next one, so this never grows past the thread count.
        self._open_runs: dict[int, int] = {}

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
        self.put_many([response])

    def put_many(self, responses: Sequence[CachedResponse]) -> None:
        """Store (or replace) several responses in one transaction: all or none.

        A paginated list is one snapshot: its pages' validators and the combined list
        are only trusted together (DESIGN.md section 3).
        """
        now = self._now()
        with self._transaction(write=True) as session:
            for response in responses:
                _upsert(
                    session,
                    HttpCacheEntry,
                    {
                        "url": response.url,
                        "etag": response.etag,
                        "last_modified": response.last_modified,
                        "status": response.status,
                        "content_type": response.content_type,
                        "body": response.body,
                        "stored_at": now,
                    },
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
            _upsert(
                session,
                FeatureScanRow,
                {
                    "repo": repo,
                    "commit_sha": commit_sha,
                    "rule_key": rule_key,
                    "found": scan.found,
                    "hits": [hit_to_json(hit) for hit in scan.hits],
                    "members_seen": scan.members_seen,
                    "bytes_read": scan.bytes_read,
                    "complete": scan.complete,
                    "scanned_at": self._now(),
                },
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
            _upsert(
                session,
                ImageCheckRow,
                {
                    "reference": reference,
                    "digest": digest,
                    "media_type": media_type,
                    "checked_at": self._now(),
                },
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
            row.finished_at = self._now()
            row.status = status
            row.requests = stats.requests
            row.not_modified = stats.not_modified
            row.quota_used = stats.quota_used
            row.error = error
        for thread, open_run in list(self._open_runs.items()):
            if open_run == run_id:
                del self._open_runs[thread]

    # -- verdicts, events, observations --------------------------------------------

    def record_verdict(
        self, run_id: int, verdict: Verdict, *, keep_action_state: bool = False
    ) -> Event | None:
        """Store ``verdict`` as the watch's current one, with its observations and event.

        In one transaction: the ``verdicts`` row is replaced (its error becomes
        ``verdict.error``, normally None), one ``observations`` row is added per signal,
        and when the state or the target tag differs from the previous verdict (or
        there was none) an event is appended and returned. ``changed_at`` moves only
        then, together with an ``outbox`` row of kind ``"transition"`` announcing it.
        Any error episode ends (see :meth:`record_error`). Times are
        ``verdict.evaluated_at`` when set, else the clock's now.

        With ``keep_action_state`` (a run that does not act on pull requests), a READY
        verdict while the stored verdict is PROPOSED or DONE keeps that state, its target
        and its pull-request details (a newer target is the acting process's to record
        when it moves the PR): decided under the row lock, so a read-only process never
        undoes what a writing process recorded concurrently.
        """
        at = verdict.evaluated_at or self._now()
        target_tag = verdict.target.tag if verdict.target is not None else None
        with self._transaction(write=True) as session:
            row = self._verdict_row_for_update(session, verdict.watch_id)
            if (
                keep_action_state
                and verdict.state is VerdictState.READY
                and row.state in ACTED_STATES
                and row.target is not None
            ):
                # Only the process that acts moves a watch out of PROPOSED or DONE, also
                # to a newer target: a read-only process recording "ready v0.29.1" while
                # the writer moves the PR would add a proposed -> ready -> proposed pair
                # of comments that a single process never shows (found by the fault
                # simulation's concurrent runs).
                verdict = replace(
                    verdict,
                    state=VerdictState(row.state),
                    target=release_from_json(row.target),
                    extra=dict(row.extra),
                )
                target_tag = row.target_tag
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
            # A verdict ends the error episode: the next failure starts a new one.
            row.error_since = None
            row.error_notified = False
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
            event = _event(event_row)
            session.add(
                _outbox_row(
                    OUTBOX_TRANSITION,
                    {
                        "watch_id": event.watch_id,
                        "from_state": event.from_state,
                        "to_state": event.to_state,
                        "from_target": event.from_target,
                        "to_target": event.to_target,
                        "reasons": list(verdict.reasons),
                        "at": event.at.isoformat(),
                    },
                    created_at=self._now(),
                    event_id=event.id,
                )
            )
            return event

    def record_error(
        self,
        run_id: int,
        watch_id: str,
        message: str,
        *,
        notify_after: timedelta | None = None,
        hint: str | None = None,
    ) -> None:
        """Record a failed evaluation of ``watch_id`` beside its last good verdict.

        The verdict itself is left untouched (a failed poll changes nothing). Without a
        verdict yet, a row with no state is created, so ``get_verdict`` returns a
        ``StoredVerdict`` whose ``verdict`` is None and whose ``error`` is ``message``.
        The error is also added to the run's observations (signal ``"error"``), with
        ``hint`` as its evidence (``watcher status`` shows it: see :meth:`error_hint`).

        Consecutive errors form an episode, which the next ``record_verdict`` ends.
        With ``notify_after``, the first error recorded at least that long after the
        episode began adds an ``outbox`` row of kind ``"error"``, once per episode.
        """
        if notify_after is not None and notify_after < timedelta(0):
            raise ValueError(f"notify_after must not be negative, got {notify_after}")
        now = self._now()
        with self._transaction(write=True) as session:
            row = self._verdict_row_for_update(session, watch_id)
            row.error = message
            row.error_at = now
            if row.error_since is None:
                row.error_since = now
            if (
                notify_after is not None
                and not row.error_notified
                and now - row.error_since >= notify_after
            ):
                session.add(
                    _outbox_row(
                        OUTBOX_ERROR,
                        {
                            "watch_id": watch_id,
                            "error": message,
                            "since": row.error_since.isoformat(),
                            "state": row.state,
                        },
                        created_at=now,
                    )
                )
                row.error_notified = True
            session.add(
                ObservationRow(
                    run_id=run_id,
                    watch_id=watch_id,
                    signal=ERROR_SIGNAL,
                    release_tag=None,
                    status="error",
                    summary=message,
                    evidence=[hint] if hint else [],
                    observed_at=now,
                )
            )

    @staticmethod
    def _verdict_row_for_update(session: Session, watch_id: str) -> VerdictRow:
        """The watch's verdict row, locked on PostgreSQL; a new state-less row if none.

        The row is created with INSERT ... ON CONFLICT DO NOTHING before it is locked, so
        two replicas recording a watch's first verdict at once never collide on the key.
        """
        blank: dict[str, Any] = {
            "watch_id": watch_id,
            "state": None,
            "target_tag": None,
            "target": None,
            "signals": [],
            "reasons": [],
            "extra": {},
            "evaluated_at": None,
            "changed_at": None,
            "error": None,
            "error_at": None,
            "error_since": None,
            "error_notified": False,
        }
        stmt = _insert(session, VerdictRow).values(blank)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["watch_id"]))
        row = session.get(VerdictRow, watch_id, with_for_update=True, populate_existing=True)
        if row is None:  # pragma: no cover - inserted just above in this transaction
            raise StateError(f"verdict row of {watch_id!r} vanished", hint=URL_HINT)
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

    def error_hint(self, watch_id: str) -> str | None:
        """The hint recorded with the newest error of ``watch_id`` (None: none, or pruned)."""
        stmt = (
            select(ObservationRow.evidence)
            .where(ObservationRow.watch_id == watch_id, ObservationRow.signal == ERROR_SIGNAL)
            .order_by(ObservationRow.id.desc())
            .limit(1)
        )
        with self._transaction() as session:
            evidence = session.scalars(stmt).first()
        return evidence[0] if evidence else None

    def history(self, watch_id: str, limit: int | None = None) -> list[Event]:
        """The events of ``watch_id``, oldest first; with ``limit``, only the newest ones."""
        stmt = select(EventRow).where(EventRow.watch_id == watch_id).order_by(EventRow.id.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._transaction() as session:
            rows = session.scalars(stmt).all()
            return [_event(row) for row in reversed(rows)]

    def prune(self, older_than: timedelta) -> int:
        """Delete observations, runs, sent outbox rows and cache entries older than ``older_than``.

        Returns how many rows were deleted. Events, verdicts and unsent outbox rows are
        never deleted. A run counts as old when it finished before the cutoff, or never
        finished and started before it (a crashed run); the run each thread of this
        store has open is kept. The observations of a deleted run go with it.
        An outbox row counts as old when it was sent before the cutoff. Cached HTTP
        answers, image checks and pin resolutions count as old when they were stored
        before the cutoff (they are fetched again when next needed).
        """
        if older_than < timedelta(0):
            raise ValueError(f"older_than must not be negative, got {older_than}")
        cutoff = self._now() - older_than
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
                    KeyValueRow.key.startswith(PIN_KEY_PREFIX, autoescape=True),
                    KeyValueRow.updated_at < cutoff,
                ),
                execution_options=options,
            )
            return sum(
                _rowcount(result) for result in (observations, runs, sent, cached, images, pins)
            )

    # -- outbox ---------------------------------------------------------------------

    def pending_outbox(self, limit: int = 100) -> list[OutboxItem]:
        """Up to ``limit`` unsent outbox items, oldest first."""
        if limit < 1:
            raise ValueError(f"limit must be positive, got {limit}")
        stmt = (
            select(OutboxRow).where(OutboxRow.sent_at.is_(None)).order_by(OutboxRow.id).limit(limit)
        )
        with self._transaction() as session:
            return [_outbox_item(row) for row in session.scalars(stmt)]

    def begin_delivery(self, item_id: int) -> int:
        """Count a delivery attempt of outbox item ``item_id`` and return the new count.

        Committed before the deliverer posts anything: a count above 1 means an earlier
        attempt may have posted before it crashed, so the deliverer should look for its
        own earlier post before posting again. An item already sent raises
        ``StateError`` (another replica delivered it), as does an unknown one.
        """
        with self._transaction(write=True) as session:
            row = self._outbox_row_for_update(session, item_id)
            if row.sent_at is not None:
                raise StateError(
                    f"outbox item {item_id} was already sent at {row.sent_at.isoformat()}",
                    hint="another watcher process delivered it; do not post it again",
                )
            row.attempts += 1
            row.last_attempt_at = self._now()
            return row.attempts

    def claim_outbox(self, item_id: int, holder: str, ttl: timedelta) -> int | None:
        """Claim outbox item ``item_id`` for ``holder`` until now + ``ttl`` and count the attempt.

        Returns the new attempt count (as :meth:`begin_delivery`), or None when another
        process holds an unexpired claim or the item was sent meanwhile: then do not post.
        The claim is a lease row (``outbox:<id>``), taken by one conditional statement,
        so of several processes delivering at once exactly one posts; if it dies, the
        claim expires and the next claimer sees an attempt count above 1 and looks for
        the comment before posting. :meth:`mark_sent` with ``holder`` ends the claim.
        """
        name = _outbox_claim(item_id)
        if not self.acquire_lease(name, holder, ttl):
            return None
        with self._transaction(write=True) as session:
            row = self._outbox_row_for_update(session, item_id)
            if row.sent_at is None:
                row.attempts += 1
                row.last_attempt_at = self._now()
                return row.attempts
        self.release_lease(name, holder)
        return None

    def mark_sent(self, item_id: int, ref: str | None, holder: str | None = None) -> None:
        """Record that outbox item ``item_id`` was delivered, as ``ref`` (e.g. a comment URL).

        Marking an item that is already sent changes nothing, so a retry after a lost
        commit acknowledgement is harmless; an unknown item raises ``StateError``. With
        ``holder``, that holder's delivery claim ends in the same transaction.
        """
        with self._transaction(write=True) as session:
            row = self._outbox_row_for_update(session, item_id)
            if row.sent_at is None:
                row.sent_at = self._now()
                row.sent_ref = ref
            if holder is not None:
                session.execute(
                    delete(LeaseRow).where(
                        LeaseRow.name == _outbox_claim(item_id), LeaseRow.holder == holder
                    ),
                    execution_options={"synchronize_session": False},
                )

    def _outbox_row_for_update(self, session: Session, item_id: int) -> OutboxRow:
        row = session.get(OutboxRow, item_id, with_for_update=True)
        if row is None:
            raise StateError(f"outbox item {item_id} does not exist in {self.url}")
        return row

    # -- pull requests --------------------------------------------------------------

    def upsert_pull_request(self, pull: PullRequestRecord) -> None:
        """Store ``pull``, replacing the stored record of the same watch and number."""
        if pull.state not in PULL_REQUEST_STATES:
            raise ValueError(
                f"pull request state must be one of {sorted(PULL_REQUEST_STATES)}, "
                f"not {pull.state!r}"
            )
        with self._transaction(write=True) as session:
            _upsert(session, PullRequestRow, asdict(pull))

    def pull_requests(self, watch_id: str) -> list[PullRequestRecord]:
        """The stored pull requests of ``watch_id``, newest (highest number) first."""
        stmt = (
            select(PullRequestRow)
            .where(PullRequestRow.watch_id == watch_id)
            .order_by(PullRequestRow.number.desc())
        )
        with self._transaction() as session:
            return [
                PullRequestRecord(**{name: getattr(row, name) for name in _PULL_FIELDS})
                for row in session.scalars(stmt)
            ]

    # -- small named values ---------------------------------------------------------

    def get_value(self, key: str) -> str | None:
        """The value stored under ``key``, or None."""
        with self._transaction() as session:
            row = session.get(KeyValueRow, key)
            return None if row is None else row.value

    def set_value(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any previous value."""
        with self._transaction(write=True) as session:
            _upsert(session, KeyValueRow, {"key": key, "value": value, "updated_at": self._now()})

    # -- lease ----------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew lease ``name`` for ``holder`` until now + ``ttl``; True if held.

        The lease is taken when it is free, expired, or already ``holder``'s (then it is
        renewed and keeps its ``acquired_at``). Each step is one conditional statement,
        atomic on SQLite and PostgreSQL alike: at most one of several racing processes
        gets True. Expiry is judged by this store's clock, so replicas' clocks must
        agree to well within ``ttl``.
        """
        if ttl <= timedelta(0):
            raise ValueError(f"ttl must be positive, got {ttl}")
        now = self._now()
        expires_at = now + ttl
        with self._transaction(write=True) as session:
            # A holder that was killed on this machine is taken over at once (see
            # holder_is_gone); the UPDATE below still names it, so of several processes
            # that noticed, one wins.
            current = session.scalar(select(LeaseRow.holder).where(LeaseRow.name == name))
            gone = [current] if current not in (None, holder) and holder_is_gone(current) else []
            # Renewal and takeover: the WHERE clause is re-checked against the row as
            # committed by a concurrent winner (PostgreSQL row lock), so a loser
            # updates nothing rather than overwriting the winner.
            taken = session.execute(
                update(LeaseRow)
                .where(
                    LeaseRow.name == name,
                    or_(
                        LeaseRow.holder == holder,
                        LeaseRow.expires_at < now,
                        LeaseRow.holder.in_(gone),
                    ),
                )
                .values(
                    holder=holder,
                    expires_at=expires_at,
                    renewed_at=now,
                    acquired_at=case(
                        (LeaseRow.holder == holder, LeaseRow.acquired_at),
                        else_=literal(now, UTCDateTime()),
                    ),
                ),
                execution_options={"synchronize_session": False},
            )
            if _rowcount(taken) == 1:
                return True
            # No row yet (or held by another): the first INSERT wins, a concurrent one
            # waits for it and then inserts nothing.
            first = _insert(session, LeaseRow).values(
                name=name, holder=holder, expires_at=expires_at, acquired_at=now, renewed_at=now
            )
            # RETURNING rather than rowcount: psycopg reports -1 for this INSERT.
            inserted = session.execute(
                first.on_conflict_do_nothing(index_elements=["name"]).returning(LeaseRow.name)
            )
            return inserted.first() is not None

    def release_lease(self, name: str, holder: str) -> None:
        """Give up lease ``name`` if ``holder`` holds it, so another replica need not wait."""
        with self._transaction(write=True) as session:
            session.execute(
                delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder),
                execution_options={"synchronize_session": False},
            )

    def lease_holder(self, name: str) -> tuple[str, datetime] | None:
        """``(holder, expires_at)`` of lease ``name``; None when it is free or expired."""
        now = self._now()
        with self._transaction() as session:
            row = session.get(LeaseRow, name)
            if row is None or row.expires_at < now:
                return None
            return row.holder, row.expires_at


_PULL_FIELDS = tuple(field.name for field in fields(PullRequestRecord))


def _outbox_claim(item_id: int) -> str:
    """The lease name of outbox item ``item_id``'s delivery claim."""
    return f"outbox:{item_id}"


def _rowcount(result: object) -> int:
    return cast(CursorResult[Any], result).rowcount


def _insert(session: Session, table: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for ``table`` in the session's dialect, which offers ON CONFLICT."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StateError(f"unsupported database dialect {dialect!r}", hint=URL_HINT)


# DeliveryStore (Apprise deliveries, in its own module) builds its upserts with this.
Store._insert_for = staticmethod(_insert)  # type: ignore[method-assign]


def _upsert(session: Session, table: type[Base], values: dict[str, Any]) -> None:
    """Insert ``values`` into ``table``, or update the row with the same primary key.

    One statement rather than read-then-write, so concurrent writers cannot both
    insert and fail on the key.
    """
    keys = [column.name for column in inspect(table).primary_key]
    stmt = _insert(session, table).values(values)
    changes = {name: stmt.excluded[name] for name in values if name not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))


def _outbox_row(
    kind: str, payload: dict[str, Any], *, created_at: datetime, event_id: int | None = None
) -> OutboxRow:
    return OutboxRow(
        watch_id=str(payload["watch_id"]),
        event_id=event_id,
        kind=kind,
        payload=payload,
        created_at=created_at,
        attempts=0,
        last_attempt_at=None,
        sent_at=None,
        sent_ref=None,
    )


def _outbox_item(row: OutboxRow) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        watch_id=row.watch_id,
        event_id=row.event_id,
        kind=row.kind,
        payload=dict(row.payload),
        attempts=row.attempts,
        created_at=row.created_at,
        last_attempt_at=row.last_attempt_at,
    )


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
        watch_id=row.watch_id,
        verdict=verdict,
        error=row.error,
        error_at=row.error_at,
        error_since=row.error_since,
    )
