"""Observing one watch: gather every signal from the sources, reusing the store's caches.

The read side of a run (docs/architecture.md, «What support landed means»): it reads
GitHub and the registries and fills caches, and never writes anywhere else. It imports
nothing of the write side (PyGithub, the GitHub writer, pull requests, notifications),
so ``watcher check`` starts without them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from watcher.core.errors import SourceError
from watcher.core.evaluate import done_looking
from watcher.core.models import (
    CandidateObservation,
    Release,
    Signal,
    SignalName,
    Verdict,
    WatchObservation,
)
from watcher.runner.boundary import guard_signal
from watcher.runner.caches import (
    cached_deployed_images,
    cached_manifest,
    cached_pin_resolver,
    store_graph_cache,
    store_scan_cache,
)
from watcher.sources import changelog, feature, image, issue, pulls, release
from watcher.sources.chart import ChartFiles, fetch_chart

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from watcher.actions.planning import Plan
    from watcher.config.model import ChartConfig, WatchConfig
    from watcher.core.models import IssueStatus
    from watcher.net.github_read import GitHubReader
    from watcher.runner.readers import Readers
    from watcher.state.store import Store

# An issue no verdict turns on (informational) is re-read this often, or when its
# watch's releases changed; until then GitHub's last answer is used, so an idle cycle
# costs one request per upstream (docs/architecture.md, «Talking to GitHub»).
ISSUE_RECHECK = timedelta(minutes=30)


def observe(
    watch: WatchConfig, store: Store, readers: Readers, peers: Sequence[feature.Peer]
) -> WatchObservation:
    """Gather every signal of one watch (raises SourceError when the releases can't be read).

    ``peers``: the feature rules (and caches) of the run's watches of the same
    repository, scanned in the same download as this watch's (one download per commit).
    """
    gh = readers.github
    fetched = release.fetch_releases(gh, watch.repo)
    source = gh.url(f"/repos/{watch.repo}/releases")
    releases, skipped = release.parse_releases(fetched.data, watch.tag_regex, source)
    stable = release.stable(releases)
    shas = release.fetch_tag_commits(gh, watch.repo, revalidate=fetched.changed)
    required = frozenset(watch.required)
    candidates: list[CandidateObservation] = []
    # The image reference the chart deploys only matters when a release may be new, so
    # an idle poll does not re-read the chart (`watcher run` re-reads it before acting).
    chart = _ChartOnce(
        watch, readers.github, fetched.changed, cached_deployed_images(store, watch.id)
    )
    issues = _read_issues(watch, gh, fetched.changed)
    graph = _commit_graph(watch, store, gh, issues, releases, shas)
    scan = _feature_scanner(watch, store, readers, shas, peers)
    for candidate in stable[: watch.max_candidates]:
        release_sig = release.release_signal(candidate, stable[0], skipped)
        observed = _observe_candidate(
            watch, store, readers, release_sig, candidate, shas, chart, graph, scan
        )
        candidates.append(observed)
        if done_looking(observed, required):
            break
    general: tuple[Signal, ...] = ()
    if watch.issues.numbers:
        general = (_issue_signal(watch, issues),)
    return WatchObservation(
        watch_id=watch.id,
        required=required,
        candidates=tuple(candidates),
        general=general,
        prerelease_hint=_prerelease_hint(releases, stable, scan),
    )


def plan_proposal(
    watch: WatchConfig, verdict: Verdict, store: Store, readers: Readers
) -> Plan | None:
    """The chart bump a ready verdict calls for, None when there is nothing to plan.

    Reads only; extra image pins are resolved through the store's cache.
    """
    # Only `check --plan` and acting runs plan: a plain `check` never imports the planner.
    from watcher.actions.planning import plan_for

    resolve = cached_pin_resolver(store)
    return plan_for(watch, verdict, readers.github, readers.registry, resolve)


def _observe_candidate(
    watch: WatchConfig,
    store: Store,
    readers: Readers,
    release_sig: Signal,
    candidate: Release,
    shas: dict[str, str],
    chart: _ChartOnce,
    graph: Callable[[Release], Signal] | None,
    scan: Callable[[Release], Signal] | None,
) -> CandidateObservation:
    tag = candidate.tag
    signals = [release_sig]
    evidence: list[Signal] = []
    if scan is not None:
        evidence.append(guard_signal(SignalName.FEATURE, lambda: scan(candidate), tag))
    if graph is not None:
        evidence.append(guard_signal(SignalName.PULLS, lambda: graph(candidate), tag))
    signals += evidence
    # The feature's own evidence first: the code marker, else the pull requests.
    if evidence[0].holds:
        signals.append(
            guard_signal(
                SignalName.IMAGE, lambda: _image(watch, store, readers, candidate, chart), tag
            )
        )
        if watch.mentions:
            signals.append(
                guard_signal(
                    SignalName.CHANGELOG, lambda: _changelog(watch, readers, candidate, shas), tag
                )
            )
    return CandidateObservation(candidate, tuple(signals))


def _feature_scanner(
    watch: WatchConfig,
    store: Store,
    readers: Readers,
    shas: dict[str, str],
    peers: Sequence[feature.Peer],
) -> Callable[[Release], Signal] | None:
    """The feature signal of a release (None without ``[watch.feature]``).

    A commit is scanned once, ever: a download scans for the watch's peers too and
    stores their scans, so the other watches of the upstream find theirs stored.
    """
    rule = watch.feature
    if rule is None:
        return None
    cache = store_scan_cache(store, watch.repo, rule)

    def signal(candidate: Release) -> Signal:
        scan, _ = feature.cached_scan(
            readers.github,
            watch.repo,
            candidate,
            sha=shas.get(candidate.tag),
            rule=rule,
            cache=cache,
            peers=peers,
        )
        return feature.feature_signal(scan, candidate, rule)

    return signal


class _ChartOnce:
    """The watch's chart files, read at most once per run and only when needed."""

    def __init__(
        self,
        watch: WatchConfig,
        github: GitHubReader,
        revalidate: bool,
        images: Callable[[ChartFiles, ChartConfig, Release], list[str]],
    ) -> None:
        self.watch, self.github, self.revalidate = watch, github, revalidate
        self._images = images
        self._files: ChartFiles | None = None

    def deployed_images(self, candidate: Release) -> list[str]:
        """Every image reference the bump to ``candidate`` would deploy (none: no chart)."""
        chart = self.watch.chart
        if chart is None:
            return []
        if self._files is None:
            self._files = fetch_chart(self.github, chart, self.revalidate)
        return self._images(self._files, chart, candidate)


def _image(
    watch: WatchConfig, store: Store, readers: Readers, candidate: Release, chart: _ChartOnce
) -> Signal:
    templates = list(watch.image.references)
    # Always check every reference the bump will make the chart deploy
    # (docs/architecture.md, «What support landed means»).
    templates[:0] = chart.deployed_images(candidate)
    refs = image.image_refs(templates, candidate)
    refs = list(dict.fromkeys(refs))
    return image.image_signal(refs, candidate, cached_manifest(store, readers.registry))


def _changelog(
    watch: WatchConfig, readers: Readers, candidate: Release, shas: dict[str, str]
) -> Signal:
    return changelog.gather_changelog(readers.github, watch, candidate, shas.get(candidate.tag))


def _read_issues(
    watch: WatchConfig, gh: GitHubReader, releases_changed: bool
) -> list[IssueStatus] | SourceError:
    """The watched issues, read once for the issue signal and the commit graph.

    Asked every cycle only when a verdict can turn on them (``issue`` required, or the
    closing pull requests of ``[watch.pulls]``) or the releases changed; otherwise an
    answer younger than ISSUE_RECHECK is used without asking.
    """
    pulls = watch.pulls
    decisive = SignalName.ISSUE in watch.required or (pulls is not None and pulls.closing)
    fresh_for = None if decisive or releases_changed else ISSUE_RECHECK.total_seconds()
    try:
        return [
            issue.fetch_issue(gh, watch.repo, n, fresh_for=fresh_for) for n in watch.issues.numbers
        ]
    except SourceError as exc:
        return exc


def _issue_signal(watch: WatchConfig, issues: list[IssueStatus] | SourceError) -> Signal:
    def gather() -> Signal:
        if isinstance(issues, SourceError):
            raise issues
        return issue.issue_signal(issues, watch.repo)

    return guard_signal(SignalName.ISSUE, gather)


def _commit_graph(
    watch: WatchConfig,
    store: Store,
    gh: GitHubReader,
    issues: list[IssueStatus] | SourceError,
    releases: list[Release],
    shas: dict[str, str],
) -> Callable[[Release], Signal] | None:
    """The pulls signal per release, or None when the watch has no [watch.pulls].

    The pull requests are read once per run; when that fails, so does every
    release's pulls signal (an ERROR signal, the watch goes on).
    """
    if watch.pulls is None:
        return None
    settings = watch.pulls
    cache = store_graph_cache(store)
    try:
        if isinstance(issues, SourceError) and settings.closing:
            raise issues
        closing = [i.closing_pull for i in issues] if isinstance(issues, list) else []
        numbers = pulls.wanted_pulls(settings.numbers, closing if settings.closing else [])
        read = pulls.read_pulls(gh, watch.repo, numbers, cache)
    except SourceError as exc:
        failure = exc

        def failed(_: Release) -> Signal:
            raise failure

        return failed
    return pulls.CommitGraph(gh, watch.repo, read, tuple(releases), shas, cache).signal


def _prerelease_hint(
    releases: list[Release], stable: list[Release], scan: Callable[[Release], Signal] | None
) -> str | None:
    """ "Coming soon" evidence: the feature already in a prerelease newer than any stable."""
    pre = release.newest_prerelease_above(releases, stable[0] if stable else None)
    if pre is None or scan is None:
        return None
    try:
        signal = scan(pre)
    except SourceError:
        return None  # a hint is never worth failing the watch for
    if not signal.holds:
        return None
    return f"{signal.summary} (prerelease, not counted)"
