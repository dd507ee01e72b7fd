"""What every table group of the store shares: the engine, the clock and one transaction.

:class:`Database` is the base of each table-group class (``caches``, ``runs``,
``verdicts``, ``outbox``, ``leases``, ``pull_requests``, ``deliveries``) and so of the
:class:`~watcher.state.store.Store` facade that combines them
(docs/architecture.md, «State»). Every public method of a group is its own short
transaction from :meth:`Database._transaction`, which turns database trouble into
``StateError``, so callers never see SQLAlchemy exceptions.

The module-level helpers build the dialect-specific statements (``ON CONFLICT``) that
several groups need, so that none of them repeats the dialect switch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, cast

from sqlalchemy import CursorResult, Engine, inspect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from watcher.core.errors import StateError
from watcher.state.migrate import URL_HINT, WRITE_LOCK_OPTION, describe_error
from watcher.state.tables import Base

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock: now, as an aware UTC datetime."""
    return datetime.now(UTC)


class Database:
    """An engine whose schema is current, the clock its rows are stamped with, transactions."""

    def __init__(self, engine: Engine, clock: Clock = utc_now) -> None:
        """Wrap an engine whose schema is already current (use ``Store.open`` instead)."""
        self._engine = engine
        self._write_engine = engine.execution_options(**{WRITE_LOCK_OPTION: True})
        self._clock = clock

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
            raise storage_error(f"database error on {self.url}", exc, engine) from exc

    def now(self) -> datetime:
        """Now on the process's one clock (injectable: tests and simulations move it)."""
        return self._clock()


def insert_for(session: Session, table: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for ``table`` in the session's dialect, which offers ON CONFLICT."""
    # Each dialect imported on first use: PostgreSQL's costs a SQLite user ~60 ms at start.
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    raise StateError(f"unsupported database dialect {dialect!r}", hint=URL_HINT)


def upsert(session: Session, table: type[Base], values: dict[str, Any]) -> None:
    """Insert ``values`` into ``table``, or update the row with the same primary key.

    One statement rather than read-then-write, so concurrent writers cannot both
    insert and fail on the key.
    """
    keys = [column.name for column in inspect(table).primary_key]
    stmt = insert_for(session, table).values(values)
    changes = {name: stmt.excluded[name] for name in values if name not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))


def rowcount(result: object) -> int:
    """How many rows an UPDATE or DELETE matched (``Session.execute`` types it loosely)."""
    return cast(CursorResult[Any], result).rowcount


def corrupt(what: str, exc: Exception) -> StateError:
    """The error for a stored ``what`` that no longer decodes (``exc`` says why)."""
    return StateError(
        f"the stored {what} cannot be read ({type(exc).__name__}: {exc})",
        hint="the row was written by an incompatible watcher; delete it to have it recomputed",
    )


#: Free space under which an I/O error is taken for a full disk.
LOW_DISK_BYTES = 16 * 1024 * 1024
# PostgreSQL's SQLSTATEs: disk_full; lock_not_available, deadlock_detected.
_PG_DISK_FULL = "53100"
_PG_LOCKED = ("55P03", "40P01")
_HELD_HINT = (
    "another process holds a lock on the database (a watcher daemon, CronJob or manual "
    "run, or a tool with the file open); this run gave up waiting for it: try again, or "
    "stop the other process if it stays stuck"
)


def storage_error(what: str, exc: BaseException, engine: Engine) -> StateError:
    """The StateError for database trouble during ``what``, with a hint that names the
    cause when it is one an operator can act on: a lock another process holds, a full
    disk (SQLite may only say ``disk I/O error``), a read-only file."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    name = str(getattr(cause, "sqlite_errorname", ""))
    state = str(getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None) or "")
    detail = describe_error(exc, engine.url.password)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or state in _PG_LOCKED:
        return StateError(
            f"{what}: the database is locked by another process ({detail})", _HELD_HINT
        )
    path = _file_of(engine)
    free = _free_bytes(path)
    low = free is not None and free < LOW_DISK_BYTES
    where = f"the disk holding {path}" if path else "the database server's disk"
    room = f" ({_mib(free)} free)" if free is not None else ""
    if name == "SQLITE_FULL" or state == _PG_DISK_FULL or (name.startswith("SQLITE_IOERR") and low):
        return StateError(
            f"{what}: {where} is full{room} ({detail})",
            hint="free some space there (a lower [daemon].retention_days keeps the "
            "database smaller)",
        )
    if name.startswith("SQLITE_IOERR"):
        return StateError(
            f"{what}: reading or writing {path} failed{room} ({detail})",
            hint="the disk or file system failed (the kernel log says more), or a limit on "
            "file size was reached; the database itself may need `sqlite3 FILE .recover`",
        )
    if name.startswith("SQLITE_READONLY"):
        return StateError(
            f"{what}: {path} is read-only ({detail})",
            hint="give the user watcher runs as write access to the file and its directory",
        )
    return StateError(f"{what}: {detail}")


def _file_of(engine: Engine) -> str | None:
    """The SQLite database file, or None (a server database, or SQLite in memory)."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return database


def _free_bytes(path: str | None) -> int | None:
    """The bytes an unprivileged process may still write beside ``path``, if known."""
    if path is None:
        return None
    try:
        stat = os.statvfs(Path(path).resolve().parent)
    except OSError:
        return None
    return stat.f_bavail * stat.f_frsize


def _mib(size: int | None) -> str:
    return "?" if size is None else f"{size / (1024 * 1024):.1f} MiB"
