"""Leases and small named values: the ``lease`` and ``kv`` tables.

With several replicas on one database, :meth:`LeaseStore.acquire_lease` decides which
one acts, and outbox delivery claims are leases too (``OutboxStore.claim_outbox``). It
relies on one conditional statement per step, so two processes can never both believe
they hold a lease (docs/architecture.md, «State»). Who a holder is, and whether it has
died, is :mod:`watcher.state.lease`'s business; this module only keeps the rows.

``kv`` holds values that fit no table of their own: cached pin resolutions (keys start
with :data:`PIN_KEY_PREFIX`, pruned like other caches) and the dashboard issue's number.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, or_, select, update

from watcher.state.db import Database, insert_for, rowcount, upsert
from watcher.state.lease import holder_is_gone
from watcher.state.tables import KeyValueRow, LeaseRow, UTCDateTime

#: ``kv`` keys of cached pin resolutions start with this (pruned like other caches).
PIN_KEY_PREFIX = "pin:"


class LeaseStore(Database):
    """The ``lease`` and ``kv`` tables."""

    # -- small named values ---------------------------------------------------------

    def get_value(self, key: str) -> str | None:
        """The value stored under ``key``, or None."""
        with self._transaction() as session:
            row = session.get(KeyValueRow, key)
            return None if row is None else row.value

    def set_value(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any previous value."""
        with self._transaction(write=True) as session:
            upsert(session, KeyValueRow, {"key": key, "value": value, "updated_at": self._now()})

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
            if rowcount(taken) == 1:
                return True
            # No row yet (or held by another): the first INSERT wins, a concurrent one
            # waits for it and then inserts nothing.
            first = insert_for(session, LeaseRow).values(
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
