"""Tests of watcher.service.metrics: the exposition after fabricated runs and errors."""

from __future__ import annotations

import platform
from collections import Counter
from datetime import UTC, datetime
from importlib.metadata import version

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tests.memory_cache import MemoryCache
from tests.standin.headscale import READ_TOKEN, load_headscale
from tests.standin.server import StandIn
from watcher.config.model import FeatureConfig, WatchConfig
from watcher.core.errors import StateError
from watcher.core.image_ref import ImageRef
from watcher.core.models import Release, Verdict, VerdictState
from watcher.net.credentials import Credentials
from watcher.net.github_read import GitHubReader
from watcher.net.http import HttpClient, HttpSettings, RequestStats
from watcher.net.registry import RegistryReader
from watcher.runner.report import RunReport, WatchOutcome
from watcher.service.metrics import Metrics
from watcher.state.store import Event

CHANGED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RELEASE = Release("v0.29.0", "0.29.0", False, False, "https://example.invalid/r", None)


def outcome(
    watch_id: str, state: VerdictState | None, error: str | None = None, event: bool = False
) -> WatchOutcome:
    """A WatchOutcome as the runner makes it."""
    watch = WatchConfig(
        id=watch_id, repo="juanfont/headscale", feature=FeatureConfig(marker="x.y/z")
    )
    verdict = (
        None
        if state is None
        else Verdict(watch_id, state, RELEASE, (), (), changed_at=None if event else CHANGED)
    )
    transition = (
        Event(1, watch_id, CHANGED, "waiting", "ready", None, "v0.29.0", {}) if event else None
    )
    return WatchOutcome(watch, verdict, error, None, transition, 0.5, 4, 3)


