"""`watcher run`: the long-running service around :func:`watcher.runner.cycle.run_once`.

An APScheduler 3 :class:`BlockingScheduler` fires one interval job (first run at
start-up, then every ``interval_seconds`` plus up to ``jitter_seconds``), with
``coalesce=True`` and ``max_instances=1`` so cycles never overlap or pile up. After
every cycle the rate-limit governor (:func:`next_delay`, pure) may hold the next one
back until GitHub's quota resets.

A cycle is the unit of work and is never interrupted: SIGTERM/SIGINT only set a flag.
A helper thread then waits for the running cycle (if any) to end and shuts the
scheduler down, so :meth:`Daemon.run` returns 0 as soon as the cycle is done. A second
signal exits at once with 128 + signal number: every database write is its own
transaction (SQLite and PostgreSQL roll an interrupted one back) and pull-request
reconciliation is idempotent, so the next start picks up where the last commit left.

The signal handler itself only sets an Event: it runs between bytecodes of the main
thread, which may hold the scheduler's locks at that moment, so it must not call into
the scheduler.

SIGHUP is logged and ignored (its default action would end the daemon at once, with
no log line). The configuration is not reloaded: it also builds the GitHub writer, the
notification targets, the schedule and the probe port, and applying part of a new file
would leave a daemon that matches neither; a restart is cheap and safe (SIGTERM finishes
the cycle, all state is in the database).

With several replicas on one PostgreSQL database, a lease row decides which one acts
(opens pull requests, notifies); the others only evaluate.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog
from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher.config.model import Config, DaemonConfig
from watcher.core.errors import RateLimitedError
from watcher.core.exit_codes import EXIT_ERROR
from watcher.net.deadline import interrupt_all
from watcher.net.ratelimit import RequestPace, below_floor
from watcher.runner.crash import report_hint
from watcher.runner.report import exit_code
from watcher.service.health import HealthServer, HealthState
from watcher.service.logconfig import log_evaluation
from watcher.service.metrics import VERSION, Metrics
from watcher.service.stop import StopSignals
from watcher.state.leases import ActorLease, process_holder

if TYPE_CHECKING:
    from watcher.net.http import RequestStats
    from watcher.runner.act import Actor
    from watcher.runner.report import RunReport
    from watcher.state.store import Store

log = structlog.stdlib.get_logger(__name__)

EXIT_OK = 0
JOB_ID = "cycle"
# GitHub's reset time has one-second resolution and our clock may be a little ahead of
# theirs: resume a few seconds after it rather than spend a request on a 403.
RESET_MARGIN = 5.0
# GitHub's primary window is one hour; a reset announced further out is not believed
# (a bad header must not silence the daemon for days).
MAX_PAUSE = 3600.0 + RESET_MARGIN
# Pruning is a handful of DELETEs; once an hour is plenty for a retention in days.
PRUNE_EVERY = 3600.0
# ...and never less often than a quarter of the retention: no row outlives it by more.
PRUNE_SHARE = 0.25


@dataclass(frozen=True)
class Pace:
    """The governor's answer: seconds until the next cycle, and why if not the interval."""

    delay: float
    reason: str | None = None

    @property
    def paused(self) -> bool:
        """True when the next cycle is held back beyond the regular interval."""
        return self.reason is not None


