"""`watcher check` end to end against the stand-in's headscale-like history."""

from __future__ import annotations

import json

from tests.conftest import WatcherRun
from tests.standin.headscale import PUSH_TOKEN, READ_TOKEN, load_headscale

CONSTANT = "tailcfg.PeerCapabilityRelay"
CODE_FILE = "hscontrol/policy/v2/compiled.go"


def verdict_of(watcher: WatcherRun) -> dict[str, object]:
    result = watcher("check", "--json")
    doc = json.loads(result.stdout)
    (watch,) = doc["watches"]
    assert doc["exit_code"] == result.exit_code
    return dict(watch)


def test_waiting_pending_ready_patch(watcher: WatcherRun) -> None:
    expected = [
        ("waiting", "waiting", None, 1),
        ("pending", "pending", "v0.29.0", 1),
        ("ready", "ready", "v0.29.0", 0),
        ("patch", "ready", "v0.29.1", 0),
    ]
    for stage, state, target, code in expected:
        load_headscale(watcher.standin, stage)
        result = watcher("check")
        assert result.exit_code == code, result.output
        assert f"headscale-peer-relay: {state.upper()}" in result.stdout
        if target:
            assert f"target {target}" in result.stdout
            # headscale's real v0.29.0 source: the first line using the constant in code,
            # although comments naming the literal come earlier in the archive.
            assert (
                f"  feature:   [holds] {CONSTANT} in {CODE_FILE}@{target}\n"
                f"             {CODE_FILE}:611: if _, ok := cg.CapMap[{CONSTANT}]; !ok {{\n"
            ) in result.stdout
    history = watcher("history", "headscale-peer-relay", "--json")
    events = json.loads(history.stdout)
    assert [(e["to_state"], e["to_target"]) for e in events] == [
        ("waiting", None),
        ("pending", "v0.29.0"),
        ("ready", "v0.29.0"),
        ("ready", "v0.29.1"),
    ]


def test_waiting_mentions_the_prerelease_that_has_it(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "waiting")
    doc = verdict_of(watcher)
    assert doc["state"] == "waiting"
    assert any("v0.29.0-beta.1 (prerelease, not counted)" in r for r in doc["reasons"])  # type: ignore[attr-defined]


def test_draft_release_is_not_a_candidate_even_when_visible(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "waiting")
    watcher.token = PUSH_TOKEN
    assert verdict_of(watcher)["state"] == "waiting"
    drafts = [r for r in watcher.standin.log if r.path.endswith("/releases") and r.authenticated]
    assert drafts, "the push token was sent"


def test_pending_names_missing_images_and_json_shape(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "pending")
    doc = verdict_of(watcher)
    assert doc["state"] == "pending"
    target = doc["target"]
    assert isinstance(target, dict) and target["tag"] == "v0.29.0" and target["version"] == "0.29.0"
    signals = {s["name"]: s for s in doc["signals"]}  # type: ignore[attr-defined]
    assert signals["image"]["status"] == "missing"
    assert "docker.io/headscale/headscale:v0.29.0" in signals["image"]["summary"]
    assert signals["feature"]["status"] == "holds"
    assert signals["changelog"]["status"] == "holds"
    assert signals["issue"]["status"] == "missing"


def test_idle_cycle_is_all_304_and_free_with_a_token(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "ready")
    watcher.token = READ_TOKEN
    assert watcher("check").exit_code == 0
    watcher.standin.log.clear()
    assert watcher("check").exit_code == 0
    records = watcher.standin.log.records()
    assert 0 < len(records) <= 4
    assert all(r.status == 304 for r in records), [(r.path, r.status) for r in records]
    assert watcher.standin.log.quota_used() == 0


def test_feature_scans_are_cached_by_commit(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "ready")
    watcher("check")
    tarballs = len(watcher.standin.log.where(path="/tarball/"))
    assert tarballs >= 1
    load_headscale(watcher.standin, "patch")
    watcher("check")
    # Only the new release (v0.29.1) is downloaded; v0.29.0 comes from the cache.
    new = [r.path for r in watcher.standin.log.where(path="/tarball/")][tarballs:]
    assert new == [p for p in new if p.endswith("v0.29.1")] and len(new) == 1


def test_status_reads_only_the_database(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "pending")
    watcher("check")
    watcher.standin.log.clear()
    result = watcher("status")
    assert result.exit_code == 0
    assert "headscale-peer-relay: PENDING  target v0.29.0" in result.stdout
    assert len(watcher.standin.log) == 0


def test_a_signal_the_verdict_does_not_wait_for_says_so(watcher: WatcherRun) -> None:
    """Pending on its images beside an open issue: the text marks what is not required,
    as the JSON's ``required`` says, so READY beside an open issue reads as it is."""
    load_headscale(watcher.standin, "pending")
    text = watcher("check").stdout
    signals = verdict_of(watcher)["signals"]
    assert isinstance(signals, list)
    lacking = [s for s in signals if s["status"] != "holds"]
    assert {s["required"] for s in lacking} == {True, False}  # the image, and the issue
    for signal in lacking:
        name = f"{signal['name']}:"
        mark = "" if signal["required"] else ", not required"
        assert f"  {name:<10} [{signal['status']}{mark}] {signal['summary']}\n" in text
