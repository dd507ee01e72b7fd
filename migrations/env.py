"""Alembic environment of watcher.

Run programmatically by ``watcher.state.migrate`` (which passes the connection to use
in ``config.attributes["connection"]``, so the migration shares its engine and
transaction), or by the ``alembic`` CLI with the top-level ``alembic.ini``, where the
URL is ``sqlalchemy.url`` if set, else ``WATCHER_DB_URL``, else the built-in instance's
default SQLite file.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from watcher.config.model import default_database_url
from watcher.state.migrate import make_engine
from watcher.state.tables import Base, UTCDateTime

config = context.config
# Only the alembic CLI has an ini file; watcher itself leaves logging to its caller.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = Base.metadata


def _database_url() -> str:
    return (
        config.get_main_option("sqlalchemy.url")
        or os.environ.get("WATCHER_DB_URL")
        or default_database_url()
    )


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    # Revisions must not import our column types: an old revision has to keep
    # creating the same schema whatever tables.py becomes.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things, batch mode rebuilds the table.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL of the migrations instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new one to the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # The store's engine factory: same SQLite pragmas and transaction handling.
    engine = make_engine(_database_url())
    try:
        with engine.begin() as new_connection:
            _run(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
