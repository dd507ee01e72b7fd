"""The runner's error boundaries: where a run catches an exception, and what the failure
becomes (docs/architecture.md, «Invariants»).

- A **signal** whose source fails becomes an ERROR signal; the watch goes on.
- A **watch** that fails (a :class:`~watcher.core.errors.WatcherError`, an error verdict,
  or an unexpected exception, which becomes a :class:`~watcher.runner.crash.Crash`) gets
  its error recorded beside the last good verdict, which stays; the run goes on. The
  try/except is the watch's step (:class:`~watcher.runner.cycle.WatchStep`); what it
  caught becomes a :class:`Failure` here.
- The **notifications** failing unexpectedly become the run's notification error; the
  verdicts of the run are kept.
- Whatever escapes all of these (the database failing, Ctrl-C) still closes the run row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher.core.errors import RateLimitedError, SourceError, WatcherError
from watcher.core.models import Signal, SignalName, SignalStatus, Verdict
from watcher.runner.crash import Crash, report_hint
from watcher.runner.report import Delivery
from watcher.state.store import RunStats

if TYPE_CHECKING:
    from watcher.state.store import Store


@dataclass(frozen=True)
class Failure:
    """Why one watch failed this run: what the user sees, and what the daemon needs."""

    message: str
    hint: str | None
    error_class: str
    retry_at: float | None = None  # a rate limit's reset: the daemon pauses till then
    crash: Crash | None = None  # set when the failure was unexpected (a bug)

    @classmethod
    def of(cls, exc: Exception) -> Failure:
        """What an exception that escaped one watch's work becomes.

        A WatcherError keeps its message and hint (a rate limit its reset); anything
        else is a bug and becomes a :class:`~watcher.runner.crash.Crash`.
        """
        if isinstance(exc, WatcherError):
            retry_at = exc.reset_at if isinstance(exc, RateLimitedError) else None
            return cls(exc.message, exc.hint, type(exc).__name__, retry_at)
        crash = Crash.of(exc)
        return cls(crash.summary, report_hint("from the log"), type(exc).__name__, crash=crash)

    @classmethod
    def of_verdict(cls, verdict: Verdict) -> Failure:
        """The failure of a verdict that could not be reached (a required signal errored).

        Its hint is the first errored signal's; such a verdict is never recorded.
        """
        hint = next(
            (
                s.evidence[0]
                for s in verdict.signals
                if s.status is SignalStatus.ERROR and s.evidence
            ),
            None,
        )
        return cls(verdict.error or "", hint, SourceError.__name__)


def guard_signal(
    name: SignalName, gather: Callable[[], Signal], release_tag: str | None = None
) -> Signal:
    """Run one signal; a source failure becomes an ERROR signal instead of aborting the watch."""
    try:
        return gather()
    except SourceError as exc:
        return Signal(name, SignalStatus.ERROR, exc.message, (exc.hint,), release_tag)


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
