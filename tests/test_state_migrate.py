"""Tests of watcher.state.migrate and migrations/: no drift, head revision, locating scripts.

``db_url`` comes from tests.test_state_store (SQLite, plus PostgreSQL when
``WATCHER_TEST_PG_URL`` is set).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from tests.test_state_store import db_url
from watcher.core.errors import StateError
from watcher.state import migrate
from watcher.state.store import ErrorEpisode, Store
from watcher.state.tables import Base

__all__ = ["db_url"]  # the fixture, re-exported so that pytest finds it here

REPO = Path(__file__).resolve().parent.parent


def schema_diff(url: str) -> list[object]:
    engine = migrate.make_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def test_head_revision_is_the_script_directorys_head() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert scripts.get_heads() == [migrate.HEAD_REVISION]


def test_migrations_create_exactly_the_models_schema(db_url: str) -> None:
    migrate.upgrade(db_url)
    assert schema_diff(db_url) == []
    engine = migrate.make_engine(db_url)
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD_REVISION
    engine.dispose()


def test_downgrade_to_base_and_upgrade_again(db_url: str) -> None:
    migrate.upgrade(db_url)
    engine = migrate.make_engine(db_url)
    try:
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(conn), "base")
        with engine.connect() as conn:
            assert migrate.current_revision(conn) is None
    finally:
        engine.dispose()
    assert schema_diff(db_url) != []  # the comparison is not vacuous
    migrate.upgrade(db_url)
    assert schema_diff(db_url) == []


def test_upgrade_from_0001_keeps_verdicts_and_starts_no_episode(db_url: str) -> None:
    migrate.upgrade(db_url, "0001")
    engine = migrate.make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO verdicts (watch_id, state, signals, reasons, extra) "
                    "VALUES ('w', 'ready', '[]', '[]', '{}')"
                )
            )
    finally:
        engine.dispose()
    with Store.open(db_url) as store:
        stored = store.get_verdict("w")
        assert stored is not None and stored.verdict is not None
        assert stored.error_since is None
        # The flag the migration filled in must read as "not notified yet".
        store.record_error(store.start_run(), "w", "down", notify_after=timedelta(0))
        [item] = store.pending_outbox()
        assert isinstance(item.notice, ErrorEpisode) and item.notice.state == "ready"
    assert schema_diff(db_url) == []


def test_current_revision_of_an_empty_database_is_none(tmp_path: Path) -> None:
    engine = migrate.make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with engine.connect() as conn:
        assert migrate.current_revision(conn) is None
    engine.dispose()


def test_script_location_in_a_checkout() -> None:
    assert migrate.script_location() == REPO / "migrations"


def test_script_location_prefers_the_wheels_copy(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "watcher"
    (package / "_migrations").mkdir(parents=True)
    (package / "_migrations" / "env.py").write_text("")
    assert migrate.script_location(package) == package / "_migrations"


def test_script_location_missing_is_a_state_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="migration scripts not found"):
        migrate.script_location(tmp_path / "watcher")


def test_migrations_run_from_a_wheel_layout(tmp_path: Path) -> None:
    # What an installed wheel looks like: the scripts live inside the package.
    package = tmp_path / "watcher"
    shutil.copytree(REPO / "migrations", package / "_migrations")
    location = migrate.script_location(package)
    scripts = ScriptDirectory(str(location))
    assert scripts.get_current_head() == migrate.HEAD_REVISION


def _open_and_count(url: str) -> int:
    with Store.open(url) as store:
        return len(store.pending_outbox())


def test_concurrent_first_use_migrates_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race' / 'watcher.db'}"
    with ProcessPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(_open_and_count, [url] * 4)) == [0, 0, 0, 0]
    assert schema_diff(url) == []


@pytest.mark.slow  # starts a process
def test_alembic_cli_with_the_top_level_ini(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli' / 'watcher.db'}"
    alembic = Path(sys.executable).parent / "alembic"
    environ = {**os.environ, "WATCHER_DB_URL": url}
    subprocess.run(
        [str(alembic), "upgrade", "head"], cwd=REPO, env=environ, check=True, capture_output=True
    )
    check = subprocess.run(
        [str(alembic), "check"], check=False, cwd=REPO, env=environ, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    Store.open(url, migrate=False).close()
