"""One evaluation cycle: config -> sources -> evaluate -> state.

The only module that knows every layer.

``cli`` and ``daemon`` are thin shells over :func:`run_once`. Sources never touch the
database; the caches they benefit from (HTTP validators, feature scans by commit SHA,
image presence) are looked up here and handed to them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from watcher.actions.planning import PinResolver, Plan, plan_for
from watcher.chart.bump import ImagePin
from watcher.config.model import Config, NotifyConfig, PinConfig, WatchConfig, github_token
from watcher.core.errors import RateLimitedError, SourceError, WatcherError
from watcher.core.evaluate import done_looking, evaluate
from watcher.core.models import (
    CandidateObservation,
    Release,
    Signal,
    SignalName,
    SignalStatus,
    Verdict,
    VerdictState,
    WatchObservation,
)
from watcher.net.github_read import GitHubReader
from watcher.net.http import HttpClient, HttpSettings, RequestStats
from watcher.net.registry import ImageRef, ManifestInfo, RegistryReader
from watcher.runner.crash import Crash, report_hint
from watcher.sources import changelog, feature, image, issue, release
from watcher.sources.chart import ChartFiles, deployed_images, fetch_chart
from watcher.sources.pins import PinSite, ResolvedPin, resolve_pin
from watcher.state.deliveries import TargetStatus
from watcher.state.lease import process_holder
from watcher.state.store import PIN_KEY_PREFIX, Event, RunStats, Store, StoredVerdict

if TYPE_CHECKING:
    # PyGithub is imported only by runs that write, so `watcher check` starts fast.
    from github.Issue import Issue
    from github.Repository import Repository

    from watcher.net.github_write import GitHubWriter
    from watcher.notify.targets import AppriseTarget

# A pushed image tag is re-checked this often; until then a positive answer is reused
# so an idle poll sends no registry request (missing images are asked every poll).
IMAGE_RECHECK = timedelta(hours=6)


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


@dataclass
class Readers:
    """The network side of a run: one HTTP client shared by GitHub and registry reads."""

    http: HttpClient
    github: GitHubReader
    registry: RegistryReader

    @classmethod
    def build(
        cls, config: Config, store: Store, *, sleep: Callable[[float], None] | None = None
    ) -> Readers:
        """Readers configured from ``config``; the token comes from the environment only."""
        gh = config.github
        settings = HttpSettings(
            timeout_seconds=gh.timeout_seconds,
            retries=gh.retries,
            max_wait_seconds=gh.max_wait_seconds,
            quota_floor=gh.quota_floor,
        )
        http = HttpClient(store, settings, sleep=sleep)
        return cls(
            http=http,
            github=GitHubReader(http, gh.api_url, github_token()),
            registry=RegistryReader(http, dict(config.registries)),
        )


@contextmanager
def open_readers(config: Config, store: Store) -> Iterator[Readers]:
    """Readers for one run, closed afterwards."""
    readers = Readers.build(config, store)
    try:
        yield readers
    finally:
        readers.http.close()


@dataclass
class Actor:
    """The write side of a run (``watcher run``): PyGithub writer plus notification settings.

    ``holder`` names this process in database claims (outbox items, dashboard creation);
    a claim lasts ``claim_ttl``, longer than one write with all its retries may take.
    """

    writer: GitHubWriter
    notify: NotifyConfig
    targets: tuple[AppriseTarget, ...] = ()
    holder: str = field(default_factory=process_holder)
    claim_ttl: timedelta = timedelta(minutes=5)


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
    try:
        return _run(config, store, readers, watches, run_id, actor, plan)
    except BaseException as exc:
        # Whatever escaped the boundaries (the database failing, Ctrl-C): the run row
        # must not stay `running`. Best effort, since the database may be the culprit.
        summary = exc.message if isinstance(exc, WatcherError) else Crash.of(exc).summary
        with suppress(Exception):
            store.finish_run(run_id, "error", RunStats(0, 0, 0), summary)
        raise


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
        _run_watch(watch, store, readers, run_id, actor, plan, error_after) for watch in watches
    )
    targets: tuple[TargetStatus, ...] = ()
    notify_error, notify_crash = None, None
    if actor is not None:
        try:
            apprise_error = _deliver_apprise(config, store, actor)
            targets = tuple(store.target_statuses(config.notify.apprise_undeliverable_after))
            github_error = _notify(config, store, actor, targets)
            notify_error = "; ".join(e for e in (apprise_error, github_error) if e) or None
        except Exception as exc:  # noqa: BLE001 - a bug in notifying must not lose the verdicts
            notify_crash = Crash.of(exc)
            notify_error = f"notifications: {notify_crash.summary}"
    stats = readers.http.stats
    used = RunStats(
        requests=stats.requests - start.requests,
        not_modified=stats.not_modified - start.not_modified,
        quota_used=stats.quota_used - start.quota_used,
    )
    failed = [o.error for o in outcomes if o.error] + ([notify_error] if notify_error else [])
    store.finish_run(run_id, "error" if failed else "ok", used, "; ".join(failed) or None)
    return RunReport(run_id, outcomes, stats, notify_error, targets, notify_crash)


def _run_watch(
    watch: WatchConfig,
    store: Store,
    readers: Readers,
    run_id: int,
    actor: Actor | None,
    plan: bool,
    error_after: timedelta,
) -> WatchOutcome:
    began = time.monotonic()
    requests, not_modified = readers.http.stats.requests, readers.http.stats.not_modified
    error: str | None = None
    hint: str | None = None
    event: Event | None = None
    proposal: Plan | None = None
    error_class: str | None = None
    retry_at: float | None = None
    crash: Crash | None = None
    try:
        verdict = evaluate(observe(watch, store, readers))
        if verdict.error:
            error, error_class = verdict.error, "SourceError"
            hint = next(
                (
                    s.evidence[0]
                    for s in verdict.signals
                    if s.status is SignalStatus.ERROR and s.evidence
                ),
                None,
            )
        else:
            verdict = replace(verdict, evaluated_at=datetime.now(UTC))
            previous = store.get_verdict(watch.id)
            if verdict.state is VerdictState.READY and (plan or actor) and watch.chart:
                resolve = _cached_pin_resolver(store)
                proposal = plan_for(watch, verdict, readers.github, readers.registry, resolve)
            if actor is not None and proposal is not None:
                event = _act(store, run_id, actor, proposal, verdict, previous, readers)
            else:
                # A read-only run must not undo `proposed`/`done` that a writing run
                # recorded, even one that recorded it a moment ago: the store decides
                # under the row lock.
                event = store.record_verdict(run_id, verdict, keep_action_state=True)
    except WatcherError as exc:
        error, hint, error_class = exc.message, exc.hint, type(exc).__name__
        # A rate limit tells when to come back; the daemon pauses all GitHub calls till then.
        retry_at = exc.reset_at if isinstance(exc, RateLimitedError) else None
    except Exception as exc:  # noqa: BLE001 - the watch's boundary: the run goes on
        crash = Crash.of(exc)
        error, error_class = crash.summary, type(exc).__name__
        hint = report_hint("from the log")
    if error:
        # A failed poll changes nothing: the last good verdict stays, the error sits beside it.
        store.record_error(run_id, watch.id, error, notify_after=error_after, hint=hint)
    stored = store.get_verdict(watch.id)
    return WatchOutcome(
        watch=watch,
        verdict=stored.verdict if stored else None,
        error=error,
        hint=hint,
        event=event,
        seconds=time.monotonic() - began,
        requests=readers.http.stats.requests - requests,
        not_modified=readers.http.stats.not_modified - not_modified,
        plan=proposal if plan else None,
        error_class=error_class,
        retry_at=retry_at,
        crash=crash,
    )


def _cached_pin_resolver(store: Store) -> PinResolver:
    """resolve_pin with answers kept for IMAGE_RECHECK in the store's kv table.

    The answer depends only on the pin and where the chart points it now, so it is keyed
    by those; registry tags move slowly, and the PR body says "today".
    """

    def resolve(registry: RegistryReader, site: PinSite, pin: PinConfig) -> ResolvedPin:
        key = PIN_KEY_PREFIX + json.dumps(
            [site.image, site.current, pin.key, pin.minimum], separators=(",", ":")
        )
        stored = store.get_value(key)
        if stored is not None:
            doc = json.loads(stored)
            if time.time() - float(doc["at"]) < IMAGE_RECHECK.total_seconds():
                pinned = ImagePin(pin.key, pin.minimum, doc["resolved"])
                return ResolvedPin(pinned, site.image, site.current, doc["floating"])
        answer = resolve_pin(registry, site, pin)
        doc = {
            "at": time.time(),
            "resolved": answer.pin.resolved,
            "floating": answer.floating_resolves_to,
        }
        store.set_value(key, json.dumps(doc))
        return answer

    return resolve


def _act(
    store: Store,
    run_id: int,
    actor: Actor,
    proposal: Plan,
    verdict: Verdict,
    previous: StoredVerdict | None,
    readers: Readers,
) -> Event | None:
    """Record `ready` (when newly so), reconcile the PR, then record what that made of it."""
    from watcher.actions.pull_request import content_hash, reconcile
    from watcher.notify.dashboard import body_hash

    fingerprint = {
        "content": content_hash(proposal.proposal.files),
        "body": body_hash(proposal.proposal.body),
    }
    before = previous.verdict if previous else None
    if before is not None and _quiet(actor, before, verdict, proposal, fingerprint, readers):
        # Nothing upstream, in the chart, or on the PR changed: no GitHub call at all.
        return store.record_verdict(
            run_id, replace(verdict, state=before.state, extra=before.extra)
        )
    first: Event | None = None
    if before is None or before.state in (VerdictState.WAITING, VerdictState.PENDING):
        # The transition to ready is news of its own, even if the PR fails to open.
        first = store.record_verdict(run_id, verdict)
    result = reconcile(
        actor.writer,
        proposal.chart,
        proposal.files.base,
        proposal.proposal,
        finish_body=lambda notes: proposal.body(tuple(notes)),
    )
    extra = {"pr_action": result.action, "note": result.note, **fingerprint}
    if result.number is not None:
        extra |= {"pr_number": str(result.number), "pr_url": result.url or ""}
    acted = replace(verdict, state=result.state, extra=extra)
    if result.note:
        acted = replace(acted, reasons=(*acted.reasons, f"pull request: {result.note}"))
    return store.record_verdict(run_id, acted) or first


def _quiet(
    actor: Actor,
    before: Verdict,
    verdict: Verdict,
    proposal: Plan,
    fingerprint: dict[str, str],
    readers: Readers,
) -> bool:
    """Whether the last reconciliation still holds, judged by free conditional reads."""
    same_target = (
        before.target is not None
        and verdict.target is not None
        and before.target.tag == verdict.target.tag
    )
    if before.state is VerdictState.DONE and (same_target or not proposal.chart.follow):
        return True  # merged: nothing more to do unless following newer releases
    if before.state is not VerdictState.PROPOSED or not same_target:
        return False
    if any(before.extra.get(k) != v for k, v in fingerprint.items()):
        return False
    number, repo = before.extra.get("pr_number"), proposal.chart.repo
    try:
        pr = readers.github.get_json(f"/repos/{repo}/pulls/{number}")
        ref = readers.github.get_json(f"/repos/{repo}/git/ref/heads/{proposal.proposal.branch}")
    except SourceError:
        return False
    return not pr.changed and not ref.changed


def _deliver_apprise(config: Config, store: Store, actor: Actor) -> str | None:
    """Send the outbox to the Apprise targets; the failures, masked, if any."""
    if not actor.targets:
        return None
    from watcher.notify.apprise import deliver

    report = deliver(
        store,
        actor.targets,
        holder=actor.holder,
        retry=timedelta(seconds=config.notify.apprise_retry_seconds),
        upstream_repo={w.id: w.repo for w in config.watch},
    )
    return "; ".join(f"notifications: {f}" for f in report.failures) or None


def _notify(
    config: Config, store: Store, actor: Actor, targets: tuple[TargetStatus, ...] = ()
) -> str | None:
    """Rewrite the dashboard when it changed, then deliver the outbox; the error, if any."""
    from watcher.notify.dashboard import body_hash, render_dashboard
    from watcher.notify.outbox import deliver

    settings = actor.notify
    repo_name = settings.dashboard_repo or next(
        (w.chart.repo for w in config.watch if w.chart), None
    )
    if repo_name is None or not (settings.dashboard or settings.tracking_issue):
        return None
    rows = []
    for watch in config.watch:
        stored = store.get_verdict(watch.id)
        rows.append((watch, stored.verdict if stored else None, stored.error if stored else None))
    body = render_dashboard(rows, targets)
    changed = store.get_value(f"dashboard:{repo_name}:hash") != body_hash(body)
    if (not changed or not settings.dashboard) and not store.pending_outbox(limit=1):
        return None  # an idle poll reads and writes nothing on GitHub
    writer = actor.writer
    try:
        repo = writer.call("read repository", lambda: writer.gh.get_repo(repo_name), write=False)
        issue = None
        if settings.dashboard:
            issue = _dashboard(store, actor, repo, settings, body, changed)
        if settings.tracking_issue:
            number = settings.tracking_issue
            issue = writer.call("read tracking issue", lambda: repo.get_issue(number), write=False)
        if issue is not None:
            repos = {w.id: w.repo for w in config.watch}
            deliver(store, writer, issue, repos, actor.holder, actor.claim_ttl)
    except WatcherError as exc:
        return f"notifications: {exc.message}"
    return None


def _dashboard(
    store: Store, actor: Actor, repo: Repository, settings: NotifyConfig, body: str, changed: bool
) -> Issue | None:
    """Find or create the dashboard issue; rewrite its body when ``changed``.

    None when another process is creating it at this moment.
    """
    from watcher.notify.dashboard import body_hash, edit_body, find_or_create

    key = f"dashboard:{repo.full_name}"
    known = store.get_value(key)
    # Creating one is claimed in the database, so two processes never both open one.
    claim = f"{key}:create"
    try:
        found = find_or_create(
            actor.writer,
            repo,
            settings.dashboard_title,
            body,
            int(known) if known else None,
            claim=lambda: store.acquire_lease(claim, actor.holder, actor.claim_ttl),
        )
        if found is None:
            return None  # another process is creating it; the next cycle uses that one
        issue, created = found
        if not created and changed and (issue.body or "") != body:
            edit_body(actor.writer, repo, issue, body)
        store.set_value(key, str(issue.number))
        store.set_value(f"{key}:hash", body_hash(body))
    finally:
        store.release_lease(claim, actor.holder)
    return issue


def observe(watch: WatchConfig, store: Store, readers: Readers) -> WatchObservation:
    """Gather every signal of one watch (raises SourceError when the releases can't be read)."""
    gh = readers.github
    fetched = release.fetch_releases(gh, watch.repo)
    source = gh.url(f"/repos/{watch.repo}/releases")
    releases = release.parse_releases(fetched.data, watch.tag_regex, source)
    stable = release.stable(releases)
    shas = release.fetch_tag_commits(gh, watch.repo, revalidate=fetched.changed)
    required = frozenset(SignalName(name) for name in watch.required)
    candidates: list[CandidateObservation] = []
    # The image reference the chart deploys only matters when a release may be new, so
    # an idle poll does not re-read the chart (`watcher run` re-reads it before acting).
    chart = _ChartOnce(watch, readers.github, revalidate=fetched.changed)
    for candidate in stable[: watch.max_candidates]:
        observed = _observe_candidate(watch, store, readers, candidate, stable[0], shas, chart)
        candidates.append(observed)
        if done_looking(observed, required):
            break
    general: tuple[Signal, ...] = ()
    if watch.issues.numbers:
        general = (_issue_signal(watch, gh),)
    return WatchObservation(
        watch_id=watch.id,
        required=required,
        candidates=tuple(candidates),
        general=general,
        prerelease_hint=_prerelease_hint(watch, store, readers, releases, stable, shas),
    )


def _observe_candidate(
    watch: WatchConfig,
    store: Store,
    readers: Readers,
    candidate: Release,
    newest: Release,
    shas: dict[str, str],
    chart: _ChartOnce,
) -> CandidateObservation:
    signals = [release.release_signal(candidate, newest)]
    feature_sig = _guard(
        SignalName.FEATURE, candidate, lambda: _feature(watch, store, readers, candidate, shas)
    )
    signals.append(feature_sig)
    if feature_sig.holds:
        signals.append(
            _guard(
                SignalName.IMAGE, candidate, lambda: _image(watch, store, readers, candidate, chart)
            )
        )
        signals.append(
            _guard(
                SignalName.CHANGELOG, candidate, lambda: _changelog(watch, readers, candidate, shas)
            )
        )
    return CandidateObservation(candidate, tuple(signals))


def _guard(name: SignalName, candidate: Release, gather: Callable[[], Signal]) -> Signal:
    """Run one signal; a source failure becomes an ERROR signal instead of aborting the watch."""
    try:
        return gather()
    except SourceError as exc:
        return Signal(name, SignalStatus.ERROR, exc.message, (exc.hint,), candidate.tag)


def store_scan_cache(store: Store, watch: WatchConfig) -> feature.ScanCache:
    """The store's feature-scan cache for ``watch``'s repository and rule (check, backtest)."""
    key = feature.rule_key(watch.feature)
    return feature.ScanCache(
        get=lambda sha: store.get_feature_scan(watch.repo, sha, key),
        put=lambda sha, scan: store.put_feature_scan(watch.repo, sha, key, scan),
    )


def _feature(
    watch: WatchConfig, store: Store, readers: Readers, candidate: Release, shas: dict[str, str]
) -> Signal:
    scan, _ = feature.cached_scan(
        readers.github,
        watch.repo,
        candidate,
        sha=shas.get(candidate.tag),
        rule=watch.feature,
        cache=store_scan_cache(store, watch),
    )
    return feature.feature_signal(scan, candidate, watch.feature)


class _ChartOnce:
    """The watch's chart files, read at most once per run and only when needed."""

    def __init__(self, watch: WatchConfig, github: GitHubReader, revalidate: bool) -> None:
        self.watch, self.github, self.revalidate = watch, github, revalidate
        self._files: ChartFiles | None = None

    def deployed_images(self, candidate: Release) -> list[str]:
        """Every image reference the bump to ``candidate`` would deploy (none: no chart)."""
        chart = self.watch.chart
        if chart is None:
            return []
        if self._files is None:
            self._files = fetch_chart(self.github, chart, self.revalidate)
        return deployed_images(self._files, chart, candidate)


def _image(
    watch: WatchConfig, store: Store, readers: Readers, candidate: Release, chart: _ChartOnce
) -> Signal:
    templates = list(watch.image.references)
    # Always check every reference the bump will make the chart deploy (DESIGN.md 2).
    templates[:0] = chart.deployed_images(candidate)
    refs = image.image_refs(templates, candidate)
    refs = list(dict.fromkeys(refs))

    def lookup(ref: ImageRef) -> ManifestInfo | None:
        known = store.get_image_check(str(ref))
        if known is not None and datetime.now(UTC) - known[1] < IMAGE_RECHECK:
            return ManifestInfo(digest=known[0], media_type=None)
        info = readers.registry.manifest(ref)
        if info is not None:
            store.put_image_check(str(ref), info.digest or "", info.media_type)
        return info

    return image.image_signal(refs, candidate, lookup)


def _changelog(
    watch: WatchConfig, readers: Readers, candidate: Release, shas: dict[str, str]
) -> Signal:
    return changelog.gather_changelog(readers.github, watch, candidate, shas.get(candidate.tag))


def _issue_signal(watch: WatchConfig, gh: GitHubReader) -> Signal:
    try:
        statuses = [issue.fetch_issue(gh, watch.repo, n) for n in watch.issues.numbers]
    except SourceError as exc:
        return Signal(SignalName.ISSUE, SignalStatus.ERROR, exc.message, (exc.hint,))
    return issue.issue_signal(statuses, watch.repo)


def _prerelease_hint(
    watch: WatchConfig,
    store: Store,
    readers: Readers,
    releases: list[Release],
    stable: list[Release],
    shas: dict[str, str],
) -> str | None:
    """ "Coming soon" evidence: the feature already in a prerelease newer than any stable."""
    pre = release.newest_prerelease_above(releases, stable[0] if stable else None)
    if pre is None:
        return None
    try:
        signal = _feature(watch, store, readers, pre, shas)
    except SourceError:
        return None  # a hint is never worth failing the watch for
    if not signal.holds:
        return None
    return f"{signal.summary} (prerelease, not counted)"