def next_delay(
    interval: float,
    now: float,
    *,
    stats: RequestStats | None = None,
    quota_floor: int = 0,
    rate_limited_until: float | None = None,
) -> Pace:
    """Decide when the next cycle may run, from what the last one met (pure).

    The next cycle waits for the later of: the reset of a quota that fell to the floor
    (``stats.quota_remaining`` <= ``quota_floor`` with ``quota_reset`` ahead) and the
    end of a rate limit the cycle ran into (``rate_limited_until``). A wait shorter
    than the interval changes nothing; a longer one is capped at :data:`MAX_PAUSE`.
    """
    waits: list[tuple[float, str]] = []
    if rate_limited_until is not None and rate_limited_until > now:
        waits.append((rate_limited_until, f"rate limited until {_iso(rate_limited_until)}"))
    if stats is not None and below_floor(stats.quota_remaining, quota_floor):
        reset = stats.quota_reset
        if reset is not None and reset > now:
            waits.append(
                (
                    reset,
                    f"GitHub quota at {stats.quota_remaining} (floor {quota_floor}) "
                    f"until it resets at {_iso(reset)}",
                )
            )
    if not waits:
        return Pace(interval)
    until, reason = max(waits)
    delay = min(until - now + RESET_MARGIN, MAX_PAUSE)
    if delay <= interval:
        return Pace(interval)
    return Pace(delay, reason)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CycleResult:
    """What one cycle came to: exit code (0 ready, 1 not ready, 2 error) and its report."""

    code: int
    report: RunReport | None = None
    error: str | None = None
    rate_limited_until: float | None = None
    # Calls the write side (PyGithub) sent during the cycle.
    write_calls: int = 0

    @property
    def stats(self) -> RequestStats | None:
        """The HTTP cost of the cycle, when it produced a report."""
        return self.report.stats if self.report is not None else None


Cycle = Callable[[], CycleResult]


