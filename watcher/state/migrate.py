"""Connect to a database and bring it to the schema this code expects.

See docs/architecture.md, «State».

:func:`make_engine` builds the one kind of engine watcher uses (SQLite pragmas and
transaction handling included), for the store and for Alembic's ``env.py`` alike.

Alembic is configured programmatically, so no ``alembic.ini`` is needed at run time,
and it is imported only inside :func:`upgrade` and :func:`alembic_config`: a warm
start compares the stored revision with :data:`HEAD_REVISION` using SQLAlchemy alone,
because importing Alembic and loading its scripts costs more than the rest of
``watcher check``'s start-up. A test keeps :data:`HEAD_REVISION` equal to the
script directory's head.

The script directory is ``<repo>/migrations`` in a checkout or editable install, and
``watcher/_migrations`` inside an installed wheel (pyproject.toml force-includes it).
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy
from sqlalchemy import Connection, Engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from watcher.core.errors import StateError

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest revision in ``migrations/versions``; bump it with every new migration.
HEAD_REVISION = "0004"

#: Execution option asking for a write transaction; on SQLite it becomes BEGIN IMMEDIATE.
WRITE_LOCK_OPTION = "watcher_write_lock"

URL_HINT = (
    "set WATCHER_DB_URL to sqlite:///PATH (the default) or "
    "postgresql+psycopg://USER:PASSWORD@HOST/DB"
)

_SQLITE_BUSY_TIMEOUT_MS = 10_000

# busy_timeout first, so that other statements wait for another process's lock
# instead of failing. WAL lets the daemon write while `watcher status` reads; with
# WAL, synchronous=NORMAL is still crash-safe and avoids an fsync per commit.
_SQLITE_BUSY_PRAGMA = f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}"
_SQLITE_WAL_PRAGMA = "PRAGMA journal_mode=WAL"
_SQLITE_PRAGMAS = ("PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")

# Pause between attempts to switch to WAL while another process holds its lock.
_SQLITE_WAL_RETRY_S = 0.02

# user:password@ in a URL SQLAlchemy could not parse, so it cannot mask it itself.
_CREDENTIALS = re.compile(r"(://[^/@:]*):[^/@]*@")

# Any fixed 64-bit number works; it only has to be the same for every replica.
_PG_MIGRATION_LOCK = 0x7761746368657221


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return _CREDENTIALS.sub(r"\1:***@", url)


def describe_error(exc: BaseException, password: str | None = None) -> str:
    """A one-line description of a database error, without SQL, parameters or password.

    SQLAlchemy's own message embeds the statement and its parameters (cached bodies,
    evidence), which belong neither in a terminal nor in a log line.
    """
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    summary = f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
    return summary.replace(password, "***") if password else summary


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from the sqlite3 module, which would neither
    # BEGIN before DDL nor allow BEGIN IMMEDIATE; _sqlite_on_begin issues BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_SQLITE_BUSY_PRAGMA)
        _sqlite_enable_wal(cursor)
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _sqlite_enable_wal(cursor: Any) -> None:
    # SQLite answers the journal_mode pragma with "database is locked" at once, without
    # consulting busy_timeout, while another process holds an exclusive lock (as when
    # its last connection closes and checkpoints). Several processes opening one new
    # database hit that, so wait here as busy_timeout would.
    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute(_SQLITE_WAL_PRAGMA)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(_SQLITE_WAL_RETRY_S)


def _sqlite_on_begin(conn: Connection) -> None:
    # A deferred transaction that reads and then writes fails at once with
    # SQLITE_BUSY when another process wrote meanwhile (WAL snapshot); IMMEDIATE
    # takes the write lock up front and so waits for busy_timeout instead.
    immediate = conn.get_execution_options().get(WRITE_LOCK_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_file(url: URL) -> Path | None:
    """The file an SQLite URL names, or None for an in-memory or URI database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite also the parent directory and the pragmas.

    Raises ``StateError`` (password masked) for an unparsable URL, an unknown or
    uninstalled driver, or a directory that cannot be created.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        # The exception text repeats the URL unmasked, so it is not quoted.
        raise StateError(f"{mask_url(url)!r} is not a database URL", hint=URL_HINT) from exc
    shown = parsed.render_as_string(hide_password=True)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    path = _sqlite_file(parsed) if is_sqlite else None
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"cannot create the directory of database {shown}: {exc.strerror or exc}",
                hint="choose a writable location with WATCHER_DB_URL (or XDG_STATE_HOME)",
            ) from exc
    try:
        # pre_ping: a PostgreSQL connection may have died with a failover since its last use.
        engine = sqlalchemy.create_engine(parsed, pool_pre_ping=not is_sqlite)
    except (SQLAlchemyError, ImportError) as exc:
        raise StateError(
            f"cannot use database {shown}: unknown or uninstalled driver "
            f"{parsed.drivername!r} ({describe_error(exc, parsed.password)})",
            hint=URL_HINT + "; PostgreSQL needs `pip install watcher[postgres]`",
        ) from exc
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def script_location(package_dir: Path | None = None) -> Path:
    """The Alembic script directory: the wheel's copy first, else the checkout's.

    ``package_dir`` is the ``watcher`` package directory (default: this one's).
    """
    if package_dir is None:
        package_dir = Path(__file__).resolve().parent.parent
    candidates = (package_dir / "_migrations", package_dir.parent / "migrations")
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    raise StateError(
        "database migration scripts not found in " + " or ".join(str(c) for c in candidates),
        hint="reinstall watcher; its wheel ships them as watcher/_migrations",
    )


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for our script directory, optionally bound to ``connection``.

    ``migrations/env.py`` uses a connection passed here (same engine, same
    transaction) and otherwise reads ``sqlalchemy.url``.
    """
    from alembic.config import Config  # kept off the warm start path

    config = Config()
    # ConfigParser interpolates '%', which may occur in a path.
    config.set_main_option("script_location", str(script_location()).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def current_revision(conn: Connection) -> str | None:
    """The revision stored in the database, or None for a database never migrated.

    Should a database ever carry several heads, they are joined with commas, which
    never equals :data:`HEAD_REVISION` and so sends the caller to Alembic.
    """
    if not inspect(conn).has_table("alembic_version"):
        return None
    revisions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return ",".join(sorted(revisions)) or None


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the newest), in one transaction.

    Concurrent callers are serialised (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an
    advisory lock), so two processes starting on a new database do not both create
    tables. Raises ``StateError`` when the database is newer than this code or the
    migration fails.
    """
    if isinstance(engine_or_url, Engine):
        _upgrade(engine_or_url, revision)
        return
    engine = make_engine(engine_or_url)
    try:
        _upgrade(engine, revision)
    finally:
        engine.dispose()


def _upgrade(engine: Engine, revision: str) -> None:
    # Alembic is imported only here and in alembic_config: kept off the warm start path.
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.execution_options(**{WRITE_LOCK_OPTION: True}).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            config = alembic_config(conn)
            known = {
                script.revision for script in ScriptDirectory.from_config(config).walk_revisions()
            }
            stored = current_revision(conn)
            unknown = sorted(set(stored.split(",")) - known) if stored else []
            if unknown:
                raise StateError(
                    f"database {where} is at schema revision {', '.join(unknown)}, which this "
                    f"version of watcher does not know (it knows up to {HEAD_REVISION}); "
                    "the database was migrated by a newer watcher",
                    hint="upgrade watcher, or point WATCHER_DB_URL at another database",
                )
            command.upgrade(config, revision)
    except CommandError as exc:
        raise StateError(f"cannot migrate database {where}: {exc}") from exc
    except SQLAlchemyError as exc:
        raise StateError(
            f"cannot migrate database {where}: {describe_error(exc, engine.url.password)}"
        ) from exc
