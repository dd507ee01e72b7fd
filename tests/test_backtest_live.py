"""The real question, against real GitHub (opt-in: ``pytest -m live``, token from GITHUB_TOKEN).

From which release, and from when, did headscale support peer relays, and what would
the issues alone have said? As docs/architecture.md, «What support landed means»,
says: the default rule finds nothing at v0.28.0 and earlier and finds the marker from
v0.29.0-beta.1 on; #2180 closed long
before a release had it, #2841 stayed open after.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from watcher.backtest.command import backtest_command
from watcher.config.model import load_config
from watcher.runner.readers import open_readers
from watcher.state.store import Store

pytestmark = pytest.mark.live


def test_headscale_peer_relay_backtest(tmp_path: Path) -> None:
    # Deselected by default (addopts: -m "not live"); selected, it must not silently pass.
    if not os.environ.get("GITHUB_TOKEN"):
        pytest.fail("live tests need GITHUB_TOKEN")
    config = load_config(None)
    with (
        Store.open(f"sqlite:///{tmp_path / 'live.db'}") as store,
        open_readers(config, store) as readers,
    ):
        out, _ = backtest_command(
            config, store, readers, watch_id=None, since=None, until=None, fmt="json"
        )
    doc = json.loads(out)
    assert doc["first_in_code"]["tag"].startswith("v0.29.0-beta")
    assert doc["shipped"]["tag"] == "v0.29.0"
    assert doc["pull_request"]["target"] == "v0.29.0"
    assert doc["issue_only"]["wrong"] is True
