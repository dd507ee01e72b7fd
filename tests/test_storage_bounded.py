"""Storage stays bounded by default: idle cycles add no observation rows, and `run --once`
prunes what the retention lets go (docs/architecture.md, «State»)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, func, select, update

from tests.conftest import WatcherRun
from tests.standin.headscale import load_headscale
from watcher.state.tables import Base, EventRow, ObservationRow, RunRow


def count(url: str, table: type[Base]) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return int(n)


def test_idle_cycles_add_no_observations(acting: WatcherRun) -> None:
    """The shipped default (no retention set) used to add a row per signal per idle poll."""
    load_headscale(acting.standin, "pending")
    assert acting("run", "--once").exit_code == 0
    after_first = count(acting.db_url, ObservationRow)
    assert after_first > 0
    for _ in range(3):
        assert acting("run", "--once").exit_code == 0
    assert count(acting.db_url, ObservationRow) == after_first
    assert count(acting.db_url, RunRow) == 4


def test_run_once_prunes_past_the_default_retention(acting: WatcherRun) -> None:
    """A CronJob (`run --once`) keeps its database bounded too; events are never pruned."""
    load_headscale(acting.standin, "waiting")
    assert acting("run", "--once").exit_code == 0
    load_headscale(acting.standin, "pending")
    assert acting("run", "--once").exit_code == 0
    events = count(acting.db_url, EventRow)
    # Age everything written so far past the default retention (90 days).
    old = datetime.now(UTC) - timedelta(days=91)
    engine = create_engine(acting.db_url)
    with engine.begin() as conn:
        conn.execute(update(RunRow).values(started_at=old, finished_at=old))
        conn.execute(update(ObservationRow).values(observed_at=old))
    engine.dispose()
    assert acting("run", "--once").exit_code == 0
    assert count(acting.db_url, RunRow) == 1  # only this run is left
    assert count(acting.db_url, ObservationRow) == 0  # this idle run logged no change
    assert count(acting.db_url, EventRow) == events
