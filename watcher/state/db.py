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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, cast

from sqlalchemy import CursorResult, Engine, inspect
from sqlalchemy.exc import SQLAlchemyError
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
            raise StateError(
                f"database error on {self.url}: {describe_error(exc, engine.url.password)}"
            ) from exc

    def _now(self) -> datetime:
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