class Daemon:
    """Runs ``cycle`` on the schedule, paces it, and stops cleanly on a signal."""

    def __init__(
        self,
        cycle: Cycle,
        settings: DaemonConfig,
        *,
        quota_floor: int = 0,
        metrics: Metrics | None = None,
        health: HealthState | None = None,
        clock: Callable[[], float] = time.time,
        stop: StopSignals | None = None,
    ) -> None:
        self.cycle = cycle
        self.settings = settings
        self.quota_floor = quota_floor
        self.metrics = metrics or Metrics()
        # The longest regular gap between two cycles is the interval plus the full jitter.
        gap = settings.interval_seconds + settings.jitter_seconds
        self.health = health or HealthState(gap, clock=clock)
        self._clock = clock
        # Shared with `watcher run`, which installs it before start-up (service/stop.py).
        self._signals = stop or StopSignals()
        self._stop = self._signals.requested
        self._started = threading.Event()
        self._hangup = threading.Event()
        self._signals_installed = False
        # Held for the whole of a cycle (and its rescheduling): whoever stops the
        # scheduler takes it first, which is what "finish the current cycle" means.
        self._busy = threading.Lock()
        self._scheduler: Any = None

    def run(self, *, handle_signals: bool = True) -> int:
        """Serve until stopped (0).

        ``handle_signals`` installs the SIGTERM/SIGINT handlers, which is only possible
        in the main thread.
        """
        previous = self._install_signals() if handle_signals else {}
        try:
            return self._serve()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._signals_installed = False
            self._hangup.set()  # ends the SIGHUP logger thread

    def request_stop(self) -> None:
        """Stop after the running cycle (if any); what the first SIGTERM/SIGINT does."""
        self._stop.set()

    def _install_signals(self) -> dict[int, Any]:
        previous = self._signals.install()
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._on_hangup)
        self._signals_installed = True
        self._hangup.clear()
        threading.Thread(target=self._log_hangups, name="watcher-sighup", daemon=True).start()
        return previous

    def _on_hangup(self, _signum: int, _frame: FrameType | None) -> None:
        self._hangup.set()  # logged by a thread: logging is not safe in a signal handler

    def _log_hangups(self) -> None:
        """Log every SIGHUP (see the module docstring for why it is ignored)."""
        while True:
            self._hangup.wait()
            if not self._signals_installed:
                return
            self._hangup.clear()
            log.warning(
                "SIGHUP ignored",
                hint="the configuration is read at start-up only; restart the daemon to "
                "apply a changed file (SIGTERM lets the running cycle finish)",
            )

    def _serve(self) -> int:
        settings = self.settings
        scheduler = BlockingScheduler(
            timezone=UTC,
            # One worker: max_instances=1 already forbids overlap, no thread is wasted.
            executors={"default": ThreadPoolExecutor(1)},
        )
        scheduler.add_job(
            self._job,
            IntervalTrigger(seconds=settings.interval_seconds, jitter=settings.jitter_seconds),
            id=JOB_ID,
            name="watcher cycle",
            coalesce=True,
            max_instances=1,
            # A run more than one interval late (suspended host) is dropped; the next
            # regular one follows, so missed runs never queue up.
            misfire_grace_time=max(1, math.ceil(settings.interval_seconds)),
            next_run_time=datetime.now(UTC),
        )
        scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
        self._scheduler = scheduler
        threading.Thread(target=self._stopper, name="watcher-stopper", daemon=True).start()
        log.info(
            "daemon starting",
            version=VERSION,
            interval=settings.interval_seconds,
            jitter=settings.jitter_seconds,
        )
        scheduler.start()  # blocks until the stopper shuts it down
        log.info("daemon stopped")
        return EXIT_OK

    def _on_started(self, _event: SchedulerEvent) -> None:
        self._started.set()

    def _stopper(self) -> None:
        self._stop.wait()
        log.info("stopping after the current cycle")
        # A read or write stuck on a stalled server must not hold the shutdown.
        interrupt_all()
        self._started.wait()
        with self._busy:
            self._scheduler.shutdown(wait=False)

    def _job(self) -> None:
        with self._busy:
            if self._stop.is_set():
                return
            result = self._run_cycle()
            if not self._stop.is_set():
                self._pace(result)

    def _run_cycle(self) -> CycleResult:
        """Run the cycle once, never letting its failure escape (the daemon lives on)."""
        began = time.monotonic()
        self.health.cycle_started()
        try:
            result = self.cycle()
        except Exception as exc:  # one failed cycle must not end the service
            log.exception("cycle failed", error=str(exc))
            self.metrics.observe_error(exc)
            self.health.cycle_finished(ok=False, error=f"{type(exc).__name__}: {exc}")
            until = exc.reset_at if isinstance(exc, RateLimitedError) else None
            return CycleResult(EXIT_ERROR, error=str(exc), rate_limited_until=until)
        seconds = time.monotonic() - began
        if result.report is not None:
            self.metrics.observe_run(result.report, seconds, write_calls=result.write_calls)
        stats = result.stats
        self.health.cycle_finished(
            ok=result.code != EXIT_ERROR,
            error=result.error,
            clock_offset=stats.clock_offset if stats else None,
        )
        # A failed cycle is a warning: an operator filtering on it must not miss one.
        (log.warning if result.code == EXIT_ERROR else log.info)(
            "cycle finished",
            run=result.report.run_id if result.report is not None else None,
            code=result.code,
            duration=round(seconds, 3),
            requests=stats.requests if stats else None,
            not_modified=stats.not_modified if stats else None,
            quota_remaining=stats.quota_remaining if stats else None,
        )
        return result

    def _pace(self, result: CycleResult) -> None:
        now = self._clock()
        pace = next_delay(
            self.settings.interval_seconds,
            now,
            stats=result.stats,
            quota_floor=self.quota_floor,
            rate_limited_until=result.rate_limited_until,
        )
        if not pace.paused:
            self.health.pause_until(None)
            return
        until = now + pace.delay
        self._scheduler.modify_job(JOB_ID, next_run_time=datetime.fromtimestamp(until, UTC))
        self.health.pause_until(until)
        log.warning("pausing", until=_iso(until), reason=pace.reason)


