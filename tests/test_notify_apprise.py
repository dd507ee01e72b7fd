"""Apprise delivery end to end: `watcher run --once` against the stand-in, a real webhook.

The receiver (tests/webhook.py) is what Apprise's ``json://127.0.0.1:PORT`` posts to. The
expected messages come from `watcher history --json` (the recorded transitions), so
each test checks "every transition arrived exactly once", whatever they are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.prs import CHART, api
from tests.standin.chart import CHART_TOKEN
from tests.standin.headscale import load_headscale
from tests.test_state_store import db_url  # noqa: F401 - fixture: SQLite and PostgreSQL
from tests.webhook import Receiver, webhook
from watcher.config.model import default_config_text, parse_config
from watcher.net.http import RequestStats
from watcher.notify.apprise import render
from watcher.notify.targets import AppriseTarget, apprise_targets, mask
from watcher.runner.report import RunReport
from watcher.service.metrics import Metrics
from watcher.state.deliveries import PendingDelivery, TargetSpec, TargetStatus
from watcher.state.store import ErrorEpisode, Notice, Store, Transition

WATCH = "headscale-peer-relay"
ROOT = Path(__file__).resolve().parent.parent
# A password and a token-like path: neither may appear in any output or in the database.
SECRET_PASSWORD = "hunter2-Pa55word"
SECRET_PATH = "/hook-T0KEN-a8f3c2d1e9"
LEASE = timedelta(minutes=2)
NO_RETRY_WAIT = {"apprise_retry_seconds = 60": "apprise_retry_seconds = 0"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on a free loopback port."""
    with webhook() as started:
        yield started


def expected_titles(acting: WatcherRun) -> list[str]:
    """One title per recorded transition, built from `watcher history --json`."""
    result = acting("history", WATCH, "--json")
    assert result.exit_code == 0, result.output
    titles = []
    for event in json.loads(result.output):
        title = f"watcher: {WATCH}: {event['from_state'] or 'start'} → {event['to_state']}"
        titles.append(title + (f" ({event['to_target']})" if event["to_target"] else ""))
    return titles


def dashboard_body(acting: WatcherRun) -> str:
    """The body of the dashboard issue in the stand-in's chart repository."""
    issues = api(acting.standin, f"/repos/{CHART}/issues?state=all")
    (body,) = [i["body"] for i in issues if "<!-- watcher:dashboard -->" in (i["body"] or "")]
    return str(body)


def test_each_transition_arrives_once(acting: WatcherRun, receiver: Receiver) -> None:
    acting.env["WATCHER_APPRISE_URLS"] = receiver.url()
    standin = acting.standin
    for stage in ("waiting", "pending", "ready"):
        load_headscale(standin, stage)
        result = acting("run", "--once")
        assert result.exit_code == 0, result.output
        assert receiver.titles() == expected_titles(acting)
    # An idle cycle records no transition and sends nothing.
    before = len(receiver.accepted)
    assert acting("run", "--once").exit_code == 0
    assert len(receiver.accepted) == before
    load_headscale(standin, "patch")
    assert acting("run", "--once").exit_code == 0
    titles = expected_titles(acting)
    assert receiver.titles() == titles and len(titles) >= 5
    # Every message carries its outbox id for receivers that deduplicate; all distinct.
    ids = [body["message"].rsplit("watcher event ", 1)[1] for body in receiver.accepted]
    assert len(set(ids)) == len(ids)


def test_a_failing_receiver_gets_it_later_once(
    acting: WatcherRun, receiver: Receiver, tmp_path: Path
) -> None:
    url = receiver.url(f"watcher:{SECRET_PASSWORD}@", SECRET_PATH)
    acting.env["WATCHER_APPRISE_URLS"] = url
    acting.edits.update(NO_RETRY_WAIT)
    acting.edits["apprise_undeliverable_after = 5"] = "apprise_undeliverable_after = 2"
    load_headscale(acting.standin, "waiting")
    receiver.fail_next = 2
    outputs = []
    for _ in range(2):
        result = acting("run", "--once")
        outputs.append(result.output)
        assert result.exit_code == 2  # a notification failed: the cycle reports it
        assert "notifications: WATCHER_APPRISE_URLS#1 (json)" in result.output
    assert receiver.accepted == [] and receiver.refused == 2
    status = acting("status")
    assert "notify WATCHER_APPRISE_URLS#1 (json): UNDELIVERABLE, 1 waiting" in status.output
    assert "last error:" in status.output
    status_json = json.loads(acting("status", "--json").output)
    (target,) = status_json["notifications"]
    assert target["undeliverable"] == 1 and target["attempts"] == 2
    outputs += [status.output, json.dumps(status_json)]
    assert "`WATCHER_APPRISE_URLS#1 (json)`: failing since" in dashboard_body(acting)

    # The service recovers: the waiting transition arrives, once, and status clears.
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output  # waiting, the cycle completed
    assert receiver.titles() == expected_titles(acting)
    assert acting("run", "--once").exit_code == 0
    assert receiver.titles() == expected_titles(acting)
    status = acting("status")
    assert "notify WATCHER_APPRISE_URLS#1 (json): ok, 0 waiting" in status.output
    outputs.append(status.output)
    dashboard = dashboard_body(acting)
    assert "WATCHER_APPRISE_URLS" not in dashboard
    outputs.append(dashboard)

    database = (tmp_path / "state" / "watcher.db").read_bytes()
    for secret in (SECRET_PASSWORD, SECRET_PATH.strip("/")):
        assert all(secret not in text for text in outputs)
        assert secret.encode() not in database