def report(*outcomes: WatchOutcome, notify_error: str | None = None) -> RunReport:
    stats = RequestStats(
        requests=8,
        not_modified=6,
        quota_used=2,
        by_status=Counter({"304": 6, "200": 2}),
        quota_remaining=4321,
        quota_reset=1_800_000_000.0,
    )
    return RunReport(7, outcomes, stats, notify_error)


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, parsed back, keyed by name and sorted labels."""
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_observe_run_exposes_every_series() -> None:
    metrics = Metrics(process=False)
    metrics.observe_run(
        report(
            outcome("headscale", VerdictState.READY, event=True),
            outcome("other", VerdictState.WAITING),
        ),
        seconds=1.7,
    )
    got = samples(metrics)
    assert got[("watcher_cycles_total", (("outcome", "ok"),))] == 1
    assert got[("watcher_http_requests_total", (("status", "304"),))] == 6
    assert got[("watcher_http_requests_total", (("status", "200"),))] == 2
    assert got[("watcher_http_not_modified_ratio", ())] == 0.75
    assert got[("watcher_github_quota_remaining", ())] == 4321
    assert got[("watcher_github_quota_reset_timestamp_seconds", ())] == 1_800_000_000
    assert got[("watcher_watch_state", (("state", "ready"), ("watch", "headscale")))] == 1
    assert got[("watcher_watch_state", (("state", "waiting"), ("watch", "headscale")))] == 0
    assert got[("watcher_watch_state", (("state", "waiting"), ("watch", "other")))] == 1
    stamp = CHANGED.timestamp()
    for watch in ("headscale", "other"):
        key = ("watcher_watch_last_transition_timestamp_seconds", (("watch", watch),))
        assert got[key] == stamp
    assert got[("watcher_last_success_timestamp_seconds", ())] > stamp
    assert got[("watcher_cycle_duration_seconds_count", ())] == 1
    assert got[("watcher_cycle_duration_seconds_sum", ())] == 1.7
    assert got[("watcher_cycle_duration_seconds_bucket", (("le", "2.5"),))] == 1
    assert got[("watcher_cycle_duration_seconds_bucket", (("le", "1.0"),))] == 0


def test_a_transition_flips_the_state_series() -> None:
    metrics = Metrics(process=False)
    metrics.observe_run(report(outcome("headscale", VerdictState.PENDING)), 1.0)
    metrics.observe_run(report(outcome("headscale", VerdictState.READY)), 1.0)
    got = samples(metrics)
    assert got[("watcher_watch_state", (("state", "pending"), ("watch", "headscale")))] == 0
    assert got[("watcher_watch_state", (("state", "ready"), ("watch", "headscale")))] == 1
    assert got[("watcher_http_requests_total", (("status", "304"),))] == 12


def test_errors_count_by_class_and_spoil_the_cycle() -> None:
    metrics = Metrics(process=False)
    metrics.observe_run(
        report(outcome("headscale", None, error="HTTP 502"), notify_error="notifications: 403"),
        seconds=0.2,
    )
    metrics.observe_error(StateError("database is locked"))
    got = samples(metrics)
    assert got[("watcher_cycles_total", (("outcome", "error"),))] == 1
    assert got[("watcher_cycles_total", (("outcome", "failed"),))] == 1
    assert got[("watcher_errors_total", (("class", "WatcherError"),))] == 1
    assert got[("watcher_errors_total", (("class", "NotifyError"),))] == 1
    assert got[("watcher_errors_total", (("class", "StateError"),))] == 1
    # Never evaluated: no state is current, and no success was recorded.
    assert got[("watcher_watch_state", (("state", "waiting"), ("watch", "headscale")))] == 0
    assert got[("watcher_last_success_timestamp_seconds", ())] == 0


def test_process_metrics_are_included_by_default() -> None:
    assert "process_cpu_seconds_total" in Metrics().exposition().decode()


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans()), max_size=12))
def test_watch_error_follows_the_last_evaluation_of_each_watch(
    runs: list[tuple[str, bool]],
) -> None:
    metrics = Metrics(process=False)
    last: dict[str, bool] = {}
    for watch, failed in runs:
        error = "HTTP 502" if failed else None
        metrics.observe_run(report(outcome(watch, VerdictState.WAITING, error=error)), 0.1)
        last[watch] = failed
    got = samples(metrics)
    for watch, failed in last.items():
        assert got[("watcher_watch_error", (("watch", watch),))] == (1 if failed else 0)


def test_build_info_names_this_version_and_python() -> None:
    got = samples(Metrics(process=False))
    build = [labels for (name, labels), value in got.items() if name == "watcher_build_info"]
    assert build == [(("python", platform.python_version()), ("version", version("watcher")))]
    assert got[("watcher_build_info", build[0])] == 1


@given(
    cycles=st.lists(
        st.tuples(
            st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)
        ),  # reads, registry, writes
        max_size=5,
    )
)
def test_requests_by_kind_add_up_over_cycles(cycles: list[tuple[int, int, int]]) -> None:
    metrics = Metrics(process=False)
    for reads, registry, writes in cycles:
        stats = RequestStats(by_kind=Counter(github_read=reads, registry=registry))
        metrics.observe_run(RunReport(1, (), stats), 0.1, write_calls=writes)
    for index, kind in enumerate(("github_read", "registry", "github_write")):
        value = metrics.registry.get_sample_value("watcher_requests_total", {"kind": kind})
        assert (value or 0) == sum(cycle[index] for cycle in cycles)


def test_requests_by_kind_match_what_the_standin_served(standin: StandIn) -> None:
    """GitHub API reads and registry requests apart, as the stand-in's own log has them."""
    load_headscale(standin, "ready")
    http = HttpClient(MemoryCache(), HttpSettings(retries=0))
    registry = RegistryReader(http, {"docker.io": standin.registry_url("docker.io")})
    github = GitHubReader(http, standin.api_url, Credentials(token=READ_TOKEN))
    github.get_json("/repos/juanfont/headscale/releases?per_page=100")
    registry.manifest(ImageRef("docker.io", "tailscale/tailscale", "stable"))
    served = Counter(record.service for record in standin.log.records())
    assert http.stats.by_kind == Counter(github_read=served["github"], registry=served["registry"])
    assert served["github"] >= 1 and served["registry"] >= 1


@settings(max_examples=10, deadline=None)
@given(
    errors=st.lists(
        st.sampled_from(["", "https://api.github.com/repos/o/r/tags?page=7"]),
        min_size=1,
        max_size=40,
    ),
    cycles=st.integers(1, 3),
)
def test_series_grow_with_watches_only_never_with_urls_or_messages(
    errors: list[str], cycles: int
) -> None:
    """Per-watch labels are bounded by the config (5 states + 2 series per watch); URLs,
    error texts and tags never become labels, so cycles add no series."""
    metrics = Metrics(process=False)
    for cycle in range(cycles):
        outcomes = [
            outcome(
                f"w{index}", VerdictState.WAITING, error=f"{message} {cycle}" if message else None
            )
            for index, message in enumerate(errors)
        ]
        metrics.observe_run(report(*outcomes), 0.1)
        labelled = [
            (name, labels) for name, labels in samples(metrics) if name.startswith("watcher_watch")
        ]
        assert len(labelled) <= len(errors) * (len(VerdictState) + 2)
    values = [value for _, labels in samples(metrics) for _, value in labels]
    assert not any("://" in value or "page=" in value for value in values)
