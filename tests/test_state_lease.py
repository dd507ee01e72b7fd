"""Tests of the replica lease in watcher.state.leases (docs/architecture.md, «State»).

A lease decides which of several replicas sharing one database acts. The race tests
start real processes (spawned, so each has its own engine and connections) that call
``acquire_lease`` at the same moment; exactly one may win. ``db_url``, ``clock`` and
``store`` come from tests.test_state_store (SQLite, plus PostgreSQL when
``WATCHER_TEST_PG_URL`` is set).
"""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timedelta
from multiprocessing.synchronize import Barrier
from typing import TypeAlias

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.test_state_store import T0, FakeClock, clock, db_url, store
from watcher.config.model import DaemonConfig
from watcher.state.leases import ACTOR_LEASE, ActorLease, process_holder
from watcher.state.migrate import make_engine
from watcher.state.store import Store
from watcher.state.tables import LeaseRow

__all__ = ["clock", "db_url", "store"]  # the fixtures, re-exported so that pytest finds them

LEASE = "actor"
TTL = timedelta(minutes=2)
RACERS = 6
ROUNDS = 10

# What each racer reports: its name and whether it won each round. A string, since
# multiprocessing.Queue is a factory function at run time and only a class to mypy.
Results: TypeAlias = "multiprocessing.Queue[tuple[str, list[bool]]]"


def lease_row(url: str, name: str = LEASE) -> LeaseRow | None:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return session.scalars(select(LeaseRow).where(LeaseRow.name == name)).one_or_none()
    finally:
        engine.dispose()


def test_acquire_a_free_lease(store: Store) -> None:
    assert store.lease_holder(LEASE) is None
    assert store.acquire_lease(LEASE, "replica-a", TTL)
    assert store.lease_holder(LEASE) == ("replica-a", T0 + TTL)


def test_renewal_extends_the_lease_and_keeps_acquired_at(
    store: Store, clock: FakeClock, db_url: str
) -> None:
    assert store.acquire_lease(LEASE, "replica-a", TTL)
    renewed = clock.advance(timedelta(minutes=1))
    assert store.acquire_lease(LEASE, "replica-a", TTL)
    assert store.lease_holder(LEASE) == ("replica-a", renewed + TTL)
    row = lease_row(db_url)
    assert row is not None
    assert (row.acquired_at, row.renewed_at) == (T0, renewed)


def test_a_held_lease_is_refused_to_another_holder(store: Store, clock: FakeClock) -> None:
    assert store.acquire_lease(LEASE, "replica-a", TTL)
    clock.advance(TTL)  # expires_at == now: still held
    assert not store.acquire_lease(LEASE, "replica-b", TTL)
    assert store.lease_holder(LEASE) == ("replica-a", T0 + TTL)
    # Another name is another lease.
    assert store.acquire_lease("other", "replica-b", TTL)


def test_an_expired_lease_is_taken_over(store: Store, clock: FakeClock, db_url: str) -> None:
    assert store.acquire_lease(LEASE, "replica-a", TTL)
    taken = clock.advance(TTL + timedelta(seconds=1))
    assert store.lease_holder(LEASE) is None  # expired: nobody acts
    assert store.acquire_lease(LEASE, "replica-b", TTL)
    assert store.lease_holder(LEASE) == ("replica-b", taken + TTL)
    row = lease_row(db_url)
    assert row is not None and row.acquired_at == taken
    # The old holder, back from a pause, must not renew what is no longer its lease.
    assert not store.acquire_lease(LEASE, "replica-a", TTL)


def test_release_frees_the_lease_only_for_its_holder(store: Store) -> None:
    assert store.acquire_lease(LEASE, "replica-a", TTL)
    store.release_lease(LEASE, "replica-b")
    assert store.lease_holder(LEASE) == ("replica-a", T0 + TTL)
    store.release_lease(LEASE, "replica-a")
    assert store.lease_holder(LEASE) is None
    assert store.acquire_lease(LEASE, "replica-b", TTL)
    store.release_lease("never-taken", "replica-a")


def test_ttl_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError, match="positive"):
        store.acquire_lease(LEASE, "replica-a", timedelta(0))


# -- several processes -------------------------------------------------------------


def _race(url: str, holder: str, barrier: Barrier, results: Results) -> None:
    """One racer: in every round, wait for the others, then try to take the round's lease."""
    with Store.open(url) as racer:
        won = []
        for round_ in range(ROUNDS):
            barrier.wait()
            won.append(racer.acquire_lease(f"{LEASE}-{round_}", holder, TTL))
    results.put((holder, won))