def test_two_processes_at_once_deliver_once(acting: WatcherRun, receiver: Receiver) -> None:
    acting.env["WATCHER_APPRISE_URLS"] = receiver.url()
    acting.edits.update(NO_RETRY_WAIT)
    standin = acting.standin
    # A backlog: three transitions recorded while the receiver refused them.
    receiver.fail_next = 1000
    for stage in ("waiting", "pending", "ready"):
        load_headscale(standin, stage)
        acting("run", "--once")
    assert receiver.accepted == []
    receiver.fail_next, receiver.delay = 0, 0.2
    env = {
        **os.environ,
        "GITHUB_TOKEN": CHART_TOKEN,
        "GITHUB_TOKEN_FILE": "",
        "WATCHER_APPRISE_URLS": receiver.url(),
    }
    command = [sys.executable, "-m", "watcher", "run", "--once"]
    command += ["--config", str(acting.config_path), "--db", acting.db_url]
    for _ in range(3):
        processes = [
            subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        for process in processes:
            process.communicate(timeout=120)
    titles = expected_titles(acting)
    assert len(titles) == 4
    assert receiver.titles() == titles


def test_missing_variable_is_one_clear_line(acting: WatcherRun) -> None:
    acting.edits['# apprise_env = ["SLACK_WEBHOOK_URL"]'] = 'apprise_env = ["TEAM_SLACK_URL"]'
    load_headscale(acting.standin, "waiting")
    result = acting("run", "--once")
    assert result.exit_code == 2
    assert result.output.splitlines()[0] == (
        "error: apprise_env names TEAM_SLACK_URL, but neither TEAM_SLACK_URL nor "
        "TEAM_SLACK_URL_FILE is set"
    )


def test_an_unknown_service_is_refused_without_showing_the_url(acting: WatcherRun) -> None:
    acting.env["WATCHER_APPRISE_URLS"] = f"nosuchservice://{SECRET_PASSWORD}@example"
    result = acting("run", "--once")
    assert result.exit_code == 2
    assert "WATCHER_APPRISE_URLS#1: not an Apprise URL" in result.output
    assert SECRET_PASSWORD not in result.output


def test_check_never_imports_apprise(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "waiting")
    env = {**os.environ, "GITHUB_TOKEN": "", "WATCHER_APPRISE_URLS": "json://127.0.0.1:9/x"}
    command = [sys.executable, "-X", "importtime", "-m", "watcher", "check"]
    command += ["--config", str(acting.config_path), "--db", acting.db_url]
    done = subprocess.run(
        command, check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "watcher.runner.cycle" in imported
    assert not {name for name in imported if name.split(".")[0] == "apprise"}


# -- randomized: claims and masking ------------------------------------------------------


@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["claim", "sent", "failed", "wait"]),
            st.sampled_from(["a", "b"]),
            st.integers(0, 2),
        ),
        max_size=40,
    )
)
@pytest.mark.slow  # a freshly migrated database per example: ~5 s of the fast tier
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_claims_never_overlap_and_sent_stays_sent(
    steps: list[tuple[str, str, int]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    path = tmp_path_factory.mktemp("claims") / "w.db"
    with Store.open(f"sqlite:///{path}", clock=lambda: now[0]) as store:
        store.register_targets([TargetSpec("T#1", "T#1 (json)", None)])
        run = store.start_run()
        for watch in ("w0", "w1", "w2"):
            store.record_error(run, watch, "boom", notify_after=timedelta(0))
        ids = [p.outbox_id for p in store.pending_deliveries("T#1")]
        assert len(ids) == 3
        claimed: dict[int, tuple[str, datetime]] = {}
        retry_at: dict[int, datetime] = {}
        sent: set[int] = set()
        for action, holder, index in steps:
            item = ids[index]
            if action == "wait":
                now[0] += LEASE / 2
            elif action == "claim":
                live = item in claimed and claimed[item][1] > now[0]
                waiting = retry_at.get(item, now[0]) > now[0]
                got = store.claim_delivery(item, "T#1", holder, LEASE)
                assert (got is not None) == (item not in sent and not live and not waiting)
                if got is not None:
                    claimed[item] = (holder, now[0] + LEASE)
            elif item in claimed and claimed[item][0] == holder:
                del claimed[item]
                if action == "sent":
                    store.delivery_sent(item, "T#1")
                    sent.add(item)
                else:
                    store.delivery_failed(item, "T#1", "refused", LEASE)
                    retry_at[item] = now[0] + LEASE
        pending = {p.outbox_id for p in store.pending_deliveries("T#1")}
        assert pending == set(ids) - sent


@given(
    secret=st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/@:?#"),
        min_size=4,
        max_size=30,
    ),
    noise=st.text(max_size=40),
)
def test_masking_removes_every_secret_piece(secret: str, noise: str) -> None:
    url = f"json://user:{secret}@127.0.0.1:8080/hook/{secret}"
    target = AppriseTarget("WATCHER_APPRISE_URLS#1", url, None)
    masked = mask(f"{noise} failed for {url} ({secret}) {unquote(secret)}", [target])
    assert secret not in masked and url not in masked


def test_targets_merge_duplicates_and_read_files(tmp_path: Path) -> None:
    shared, only = "json://127.0.0.1:1/shared", "json://127.0.0.1:2/only"
    listing = tmp_path / "urls"
    listing.write_text(f"# team hooks\n{shared}\n\n{only}\n")
    config = parse_config(
        default_config_text().replace(
            '# apprise_env = ["SLACK_WEBHOOK_URL"]', 'apprise_env = ["TEAM"]'
        ),
        "<test>",
    )
    env = {"WATCHER_APPRISE_URLS": shared, "TEAM_FILE": str(listing)}
    found = {t.key: t for t in apprise_targets(config, env)}
    assert sorted(found) == ["TEAM#2", "WATCHER_APPRISE_URLS#1"]
    assert found["WATCHER_APPRISE_URLS#1"].url == shared
    assert found["TEAM#2"].url == only and found["TEAM#2"].watches is None
    assert shared not in repr(found["WATCHER_APPRISE_URLS#1"])


def test_metrics_expose_undeliverable_per_target() -> None:
    metrics = Metrics(process=False)
    stuck = TargetStatus("A#1", "A#1 (json)", 3, 3, 5, datetime(2026, 1, 1, tzinfo=UTC), "500")
    fine = TargetStatus("B#1", "B#1 (slack)", 0, 0, 0, None, None)
    report = RunReport(1, (), RequestStats(), None, (stuck, fine))
    metrics.observe_run(report, 0.1)
    text = metrics.exposition().decode()
    assert 'watcher_outbox_undeliverable{target="A#1 (json)"} 3.0' in text
    assert 'watcher_outbox_undeliverable{target="B#1 (slack)"} 0.0' in text
    assert 'watcher_outbox_pending{target="A#1 (json)"} 3.0' in text


def test_concurrent_claims_on_sqlite_and_postgresql(db_url: str) -> None:  # noqa: F811
    """Two stores (two connections, as two processes have) claim each row at once: one wins."""
    with Store.open(db_url) as first, Store.open(db_url) as second:
        first.register_targets([TargetSpec("T#1", "T#1 (json)", None)])
        run = first.start_run()
        for index in range(12):
            first.record_error(run, f"w{index}", "boom", notify_after=timedelta(0))
        won: list[str] = []
        for item in first.pending_deliveries("T#1"):
            barrier = threading.Barrier(2)

            def claim(
                store: Store,
                name: str,
                outbox_id: int = item.outbox_id,
                barrier: threading.Barrier = barrier,
            ) -> None:
                barrier.wait()
                if store.claim_delivery(outbox_id, "T#1", name, LEASE) is not None:
                    won.append(name)

            threads = [
                threading.Thread(target=claim, args=(store, name))
                for store, name in ((first, "a"), (second, "b"))
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert len(won) == 12


def test_plain_text_messages_carry_no_html_entities() -> None:
    # Chat and e-mail show an entity as written: upstream text gets characters instead.
    reasons = ["issue: #2841 closed by @kradalby, fixes #12 & <b>tags</b>", "@here ping"]
    when = datetime(2026, 1, 28, tzinfo=UTC)
    notices: list[Notice] = [
        Transition(WATCH, "pending", "ready", None, None, tuple(reasons), ""),
        ErrorEpisode(WATCH, " ".join(reasons), "2026-01-28", "ready"),
    ]
    for notice in notices:
        item = PendingDelivery(1, WATCH, notice, when, 0, None, None)
        _, body = render(item)
        assert "&#" not in body and "&amp;" not in body and "&lt;" not in body
        assert "@\u200bkradalby" in body and "@\u200bhere" in body
        assert "#2841 closed by" in body and "& <b>tags</b>" in body
