"""High availability: two real `watcher run` daemons on one PostgreSQL database.

docs/architecture.md, «State»: a lease row decides which replica acts (writes to GitHub);
the other only polls. This module starts two real daemon processes against the stand-in and one
PostgreSQL schema, lets upstream move while both run, SIGKILLs the leader and checks
that the survivor takes over (at once: it sees the leader's process is gone), with exactly one
pull request and one dashboard comment per recorded transition throughout.

Telling the processes apart: each replica gets its own push token (both act as the same
login, so to GitHub they are the same bot), and the stand-in logs every request's
``Authorization`` header. Which process wrote is therefore read from what GitHub saw,
not from what the processes claim; the lease row in the database (``hostname:pid@ns``)
says which one should have.

The last test pins down, deterministically, a race the two-daemon test meets now and
then on its first cycle: two replicas storing the same new row at once (the store
writes such rows with one INSERT ... ON CONFLICT, so neither fails).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from tests.daemon_process import start_daemon
from tests.prs import BRANCH, CHART, api, expected_values, file_at, pulls
from tests.standin.chart import CHART_TOKEN, load_chart
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from tests.test_state_store import postgres_schema_url
from watcher.core.models import CachedResponse
from watcher.state.leases import ACTOR_LEASE, process_holder
from watcher.state.store import Event, Store
from watcher.state.tables import LeaseRow

ROOT = Path(__file__).resolve().parent.parent
WATCH = "headscale-peer-relay"
# A second push token for the other replica: same login, so GitHub sees one bot, but
# the stand-in's request log tells the two processes apart.
TOKEN_B = "tok-chart-push-replica-b"
INTERVAL = 1.0
# ActorLease: the lease lasts 3 * (interval + jitter); jitter is 0 here.
TTL = 3 * INTERVAL
# Upper bound for any single wait; generous for a loaded CI machine, never reached
# when things work (each phase converges within a few cycles).
DEADLINE = 20.0
COMMENT = re.compile(
    r"<!-- watcher:outbox=(?P<outbox>\d+) watch=[^ ]+ -->\n"
    r"\*\*[^*]+\*\*: (?P<old>\S+) → \*\*(?P<new>\w+)\*\*(?: \(target (?P<target>[^)]+)\))?"
)


@dataclass
class Replica:
    """One `watcher run` daemon process and its JSON log."""

    name: str
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def holder(self) -> str:
        """The lease holder string this process writes (ActorLease.holder)."""
        return process_holder(self.process.pid)

    def log(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (a half-written last line is skipped)."""
        lines = []
        for line in self.log_path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
        return lines

    def logged(self, event: str) -> bool:
        """Whether the process has logged ``event`` yet."""
        return any(line.get("event") == event for line in self.log())

    def writes(self, standin: StandIn) -> list[str]:
        """Every write GitHub received with this replica's token."""
        return [
            f"{r.method} {r.path}"
            for r in standin.log.records()
            if r.is_write and r.request_headers.get("authorization", "").endswith(self.token)
        ]

    def reads(self, standin: StandIn) -> int:
        """How many GitHub reads this replica's token made (proof that it polls)."""
        return sum(
            1
            for r in standin.log.records()
            if r.service == "github"
            and not r.is_write
            and r.request_headers.get("authorization", "").endswith(self.token)
        )


def start_replica(name: str, token: str, config: Path, db_url: str, workdir: Path) -> Replica:
    """Start `python -m watcher run` (the daemon) with its own token and log file."""
    log_path = workdir / f"{name}.log"
    process = start_daemon(str(config), db_url, token, log_path)
    return Replica(name, token, process, log_path)


def wait_until(condition: Callable[[], bool], what: str, alive: list[Replica]) -> float:
    """Poll ``condition`` until it holds; returns when (monotonic). Fails on a deadline
    or when one of the ``alive`` replicas exits, showing their logs."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        dead = [r for r in alive if r.process.poll() is not None]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f"--- {r.name}:\n{r.log_path.read_text()[-4000:]}" for r in alive)
            reason = f"{dead[0].name} exited" if dead else "timed out"
            pytest.fail(f"{reason} waiting for {what}\n{logs}")
        time.sleep(0.05)
    return time.monotonic()


def comments(standin: StandIn) -> list[dict[str, str]]:
    """The dashboard's transition comments, parsed ([] while there is no dashboard)."""
    issues = [
        i
        for i in api(standin, f"/repos/{CHART}/issues?state=all")
        if "pull_request" not in i and "<!-- watcher:dashboard -->" in (i["body"] or "")
    ]
    if not issues:
        return []
    (dashboard,) = issues
    bodies = [
        c["body"] for c in api(standin, f"/repos/{CHART}/issues/{dashboard['number']}/comments")
    ]
    parsed = []
    for body in bodies:
        match = COMMENT.match(body)
        assert match is not None, f"unexpected dashboard comment: {body!r}"
        parsed.append({k: v or "" for k, v in match.groupdict().items()})
    return parsed


