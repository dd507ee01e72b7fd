"""What one run came to: the outcome of every watch, the notifications, and the exit code.

Plain records and pure functions over them, so the shells (the CLI, the daemon, the
metrics) read a run without importing how it was made (docs/architecture.md, «Code map»).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher.core.exit_codes import EXIT_ERROR, EXIT_NOT_READY, EXIT_READY
from watcher.core.models import READY_STATES

if TYPE_CHECKING:
    from watcher.actions.planning import Plan
    from watcher.config.model import WatchConfig
    from watcher.core.models import Verdict
    from watcher.net.http import RequestStats
    from watcher.runner.crash import Crash
    from watcher.state.deliveries import TargetStatus
    from watcher.state.store import Event


@dataclass(frozen=True)
class WatchOutcome:
    """What one watch came to in one run: the verdict to show and this run's error."""

    watch: WatchConfig
    verdict: Verdict | None
    error: str | None
    hint: str | None
    event: Event | None
    seconds: float
    requests: int
    not_modified: int
    plan: Plan | None = None
    error_class: str | None = None
    retry_at: float | None = None
    crash: Crash | None = None  # set when the error was unexpected (a bug)


@dataclass(frozen=True)
class Delivery:
    """What delivering the notifications came to in one run (nothing: nothing to deliver)."""

    error: str | None = None
    # Apprise targets and how far behind each is (only when this run delivered).
    targets: tuple[TargetStatus, ...] = ()
    crash: Crash | None = None  # set when the error was unexpected (a bug)


@dataclass(frozen=True)
class RunReport:
    """All outcomes of one run and what it cost."""

    run_id: int
    outcomes: tuple[WatchOutcome, ...]
    stats: RequestStats
    notify_error: str | None = None
    # Apprise targets and how far behind each is (only when this run delivered).
    targets: tuple[TargetStatus, ...] = ()
    notify_crash: Crash | None = None

    @property
    def crashes(self) -> list[tuple[str, Crash]]:
        """Every unexpected exception of the run, labelled by watch (or notifications)."""
        found = [(o.watch.id, o.crash) for o in self.outcomes if o.crash is not None]
        if self.notify_crash is not None:
            found.append(("notifications", self.notify_crash))
        return found


def exit_code(report: RunReport) -> int:
    """Ready when every watch is ready (or beyond), not ready when any is not, error
    when any watch or the notifications failed."""
    outcomes = report.outcomes
    if report.notify_error or any(o.error for o in outcomes):
        return EXIT_ERROR
    if all(o.verdict is not None and o.verdict.state in READY_STATES for o in outcomes):
        return EXIT_READY
    return EXIT_NOT_READY


def action_exit_code(report: RunReport) -> int:
    """`run --once` is an action, not a question: 0 when its cycle completed, whatever
    the verdicts (a CronJob must not fail while a watch waits), 2 on error."""
    return EXIT_ERROR if exit_code(report) == EXIT_ERROR else EXIT_READY
