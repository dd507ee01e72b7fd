"""Tests of watcher.state.store: opening, caches, runs, verdicts, pull requests, pruning.

The outbox and the lease have their own modules (test_state_outbox, test_state_lease).

Every test taking ``db_url`` runs on a fresh SQLite file, and also on PostgreSQL
when ``WATCHER_TEST_PG_URL`` is set (each test then gets its own schema there).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from watcher.core.errors import StateError
from watcher.core.models import (
    CachedResponse,
    FeatureHit,
    FeatureScan,
    Release,
    Signal,
    SignalName,
    SignalStatus,
    Verdict,
    VerdictState,
)
from watcher.state import store as store_module
from watcher.state.db import Database
from watcher.state.migrate import HEAD_REVISION, make_engine
from watcher.state.store import (
    CHART_IMAGES_KEY_PREFIX,
    PIN_KEY_PREFIX,
    PullRequestRecord,
    RunStats,
    Store,
)
from watcher.state.tables import (
    Base,
    EventRow,
    HttpCacheEntry,
    ImageCheckRow,
    KeyValueRow,
    ObservationRow,
    RunRow,
)

PG_URL_ENV = "WATCHER_TEST_PG_URL"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def database_backends() -> list[str]:
    """The backends the state tests run on: SQLite and PostgreSQL, always."""
    return ["sqlite", "postgresql"]


def postgres_schema_url(base_url: str) -> Iterator[str]:
    """Yield ``base_url`` confined to a new schema (via search_path); drop it afterwards."""
    schema = f"watcher_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=database_backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: an SQLite file in a not yet existing directory, or PG.

    PostgreSQL is ``WATCHER_TEST_PG_URL`` when set, else the session's own server.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'nested' / 'watcher.db'}"
    else:
        base = os.environ.get(PG_URL_ENV) or request.getfixturevalue("postgres_url")
        yield from postgres_schema_url(base)


class FakeClock:
    """A settable clock, so that timestamps in assertions are exact."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_url: str, clock: FakeClock) -> Iterator[Store]:
    with Store.open(db_url, clock=clock) as opened:
        yield opened


def count_rows(url: str, table: type[Base]) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()
    finally:
        engine.dispose()


def release(tag: str) -> Release:
    return Release(
        tag=tag,
        version=tag.removeprefix("v"),
        prerelease=False,
        draft=False,
        url=f"https://github.com/juanfont/headscale/releases/tag/{tag}",
        published_at=datetime(2026, 2, 1, 9, 30, tzinfo=UTC),
        name=f"headscale {tag}",
    )


def verdict(state: VerdictState, tag: str | None, **changes: Any) -> Verdict:
    signals = (
        Signal(
            SignalName.RELEASE,
            SignalStatus.HOLDS,
            "newest stable release",
            ("v0.29.0 published 2026-02-01",),
            tag,
        ),
        Signal(
            SignalName.FEATURE,
            SignalStatus.HOLDS if tag else SignalStatus.MISSING,
            "marker in hscontrol/**/*.go",
            ("hscontrol/types/capabilities.go:12: tailscale.com/cap/relay",),
            tag,
        ),
    )
    base = Verdict(
        watch_id="headscale-peer-relay",
        state=state,
        target=release(tag) if tag else None,
        signals=signals,
        reasons=(f"state {state.value}",),
        extra={"pr": "https://example.invalid/pull/1"},
    )
    return replace(base, **changes)


# -- opening ---------------------------------------------------------------------------