def race(url: str) -> list[list[str]]:
    """Run RACERS processes for ROUNDS rounds; return each round's winners."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(RACERS)
    results: Results = context.Queue()
    racers = [
        context.Process(target=_race, args=(url, f"replica-{n}", barrier, results))
        for n in range(RACERS)
    ]
    for process in racers:
        process.start()
    outcomes = dict(results.get(timeout=120) for _ in racers)
    for process in racers:
        process.join(timeout=30)
        assert process.exitcode == 0
    return [[holder for holder, won in outcomes.items() if won[round_]] for round_ in range(ROUNDS)]


def test_racing_processes_on_a_free_lease_get_exactly_one_holder(db_url: str) -> None:
    Store.open(db_url).close()
    winners = race(db_url)
    assert [len(names) for names in winners] == [1] * ROUNDS
    with Store.open(db_url) as store:
        for round_, names in enumerate(winners):
            holder = store.lease_holder(f"{LEASE}-{round_}")
            assert holder is not None and holder[0] == names[0]


def test_racing_processes_on_an_expired_lease_get_exactly_one_holder(db_url: str) -> None:
    # Leases held by a replica that died an hour ago: the takeover goes through UPDATE.
    past = FakeClock(datetime.now(T0.tzinfo) - timedelta(hours=1))
    with Store.open(db_url, clock=past) as dead:
        for round_ in range(ROUNDS):
            assert dead.acquire_lease(f"{LEASE}-{round_}", "replica-dead", TTL)
    winners = race(db_url)
    assert [len(names) for names in winners] == [1] * ROUNDS
    assert all(names[0] != "replica-dead" for names in winners)


def _ended_process_pid() -> int:
    """The pid of a process of this machine that has run and ended."""
    import subprocess
    import sys

    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout.strip())


def test_a_killed_holder_of_this_machine_is_taken_over_at_once(store: Store) -> None:
    # A SIGKILLed `run --once` cannot give its lease back; the next process must not
    # wait out the TTL to write (the fault simulation's convergence needs this).
    dead = process_holder(_ended_process_pid())
    assert store.acquire_lease(LEASE, dead, TTL)
    assert store.acquire_lease(LEASE, "host:1:replica-b", TTL)
    assert store.lease_holder(LEASE) == ("host:1:replica-b", T0 + TTL)


def test_a_living_holder_or_one_elsewhere_keeps_its_lease(store: Store) -> None:
    import socket

    # A pid seen from another pid namespace (a container sharing the host name) may be
    # free here while its process runs there: only expiry may end that lease.
    other_namespace = f"{socket.gethostname()}:{_ended_process_pid()}@4026531999"
    for holder in (process_holder(), other_namespace, "other-host:1@1", "replica-a"):
        assert store.acquire_lease(holder, holder, TTL)
        assert not store.acquire_lease(holder, "replica-b", TTL)
        assert store.lease_holder(holder) == (holder, T0 + TTL)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["take", "close", "wait"]), st.sampled_from([0, 1])),
        max_size=12,
    )
)
def test_actor_leases_of_two_processes_never_both_hold(
    store: Store, clock: FakeClock, steps: list[tuple[str, int]]
) -> None:
    """The daemon and `run --once` hold the actor lease the same way (ActorLease): in any
    order of takes, give-backs and waits, at most one holds it, and each knows whether
    it does."""
    settings_ = DaemonConfig(interval_seconds=60, jitter_seconds=0)
    leases = [ActorLease(store, f"host:{n}@ns", settings_) for n in (1, 2)]
    for lease in leases:
        store.release_lease(ACTOR_LEASE, lease.holder)  # a clean start for each example
    for action, n in steps:
        lease = leases[n]
        if action == "take":
            other = leases[1 - n]
            expired = store.lease_holder(ACTOR_LEASE) is None
            assert lease.take() == (not other.held or expired or lease.held)
            if lease.held:
                other.held = False  # the other's hold lapsed: its next take would say so
        elif action == "close":
            lease.close()
        else:
            clock.advance(lease.ttl)  # a missed renewal: the lease expires
        held = store.lease_holder(ACTOR_LEASE)
        holders = [x.holder for x in leases if x.held]
        assert len(holders) <= 1
        if held is not None and holders:
            assert holders == [held[0]]
