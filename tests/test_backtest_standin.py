"""``watcher backtest`` end to end against the stand-in's headscale-like history.

The history (tests/standin/headscale.py) holds every trap of
docs/architecture.md, «What support landed means». The
stand-in's registries, like real OCI registries, know no push times; a tiny Docker Hub
API served here gives two (``tag_last_pushed``) so the timeline shows a pending phase.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from tests.standin.chart import load_chart
from tests.standin.headscale import PUSH_TOKEN, load_headscale
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from watcher.backtest.command import backtest_command
from watcher.config.model import Config, parse_config
from watcher.runner.cycle import run_once
from watcher.runner.readers import open_readers
from watcher.state.store import Store

HUB_PUSHES = {
    "headscale/headscale:v0.29.0": "2026-01-29T08:00:00.000000Z",
    # Pushed before the release was published: counts from the publication.
    "headscale/headscale:v0.29.1": "2026-02-10T11:00:00.000000Z",
}
ASSUMED = " (image time assumed = release time)"
WAIT, PEND, READY = "waiting", "pending", "ready"

# The full timeline with a push token (the draft v0.30.0 is visible).
EXPECTED = [
    ("2023-04-20T10:00", "v0.22.0 published", WAIT, None),
    ("2024-05-10T12:00", "v0.23.0-alpha12 published (prerelease, not a candidate)", WAIT, None),
    ("2024-06-15T12:00", "v0.23.0-beta1 published (prerelease, not a candidate)", WAIT, None),
    ("2024-08-01T12:00", "v0.23.0-beta.4 published (prerelease, not a candidate)", WAIT, None),
    ("2024-09-01T12:00", "v0.23.0-rc.1 published (prerelease, not a candidate)", WAIT, None),
    ("2024-09-18T12:00", "v0.23.0 published", WAIT, None),
    ("2024-10-01T09:00", "#2180 opened: Support grants in the policy", WAIT, None),
    ("2025-01-17T12:00", "v0.24.0 published", WAIT, None),
    ("2025-02-11T12:00", "v0.25.0 published (edited 2025-02-12; flags as of today)", WAIT, None),
    ("2025-04-20T12:00", "v0.26.0-rc.1 published (prerelease, not a candidate)", WAIT, None),
    ("2025-05-14T12:00", "v0.26.0 published", WAIT, None),
    ("2025-07-01T12:00", "v0.27.0 published", WAIT, None),
    ("2025-08-01T12:00", "v0.27.1 published", WAIT, None),
    ("2025-09-20T09:00", "#2841 opened: Support Tailscale peer relays", WAIT, None),
    (
        "2025-09-22T09:00",
        "#2841 referenced by issue kapernikov/headscale-helm#12 (open, another repository)",
        WAIT,
        None,
    ),
    ("2025-10-15T12:00", "v0.28.0 published", WAIT, None),
    ("2025-11-05T12:00", "v0.27.2 published", WAIT, None),
    ("2025-11-15T09:00", "#2180 referenced by PR #2862 (merged)", WAIT, None),
    ("2025-11-15T09:01", "#2180 referenced by a linked pull request (connected)", WAIT, None),
    ("2025-11-15T09:02", "#2841 referenced by PR #2862 (merged)", WAIT, None),
    ("2025-11-20T12:00", "v0.27.3-rc.1 published (prerelease, not a candidate)", WAIT, None),
    ("2025-12-01T10:05", "#2180 closed (completed) by commit {merge}", WAIT, None),
    (
        "2025-12-10T12:00",
        "v0.29.0-beta.1 published (prerelease, not a candidate, has the marker)",
        WAIT,
        None,
    ),
    ("2026-01-28T12:00", "v0.29.0 published" + ASSUMED, PEND, "v0.29.0"),
    ("2026-01-29T08:00", "image docker.io/headscale/headscale:v0.29.0 pushed", READY, "v0.29.0"),
    ("2026-01-30T10:00", "draft v0.30.0 created (drafts are never candidates)", READY, "v0.29.0"),
    ("2026-02-10T12:00", "v0.29.1 published" + ASSUMED, READY, "v0.29.1"),
]


class _HubHandler(BaseHTTPRequestHandler):
    """``GET /v2/repositories/{namespace}/{name}/tags/{tag}`` as Docker Hub answers it."""

    def do_GET(self) -> None:
        prefix = "/v2/repositories/"
        name, _, tag = self.path.removeprefix(prefix).partition("/tags/")
        pushed = HUB_PUSHES.get(f"{name}:{tag}") if self.path.startswith(prefix) else None
        body = json.dumps(
            {"name": tag, "tag_last_pushed": pushed} if pushed else {"message": "not found"}
        )
        self.send_response(200 if pushed else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture(scope="module")
def hub() -> Iterator[str]:
    """A loopback Docker Hub API knowing the push times in HUB_PUSHES."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HubHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store (the feature-scan and HTTP caches live here)."""
    opened = Store.open(f"sqlite:///{tmp_path / 'watcher.db'}")
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def push_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read with a token that has push access, so the draft is visible as it is to maintainers."""
    monkeypatch.setenv("GITHUB_TOKEN", PUSH_TOKEN)


def config_for(standin: StandIn) -> Config:
    """The built-in headscale watch, pointed at the stand-in."""
    return parse_config(standin_config(standin), "<test>")


def run(
    standin: StandIn, store: Store, hub: str | None, fmt: str = "json", **options: Any
) -> tuple[str, int]:
    """One ``watcher backtest`` as the CLI would run it."""
    config = config_for(standin)
    with open_readers(config, store) as readers:
        return backtest_command(
            config,
            store,
            readers,
            watch_id=None,
            since=options.pop("since", None),
            until=options.pop("until", None),
            fmt=fmt,
            docker_hub_api=hub,
            **options,
        )


def table(doc: dict[str, Any]) -> list[tuple[str, str, str, str | None]]:
    """(minute, event with its notes as the text table shows them, state, target) of every row."""
    return [
        (
            r["at"][:16],
            r["event"] + (f" ({'; '.join(r['notes'])})" if r["notes"] else ""),
            r["state"],
            r["target"],
        )
        for r in doc["rows"]
    ]


def test_full_timeline_of_the_headscale_like_history(
    standin: StandIn, store: Store, hub: str
) -> None:
    repo = load_headscale(standin, "patch")
    merge = repo.git.git("log", "--format=%H", "--grep=(#2862)", "main").decode().strip()
    out, code = run(standin, store, hub)
    doc = json.loads(out)
    assert code == 0
    expected = [(a, e.replace("{merge}", merge[:12]), s, t) for a, e, s, t in EXPECTED]
    assert table(doc) == expected
    assert doc["pull_request"] == {
        "opened_at": "2026-01-29T08:00:00+00:00",
        "target": "v0.29.0",
        "updates": [{"at": "2026-02-10T12:00:00+00:00", "target": "v0.29.1"}],
    }
    assert doc["shipped"]["tag"] == "v0.29.0"
    assert doc["first_in_code"]["tag"] == "v0.29.0-beta.1"
    assert doc["issue_only"] == {
        "said": "not supported (#2841 not closed as completed)",
        "wrong": True,
        "because": "v0.29.0 has shipped it since 2026-01-28",
        "issues": [
            "#2841 still open at 2026-02-10, 13 days after v0.29.0 shipped it (2026-01-28)",
            "#2180 closed (completed) 2025-12-01, 58 days before v0.29.0 shipped it (2026-01-28)",
        ],
    }


def test_text_output_answers_the_question(standin: StandIn, store: Store, hub: str) -> None:
    load_headscale(standin, "patch")
    text, _ = run(standin, store, hub, fmt="text")
    assert "would have opened its PR at 2026-01-29 08:00 for v0.29.0" in text
    assert (
        "issue-state alone would have said: not supported (#2841 not closed as completed) "
        "(wrong because v0.29.0 has shipped it since 2026-01-28)"
    ) in text
    rows = [[cell.strip() for cell in line.split(" | ")] for line in text.splitlines()]
    assert ["2026-01-28 12:00", "v0.29.0 published" + ASSUMED, "-> pending", "v0.29.0"] in rows


def test_images_not_pushed_yet_stay_pending(standin: StandIn, store: Store) -> None:
    load_headscale(standin, "pending")
    out, code = run(standin, store, None)
    doc = json.loads(out)
    assert code == 1
    assert table(doc)[-2:] == [
        ("2026-01-28T12:00", "v0.29.0 published", PEND, "v0.29.0"),
        (
            "2026-01-30T10:00",
            "draft v0.30.0 created (drafts are never candidates)",
            PEND,
            "v0.29.0",
        ),
    ]
    assert doc["pull_request"] is None
    assert any("not pullable today" in n for n in doc["notes"])


def test_anonymous_reads_see_no_drafts(
    standin: StandIn, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    load_headscale(standin, "patch")
    doc = json.loads(run(standin, store, None)[0])
    assert not [r for r in doc["rows"] if r["kind"] == "draft"]


def test_bisection_agrees_with_scanning_everything(standin: StandIn, tmp_path: Path) -> None:
    load_headscale(standin, "patch")
    results = []
    for name, scan_all in (("bisect", False), ("all", True)):
        with Store.open(f"sqlite:///{tmp_path / name}.db") as store:
            doc = json.loads(run(standin, store, None, scan_all=scan_all)[0])
        results.append(doc)
    bisect, every = results
    assert table(bisect) == table(every)
    assert every["feature_scans"] == {"scanned": 18, "cached": 0, "inferred": 0}
    assert bisect["feature_scans"]["scanned"] <= 6


def test_warm_cache_scans_nothing_and_check_shares_the_cache(
    standin: StandIn, store: Store
) -> None:
    load_headscale(standin, "ready")
    load_chart(standin)  # `check` also checks the image reference the chart would deploy
    first = json.loads(run(standin, store, None)[0])
    assert first["feature_scans"]["scanned"] > 0
    standin.log.clear()
    second = json.loads(run(standin, store, None)[0])
    assert second["feature_scans"]["scanned"] == 0
    assert table(second) == table(first)
    assert not standin.log.where(service="codeload")
    # `check` finds the scans the backtest made: no tarball is downloaded again.
    config = config_for(standin)
    with open_readers(config, store) as readers:
        report = run_once(config, store, readers)
    assert report.outcomes[0].verdict is not None
    assert report.outcomes[0].verdict.target is not None
    assert report.outcomes[0].verdict.target.tag == "v0.29.0"
    assert not standin.log.where(service="codeload")


def test_nothing_is_written_anywhere(standin: StandIn, store: Store) -> None:
    load_headscale(standin, "patch")
    run(standin, store, None)
    assert {r.method for r in standin.log} <= {"GET", "HEAD"}
    assert store.get_verdict("headscale-peer-relay") is None
    assert store.history("headscale-peer-relay") == []


def test_window_and_svg_plot(standin: StandIn, store: Store, tmp_path: Path) -> None:
    load_headscale(standin, "patch")
    plot = tmp_path / "timeline.svg"
    out, _ = run(
        standin,
        store,
        None,
        fmt="svg",
        since=datetime(2026, 1, 1),
        until=datetime(2026, 1, 28),
        plot=plot,
    )
    assert plot.read_text("utf-8") == out
    root = ElementTree.fromstring(out)
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    title = "backtest of headscale-peer-relay (juanfont/headscale), 2026-01-01 .. 2026-01-28"
    assert texts[0] == f"{title}: 2 row(s)"  # the window's start state and v0.29.0
    assert "PR opened: v0.29.0" in texts
