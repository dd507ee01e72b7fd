"""Leases and small named values: the ``lease`` and ``kv`` tables, and the actor lease.

With several watcher processes on one database, the **actor lease** decides which one
writes to GitHub (opens pull requests, notifies); the others only evaluate
(docs/architecture.md, «State»). A daemon and `watcher run --once` hold it the same way,
through :class:`ActorLease`: taken or renewed before each cycle, given back when the
process ends. It lasts three regular cycle gaps, so a brief hiccup does not hand the
pull requests to another process, while a dead holder is replaced within minutes (and
at once when it died on this machine: :func:`holder_is_gone`). Outbox delivery claims
are leases too (``OutboxStore.claim_outbox``). :meth:`LeaseStore.acquire_lease` relies
on one conditional statement per step, so two processes can never both believe they
hold a lease.

``kv`` holds values that fit no table of their own: cached pin resolutions and chart
images (keys start with :data:`PIN_KEY_PREFIX` / :data:`CHART_IMAGES_KEY_PREFIX`, pruned
like other caches) and the dashboard issue's number.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, delete, literal, or_, select, update

from watcher.state.db import Database, insert_for, rowcount, upsert
from watcher.state.tables import KeyValueRow, LeaseRow, UTCDateTime

if TYPE_CHECKING:
    from watcher.config.model import DaemonConfig

#: ``kv`` keys of cached pin resolutions start with this (pruned like other caches).
PIN_KEY_PREFIX = "pin:"
#: ``kv`` keys of the images a watch's chart deploys (one per watch; pruned like other
#: caches, so the key of a watch that is gone does not stay for good).
CHART_IMAGES_KEY_PREFIX = "chart-images:"
#: The lease whose holder writes to GitHub.
ACTOR_LEASE = "actor"


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
            upsert(session, KeyValueRow, {"key": key, "value": value, "updated_at": self.now()})

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
        now = self.now()
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
        now = self.now()
        with self._transaction() as session:
            row = session.get(LeaseRow, name)
            if row is None or row.expires_at < now:
                return None
            return row.holder, row.expires_at


class ActorLease:
    """This process's hold on the actor lease: :meth:`take` before each cycle,
    :meth:`close` when the process is done (``with contextlib.closing(...)``)."""

    def __init__(self, store: LeaseStore, holder: str, settings: DaemonConfig) -> None:
        self.store, self.holder, self.ttl = store, holder, lease_ttl(settings)
        self.held = False

    def take(self) -> bool:
        """Take or renew the lease for one more cycle; whether this process holds it."""
        self.held = self.store.acquire_lease(ACTOR_LEASE, self.holder, self.ttl)
        return self.held

    def close(self) -> None:
        """Give the lease back, if held, so another process need not wait for it to expire."""
        if self.held:
            self.store.release_lease(ACTOR_LEASE, self.holder)
            self.held = False


def process_holder(pid: int | None = None) -> str:
    """A process's name in lease rows and claims: ``hostname:pid@pidns`` (this one's default).

    The pid namespace (Linux: the inode of ``/proc/self/ns/pid``) tells apart processes
    that share a host name but not a process table (containers with the host's UTS
    namespace), so that :func:`holder_is_gone` only ever judges a pid it can see.
    """
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}@{_pid_namespace()}"


def holder_is_gone(holder: str) -> bool:
    """Whether ``holder`` names a process of this machine's process table that has ended.

    A process killed outright (SIGKILL, OOM, a CronJob pod evicted) cannot give back its
    lease or claims; waiting for them to expire would keep every other process from
    writing for minutes, and a transition comment waiting that long. A holder of another
    host or pid namespace (or of unknown form) is judged by expiry alone, and so is one
    whose pid is taken again (it looks alive: the safe side).
    """
    host, _, rest = holder.rpartition(":")
    pid, _, namespace = rest.partition("@")
    if host != socket.gethostname() or namespace != _pid_namespace() or not pid.isdigit():
        return False
    if namespace == "unknown":
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def _pid_namespace() -> str:
    """This process's pid namespace id, or ``unknown`` where the system does not tell."""
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        return "unknown"


def lease_ttl(settings: DaemonConfig) -> timedelta:
    """How long a taken lease lasts without renewal: three cycle gaps."""
    return timedelta(seconds=3 * (settings.interval_seconds + settings.jitter_seconds))
