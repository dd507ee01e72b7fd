"""The notification outbox: rows written with what they announce, claimed, marked sent.

An ``outbox`` row is written in the same transaction as the event or error episode it
announces (``VerdictStore`` builds it with :func:`outbox_row`), so a crash can delay a
notification but never lose it (docs/architecture.md, «Notifications»). The deliverer
claims an item with :meth:`OutboxStore.claim_outbox` (one process at a time, expiring
if it dies) before posting and calls :meth:`OutboxStore.mark_sent` after; the attempt
count tells it whether an earlier attempt may already have posted. Fanning rows out to
Apprise targets is :mod:`watcher.state.deliveries`'s job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from watcher.core.errors import StateError
from watcher.state.leases import LeaseStore
from watcher.state.tables import LeaseRow, OutboxRow

#: ``outbox.kind`` of a verdict transition (written by ``record_verdict``).
OUTBOX_TRANSITION = "transition"
#: ``outbox.kind`` of an error episode that lasted ``notify_after`` (``record_error``).
OUTBOX_ERROR = "error"


@dataclass(frozen=True)
class Transition:
    """A watch's verdict changed state or target (``outbox.kind`` ``transition``)."""

    watch_id: str
    from_state: str | None  # None: the watch's first verdict
    to_state: str
    from_target: str | None
    to_target: str | None
    reasons: tuple[str, ...]
    at: str  # ISO 8601


@dataclass(frozen=True)
class ErrorEpisode:
    """A watch has failed for ``notify_after`` (``outbox.kind`` ``error``)."""

    watch_id: str
    error: str
    since: str  # ISO 8601
    state: str | None  # the last good verdict's state, None before the first


#: What an outbox row announces; its JSON ``payload`` is the fields of one of these.
Notice = Transition | ErrorEpisode


def notice_of(kind: str, payload: dict[str, Any]) -> Notice:
    """The typed notice of one stored row (``kind`` and JSON ``payload``, its fields)."""
    if kind == OUTBOX_ERROR:
        return ErrorEpisode(**payload)
    return Transition(**{**payload, "reasons": tuple(payload["reasons"])})


@dataclass(frozen=True)
class OutboxItem:
    """An undelivered notification."""

    id: int
    watch_id: str
    event_id: int | None
    notice: Notice
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None


class OutboxStore(LeaseStore):
    """The ``outbox`` table; a delivery claim is a lease, hence the base class."""

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
            row.last_attempt_at = self.now()
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
                row.last_attempt_at = self.now()
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
                row.sent_at = self.now()
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


def outbox_row(notice: Notice, *, created_at: datetime, event_id: int | None = None) -> OutboxRow:
    """A new, unsent ``outbox`` row announcing ``notice``."""
    return OutboxRow(
        watch_id=notice.watch_id,
        event_id=event_id,
        kind=OUTBOX_ERROR if isinstance(notice, ErrorEpisode) else OUTBOX_TRANSITION,
        payload=asdict(notice),
        created_at=created_at,
        attempts=0,
        last_attempt_at=None,
        sent_at=None,
        sent_ref=None,
    )


def _outbox_claim(item_id: int) -> str:
    """The lease name of outbox item ``item_id``'s delivery claim."""
    return f"outbox:{item_id}"


def _outbox_item(row: OutboxRow) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        watch_id=row.watch_id,
        event_id=row.event_id,
        notice=notice_of(row.kind, row.payload),
        attempts=row.attempts,
        created_at=row.created_at,
        last_attempt_at=row.last_attempt_at,
    )
