"""Prometheus metrics of the daemon, kept in a dedicated registry.

A dedicated :class:`~prometheus_client.CollectorRegistry` (not the library's global one)
keeps ``/metrics`` to what watcher means to expose and lets every test build a fresh
:class:`Metrics` without "duplicated timeseries" errors. The daemon feeds it once per
cycle with :meth:`Metrics.observe_run` (or :meth:`Metrics.observe_error` when a cycle
did not produce a report); the health server renders it with :meth:`Metrics.exposition`.

``observe_run`` expects the :class:`~watcher.runner.report.RunReport` of one cycle whose
``stats`` count that cycle alone, which holds when the readers are opened per cycle
(as :mod:`watcher.service.daemon` does).
"""

from __future__ import annotations

import platform
from importlib.metadata import version
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from watcher.core.models import VerdictState

if TYPE_CHECKING:
    from watcher.runner.report import RunReport, WatchOutcome

CONTENT_TYPE = CONTENT_TYPE_LATEST
VERSION = version("watcher")
# Cycles range from a handful of 304s (well under a second) to a cold tarball scan of
# several releases (minutes); the buckets span both ends.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# The class recorded for a watch error: the runner keeps only the message of the
# WatcherError it caught, so the base class is all that can honestly be claimed.
WATCH_ERROR_CLASS = "WatcherError"
NOTIFY_ERROR_CLASS = "NotifyError"


class Metrics:
    """Every metric watcher exports, registered in its own registry."""

    def __init__(self, *, process: bool = True) -> None:
        self.registry = CollectorRegistry()
        if process:
            # Memory and CPU of the daemon itself (a tarball scan is the heavy part).
            ProcessCollector(registry=self.registry)
        r = self.registry
        Gauge(
            "watcher_build_info",
            "Always 1; the labels say which watcher and Python run.",
            ["version", "python"],
            registry=r,
        ).labels(version=VERSION, python=platform.python_version()).set(1)
        self.cycles = Counter(
            "watcher_cycles",
            "Evaluation cycles by outcome: ok, error (a watch or notification failed), "
            "failed (the cycle raised).",
            ["outcome"],
            registry=r,
        )
        self.requests = Counter(
            "watcher_http_requests",
            "HTTP requests sent, by response status; a registry's expected 401 token "
            "challenge is counted as status challenge.",
            ["status"],
            registry=r,
        )
        self.requests_by_kind = Counter(
            "watcher_requests",
            "Requests sent, by kind: github_read (API reads), github_write (calls of the "
            "write side, PyGithub), registry (OCI registries and Docker Hub).",
            ["kind"],
            registry=r,
        )
        self.not_modified_ratio = Gauge(
            "watcher_http_not_modified_ratio",
            "Share of the last cycle's requests answered 304 Not Modified.",
            registry=r,
        )
        self.quota_remaining = Gauge(
            "watcher_github_quota_remaining",
            "x-ratelimit-remaining of the last GitHub response.",
            registry=r,
        )
        self.quota_reset = Gauge(
            "watcher_github_quota_reset_timestamp_seconds",
            "x-ratelimit-reset of the last GitHub response (Unix time).",
            registry=r,
        )
        self.watch_state = Gauge(
            "watcher_watch_state",
            "1 for the current verdict state of each watch, 0 for the others.",
            ["watch", "state"],
            registry=r,
        )
        self.watch_transition = Gauge(
            "watcher_watch_last_transition_timestamp_seconds",
            "When the verdict of each watch last changed (Unix time).",
            ["watch"],
            registry=r,
        )
        self.watch_error = Gauge(
            "watcher_watch_error",
            "1 while the last evaluation of each watch failed (its last good verdict is "
            "kept), else 0; alert on it with a `for:` duration.",
            ["watch"],
            registry=r,
        )
        self.errors = Counter(
            "watcher_errors", "Errors met by the daemon, by class.", ["class"], registry=r
        )
        self.last_success = Gauge(
            "watcher_last_success_timestamp_seconds",
            "When the last cycle without any error finished (Unix time).",
            registry=r,
        )
        self.duration = Histogram(
            "watcher_cycle_duration_seconds",
            "Wall time of one evaluation cycle.",
            buckets=DURATION_BUCKETS,
            registry=r,
        )

        self.outbox_pending = Gauge(
            "watcher_outbox_pending",
            "Notifications (outbox rows) not yet delivered to each Apprise target.",
            ["target"],
            registry=r,
        )
        self.outbox_undeliverable = Gauge(
            "watcher_outbox_undeliverable",
            "Notifications waiting on an Apprise target whose oldest one failed "
            "[notify].apprise_undeliverable_after times or more (alert when > 0).",
            ["target"],
            registry=r,
        )

    def observe_run(self, report: RunReport, seconds: float, *, write_calls: int = 0) -> None:
        """Account one finished cycle: outcome, HTTP cost, quota, per-watch state, duration.

        ``write_calls``: what the write side sent during the cycle (it has no stats of
        its own in the report).
        """
        self.duration.observe(seconds)
        stats = report.stats
        for status, count in stats.by_status.items():
            self.requests.labels(status=status).inc(count)
        for kind, count in (*stats.by_kind.items(), ("github_write", write_calls)):
            self.requests_by_kind.labels(kind=kind).inc(count)
        if stats.requests:
            self.not_modified_ratio.set(stats.not_modified / stats.requests)
        if stats.quota_remaining is not None:
            self.quota_remaining.set(stats.quota_remaining)
        if stats.quota_reset is not None:
            self.quota_reset.set(stats.quota_reset)
        for outcome in report.outcomes:
            self._observe_watch(outcome)
            if outcome.error:
                self.errors.labels(outcome.error_class or WATCH_ERROR_CLASS).inc()
        if report.notify_error:
            self.errors.labels(NOTIFY_ERROR_CLASS).inc()
        self._observe_targets(report)
        failed = report.notify_error or any(o.error for o in report.outcomes)
        self.cycles.labels(outcome="error" if failed else "ok").inc()
        if not failed:
            self.last_success.set_to_current_time()

    def observe_error(self, error: BaseException) -> None:
        """Account a cycle that raised instead of producing a report."""
        self.errors.labels(type(error).__name__).inc()
        self.cycles.labels(outcome="failed").inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (serve with :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    def _observe_targets(self, report: RunReport) -> None:
        # Only a run that delivered knows the targets (a replica without the lease does
        # not); the others keep the last values rather than report zero.
        if not report.targets:
            return
        # Cleared first so a target removed from the configuration leaves no stale series.
        self.outbox_pending.clear()
        self.outbox_undeliverable.clear()
        for target in report.targets:
            self.outbox_pending.labels(target=target.label).set(target.pending)
            self.outbox_undeliverable.labels(target=target.label).set(target.undeliverable)

    def _observe_watch(self, outcome: WatchOutcome) -> None:
        watch = outcome.watch.id
        verdict = outcome.verdict
        current = verdict.state if verdict is not None else None
        # Every state gets a sample so that a transition flips one series to 0 instead
        # of leaving a stale 1 behind.
        for state in VerdictState:
            self.watch_state.labels(watch=watch, state=state.value).set(
                1 if state is current else 0
            )
        self.watch_error.labels(watch=watch).set(1 if outcome.error else 0)
        changed = verdict.changed_at if verdict is not None else None
        if changed is None and outcome.event is not None:
            changed = outcome.event.at
        if changed is not None:
            self.watch_transition.labels(watch=watch).set(changed.timestamp())
