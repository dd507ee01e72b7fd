"""Delivery of outbox rows to Apprise targets: once per row per target, retried, claimed.

A part of :class:`~watcher.state.store.Store` (it inherits :class:`DeliveryStore`),
kept in its own module because it is its own job: the outbox row is written with what
it announces (``verdicts.py``, ``outbox.py``); this module fans it out to every target
configured then (docs/architecture.md, «Notifications»).

- A target is *registered* every cycle (:meth:`DeliveryStore.register_targets`); the
  first time, it remembers the newest outbox id, and receives only rows after it.
- A process *claims* a row for a target with one conditional statement
  (:meth:`DeliveryStore.claim_delivery`), so two processes never send it both; a claim
  expires, so a process that died while sending does not block it forever (the next
  claimant sends again: a webhook cannot be asked whether it already got something).
- A failure records a masked error and a backoff; a success marks the row sent. The
  rows of one target are sent in order: a row waiting for its backoff holds back the
  rows after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from watcher.state.db import Database, insert_for
from watcher.state.outbox import Notice, notice_of
from watcher.state.tables import NotifyTargetRow, OutboxDeliveryRow, OutboxRow


@dataclass(frozen=True)
class TargetSpec:
    """A target as configured now: secret-free key and label, and the watches it serves."""

    key: str
    label: str
    watches: frozenset[str] | None  # None: every watch


@dataclass(frozen=True)
class PendingDelivery:
    """An outbox row not yet delivered to one target, with its delivery bookkeeping."""

    outbox_id: int
    watch_id: str
    notice: Notice
    created_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    claimed_until: datetime | None


@dataclass(frozen=True)
class TargetStatus:
    """How far one target is behind: for ``watcher status``, metrics and the dashboard.

    ``undeliverable`` counts the rows waiting on a target whose oldest row failed at
    least ``undeliverable_after`` times (they wait behind it); 0 for a healthy target.
    """

    key: str
    label: str
    pending: int
    undeliverable: int
    attempts: int
    failing_since: datetime | None
    last_error: str | None


class DeliveryStore(Database):
    """The ``notify_targets`` and ``outbox_deliveries`` tables (Apprise deliveries)."""

    def register_targets(self, targets: Sequence[TargetSpec]) -> None:
        """Record the configured targets; a new one starts after the newest outbox row."""
        if not targets:
            return
        with self._transaction(write=True) as session:
            newest = session.scalar(select(func.coalesce(func.max(OutboxRow.id), 0))) or 0
            for target in targets:
                watches = sorted(target.watches) if target.watches is not None else None
                stmt = insert_for(session, NotifyTargetRow).values(
                    key=target.key,
                    label=target.label,
                    watches=watches,
                    since_outbox_id=newest,
                    created_at=self.now(),
                )
                session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["key"],
                        set_={"label": stmt.excluded.label, "watches": stmt.excluded.watches},
                    )
                )

    def pending_deliveries(self, key: str, limit: int = 100) -> list[PendingDelivery]:
        """Up to ``limit`` outbox rows not yet delivered to target ``key``, oldest first."""
        with self._transaction() as session:
            target = session.get(NotifyTargetRow, key)
            if target is None:
                return []
            rows = session.execute(_pending_query(target).order_by(OutboxRow.id).limit(limit)).all()
            return [
                PendingDelivery(
                    outbox_id=o.id,
                    watch_id=o.watch_id,
                    notice=notice_of(o.kind, o.payload),
                    created_at=o.created_at,
                    attempts=d.attempts if d is not None else 0,
                    next_attempt_at=d.next_attempt_at if d is not None else None,
                    claimed_until=d.claimed_until if d is not None else None,
                )
                for o, d in rows
            ]

    def claim_delivery(self, outbox_id: int, key: str, holder: str, lease: timedelta) -> int | None:
        """Claim the delivery of ``outbox_id`` to ``key`` for ``lease``; the attempt number.

        None when it is sent, claimed by a live claim, or waiting for its backoff. One
        conditional UPDATE decides, so of two processes claiming at once one gets it.
        """
        now = self.now()
        with self._transaction(write=True) as session:
            blank = insert_for(session, OutboxDeliveryRow).values(
                outbox_id=outbox_id, target=key, attempts=0
            )
            session.execute(blank.on_conflict_do_nothing(index_elements=["outbox_id", "target"]))
            row = OutboxDeliveryRow
            result = session.execute(
                update(row)
                .where(
                    row.outbox_id == outbox_id,
                    row.target == key,
                    row.sent_at.is_(None),
                    or_(row.claimed_until.is_(None), row.claimed_until <= now),
                    or_(row.next_attempt_at.is_(None), row.next_attempt_at <= now),
                )
                .values(
                    attempts=row.attempts + 1,
                    claimed_by=holder,
                    claimed_until=now + lease,
                    last_attempt_at=now,
                ),
                execution_options={"synchronize_session": False},
            )
            if getattr(result, "rowcount", 0) != 1:
                return None
            return session.scalar(
                select(row.attempts).where(row.outbox_id == outbox_id, row.target == key)
            )

    def delivery_sent(self, outbox_id: int, key: str) -> None:
        """Mark the delivery of ``outbox_id`` to ``key`` done (its target's failures end)."""
        now = self.now()
        self._finish_attempt(
            outbox_id,
            key,
            sent_at=now,
            next_attempt_at=None,
            failing_since=None,
            last_error=None,
        )

    def delivery_failed(self, outbox_id: int, key: str, error: str, retry_after: timedelta) -> None:
        """Record a failed attempt (``error`` must be free of secrets) and its backoff."""
        now = self.now()
        self._finish_attempt(
            outbox_id,
            key,
            next_attempt_at=now + retry_after,
            failing_since=func.coalesce(OutboxDeliveryRow.failing_since, now),
            last_error=error,
        )

    def _finish_attempt(self, outbox_id: int, key: str, **values: Any) -> None:
        """End the claim on an unsent delivery and record how the attempt went."""
        with self._transaction(write=True) as session:
            row = OutboxDeliveryRow
            session.execute(
                update(row)
                .where(row.outbox_id == outbox_id, row.target == key, row.sent_at.is_(None))
                .values(claimed_until=None, **values),
                execution_options={"synchronize_session": False},
            )

    def target_statuses(self, undeliverable_after: int) -> list[TargetStatus]:
        """Every registered target and how far behind it is, ordered by key."""
        with self._transaction() as session:
            statuses = []
            for target in session.scalars(select(NotifyTargetRow).order_by(NotifyTargetRow.key)):
                pending = list(session.execute(_pending_query(target).order_by(OutboxRow.id)))
                oldest = pending[0][1] if pending else None
                attempts = oldest.attempts if oldest is not None else 0
                statuses.append(
                    TargetStatus(
                        key=target.key,
                        label=target.label,
                        pending=len(pending),
                        undeliverable=len(pending) if attempts >= undeliverable_after else 0,
                        attempts=attempts,
                        failing_since=oldest.failing_since if oldest is not None else None,
                        last_error=oldest.last_error if oldest is not None else None,
                    )
                )
            return statuses


def _pending_query(target: NotifyTargetRow) -> Any:
    """(outbox row, its delivery row or None) of every row ``target`` has yet to get."""
    joined = select(OutboxRow, OutboxDeliveryRow).outerjoin(
        OutboxDeliveryRow,
        and_(OutboxDeliveryRow.outbox_id == OutboxRow.id, OutboxDeliveryRow.target == target.key),
    )
    query = joined.where(OutboxRow.id > target.since_outbox_id, OutboxDeliveryRow.sent_at.is_(None))
    if target.watches is not None:
        query = query.where(OutboxRow.watch_id.in_(target.watches))
    return query