def transitions(events: list[Event]) -> list[tuple[str, str, str]]:
    """(from, to, target) per event, in the comments' spelling ("start" for no state)."""
    return [(e.from_state or "start", e.to_state, e.to_target or "") for e in events]


def lease_acquired_at(db_url: str) -> datetime:
    """When the current holder took the lease (its own clock, as stored in the row)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                select(LeaseRow.acquired_at).where(LeaseRow.name == ACTOR_LEASE)
            ).scalar_one()
    finally:
        engine.dispose()
    assert isinstance(stored, datetime)
    return stored


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[str]:
    """An empty PostgreSQL schema of the session's server, for this test alone."""
    yield from postgres_schema_url(postgres_url)


def test_two_replicas_one_actor_and_failover_after_sigkill(
    standin: StandIn, tmp_path: Path, pg_db: str
) -> None:
    """Two daemons on one database: only the lease holder ever writes to GitHub, the
    other polls; after SIGKILL of the leader the survivor acts once (and only once) the
    dead leader's lease has expired, picks up news that arrived meanwhile, keeps the one
    pull request, and every recorded transition gets exactly one dashboard comment.
    SIGTERM then stops the survivor with exit code 0 and it gives the lease up."""
    load_headscale(standin, "pending")
    load_chart(standin)
    standin.github.add_token(TOKEN_B, push_to=[CHART], login="watcher-bot")
    # The chart's tailscale sidecar pins need these (as in the `acting` fixture).
    standin.registry.push("docker.io", "tailscale/tailscale", "stable")
    standin.registry.push("docker.io", "tailscale/tailscale", "v1.90.1")
    text = standin_config(standin, {"write_interval_seconds": "0"})
    for old, new in {
        "interval_seconds = 120": f"interval_seconds = {INTERVAL}",
        "jitter_seconds = 15": "jitter_seconds = 0",
    }.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    config = tmp_path / "watcher.toml"
    config.write_text(text)

    replicas = [
        start_replica("a", CHART_TOKEN, config, pg_db, tmp_path),
        start_replica("b", TOKEN_B, config, pg_db, tmp_path),
    ]
    store = Store.open(pg_db)
    try:
        # --- both running: one leader, one read-only poller -------------------------
        wait_until(
            lambda: (
                store.lease_holder(ACTOR_LEASE) is not None
                and all(r.logged("cycle finished") for r in replicas)
            ),
            "a lease holder and a finished cycle in each replica",
            replicas,
        )
        held = store.lease_holder(ACTOR_LEASE)
        assert held is not None
        (leader,) = [r for r in replicas if r.holder == held[0]]
        (follower,) = [r for r in replicas if r is not leader]
        wait_until(
            lambda: [(c["old"], c["new"]) for c in comments(standin)] == [("start", "pending")],
            "the start -> pending comment",
            replicas,
        )
        load_headscale(standin, "ready")
        wait_until(lambda: len(comments(standin)) >= 3, "the ready and proposed comments", replicas)
        (pr,) = pulls(standin)
        assert file_at(standin, "headscale/values.yaml", BRANCH) == expected_values("v0.29.0")
        # The leader never lost the lease while both ran (3 cycles of slack), and
        # GitHub saw writes from its token only, while the follower kept polling.
        assert (store.lease_holder(ACTOR_LEASE) or ("",))[0] == leader.holder
        assert leader.logged("lease acquired") and not follower.logged("lease acquired")
        assert leader.writes(standin), "the leader wrote nothing"
        assert follower.writes(standin) == []
        assert follower.reads(standin) > 0, "the follower did not poll"

        # --- SIGKILL the leader while news is on its way --------------------------
        killed_wall = datetime.now(UTC)
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(timeout=DEADLINE)
        killed = time.monotonic()
        # The dead leader's lease row still stands after its death.
        held = store.lease_holder(ACTOR_LEASE)
        assert held is not None and held[0] == leader.holder
        load_headscale(standin, "patch")

        took_over = wait_until(
            lambda: (store.lease_holder(ACTOR_LEASE) or ("",))[0] == follower.holder,
            "the follower to take the lease",
            [follower],
        )
        failover = took_over - killed
        print(f"\nfailover: lease taken {failover:.2f} s after SIGKILL (TTL {TTL:.0f} s)")
        acquired_at = lease_acquired_at(pg_db)  # the row's own time, not our polling
        # Safety: not taken while the leader lived. Liveness: both replicas share this
        # machine's process table, so the follower sees the holder is gone and takes
        # over at its next cycle, without waiting out the TTL (replicas on different
        # machines wait for expiry: tests/test_state_lease.py). One interval, plus a
        # second of slack for a slow cycle on a loaded machine.
        assert acquired_at >= killed_wall
        assert failover <= INTERVAL + 1.0 < TTL

        wait_until(
            lambda: (
                (c := comments(standin)) != []
                and c[-1]["target"] == "v0.29.1"
                and c[-1]["new"] == "proposed"
            ),
            "the proposed v0.29.1 comment",
            [follower],
        )
        (pr_after,) = pulls(standin)
        assert pr_after["number"] == pr["number"]
        assert pr_after["state"] == "open" and "v0.29.1" in pr_after["title"]
        assert file_at(standin, "headscale/values.yaml", BRANCH) == expected_values("v0.29.1")
        # The survivor wrote nothing before it held the lease (the stand-in's request
        # times and the lease row are both this machine's wall clock).
        survivor_writes = [
            r.time
            for r in standin.log.records()
            if r.is_write and r.request_headers.get("authorization", "").endswith(follower.token)
        ]
        assert survivor_writes and min(survivor_writes) >= acquired_at.timestamp()

        # --- one comment per transition, none duplicated, none lost ----------------
        events = transitions(store.history(WATCH))
        print(f"transitions: {events}")
        posted = comments(standin)
        assert len({c["outbox"] for c in posted}) == len(posted), "a comment was posted twice"
        assert [(c["old"], c["new"], c["target"]) for c in posted] == events
        # While leaderless, the survivor may have recorded the patch read-only
        # (proposed -> ready v0.29.1) before acting on it: both paths are correct.
        head = [
            ("start", "pending", "v0.29.0"),
            ("pending", "ready", "v0.29.0"),
            ("ready", "proposed", "v0.29.0"),
        ]
        assert events in (
            [*head, ("proposed", "proposed", "v0.29.1")],
            [*head, ("proposed", "ready", "v0.29.1"), ("ready", "proposed", "v0.29.1")],
        ), events
        assert len(pulls(standin)) == 1

        # --- SIGTERM: the survivor finishes its cycle, exits 0, frees the lease ----
        follower.process.send_signal(signal.SIGTERM)
        assert follower.process.wait(timeout=DEADLINE) == 0, follower.log_path.read_text()
        assert store.lease_holder(ACTOR_LEASE) is None
    finally:
        store.close()
        for replica in replicas:
            if replica.process.poll() is None:
                replica.process.kill()
                replica.process.wait()