def test_first_use_creates_directories_and_migrates(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "watcher.db"
    with Store.open(f"sqlite:///{path}") as store:
        assert store.get_verdict("anything") is None
    assert path.is_file()


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'watcher.db'}"
    Store.open(url).close()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_reopening_does_not_run_alembic(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(db_url).close()

    def fail(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("alembic ran for a database already at head")

    monkeypatch.setattr(store_module, "upgrade", fail)
    Store.open(db_url).close()


@pytest.mark.slow  # starts a process
def test_warm_open_does_not_import_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'watcher.db'}"
    Store.open(url).close()
    program = (
        "import sys\n"
        "from watcher.state.store import Store\n"
        f"Store.open({url!r}).close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_migrate_false_refuses_a_database_not_at_head(db_url: str) -> None:
    with pytest.raises(StateError, match=f"needs {HEAD_REVISION}") as caught:
        Store.open(db_url, migrate=False)
    assert "(none)" in caught.value.message
    assert "watcher db upgrade" in caught.value.hint
    Store.open(db_url).close()
    Store.open(db_url, migrate=False).close()


def test_database_newer_than_the_code_is_refused(db_url: str) -> None:
    Store.open(db_url).close()
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(StateError, match="newer watcher") as caught:
        Store.open(db_url)
    assert "9999_future" in caught.value.message
    assert "upgrade watcher" in caught.value.hint


def test_path_below_a_regular_file_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    url = f"sqlite:///{blocker / 'sub' / 'watcher.db'}"
    with pytest.raises(StateError) as caught:
        Store.open(url)
    assert str(blocker) in caught.value.message
    assert "WATCHER_DB_URL" in caught.value.hint


@pytest.mark.parametrize(
    "url",
    [
        "definitely not a url",
        "postgresql+psycopg://watcher:hunter2-secret@[bad",
        "nosuchdb://watcher:hunter2-secret@localhost/db",
        "postgresql+nosuchdriver://watcher:hunter2-secret@localhost/db",
    ],
)
def test_bad_urls_are_state_errors_without_the_password(url: str) -> None:
    with pytest.raises(StateError) as caught:
        Store.open(url)
    text_shown = f"{caught.value.message} {caught.value.hint}"
    assert "hunter2-secret" not in text_shown
    assert "WATCHER_DB_URL" in caught.value.hint


def test_unreachable_server_is_a_state_error_without_the_password() -> None:
    # Port 1 on loopback: refused at once, no network involved.
    url = "postgresql+psycopg://watcher:hunter2-secret@127.0.0.1:1/watcher?connect_timeout=2"
    with pytest.raises(StateError) as caught:
        Store.open(url)
    assert "hunter2-secret" not in caught.value.message
    assert "watcher:***@127.0.0.1:1" in caught.value.message
    assert "cannot open database" in caught.value.message


# -- the facade ------------------------------------------------------------------------


def test_each_store_method_comes_from_exactly_one_table_group() -> None:
    """Store inherits every table group: a name two groups define would hide one of them."""
    groups = [cls for cls in Store.__mro__[1:] if cls not in (Database, object)]
    owners: dict[str, list[str]] = {}
    for group in groups:
        for name in vars(group):
            if not name.startswith("__"):
                owners.setdefault(name, []).append(group.__name__)
    assert "record_verdict" in owners and "acquire_lease" in owners
    assert {name: who for name, who in owners.items() if len(who) > 1} == {}
    # The facade itself only opens the database; it overrides no group's method.
    assert not {name for name in vars(Store) if not name.startswith("__")} & owners.keys()


# -- HTTP cache, feature scans, image checks ---------------------------------------


def test_http_cache_round_trip_keeps_bytes_and_replaces(store: Store) -> None:
    url = "https://api.github.com/repos/juanfont/headscale/releases?per_page=100"
    assert store.get_cached(url) is None
    first = CachedResponse(url, '"etag-1"', None, 200, "application/json", b"\x00\xff[]\n")
    store.put_cached(first)
    assert store.get_cached(url) == first
    second = CachedResponse(url, None, "Sun, 01 Mar 2026 12:00:00 GMT", 200, None, b"{}")
    store.put_cached(second)
    assert store.get_cached(url) == second


def test_feature_scan_round_trip(store: Store) -> None:
    scan = FeatureScan(
        found=True,
        hits=(FeatureHit("hscontrol/types/caps.go", 12, '"tailscale.com/cap/relay"'),),
        commit_sha="a" * 40,
        members_seen=1412,
        bytes_read=390_000_000_000,
        complete=False,
    )
    assert store.get_feature_scan("juanfont/headscale", "a" * 40, "rule1") is None
    store.put_feature_scan("juanfont/headscale", "a" * 40, "rule1", scan)
    assert store.get_feature_scan("juanfont/headscale", "a" * 40, "rule1") == scan
    assert store.get_feature_scan("juanfont/headscale", "a" * 40, "rule2") is None
    nothing = FeatureScan(False, (), "b" * 40, 3, 10, True)
    store.put_feature_scan("juanfont/headscale", "b" * 40, "rule1", nothing)
    assert store.get_feature_scan("juanfont/headscale", "b" * 40, "rule1") == nothing


def test_image_check_round_trip(store: Store, clock: FakeClock) -> None:
    reference = "docker.io/headscale/headscale:v0.29.0"
    assert store.get_image_check(reference) is None
    store.put_image_check(
        reference, "sha256:" + "1" * 64, "application/vnd.oci.image.index.v1+json"
    )
    assert store.get_image_check(reference) == ("sha256:" + "1" * 64, T0)
    later = clock.advance(timedelta(hours=1))
    store.put_image_check(reference, "sha256:" + "2" * 64, None)
    assert store.get_image_check(reference) == ("sha256:" + "2" * 64, later)


def test_timestamps_come_back_as_utc(store: Store, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    store.put_image_check("ghcr.io/juanfont/headscale:0.29.0", "sha256:0", None)
    found = store.get_image_check("ghcr.io/juanfont/headscale:0.29.0")
    assert found is not None
    assert found[1] == T0
    assert found[1].tzinfo is UTC


def test_naive_clock_is_refused(db_url: str) -> None:
    naive = datetime(2026, 3, 1)
    with (
        Store.open(db_url, clock=lambda: naive) as store,
        pytest.raises(StateError, match="naive datetime"),
    ):
        store.put_image_check("x", "sha256:0", None)


# -- runs ------------------------------------------------------------------------------


def test_runs_start_and_finish(store: Store, db_url: str, clock: FakeClock) -> None:
    first = store.start_run()
    clock.advance(timedelta(seconds=3))
    store.finish_run(first, "ok", RunStats(requests=12, not_modified=9, quota_used=3))
    second = store.start_run()
    store.finish_run(second, "error", RunStats(1, 0, 1), error="GitHub answered 502")
    assert second > first
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(RunRow).order_by(RunRow.id)).all()
    engine.dispose()
    assert [(r.status, r.requests, r.not_modified, r.quota_used, r.error) for r in rows] == [
        ("ok", 12, 9, 3, None),
        ("error", 1, 0, 1, "GitHub answered 502"),
    ]
    assert rows[0].finished_at - rows[0].started_at == timedelta(seconds=3)


def test_finish_run_rejects_unknown_runs_and_statuses(store: Store) -> None:
    with pytest.raises(StateError, match="run 4242 does not exist"):
        store.finish_run(4242, "ok", RunStats(0, 0, 0))
    run_id = store.start_run()
    with pytest.raises(ValueError, match="run status"):
        store.finish_run(run_id, "running", RunStats(0, 0, 0))


# -- verdicts, events, observations ------------------------------------------------


def test_first_verdict_is_an_event_from_nothing(store: Store, db_url: str) -> None:
    run_id = store.start_run()
    event = store.record_verdict(run_id, verdict(VerdictState.WAITING, None))
    assert event is not None
    assert (event.from_state, event.to_state, event.from_target, event.to_target) == (
        None,
        "waiting",
        None,
        None,
    )
    assert event.at == T0
    assert event.detail == {"run_id": run_id, "reasons": ["state waiting"]}
    assert store.history("headscale-peer-relay") == [event]
    assert count_rows(db_url, ObservationRow) == 2


def test_stored_verdict_round_trips(store: Store) -> None:
    original = verdict(VerdictState.READY, "v0.29.0")
    store.record_verdict(store.start_run(), original)
    stored = store.get_verdict(original.watch_id)
    assert stored is not None
    assert stored.verdict == replace(original, evaluated_at=T0, changed_at=T0)
    assert stored.verdict.extra == original.extra
    assert stored.verdict.target == release("v0.29.0")
    assert (stored.error, stored.error_at) == (None, None)


def test_same_verdict_again_is_no_event_and_keeps_changed_at(
    store: Store, clock: FakeClock, db_url: str
) -> None:
    store.record_verdict(store.start_run(), verdict(VerdictState.PENDING, "v0.29.0"))
    later = clock.advance(timedelta(minutes=30))
    again = verdict(VerdictState.PENDING, "v0.29.0", reasons=("image still missing",))
    assert store.record_verdict(store.start_run(), again) is None
    stored = store.get_verdict("headscale-peer-relay")
    assert stored is not None and stored.verdict is not None
    assert stored.verdict.changed_at == T0
    assert stored.verdict.evaluated_at == later
    assert stored.verdict.reasons == ("image still missing",)
    assert len(store.history("headscale-peer-relay")) == 1
    # The second poll saw what the first saw: observations are a change log, no new row.
    assert count_rows(db_url, ObservationRow) == 2


# Each example migrates a fresh SQLite database (~0.2 s): few examples, long sequences.
@settings(max_examples=12, deadline=None)
@given(polls=st.lists(st.sampled_from([None, "v0.28.0", "v0.29.0"]), min_size=1, max_size=30))
def test_observations_log_each_change_once_and_replay_to_the_current_signals(
    polls: list[str | None],
) -> None:
    """Whatever the sequence of polls, a signal is logged exactly when it differs from the
    stored one, and the newest logged row of each signal is the current signal."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/w.db"
        with Store.open(url, clock=FakeClock(T0)) as fresh:
            expected = 0
            previous: tuple[Signal, ...] = ()
            for tag in polls:
                state = VerdictState.READY if tag else VerdictState.WAITING
                polled = verdict(state, tag)
                expected += sum(1 for sig in polled.signals if sig not in previous)
                previous = polled.signals
                fresh.record_verdict(fresh.start_run(), polled)
            assert count_rows(url, ObservationRow) == expected
            engine = create_engine(url)
            with engine.connect() as conn:
                rows = conn.execute(
                    select(
                        ObservationRow.signal, ObservationRow.release_tag, ObservationRow.status
                    ).order_by(ObservationRow.id)
                ).all()
            engine.dispose()
            newest = {signal: (tag, status) for signal, tag, status in rows}
            assert newest == {
                sig.name.value: (sig.release_tag, sig.status.value) for sig in previous
            }


def test_state_and_target_changes_are_events(store: Store, clock: FakeClock) -> None:
    store.record_verdict(store.start_run(), verdict(VerdictState.PENDING, "v0.29.0"))
    t1 = clock.advance(timedelta(hours=1))
    ready = store.record_verdict(store.start_run(), verdict(VerdictState.READY, "v0.29.0"))
    t2 = clock.advance(timedelta(hours=1))
    newer = store.record_verdict(store.start_run(), verdict(VerdictState.READY, "v0.29.1"))
    assert ready is not None and newer is not None
    assert (ready.from_state, ready.to_state, ready.at) == ("pending", "ready", t1)
    assert (newer.from_target, newer.to_target, newer.at) == ("v0.29.0", "v0.29.1", t2)
    stored = store.get_verdict("headscale-peer-relay")
    assert stored is not None and stored.verdict is not None
    assert stored.verdict.changed_at == t2
    assert [e.to_state for e in store.history("headscale-peer-relay")] == [
        "pending",
        "ready",
        "ready",
    ]


def test_verdict_evaluated_at_is_used_when_given(store: Store) -> None:
    at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    event = store.record_verdict(
        store.start_run(), verdict(VerdictState.WAITING, None, evaluated_at=at)
    )
    assert event is not None and event.at == at


def test_error_is_kept_beside_the_last_good_verdict(store: Store, clock: FakeClock) -> None:
    good = verdict(VerdictState.READY, "v0.29.0")
    store.record_verdict(store.start_run(), good)
    failed_at = clock.advance(timedelta(minutes=5))
    store.record_error(store.start_run(), good.watch_id, "GitHub answered 502 three times")
    stored = store.get_verdict(good.watch_id)
    assert stored is not None
    assert stored.verdict is not None
    assert (stored.verdict.state, stored.verdict.target) == (VerdictState.READY, good.target)
    assert stored.verdict.evaluated_at == T0
    assert (stored.error, stored.error_at) == ("GitHub answered 502 three times", failed_at)
    assert len(store.history(good.watch_id)) == 1

    clock.advance(timedelta(minutes=5))
    assert store.record_verdict(store.start_run(), good) is None
    cleared = store.get_verdict(good.watch_id)
    assert cleared is not None
    assert (cleared.error, cleared.error_at) == (None, None)


def test_error_before_any_verdict_has_no_verdict(store: Store) -> None:
    store.record_error(store.start_run(), "new-watch", "repository not found")
    stored = store.get_verdict("new-watch")
    assert stored is not None
    assert stored.verdict is None
    assert (stored.error, stored.error_at) == ("repository not found", T0)
    assert store.history("new-watch") == []

    first = store.record_verdict(store.start_run(), verdict(VerdictState.WAITING, None))
    assert first is not None  # a different watch id: this one's first verdict
    event = store.record_verdict(
        store.start_run(), verdict(VerdictState.WAITING, None, watch_id="new-watch")
    )
    assert event is not None and event.from_state is None


def test_history_limit_keeps_the_newest_oldest_first(store: Store) -> None:
    run_id = store.start_run()
    for tag in ("v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"):
        store.record_verdict(run_id, verdict(VerdictState.READY, tag))
    assert [e.to_target for e in store.history("headscale-peer-relay", limit=2)] == [
        "v1.2.0",
        "v1.3.0",
    ]
    assert len(store.history("headscale-peer-relay")) == 4
    assert store.history("other") == []


def test_record_verdict_is_one_transaction(store: Store, db_url: str) -> None:
    # An unknown run id violates the observations foreign key after the verdict
    # and event were written: nothing of the three may remain.
    with pytest.raises(StateError):
        store.record_verdict(999, verdict(VerdictState.READY, "v0.29.0"))
    assert store.get_verdict("headscale-peer-relay") is None
    assert count_rows(db_url, EventRow) == 0


# -- pull requests and named values --------------------------------------------------


def pull(number: int, **changes: Any) -> PullRequestRecord:
    base = PullRequestRecord(
        chart="example/charts:charts/headscale",
        repo="example/charts",
        number=number,
        url=f"https://github.com/example/charts/pull/{number}",
        branch="watcher-chart/charts/headscale",
        head_sha="c" * 40,
        state="open",
        members={"headscale-peer-relay": "v0.29.0", "headscale-taildrive": "v0.29.0"},
        content="1" * 16,
        body="2" * 16,
        updated_at=T0,
    )
    return replace(base, **changes)


def test_a_charts_pull_request_is_replaced_whole_and_forgotten(store: Store) -> None:
    key = pull(1).chart
    assert store.pull_request(key) is None
    store.put_pull_request(pull(7))
    store.put_pull_request(pull(3, chart="other:."))
    moved = pull(12, members={"headscale-peer-relay": "v0.29.1"}, head_sha=None)
    store.put_pull_request(moved)
    assert store.pull_request(key) == moved
    assert store.pull_request(key).members == moved.members  # type: ignore[union-attr]
    store.forget_pull_request(key)
    assert store.pull_request(key) is None
    assert store.pull_request("other:.") == pull(3, chart="other:.")


def test_pull_request_state_is_checked(store: Store) -> None:
    with pytest.raises(ValueError, match="pull request state"):
        store.put_pull_request(pull(1, state="draft"))


def test_named_values_round_trip_and_replace(store: Store) -> None:
    assert store.get_value("dashboard.issue") is None
    store.set_value("dashboard.issue", "42")
    store.set_value("dashboard.body_sha256", "ab" * 32)
    store.set_value("dashboard.issue", "43")
    assert store.get_value("dashboard.issue") == "43"
    assert store.get_value("dashboard.body_sha256") == "ab" * 32


# -- pruning ---------------------------------------------------------------------------


def test_prune_deletes_old_observations_and_runs_but_keeps_events(
    store: Store, clock: FakeClock, db_url: str
) -> None:
    old_run = store.start_run()
    store.record_verdict(old_run, verdict(VerdictState.PENDING, "v0.29.0"))
    store.finish_run(old_run, "ok", RunStats(2, 1, 1))
    clock.advance(timedelta(days=40))
    new_run = store.start_run()
    store.record_verdict(new_run, verdict(VerdictState.READY, "v0.29.1"))
    store.finish_run(new_run, "ok", RunStats(2, 1, 1))
    live_run = store.start_run()

    assert store.prune(timedelta(days=30)) == 3  # two observations and one run
    assert count_rows(db_url, RunRow) == 2
    assert count_rows(db_url, ObservationRow) == 2
    assert len(store.history("headscale-peer-relay")) == 2
    assert store.get_verdict("headscale-peer-relay") is not None

    clock.advance(timedelta(days=1))
    assert store.prune(timedelta(0)) == 3  # the finished run and its observations
    assert count_rows(db_url, RunRow) == 1  # the live run stays until it is finished
    store.finish_run(live_run, "ok", RunStats(0, 0, 0))
    assert len(store.history("headscale-peer-relay")) == 2


def test_prune_removes_runs_abandoned_by_a_crash(
    store: Store, clock: FakeClock, db_url: str
) -> None:
    # A run started by another (crashed) process: this store did not start it.
    with Store.open(db_url, clock=clock) as other:
        crashed = other.start_run()
        other.record_error(crashed, "w", "killed")
    clock.advance(timedelta(days=2))
    assert store.prune(timedelta(days=1)) == 2
    assert count_rows(db_url, RunRow) == 0


def cached_response(url: str) -> CachedResponse:
    return CachedResponse(url, '"e"', None, 200, "application/json", b"[]")


def test_prune_ages_out_caches_but_keeps_fresh_ones_and_named_values(
    store: Store, clock: FakeClock, db_url: str
) -> None:
    store.put_cached(cached_response("https://api.example/old"))
    store.put_image_check("docker.io/a:1", "sha256:old", None)
    store.set_value(f"{PIN_KEY_PREFIX}old", "{}")
    store.set_value(f"{CHART_IMAGES_KEY_PREFIX}gone-watch", "{}")  # its watch was removed
    store.set_value("dashboard:o/r", "7")  # not a cache: never pruned
    clock.advance(timedelta(days=40))
    store.put_cached(cached_response("https://api.example/new"))
    store.put_image_check("docker.io/a:2", "sha256:new", None)
    store.set_value(f"{PIN_KEY_PREFIX}new", "{}")
    store.set_value(f"{CHART_IMAGES_KEY_PREFIX}live-watch", "{}")

    assert store.prune(timedelta(days=30)) == 4
    assert store.get_cached("https://api.example/old") is None
    assert store.get_cached("https://api.example/new") is not None
    assert store.get_image_check("docker.io/a:1") is None
    assert store.get_image_check("docker.io/a:2") is not None
    assert store.get_value(f"{PIN_KEY_PREFIX}old") is None
    assert store.get_value(f"{PIN_KEY_PREFIX}new") == "{}"
    assert store.get_value(f"{CHART_IMAGES_KEY_PREFIX}gone-watch") is None
    assert store.get_value(f"{CHART_IMAGES_KEY_PREFIX}live-watch") == "{}"
    assert store.get_value("dashboard:o/r") == "7"
    assert count_rows(db_url, HttpCacheEntry) == 1
    assert count_rows(db_url, ImageCheckRow) == 1
    assert count_rows(db_url, KeyValueRow) == 3


def test_a_confirmed_cache_entry_is_stamped_anew_and_outlives_the_retention(
    store: Store, clock: FakeClock, db_url: str
) -> None:
    # A 304 stamps its entry (touch_cached): stored_at says when the server last gave or
    # confirmed the body, which fresh_for reads trust and the pruning keeps.
    given = clock.now
    store.put_cached(cached_response("https://api.example/used"))
    store.put_cached(cached_response("https://api.example/unused"))
    used = store.get_cached("https://api.example/used")
    assert used is not None
    assert used.stored_at == given
    confirmed = clock.advance(timedelta(days=40))
    store.touch_cached("https://api.example/used")
    store.touch_cached("https://api.example/never-stored")  # nothing to stamp: no row made
    touched = store.get_cached("https://api.example/used")
    assert touched == used  # the same answer...
    assert touched is not None
    assert touched.stored_at == confirmed  # ...confirmed now
    assert store.prune(timedelta(days=30)) == 1
    assert store.get_cached("https://api.example/unused") is None
    assert count_rows(db_url, HttpCacheEntry) == 1


def test_run_of_a_failed_cycle_is_pruned_once_the_next_cycle_started(
    store: Store, clock: FakeClock, db_url: str
) -> None:
    store.start_run()  # the cycle raised before finish_run
    clock.advance(timedelta(days=2))
    live = store.start_run()  # the next cycle, still running
    assert store.prune(timedelta(days=1)) == 1
    assert count_rows(db_url, RunRow) == 1
    store.finish_run(live, "ok", RunStats(0, 0, 0))


@settings(max_examples=20, deadline=None)
@given(cycles=st.lists(st.booleans(), min_size=1, max_size=8))  # True: the cycle finished
def test_prune_keeps_exactly_the_open_run_among_old_ones(cycles: list[bool]) -> None:
    """Randomized: after any mix of finished and failed cycles, a day apart, pruning
    everything older than an hour leaves only the run still open (if any)."""
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/w.db"
        with Store.open(url, clock=clock) as fresh:
            for finished in cycles:
                last = fresh.start_run()
                if finished:
                    fresh.finish_run(last, "ok", RunStats(0, 0, 0))
                clock.advance(timedelta(days=1))
            fresh.prune(timedelta(hours=1))
            assert count_rows(url, RunRow) == (0 if cycles[-1] else 1)


def test_prune_rejects_negative_ages(store: Store) -> None:
    with pytest.raises(ValueError, match="negative"):
        store.prune(timedelta(days=-1))
