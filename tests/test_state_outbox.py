"""Tests of the notification outbox, watcher.state.outbox (docs/architecture.md, «Notifications»).

Transitions and error episodes write outbox rows in the same transaction as what they
announce; delivery is counted before posting and marked afterwards. ``db_url``,
``clock`` and ``store`` come from tests.test_state_store (SQLite, plus PostgreSQL
when ``WATCHER_TEST_PG_URL`` is set).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests.test_state_store import T0, FakeClock, clock, count_rows, db_url, store, verdict
from watcher.core.errors import StateError
from watcher.core.models import VerdictState
from watcher.state.migrate import make_engine
from watcher.state.store import ErrorEpisode, OutboxItem, RunStats, Store, Transition
from watcher.state.tables import EventRow, OutboxRow, VerdictRow

__all__ = ["clock", "db_url", "store"]  # the fixtures, re-exported so that pytest finds them

WATCH = "headscale-peer-relay"


class Boom(Exception):
    """The forced failure of a statement inside a store transaction."""


@contextmanager
def failing_store(db_url: str, clock: FakeClock, table: str) -> Iterator[Store]:
    """A store whose transactions fail right after an INSERT into ``table`` ran.

    The listener raises after the statement executed, so every row of the transaction
    so far (verdict, event, outbox) really was written before the rollback.
    """
    Store.open(db_url).close()
    engine = make_engine(db_url)

    def fail_after_insert(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
            raise Boom(statement)

    # Registered before the Store wraps the engine, so its write engine inherits it.
    event.listen(engine, "after_cursor_execute", fail_after_insert)
    with Store(engine, clock) as failing:
        yield failing


def outbox_rows(url: str) -> list[OutboxRow]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
    finally:
        engine.dispose()


# -- transitions -------------------------------------------------------------------


def test_transition_writes_an_outbox_row_with_the_event(store: Store) -> None:
    run_id = store.start_run()
    first = store.record_verdict(run_id, verdict(VerdictState.PENDING, "v0.29.0"))
    assert first is not None
    assert store.record_verdict(run_id, verdict(VerdictState.PENDING, "v0.29.0")) is None
    ready = store.record_verdict(run_id, verdict(VerdictState.READY, "v0.29.0"))
    assert ready is not None

    pending = store.pending_outbox()
    assert [(type(item.notice), item.event_id) for item in pending] == [
        (Transition, first.id),
        (Transition, ready.id),
    ]
    assert pending[1] == OutboxItem(
        id=pending[1].id,
        watch_id=WATCH,
        event_id=ready.id,
        notice=Transition(
            watch_id=WATCH,
            from_state="pending",
            to_state="ready",
            from_target="v0.29.0",
            to_target="v0.29.0",
            reasons=("state ready",),
            at=T0.isoformat(),
        ),
        attempts=0,
        created_at=T0,
        last_attempt_at=None,
    )


def test_failure_after_the_outbox_insert_leaves_neither_event_nor_outbox(
    db_url: str, clock: FakeClock
) -> None:
    with failing_store(db_url, clock, "outbox") as failing:
        run_id = failing.start_run()
        with pytest.raises(Boom):
            failing.record_verdict(run_id, verdict(VerdictState.READY, "v0.29.0"))
        assert failing.get_verdict(WATCH) is None
    assert count_rows(db_url, EventRow) == 0
    assert count_rows(db_url, OutboxRow) == 0


def test_failure_after_the_event_insert_leaves_no_outbox_row(db_url: str, clock: FakeClock) -> None:
    with failing_store(db_url, clock, "events") as failing:
        with pytest.raises(Boom):
            failing.record_verdict(failing.start_run(), verdict(VerdictState.READY, "v0.29.0"))
        assert failing.pending_outbox() == []
    assert count_rows(db_url, VerdictRow) == 0


# -- error episodes ----------------------------------------------------------------


def test_error_episode_is_notified_once_after_notify_after(store: Store, clock: FakeClock) -> None:
    store.record_verdict(store.start_run(), verdict(VerdictState.READY, "v0.29.0"))
    store.mark_sent(store.pending_outbox()[0].id, None)
    hour = timedelta(hours=1)

    store.record_error(store.start_run(), WATCH, "GitHub answered 502", notify_after=hour)
    clock.advance(timedelta(minutes=59))
    store.record_error(store.start_run(), WATCH, "GitHub answered 503", notify_after=hour)
    assert store.pending_outbox() == []

    noticed_at = clock.advance(timedelta(minutes=1))
    store.record_error(store.start_run(), WATCH, "GitHub answered 504", notify_after=hour)
    clock.advance(hour)
    store.record_error(store.start_run(), WATCH, "still down", notify_after=hour)
    [item] = store.pending_outbox()
    assert (item.event_id, item.watch_id, item.created_at) == (
        None,
        WATCH,
        noticed_at,
    )
    assert item.notice == ErrorEpisode(
        watch_id=WATCH, error="GitHub answered 504", since=T0.isoformat(), state="ready"
    )
    stored = store.get_verdict(WATCH)
    assert stored is not None
    assert (stored.error, stored.error_since) == ("still down", T0)


def test_a_verdict_ends_the_episode_and_a_new_one_is_notified_again(
    store: Store, clock: FakeClock
) -> None:
    hour = timedelta(hours=1)
    store.record_error(store.start_run(), WATCH, "first outage", notify_after=hour)
    clock.advance(hour)
    store.record_error(store.start_run(), WATCH, "first outage", notify_after=hour)
    # No state payload yet: the watch has never been evaluated successfully.
    assert [i.notice for i in store.pending_outbox()] == [
        ErrorEpisode(WATCH, "first outage", T0.isoformat(), None)
    ]

    # The same verdict again would be no event, yet still ends the episode.
    store.record_verdict(store.start_run(), verdict(VerdictState.WAITING, None))
    stored = store.get_verdict(WATCH)
    assert stored is not None and (stored.error, stored.error_since) == (None, None)
    store.record_verdict(store.start_run(), verdict(VerdictState.WAITING, None))

    second_since = clock.advance(hour)
    store.record_error(store.start_run(), WATCH, "second outage", notify_after=hour)
    assert len(store.pending_outbox()) == 2  # the first error and the transition
    clock.advance(hour)
    store.record_error(store.start_run(), WATCH, "second outage", notify_after=hour)
    errors = [i.notice for i in store.pending_outbox() if isinstance(i.notice, ErrorEpisode)]
    assert [(e.since, e.state) for e in errors] == [
        (T0.isoformat(), None),
        (second_since.isoformat(), "waiting"),
    ]


def test_errors_without_notify_after_track_the_episode_but_never_notify(
    store: Store, clock: FakeClock
) -> None:
    store.record_error(store.start_run(), WATCH, "down")
    clock.advance(timedelta(days=3))
    store.record_error(store.start_run(), WATCH, "down")
    assert store.pending_outbox() == []
    stored = store.get_verdict(WATCH)
    assert stored is not None and stored.error_since == T0
    # A caller that starts passing notify_after later still gets the whole episode.
    store.record_error(store.start_run(), WATCH, "down", notify_after=timedelta(days=1))
    assert [i.notice for i in store.pending_outbox()] == [
        ErrorEpisode(WATCH, "down", T0.isoformat(), None)
    ]


def test_zero_notify_after_notifies_the_first_error(store: Store) -> None:
    store.record_error(store.start_run(), WATCH, "down", notify_after=timedelta(0))
    store.record_error(store.start_run(), WATCH, "down", notify_after=timedelta(0))
    assert [type(i.notice) for i in store.pending_outbox()] == [ErrorEpisode]
    with pytest.raises(ValueError, match="negative"):
        store.record_error(store.start_run(), WATCH, "down", notify_after=timedelta(-1))


def test_failed_error_notification_is_retried_on_the_next_error(
    db_url: str, clock: FakeClock
) -> None:
    with failing_store(db_url, clock, "outbox") as failing:
        with pytest.raises(Boom):
            failing.record_error(failing.start_run(), WATCH, "down", notify_after=timedelta(0))
        assert failing.get_verdict(WATCH) is None  # error, episode and flag rolled back
    with Store.open(db_url, clock=clock) as store:
        store.record_error(store.start_run(), WATCH, "down", notify_after=timedelta(0))
        assert [type(i.notice) for i in store.pending_outbox()] == [ErrorEpisode]


# -- delivery ----------------------------------------------------------------------


def test_begin_delivery_counts_attempts_and_mark_sent_removes_the_item(
    store: Store, clock: FakeClock, db_url: str
) -> None:
    store.record_verdict(store.start_run(), verdict(VerdictState.READY, "v0.29.0"))
    [item] = store.pending_outbox()
    first_try = clock.advance(timedelta(seconds=5))
    assert store.begin_delivery(item.id) == 1
    # The deliverer crashed after posting, before mark_sent: the item is still pending,
    # and the next attempt learns that an earlier one may already have posted.
    [again] = store.pending_outbox()
    assert (again.attempts, again.last_attempt_at) == (1, first_try)
    sent_at = clock.advance(timedelta(minutes=1))
    assert store.begin_delivery(item.id) == 2
    store.mark_sent(item.id, "https://github.com/o/chart/issues/7#issuecomment-1")
    assert store.pending_outbox() == []

    # Marking again (a retried commit) keeps the first delivery's record.
    clock.advance(timedelta(minutes=1))
    store.mark_sent(item.id, "https://github.com/o/chart/issues/7#issuecomment-2")
    [row] = outbox_rows(db_url)
    assert (row.attempts, row.sent_at, row.sent_ref) == (
        2,
        sent_at,
        "https://github.com/o/chart/issues/7#issuecomment-1",
    )
    with pytest.raises(StateError, match="already sent"):
        store.begin_delivery(item.id)


def test_unknown_outbox_items_are_state_errors(store: Store) -> None:
    with pytest.raises(StateError, match="outbox item 4242 does not exist"):
        store.begin_delivery(4242)
    with pytest.raises(StateError, match="outbox item 4242 does not exist"):
        store.mark_sent(4242, None)


def to_targets(items: list[OutboxItem]) -> list[str | None]:
    return [i.notice.to_target for i in items if isinstance(i.notice, Transition)]


def test_pending_outbox_is_oldest_first_and_limited(store: Store) -> None:
    run_id = store.start_run()
    tags = ("v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0")
    for tag in tags:
        store.record_verdict(run_id, verdict(VerdictState.READY, tag))
    assert to_targets(store.pending_outbox()) == list(tags)
    first_two = store.pending_outbox(limit=2)
    assert to_targets(first_two) == ["v1.0.0", "v1.1.0"]
    store.mark_sent(first_two[0].id, None)
    assert to_targets(store.pending_outbox(limit=2)) == ["v1.1.0", "v1.2.0"]
    with pytest.raises(ValueError, match="positive"):
        store.pending_outbox(limit=0)


def test_prune_keepsunsent_and_recently_sent_outbox_rows(
    store: Store, clock: FakeClock, db_url: str
) -> None:
    run_id = store.start_run()
    for tag in ("v1.0.0", "v1.1.0", "v1.2.0"):
        store.record_verdict(run_id, verdict(VerdictState.READY, tag))
    store.finish_run(run_id, "ok", RunStats(0, 0, 0))
    old_sent, recent_sent, unsent = store.pending_outbox()
    store.mark_sent(old_sent.id, None)
    clock.advance(timedelta(days=40))
    store.mark_sent(recent_sent.id, None)

    # The old sent outbox row, the finished run and its six observations.
    assert store.prune(timedelta(days=30)) == 1 + 1 + 6
    assert [row.id for row in outbox_rows(db_url)] == [recent_sent.id, unsent.id]
    assert len(store.history(WATCH)) == 3
    clock.advance(timedelta(days=400))
    store.prune(timedelta(0))
    assert [row.id for row in outbox_rows(db_url)] == [unsent.id]
