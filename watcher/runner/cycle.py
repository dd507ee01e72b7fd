"""One evaluation cycle: config -> sources -> evaluate -> state, then act.

The loop over the selected watches, and the steps of one watch: observe
(:mod:`~watcher.runner.observe`), evaluate, plan, then record (or, ready in a writing run,
wait for its chart); then each chart's one pull request is reconciled for its ready
watches (:mod:`~watcher.runner.act`), then the notifications
(:mod:`~watcher.runner.deliver`). Each watch, and each chart, runs inside its error
boundary (:mod:`~watcher.runner.boundary`). ``cli`` and ``daemon`` are thin
shells over :func:`run_once` (docs/architecture.md, «Bird's-eye view»).

The read side of up to ``[github].concurrency`` watches runs at once on worker threads
(observe, evaluate, plan: reads and caches only); recording and acting stay on the
calling thread, one watch at a time in config order, so writes are serialized and the
records and output keep the config's order (docs/architecture.md, «Talking to GitHub»).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from watcher.core.clock import OFFSET_KEY, parse_offset
from watcher.core.evaluate import evaluate
from watcher.core.models import VerdictState
from watcher.runner.act import Actor, ReadyWatch, act, by_chart
from watcher.runner.boundary import Failure, closing_run, notifications_boundary
from watcher.runner.caches import store_scan_cache
from watcher.runner.deliver import deliver
from watcher.runner.observe import observe, plan_proposal
from watcher.runner.report import Delivery, RunReport, WatchOutcome
from watcher.sources.feature import Peer
from watcher.state.store import RunStats

if TYPE_CHECKING:
    from watcher.actions.planning import Plan
    from watcher.config.model import Config, WatchConfig
    from watcher.core.models import Verdict
    from watcher.runner.readers import Readers
    from watcher.state.store import Event, Store


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
    if actor is not None:
        # Before evaluating: a target new in this run gets this run's transitions.
        store.register_targets([t.spec() for t in actor.targets])
    error_after = timedelta(minutes=config.notify.error_after_minutes)
    peers = feature_peers(watches, store)
    step = WatchStep(store, readers, run_id, actor, plan, error_after, peers)
    with _mapper(min(config.github.concurrency, len(watches))) as mapped:
        observed = zip(watches, mapped(step.observe, watches), strict=True)
        outcomes = tuple(step.finish(watch, seen) for watch, seen in observed)
    if actor is not None and step.ready:
        outcomes = step.act(actor, outcomes)
    delivery = Delivery()
    if actor is not None:
        delivery = notifications_boundary(lambda: deliver(config, store, actor, readers))
    stats = readers.http.stats
    _keep_offset(store, stats.clock_offset)
    used = RunStats(
        requests=stats.requests - start.requests,
        not_modified=stats.not_modified - start.not_modified,
        quota_used=stats.quota_used - start.quota_used,
    )
    failed = [o.error for o in outcomes if o.error] + ([delivery.error] if delivery.error else [])
    store.finish_run(run_id, "error" if failed else "ok", used, "; ".join(failed) or None)
    return RunReport(run_id, outcomes, stats, delivery.error, delivery.targets, delivery.crash)


def _keep_offset(store: Store, offset: float | None) -> None:
    """Remember GitHub's clock offset for `status` and the dashboard, when it moved."""
    if offset is None:
        return
    kept = parse_offset(store.get_value(OFFSET_KEY))
    # The Date header has whole seconds: only a real move costs a write.
    if kept is None or abs(kept - offset) > OFFSET_MOVED:
        store.set_value(OFFSET_KEY, f"{offset:.0f}")


# How far the measured offset must move before it is stored again (seconds).
OFFSET_MOVED = 10.0


_Mapper = Callable[
    [Callable[["WatchConfig"], "Observed"], Iterable["WatchConfig"]], Iterator["Observed"]
]


@contextmanager
def _mapper(workers: int) -> Iterator[_Mapper]:
    """``map`` over ``workers`` threads (answers in input order), or in this thread for 1."""
    if workers <= 1:
        yield map
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="observe") as pool:
        try:
            yield pool.map
        finally:
            # Ctrl-C or a failing store: no new watch starts, running ones finish.
            pool.shutdown(cancel_futures=True)


def feature_peers(watches: Iterable[WatchConfig], store: Store) -> dict[str, tuple[Peer, ...]]:
    """The feature rules of ``watches`` with their caches, by repository, made once a run:
    one download of a commit scans for all the watches of its upstream
    (docs/architecture.md, «What support landed means»)."""
    peers: dict[str, list[Peer]] = {}
    for watch in watches:
        if watch.feature is not None:
            cache = store_scan_cache(store, watch.repo, watch.feature)
            peers.setdefault(watch.repo, []).append(Peer(watch.feature, cache))
    return {repo: tuple(found) for repo, found in peers.items()}


@dataclass(frozen=True)
class Observed:
    """What one watch's read side came to, before anything of it is recorded."""

    verdict: Verdict | None
    proposal: Plan | None
    failure: Failure | None
    seconds: float
    requests: int
    not_modified: int


