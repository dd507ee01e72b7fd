"""One evaluation cycle: config -> sources -> evaluate -> state, then act.

The loop over the selected watches, and the steps of one watch: observe
(:mod:`~watcher.runner.observe`), evaluate, plan, then act (:mod:`~watcher.runner.act`) or
record; then the notifications (:mod:`~watcher.runner.deliver`). Each watch runs inside
the error boundary of :mod:`~watcher.runner.boundary`. ``cli`` and ``daemon`` are thin
shells over :func:`run_once` (docs/architecture.md, «Bird's-eye view»).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from watcher.core.evaluate import evaluate
from watcher.core.models import VerdictState
from watcher.runner.act import Actor, act
from watcher.runner.boundary import (
    WatchWork,
    closing_run,
    error_verdict_failure,
    notifications_boundary,
    run_watch,
)
from watcher.runner.deliver import deliver
from watcher.runner.observe import observe, plan_proposal
from watcher.runner.report import Delivery, RunReport
from watcher.state.store import RunStats

if TYPE_CHECKING:
    from watcher.config.model import Config, WatchConfig
    from watcher.runner.readers import Readers
    from watcher.state.store import Store


def run_once(
    config: Config,
    store: Store,
    readers: Readers,
    watch_ids: tuple[str, ...] = (),
    *,
    actor: Actor | None = None,
    plan: bool = False,
) -> RunReport:
    """Evaluate the selected watches once and record verdicts, events and errors.

    With an ``actor`` the run also reconciles pull requests of ready watches and
    delivers notifications; with ``plan`` it computes (never pushes) each proposal.
    """
    watches = config.select(watch_ids)
    run_id = store.start_run()
    with closing_run(store, run_id):
        return _run(config, store, readers, watches, run_id, actor, plan)


def _run(
    config: Config,
    store: Store,
    readers: Readers,
    watches: tuple[WatchConfig, ...],
    run_id: int,
    actor: Actor | None,
    plan: bool,
) -> RunReport:
    start = replace(readers.http.stats)
    error_after = timedelta(minutes=config.notify.error_after_minutes)
    if actor is not None:
        # Before evaluating: a target new in this run gets this run's transitions.
        store.register_targets([t.spec() for t in actor.targets])
    outcomes = tuple(
        run_watch(
            watch,
            store,
            readers,
            run_id,
            error_after,
            partial(_watch_work, watch, store, readers, run_id, actor, plan),
        )
        for watch in watches
    )
    delivery = Delivery()
    if actor is not None:
        delivery = notifications_boundary(partial(deliver, config, store, actor))
    stats = readers.http.stats
    used = RunStats(
        requests=stats.requests - start.requests,
        not_modified=stats.not_modified - start.not_modified,
        quota_used=stats.quota_used - start.quota_used,
    )
    failed = [o.error for o in outcomes if o.error] + ([delivery.error] if delivery.error else [])
    store.finish_run(run_id, "error" if failed else "ok", used, "; ".join(failed) or None)
    return RunReport(run_id, outcomes, stats, delivery.error, delivery.targets, delivery.crash)


def _watch_work(
    watch: WatchConfig,
    store: Store,
    readers: Readers,
    run_id: int,
    actor: Actor | None,
    plan: bool,
    done: WatchWork,
) -> None:
    """Observe and evaluate one watch, plan its chart bump when ready, then act or record."""
    verdict = evaluate(observe(watch, store, readers))
    if verdict.error:
        done.failure = error_verdict_failure(verdict)
        return
    verdict = replace(verdict, evaluated_at=datetime.now(UTC))
    previous = store.get_verdict(watch.id)
    proposal = None
    if verdict.state is VerdictState.READY and (plan or actor) and watch.chart:
        proposal = plan_proposal(watch, verdict, store, readers)
        done.plan = proposal if plan else None
    if actor is not None and proposal is not None:
        done.event = act(store, run_id, actor, proposal, verdict, previous, readers)
    else:
        # A read-only run must not undo `proposed`/`done` that a writing run recorded,
        # even one that recorded it a moment ago: the store decides under the row lock.
        done.event = store.record_verdict(run_id, verdict, keep_action_state=True)
