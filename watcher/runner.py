"""One evaluation cycle: config -> sources -> evaluate -> state.

The only module that knows every layer.

``cli`` and ``daemon`` are thin shells over :func:`run_once`. Sources never touch the
database; the caches they benefit from (HTTP validators, feature scans by commit SHA,
image presence) are looked up here and handed to them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from watcher.config import Config, WatchConfig, github_token
from watcher.errors import SourceError, WatcherError
from watcher.evaluate import evaluate
from watcher.github.client import GitHubReader
from watcher.http import HttpClient, HttpSettings, RequestStats
from watcher.models import (
    CandidateObservation,
    Release,
    Signal,
    SignalName,
    SignalStatus,
    Verdict,
    WatchObservation,
)
from watcher.registry import ImageRef, ManifestInfo, RegistryReader
from watcher.sources import changelog, feature, image, issue, release
from watcher.state.store import Event, RunStats, Store

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


@dataclass(frozen=True)
class RunReport:
    """All outcomes of one run and what it cost."""

    run_id: int
    outcomes: tuple[WatchOutcome, ...]
    stats: RequestStats


@dataclass
class Readers:
    """The network side of a run: one HTTP client shared by GitHub and registry reads."""

    http: HttpClient
    github: GitHubReader
    registry: RegistryReader

    @classmethod
    def build(
        cls, config: Config, store: Store, *, sleep: Callable[[float], None] = time.sleep
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


def run_once(
    config: Config, store: Store, readers: Readers, watch_ids: tuple[str, ...] = ()
) -> RunReport:
    """Evaluate the selected watches once and record verdicts, events and errors."""
    watches = config.select(watch_ids)
    run_id = store.start_run()
    start = replace(readers.http.stats)
    outcomes = tuple(_run_watch(watch, store, readers, run_id) for watch in watches)
    stats = readers.http.stats
    used = RunStats(
        requests=stats.requests - start.requests,
        not_modified=stats.not_modified - start.not_modified,
        quota_used=stats.quota_used - start.quota_used,
    )
    failed = [o.error for o in outcomes if o.error]
    store.finish_run(run_id, "error" if failed else "ok", used, "; ".join(failed) or None)
    return RunReport(run_id, outcomes, stats)


def _run_watch(watch: WatchConfig, store: Store, readers: Readers, run_id: int) -> WatchOutcome:
    began, requests, not_modified = (
        time.monotonic(),
        readers.http.stats.requests,
        readers.http.stats.not_modified,
    )
    error: str | None = None
    hint: str | None = None
    event: Event | None = None
    try:
        verdict = evaluate(observe(watch, store, readers))
        if verdict.error:
            error = verdict.error
            hint = next(
                (
                    s.evidence[0]
                    for s in verdict.signals
                    if s.status is SignalStatus.ERROR and s.evidence
                ),
                None,
            )
        else:
            event = store.record_verdict(run_id, replace(verdict, evaluated_at=datetime.now(UTC)))
    except WatcherError as exc:
        error, hint = exc.message, exc.hint
    if error:
        # A failed poll changes nothing: the last good verdict stays, the error sits beside it.
        store.record_error(run_id, watch.id, error)
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
    )


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
    for candidate in stable[: watch.max_candidates]:
        observed = _observe_candidate(watch, store, readers, candidate, stable[0], shas)
        candidates.append(observed)
        if _done_looking(observed, required):
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


def _done_looking(observed: CandidateObservation, required: frozenset[SignalName]) -> bool:
    # Newest first: stop at the first release with everything, and at the first one
    # without the feature (older releases are assumed not to have it either).
    feature_signal = observed.signal(SignalName.FEATURE)
    if feature_signal is not None and feature_signal.status is SignalStatus.MISSING:
        return True
    return all((s := observed.signal(n)) is not None and s.holds for n in required)


def _observe_candidate(
    watch: WatchConfig,
    store: Store,
    readers: Readers,
    candidate: Release,
    newest: Release,
    shas: dict[str, str],
) -> CandidateObservation:
    signals = [release.release_signal(candidate, newest)]
    feature_sig = _guard(
        SignalName.FEATURE, candidate, lambda: _feature(watch, store, readers, candidate, shas)
    )
    signals.append(feature_sig)
    if feature_sig.holds:
        signals.append(
            _guard(SignalName.IMAGE, candidate, lambda: _image(watch, store, readers, candidate))
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


def _feature(
    watch: WatchConfig, store: Store, readers: Readers, candidate: Release, shas: dict[str, str]
) -> Signal:
    rule = watch.feature
    key = feature.rule_key(rule)
    sha = shas.get(candidate.tag)
    scan = store.get_feature_scan(watch.repo, sha, key) if sha else None
    if scan is None:
        scan = feature.scan_release(readers.github, watch.repo, candidate.tag, rule)
        cache_sha = sha or scan.commit_sha
        if cache_sha:
            store.put_feature_scan(watch.repo, cache_sha, key, scan)
    return feature.feature_signal(scan, candidate, rule)


def _image(watch: WatchConfig, store: Store, readers: Readers, candidate: Release) -> Signal:
    refs = image.image_refs(watch.image.references, candidate)

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
    sha = shas.get(candidate.tag)
    text = changelog.fetch_changelog(
        readers.github,
        watch.repo,
        watch.changelog.path,
        sha or candidate.tag,
        immutable=sha is not None,
    )
    return changelog.changelog_signal(text, candidate, watch.feature.marker, watch.changelog.path)


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
