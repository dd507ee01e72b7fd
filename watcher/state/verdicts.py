"""Verdicts, their events and observations: the state machine of each watch, stored.

The current verdict per watch lives in ``verdicts``; every change of state or target
appends an ``events`` row and an ``outbox`` row announcing it in the same transaction,
and an error is stored beside the last good verdict, never instead of it
(docs/architecture.md, «What support landed means» and «State»). Each signal of an
evaluation, and each error, is an ``observations`` row of its run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from watcher.core.errors import StateError
from watcher.core.models import Verdict, VerdictState
from watcher.state.codec import (
    release_from_json,
    release_to_json,
    signal_from_json,
    signal_to_json,
)
from watcher.state.db import Database, corrupt, insert_for
from watcher.state.migrate import URL_HINT
from watcher.state.outbox import ErrorEpisode, Transition, outbox_row
from watcher.state.tables import EventRow, ObservationRow, VerdictRow

#: ``observations.signal`` of the row ``record_error`` writes (not a ``SignalName``).
ERROR_SIGNAL = "error"

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


class VerdictStore(Database):
    """The ``verdicts``, ``events`` and ``observations`` tables."""

    def record_verdict(
        self, run_id: int, verdict: Verdict, *, keep_action_state: bool = False
    ) -> Event | None:
        """Store ``verdict`` as the watch's current one, with its observations and event.

        In one transaction: the ``verdicts`` row is replaced (its error becomes
        ``verdict.error``, normally None), one ``observations`` row is added per signal
        that differs from the stored verdict's (so an idle poll adds none), and when the
        state or the target tag differs from the previous verdict (or there was none) an
        event is appended and returned. ``changed_at`` moves only
        then, together with an ``outbox`` row of kind ``"transition"`` announcing it.
        Any error episode ends (see :meth:`record_error`). Times are
        ``verdict.evaluated_at`` when set, else the clock's now.

        With ``keep_action_state`` (a run that does not act on pull requests), a READY
        verdict while the stored verdict is PROPOSED or DONE keeps that state, its target
        and its pull-request details (a newer target is the acting process's to record
        when it moves the PR): decided under the row lock, so a read-only process never
        undoes what a writing process recorded concurrently.
        """
        at = verdict.evaluated_at or self.now()
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
            previous_signals = row.signals or []
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
                for signal, stored in zip(verdict.signals, row.signals, strict=True)
                # Observations are a change log: an idle poll, which sees what the last one
                # saw, adds no row (a year of idle cycles would otherwise be ~550 MB).
                if stored not in previous_signals
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
                outbox_row(
                    Transition(
                        event.watch_id,
                        event.from_state,
                        event.to_state,
                        event.from_target,
                        event.to_target,
                        tuple(verdict.reasons),
                        event.at.isoformat(),
                    ),
                    created_at=self.now(),
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
        now = self.now()
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
                    outbox_row(
                        ErrorEpisode(watch_id, message, row.error_since.isoformat(), row.state),
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
        stmt = insert_for(session, VerdictRow).values(blank)
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
            raise corrupt(f"verdict of watch {row.watch_id!r}", exc) from exc
    return StoredVerdict(
        watch_id=row.watch_id,
        verdict=verdict,
        error=row.error,
        error_at=row.error_at,
        error_since=row.error_since,
    )
