"""The runner's error boundaries: every place a run catches an exception, and what the
failure becomes (docs/architecture.md, «Invariants»).

- A **signal** whose source fails becomes an ERROR signal; the watch goes on.
- A **watch** that fails (a :class:`~watcher.core.errors.WatcherError`, an error verdict,
  or an unexpected exception, which becomes a :class:`~watcher.runner.crash.Crash`) gets
  its error recorded beside the last good verdict, which stays; the run goes on.
- The **notifications** failing unexpectedly become the run's notification error; the
  verdicts of the run are kept.
- Whatever escapes all of these (the database failing, Ctrl-C) still closes the run row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from watcher.core.errors import RateLimitedError, SourceError, WatcherError
from watcher.core.models import Signal, SignalName, SignalStatus, Verdict
from watcher.runner.crash import Crash, report_hint
from watcher.runner.report import Delivery, WatchOutcome
from watcher.state.store import RunStats

if TYPE_CHECKING:
    from watcher.actions.planning import Plan
    from watcher.config.model import WatchConfig
    from watcher.runner.readers import Readers
    from watcher.state.store import Event, Store


@dataclass(frozen=True)
class Failure:
    """Why one watch failed this run: what the user sees, and what the daemon needs."""

    message: str
    hint: str | None
    error_class: str
    retry_at: float | None = None  # a rate limit's reset: the daemon pauses till then
    crash: Crash | None = None  # set when the failure was unexpected (a bug)


@dataclass
class WatchWork:
    """What one watch's work has produced so far; kept when the work fails halfway."""

    event: Event | None = None
    plan: Plan | None = None
    failure: Failure | None = None  # a failure the work found without raising


def guard_signal(
    name: SignalName, gather: Callable[[], Signal], release_tag: str | None = None
) -> Signal:
    """Run one signal; a source failure becomes an ERROR signal instead of aborting the watch."""
    try:
        return gather()
    except SourceError as exc:
        return Signal(name, SignalStatus.ERROR, exc.message, (exc.hint,), release_tag)


def error_verdict_failure(verdict: Verdict) -> Failure:
    """The failure of a verdict that could not be reached (a required signal errored).

    Its hint is the first errored signal's; such a verdict is never recorded.
    """
    hint = next(
        (s.evidence[0] for s in verdict.signals if s.status is SignalStatus.ERROR and s.evidence),
        None,
    )
    return Failure(verdict.error or "", hint, SourceError.__name__)


def run_watch(
    watch: WatchConfig,
    store: Store,
    readers: Readers,
    run_id: int,
    error_after: timedelta,
    work: Callable[[WatchWork], None],
) -> WatchOutcome:
    """Do ``work`` for one watch inside its boundary; what it came to, with its cost.

    Every Exception stops here (Ctrl-C and exits go on to :func:`closing_run`): a
    WatcherError keeps its message and hint, anything else is a bug and becomes a Crash.
    A failure is recorded as the watch's error; a failed poll changes no verdict. What
    ``work`` put in its :class:`WatchWork` before failing (a plan) is kept.
    """
    began = time.monotonic()
    requests, not_modified = readers.http.stats.requests, readers.http.stats.not_modified
    done = WatchWork()
    failure: Failure | None = None
    try:
        work(done)
        failure = done.failure
    except WatcherError as exc:
        retry_at = exc.reset_at if isinstance(exc, RateLimitedError) else None
        failure = Failure(exc.message, exc.hint, type(exc).__name__, retry_at)
    except Exception as exc:  # noqa: BLE001 - the watch's boundary: the run goes on
        crash = Crash.of(exc)
        hint = report_hint("from the log")
        failure = Failure(crash.summary, hint, type(exc).__name__, crash=crash)
    if failure is not None and failure.message:
        # A failed poll changes nothing: the last good verdict stays, the error sits beside it.
        store.record_error(
            run_id, watch.id, failure.message, notify_after=error_after, hint=failure.hint
        )
    stored = store.get_verdict(watch.id)
    return WatchOutcome(
        watch=watch,
        verdict=stored.verdict if stored else None,
        error=failure.message if failure else None,
        hint=failure.hint if failure else None,
        event=done.event,
        seconds=time.monotonic() - began,
        requests=readers.http.stats.requests - requests,
        not_modified=readers.http.stats.not_modified - not_modified,
        plan=done.plan,
        error_class=failure.error_class if failure else None,
        retry_at=failure.retry_at if failure else None,
        crash=failure.crash if failure else None,
    )


def notifications_boundary(deliver: Callable[[], Delivery]) -> Delivery:
    """Deliver the notifications; a bug in notifying must not lose the run's verdicts."""
    try:
        return deliver()
    except Exception as exc:  # noqa: BLE001 - the notifications' boundary
        crash = Crash.of(exc)
        return Delivery(error=f"notifications: {crash.summary}", crash=crash)


@contextmanager
def closing_run(store: Store, run_id: int) -> Iterator[None]:
    """Whatever escapes the boundaries above still marks the run row as failed, then goes on.

    The run row must not stay `running`. Best effort, since the database may be the culprit.
    """
    try:
        yield
    except BaseException as exc:
        summary = exc.message if isinstance(exc, WatcherError) else Crash.of(exc).summary
        with suppress(Exception):
            store.finish_run(run_id, "error", RunStats(0, 0, 0), summary)
        raise