class RunCycle:
    """The real cycle: one :func:`run_once` with fresh readers, then housekeeping.

    Readers are opened per cycle so that each report's request counters are that
    cycle's alone (what :meth:`Metrics.observe_run` expects); the keep-alive pool
    would not outlive a two-minute idle gap anyway.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        settings: DaemonConfig,
        *,
        watch_ids: tuple[str, ...] = (),
        actor: Actor | None = None,
    ) -> None:
        self.config, self.store, self.settings = config, store, settings
        self.watch_ids, self.actor = watch_ids, actor
        self.lease = ActorLease(store, process_holder(), settings)
        # One pace for every cycle: a cycle starting right after another must not start a
        # new burst within the same minute (GitHub's points a minute).
        self.pace = RequestPace(config.github.requests_per_minute)
        self._leading: bool | None = None
        self._last_prune = -math.inf

    def __call__(self) -> CycleResult:
        """Evaluate (and act, when this replica holds the lease), log, prune."""
        from watcher.runner.cycle import run_once
        from watcher.runner.readers import open_readers

        actor = self.actor if self.actor is not None and self._lead() else None
        calls_before = actor.write_calls() if actor is not None else 0
        with open_readers(self.config, self.store, self.pace) as readers:
            report = run_once(self.config, self.store, readers, self.watch_ids, actor=actor)
        run_log = log.bind(run=report.run_id)  # every line of the cycle names its run
        for outcome in report.outcomes:
            log_evaluation(run_log, outcome)
        if report.notify_crash is not None:
            run_log.error(
                "notifications failed",
                error=report.notify_error,
                hint=report_hint("from the log"),
                exception=report.notify_crash.traceback,
            )
        self._prune()
        errors = [f"{o.watch.id}: {o.error}" for o in report.outcomes if o.error]
        if report.notify_error:
            errors.append(report.notify_error)
        code = exit_code(report)
        limits = [o.retry_at for o in report.outcomes if o.retry_at is not None]
        return CycleResult(
            code,
            report,
            "; ".join(errors) or None,
            rate_limited_until=max(limits, default=None),
            write_calls=(actor.write_calls() - calls_before) if actor is not None else 0,
        )

    def _lead(self) -> bool:
        leading = self.lease.take()
        if leading != self._leading:
            log.info("lease " + ("acquired" if leading else "held by another replica"))
        self._leading = leading
        return leading

    def _prune(self) -> None:
        days = self.settings.retention_days
        retention = timedelta(days=days)
        # Hourly suits a retention in days; a shorter one (hours, or a soak test's
        # seconds) would otherwise be exceeded many times over between two prunes.
        every = min(PRUNE_EVERY, retention.total_seconds() * PRUNE_SHARE)
        if time.monotonic() - self._last_prune < every:
            return
        self._last_prune = time.monotonic()
        deleted = self.store.prune(retention)
        if deleted:
            log.info("pruned old rows", rows=deleted, retention_days=days)

    def close(self) -> None:
        """Give the lease up so another replica can act without waiting for it to expire."""
        self.lease.close()


def serve(
    config: Config,
    store_url: str,
    *,
    settings: DaemonConfig | None = None,
    watch_ids: tuple[str, ...] = (),
    actor: Actor | None = None,
    stop: StopSignals | None = None,
) -> int:
    """Run the daemon until SIGTERM/SIGINT (returns 0).

    ``stop``: the stop request `watcher run` installed at its start, so
    a signal during start-up is kept (service/stop.py). Logging must already be configured
    (:func:`watcher.service.logconfig.configure`).
    The port is bound before the database is opened: a second daemon started by mistake
    fails on the port without creating or migrating anything.
    """
    from watcher.state.store import Store

    settings = settings or DaemonConfig()
    config.select(watch_ids)  # unknown ids fail now, not in every cycle
    health = HealthState(settings.interval_seconds + settings.jitter_seconds)
    metrics = Metrics()
    with ExitStack() as cleanup:  # closed in reverse: cycle, store, HTTP server
        cleanup.enter_context(HealthServer(health, metrics, settings.bind, settings.health_port))
        # A database behind the code is migrated here (the container's entrypoint has
        # already run `watcher db upgrade`, so there Alembic is never even imported).
        store = Store.open(store_url)
        cleanup.callback(store.close)
        cycle = RunCycle(config, store, settings, watch_ids=watch_ids, actor=actor)
        cleanup.callback(cycle.close)
        daemon = Daemon(
            cycle,
            settings,
            quota_floor=config.github.quota_floor,
            metrics=metrics,
            health=health,
            stop=stop,
        )
        return daemon.run()