# Two replicas writing the same *new* row at the same moment, made deterministic: a
# SHARE lock on the table lets both transactions read (and find nothing) but holds
# both INSERTs until the lock goes, so they then race for the same primary key.
NEW_ROW_WRITES: dict[str, tuple[str, Callable[[Store], None]]] = {
    "http_cache": (
        "http_cache",
        lambda store: store.put_cached(
            CachedResponse(
                url="https://api.github.com/repos/o/r/releases",
                etag='"e"',
                last_modified=None,
                status=200,
                content_type="application/json",
                body=b"[]",
            )
        ),
    ),
    "first verdict row": (
        "verdicts",
        lambda store: store.record_error(store.start_run(), WATCH, "upstream unreachable"),
    ),
}


@pytest.mark.parametrize("what", list(NEW_ROW_WRITES))
def test_replicas_writing_the_same_new_row_at_once(pg_db: str, what: str) -> None:
    """Both replicas' writes succeed when they store the same new row at the same time
    (the daemon's first cycles on an empty database do exactly that, for every URL)."""
    table, write = NEW_ROW_WRITES[what]
    stores = [Store.open(pg_db), Store.open(pg_db)]
    admin = create_engine(pg_db)
    errors: list[BaseException] = []

    def run(store: Store) -> None:
        try:
            write(store)
        except BaseException as exc:  # reported below, from the test's thread
            errors.append(exc)

    waiting = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON l.relation = c.oid "
        "WHERE c.relname = :table AND NOT l.granted"
    )
    threads = [threading.Thread(target=run, args=(store,)) for store in stores]
    try:
        with admin.connect() as holder, admin.connect() as probe:
            lock = holder.begin()
            holder.execute(text(f"LOCK TABLE {table} IN SHARE MODE"))
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + DEADLINE
            # Both INSERTs queued behind the lock: the interleaving is now fixed.
            while probe.execute(waiting, {"table": table}).scalar_one() < 2:
                assert time.monotonic() < deadline, "the writers never reached the lock"
                assert not errors, errors
                probe.rollback()  # a fresh snapshot of pg_locks
                time.sleep(0.01)
            lock.commit()
        for thread in threads:
            thread.join(timeout=DEADLINE)
    finally:
        for store in stores:
            store.close()
        admin.dispose()
    if errors:
        raise errors[0]