@dataclass(frozen=True)
class WatchStep:
    """One watch's step of a run, what every watch shares: ``observe`` (reads, on a worker)
    then ``finish`` (records, in config order) make its WatchOutcome; a writing run then
    acts per chart (:meth:`act`)."""

    store: Store
    readers: Readers
    run_id: int
    actor: Actor | None
    plan: bool
    error_after: timedelta
    #: Repository -> the feature rules of the run's watches of it, scanned together.
    peers: Mapping[str, tuple[Peer, ...]]
    # Ready watches of a writing run, acted on per chart once every watch was seen.
    ready: list[ReadyWatch] = field(default_factory=list)

    def observe(self, watch: WatchConfig) -> Observed:
        """Observe and evaluate one watch, and plan its chart bump when ready (reads only).

        Runs on a worker thread. Part of the watch's error boundary
        (:mod:`~watcher.runner.boundary`): every Exception stops here and becomes the
        watch's failure; a plan made before the failure is kept.
        """
        began = time.monotonic()
        requests, not_modified = self.readers.http.thread_counts()
        verdict, proposal, failure = None, None, None
        try:
            peers = self.peers.get(watch.repo, ())
            verdict = evaluate(observe(watch, self.store, self.readers, peers))
            if verdict.error:
                failure = Failure.of_verdict(verdict)  # never recorded as a verdict
                verdict = None
            else:
                verdict = replace(verdict, evaluated_at=self.store.now())
                proposal = self._propose(watch, verdict)
        except Exception as exc:  # noqa: BLE001 - the watch's boundary: the run goes on
            failure = Failure.of(exc)
        spent = self.readers.http.thread_counts()
        return Observed(
            verdict if failure is None else None,
            proposal,
            failure,
            time.monotonic() - began,
            spent[0] - requests,
            spent[1] - not_modified,
        )

    def finish(self, watch: WatchConfig, seen: Observed) -> WatchOutcome:
        """Act on the watch's proposal or record its verdict, in config order, one at a time.

        The rest of the watch's error boundary: an Exception here (or the observation's
        failure) is recorded as the watch's error beside its last good verdict, which stays.
        """
        began = time.monotonic()
        requests, not_modified = self.readers.http.thread_counts()
        store, event, failure = self.store, None, seen.failure
        if seen.verdict is not None:
            try:
                event = self._record(seen.verdict, seen.proposal)
            except Exception as exc:  # noqa: BLE001 - the watch's boundary: the run goes on
                failure = Failure.of(exc)
        if failure is not None and failure.message:
            # A failed poll changes nothing: the last good verdict stays, the error beside it.
            store.record_error(
                self.run_id,
                watch.id,
                failure.message,
                notify_after=self.error_after,
                hint=failure.hint,
            )
        stored = store.get_verdict(watch.id)
        spent = self.readers.http.thread_counts()
        return WatchOutcome(
            watch=watch,
            verdict=stored.verdict if stored else None,
            error=failure.message if failure else None,
            hint=failure.hint if failure else None,
            event=event,
            seconds=seen.seconds + time.monotonic() - began,
            requests=seen.requests + spent[0] - requests,
            not_modified=seen.not_modified + spent[1] - not_modified,
            plan=seen.proposal if self.plan else None,
            error_class=failure.error_class if failure else None,
            retry_at=failure.retry_at if failure else None,
            crash=failure.crash if failure else None,
        )

    def _propose(self, watch: WatchConfig, verdict: Verdict) -> Plan | None:
        """The chart bump of a ready watch, when this run shows or acts on one."""
        if verdict.state is VerdictState.READY and (self.plan or self.actor) and watch.chart:
            return plan_proposal(watch, verdict, self.store, self.readers)
        return None

    def _record(self, verdict: Verdict, proposal: Plan | None) -> Event | None:
        """Act on the proposal (a writing run), or record the verdict as it is."""
        if self.actor is not None and proposal is not None:
            # Its chart's one pull request is reconciled with the chart's other ready
            # watches, once all were seen (:meth:`act`).
            previous = self.store.get_verdict(verdict.watch_id)
            self.ready.append(ReadyWatch(proposal, verdict, previous))
            return None
        # A read-only run must not undo `proposed`/`done` that a writing run recorded,
        # even one that recorded it a moment ago: the store decides under the row lock.
        return self.store.record_verdict(self.run_id, verdict, keep_action_state=True)

    def act(self, actor: Actor, outcomes: tuple[WatchOutcome, ...]) -> tuple[WatchOutcome, ...]:
        """Reconcile each chart's one pull request for its ready watches; outcomes updated.

        The chart's error boundary: a failure is recorded as the error of each of its
        watches (beside their last good verdict); the other charts go on.
        """
        by_watch = {o.watch.id: o for o in outcomes}
        for group in by_chart(self.ready):
            events: dict[str, Event | None] = {}
            failure = None
            try:
                events = act(self.store, self.run_id, actor, group, self.readers)
            except Exception as exc:  # noqa: BLE001 - the chart's boundary: the run goes on
                failure = Failure.of(exc)
            for watch_id in (item.watch_id for item in group):
                if failure is not None:
                    self.store.record_error(
                        self.run_id,
                        watch_id,
                        failure.message,
                        notify_after=self.error_after,
                        hint=failure.hint,
                    )
                stored = self.store.get_verdict(watch_id)
                by_watch[watch_id] = replace(
                    by_watch[watch_id],
                    verdict=stored.verdict if stored else None,
                    event=events.get(watch_id),
                    error=failure.message if failure else None,
                    hint=failure.hint if failure else None,
                    error_class=failure.error_class if failure else None,
                    retry_at=failure.retry_at if failure else None,
                    crash=failure.crash if failure else None,
                )
        return tuple(by_watch[o.watch.id] for o in outcomes)
