"""Gather a watch's upstream *history* for ``watcher backtest``: every input with its date.

What GitHub and the registries can tell about the past, and what they cannot:

- releases: ``published_at`` dates a publication; a draft has only ``created_at`` and is
  never a candidate. Flags are as of today: an edit from prerelease to stable (or back)
  bumps ``updated_at`` but is not dated by the API, so it cannot be replayed.
- tags: ``/tags`` maps names to commit SHAs (the feature-scan cache key); a tag that
  matches the watch's pattern but has no release is dated by its commit (a lower bound).
- feature: each release's tarball is scanned once, ever, through the caller's cache
  (the same cache and key as ``watcher check``). To keep a backtest over hundreds of
  releases cheap, only a bisection in version order is scanned by default: the marker,
  once present, stays (the assumption ``check`` already makes when it stops at the first
  release without it); ``scan_all`` scans every release instead.
- images: the OCI distribution API tells whether a manifest exists *today*, not when it
  was pushed. Docker Hub's own API (another host) has ``tag_last_pushed``; elsewhere the
  push time is assumed to be the release time and the fact says so.
- issues: state changes and references come from the issue timeline API
  (``closed``, ``reopened``, ``cross-referenced``, ``connected``), each dated.
- pulls: whether a release contains a pull request's merge commit does not depend on
  when one asks (:mod:`watcher.sources.pulls`, answers cached for good); a watch without
  a code marker bisects its releases on that answer instead of on scans.

Sources never touch the database: the feature-scan cache is reached through the
:class:`watcher.sources.feature.ScanCache` callables the caller hands in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from packaging.version import InvalidVersion, Version

from watcher.config.model import FeatureConfig, WatchConfig
from watcher.core.errors import PayloadError, SourceError
from watcher.core.image_ref import DOCKER_HUB, ImageRef
from watcher.core.models import Release, Signal, SignalName, SignalStatus
from watcher.net.github_read import GitHubReader
from watcher.net.http import HttpClient
from watcher.net.registry import RegistryReader
from watcher.sources import changelog, feature, image, issue, pulls, release

DOCKER_HUB_API = "https://hub.docker.com"
# Pattern-matching tags without a release are dated one request each; the newest this
# many are enough to show an -rc that never became a release.
MAX_ORPHAN_TAGS = 30
# An edit this long after publication may have flipped the prerelease flag (undatable);
# shorter gaps are the release tooling itself (assets uploaded right after publishing).
EDIT_GRACE_SECONDS = 3600
TIMELINE_EVENTS = frozenset({"closed", "reopened", "cross-referenced", "connected"})

PushTime = Callable[[ImageRef], datetime | None]


@dataclass(frozen=True)
class FeatureFact:
    """A release's feature signal and whether it was scanned or inferred by version order."""

    signal: Signal
    scanned: bool


@dataclass(frozen=True)
class ImageFact:
    """One image reference of a release: pullable today, and since when if that is known."""

    ref: ImageRef
    pullable: bool
    digest: str | None
    pushed_at: datetime | None


@dataclass(frozen=True)
class ReleaseFact:
    """A release with the dates and signals a backtest replays."""

    release: Release
    created_at: datetime | None = None
    updated_at: datetime | None = None
    feature: FeatureFact | None = None
    images: tuple[ImageFact, ...] = ()
    changelog: Signal | None = None
    # The commit-graph signal, beside a feature scan (without a marker it is `feature`'s).
    pulls: Signal | None = None

    @property
    def edited_after_publishing(self) -> bool:
        """True when ``updated_at`` is well after ``published_at`` (flags may have changed)."""
        published, updated = self.release.published_at, self.updated_at
        if published is None or updated is None:
            return False
        return (updated - published).total_seconds() > EDIT_GRACE_SECONDS


@dataclass(frozen=True)
class TagFact:
    """A tag matching the watch's pattern that has no release, dated by its commit."""

    name: str
    version: str
    sha: str
    committed_at: datetime


@dataclass(frozen=True)
class IssueEvent:
    """One dated timeline event of a watched issue."""

    number: int
    kind: str
    at: datetime
    state_reason: str | None = None
    closing: str | None = None
    mention: str | None = None


@dataclass(frozen=True)
class IssueFact:
    """A watched issue: what it is and its dated state changes and references."""

    number: int
    title: str
    url: str
    opened_at: datetime | None
    labels: tuple[str, ...] = ()
    events: tuple[IssueEvent, ...] = ()
    closing_pull: int | None = None


@dataclass(frozen=True)
class ScanCounts:
    """How the feature facts were obtained: tarballs scanned, cache hits, inferred."""

    scanned: int = 0
    cached: int = 0
    inferred: int = 0


@dataclass(frozen=True)
class History:
    """Everything a backtest replays for one watch (releases newest version first)."""

    watch_id: str
    repo: str
    marker: str
    required: frozenset[SignalName]
    max_candidates: int
    releases: tuple[ReleaseFact, ...]
    tags: tuple[TagFact, ...] = ()
    issues: tuple[IssueFact, ...] = ()
    notes: tuple[str, ...] = ()
    scans: ScanCounts = field(default_factory=ScanCounts)


def gather_history(
    watch: WatchConfig,
    github: GitHubReader,
    registry: RegistryReader,
    cache: feature.ScanCache | None,
    *,
    graph_cache: pulls.GraphCache | None = None,
    push_time: PushTime | None = None,
    scan_all: bool = False,
) -> History:
    """Read every dated input of ``watch`` (read-only; raises SourceError on failures).

    ``cache`` is the feature-scan cache (None for a watch without ``[watch.feature]``),
    ``graph_cache`` keeps commit-graph answers (a throwaway one when None).
    """
    fetched = release.fetch_releases(github, watch.repo)
    source = github.url(f"/repos/{watch.repo}/releases")
    releases, _ = release.parse_releases(fetched.data, watch.tag_regex, source)
    dates = _release_dates(fetched.data)
    shas = release.fetch_tag_commits(github, watch.repo, revalidate=True)
    required = frozenset(watch.required)
    issues, issue_notes = _issues(github, watch, required)
    graph = _graph(github, watch, issues, releases, shas, graph_cache)
    published = [r for r in releases if not r.draft]
    scanner: _Scanner | None = None
    if watch.feature is not None and cache is not None:
        scanner = _Scanner(github, watch.repo, watch.feature, cache, shas)
        features = locate_feature(published, scanner.probe, marker_text(watch), scan_all=scan_all)
        by_tag = {r.tag: r for r in releases}
        features = {tag: scanner.from_cache(by_tag[tag], fact) for tag, fact in features.items()}
    elif graph is not None:
        features = locate_feature(
            published, graph.signal, marker_text(watch), scan_all=scan_all, name=SignalName.PULLS
        )
    else:
        features = {}
    facts = []
    for rel in releases:
        fact = ReleaseFact(rel, *dates.get(rel.tag, (None, None)), feature=features.get(rel.tag))
        if rel.stable and fact.feature is not None and fact.feature.signal.holds:
            fact = replace(fact, images=_images(watch, registry, rel, push_time))
            if scanner is not None and graph is not None:
                fact = replace(fact, pulls=_guarded_pulls(graph, rel))
            if SignalName.CHANGELOG in required:
                fact = replace(
                    fact,
                    changelog=changelog.gather_changelog(github, watch, rel, shas.get(rel.tag)),
                )
        facts.append(fact)
    tags, tag_notes = _orphan_tags(watch, github, shas, {r.tag for r in releases})
    counts = ScanCounts(
        scanned=scanner.scanned if scanner else 0,
        cached=scanner.cached if scanner else 0,
        inferred=sum(1 for f in features.values() if not f.scanned),
    )
    return History(
        watch_id=watch.id,
        repo=watch.repo,
        marker=marker_text(watch),
        required=required,
        max_candidates=watch.max_candidates,
        releases=tuple(facts),
        tags=tags,
        issues=issues,
        notes=(*_release_notes(facts), *tag_notes, *issue_notes),
        scans=counts,
    )


def marker_text(watch: WatchConfig) -> str:
    """What shows the feature, as the backtest names it: the markers, else the pull requests."""
    if watch.feature is not None:
        return " / ".join(watch.feature.all_markers)
    numbers = watch.pulls.numbers if watch.pulls else ()
    return ", ".join(f"#{n}" for n in numbers) or "the closing pull requests"


def _graph(
    github: GitHubReader,
    watch: WatchConfig,
    issues: Sequence[IssueFact],
    releases: Sequence[Release],
    shas: dict[str, str],
    cache: pulls.GraphCache | None,
) -> pulls.CommitGraph | None:
    """The commit graph of the watch's pull requests, or None without ``[watch.pulls]``."""
    if watch.pulls is None:
        return None
    if cache is None:
        kept: dict[str, str] = {}
        cache = pulls.GraphCache(get=kept.get, put=kept.__setitem__)
    closing = [i.closing_pull for i in issues] if watch.pulls.closing else []
    numbers = pulls.wanted_pulls(watch.pulls.numbers, closing)
    read = pulls.read_pulls(github, watch.repo, numbers, cache)
    return pulls.CommitGraph(github, watch.repo, read, tuple(releases), shas, cache)


def _guarded_pulls(graph: pulls.CommitGraph, rel: Release) -> Signal:
    try:
        return graph.signal(rel)
    except SourceError as exc:
        return Signal(SignalName.PULLS, SignalStatus.ERROR, exc.message, (exc.hint,), rel.tag)


def locate_feature(
    releases: Sequence[Release],
    probe: Callable[[Release], Signal],
    marker: str,
    *,
    scan_all: bool = False,
    name: SignalName = SignalName.FEATURE,
) -> dict[str, FeatureFact]:
    """Feature facts for every release, probing a bisection in version order.

    The marker is assumed to stay once it is in a release (``check`` assumes the same
    when it stops at the first release without it), so the newest release is probed,
    then a binary search finds the oldest version that has it: about 1 + log2(n) probes.
    Releases in between are inferred from their neighbours and say so.
    """
    ordered = sorted(releases, key=lambda r: Version(r.version))
    known: dict[int, Signal] = {}

    def has(index: int) -> bool:
        if index not in known:
            known[index] = probe(ordered[index])
        return known[index].holds

    first = len(ordered)
    if scan_all:
        first = next((i for i in range(len(ordered)) if has(i)), first)
        for index in range(len(ordered)):
            has(index)
    elif ordered and has(len(ordered) - 1):
        low, first = -1, len(ordered) - 1
        while first - low > 1:
            middle = (low + first) // 2
            if has(middle):
                first = middle
            else:
                low = middle
    facts: dict[str, FeatureFact] = {}
    for index, rel in enumerate(ordered):
        if index in known:
            facts[rel.tag] = FeatureFact(known[index], scanned=True)
        else:
            inferred = _inferred(rel, ordered, first, marker, name)
            facts[rel.tag] = FeatureFact(inferred, scanned=False)
    return facts


def _inferred(
    rel: Release, ordered: Sequence[Release], first: int, marker: str, name: SignalName
) -> Signal:
    index = ordered.index(rel)
    if index >= first:
        witness = ordered[first].tag
        return Signal(
            name,
            SignalStatus.HOLDS,
            f"{marker} inferred at {rel.tag}: the older {witness} has it (not scanned)",
            release_tag=rel.tag,
        )
    above = ordered[first].tag if first < len(ordered) else "no release"
    return Signal(
        name,
        SignalStatus.MISSING,
        f"{marker} inferred absent at {rel.tag}: it first appears in {above} (not scanned)",
        release_tag=rel.tag,
    )


class _Scanner:
    """Probes releases through the cache, counting tarball downloads and cache hits."""

    def __init__(
        self,
        github: GitHubReader,
        repo: str,
        rule: FeatureConfig,
        cache: feature.ScanCache,
        shas: dict[str, str],
    ) -> None:
        self.github, self.repo, self.rule, self.cache, self.shas = github, repo, rule, cache, shas
        self.scanned = 0
        self.cached = 0

    def probe(self, rel: Release) -> Signal:
        scan, hit = feature.cached_scan(
            self.github,
            self.repo,
            rel,
            sha=self.shas.get(rel.tag),
            rule=self.rule,
            cache=self.cache,
        )
        if hit:
            self.cached += 1
        else:
            self.scanned += 1
        return feature.feature_signal(scan, rel, self.rule)

    def from_cache(self, rel: Release, fact: FeatureFact) -> FeatureFact:
        """An inferred fact replaced by a real scan when the cache already has one (free)."""
        sha = self.shas.get(rel.tag)
        if fact.scanned or sha is None:
            return fact
        scan = self.cache.get(sha)
        if scan is None:
            return fact
        self.cached += 1
        return FeatureFact(feature.feature_signal(scan, rel, self.rule), scanned=True)


def _release_dates(raw: Sequence[Any]) -> dict[str, tuple[datetime | None, datetime | None]]:
    """Tag -> (created_at, updated_at); parse_releases already validated the entries."""
    return {
        str(item["tag_name"]): (_when(item.get("created_at")), _when(item.get("updated_at")))
        for item in raw
        if isinstance(item, dict) and "tag_name" in item
    }


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _images(
    watch: WatchConfig, registry: RegistryReader, rel: Release, push_time: PushTime | None
) -> tuple[ImageFact, ...]:
    facts = []
    for ref in image.image_refs(watch.image.references, rel):
        info = registry.manifest(ref)
        pushed = push_time(ref) if push_time is not None and info is not None else None
        facts.append(ImageFact(ref, info is not None, info.digest if info else None, pushed))
    return tuple(facts)


def _orphan_tags(
    watch: WatchConfig, github: GitHubReader, shas: dict[str, str], released: set[str]
) -> tuple[tuple[TagFact, ...], tuple[str, ...]]:
    """Pattern-matching tags without a release (dated by commit), and a note on the rest."""
    matching: list[tuple[Version, str]] = []
    ignored: list[str] = []
    for name in shas:
        match = watch.tag_regex.search(name)
        version = _version(match.group("version")) if match else None
        if version is None:
            ignored.append(name)
        elif name not in released:
            matching.append((version, name))
    matching.sort(reverse=True)
    facts = []
    for version, name in matching[:MAX_ORPHAN_TAGS]:
        sha = shas[name]
        # A commit never changes: its cached copy is served without asking again.
        data = github.get_json(f"/repos/{watch.repo}/commits/{sha}", revalidate=False).data
        try:
            when = _when(data["commit"]["committer"]["date"])
        except (KeyError, TypeError) as exc:
            raise PayloadError(
                f"{github.url(f'/repos/{watch.repo}/commits/{sha}')}: no committer date"
            ) from exc
        if when is not None:
            facts.append(TagFact(name, str(version), sha, when))
    notes = []
    if len(matching) > MAX_ORPHAN_TAGS:
        notes.append(
            f"only the newest {MAX_ORPHAN_TAGS} of {len(matching)} tags without a release are shown"
        )
    if ignored:
        sample = ", ".join(sorted(ignored)[:4])
        notes.append(f"{len(ignored)} tag(s) ignored, not matching the tag pattern (e.g. {sample})")
    return tuple(facts), tuple(notes)


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _issues(
    github: GitHubReader, watch: WatchConfig, required: frozenset[SignalName]
) -> tuple[tuple[IssueFact, ...], tuple[str, ...]]:
    """The watched issues; one that cannot be read is a note unless the signal is required.

    The same rule as ``check``: there a failing issue read is an ``error`` signal that
    only fails the run when ``issue`` is required (e.g. a 404 for a deleted issue).
    """
    facts: list[IssueFact] = []
    notes: list[str] = []
    for number in watch.issues.numbers:
        try:
            facts.append(_issue(github, watch.repo, number))
        except SourceError as exc:
            if SignalName.ISSUE in required:
                raise
            notes.append(
                f"issue {watch.repo}#{number} left out: {exc.message} "
                "(the issue signal is not required)"
            )
    return tuple(facts), tuple(notes)


def _issue(github: GitHubReader, repo: str, number: int) -> IssueFact:
    data, _ = issue.read_issue(github, repo, number)
    timeline = issue.read_timeline(github, repo, number, revalidate=True)
    status = issue.issue_status(github, repo, number, data, timeline)
    events = tuple(
        sorted(
            (e for e in (_issue_event(number, item, repo) for item in timeline) if e is not None),
            key=lambda e: e.at,
        )
    )
    return IssueFact(
        number=number,
        title=status.title,
        url=status.url,
        opened_at=_when(data.get("created_at")),
        labels=status.labels,
        events=events,
        closing_pull=status.closing_pull,
    )


def _issue_event(number: int, item: object, repo: str) -> IssueEvent | None:
    if not isinstance(item, dict) or item.get("event") not in TIMELINE_EVENTS:
        return None
    at = _when(item.get("created_at"))
    if at is None:
        return None
    return IssueEvent(
        number=number,
        kind=str(item["event"]),
        at=at,
        state_reason=item.get("state_reason"),
        closing=issue.closing_reference([item], repo),
        mention=_mention(item, repo),
    )


def _mention(item: dict[str, Any], repo: str) -> str | None:
    """``PR #12 (merged)`` for a same-repo PR, ``issue other/repo#3 (...)`` for another repo."""
    if item.get("event") == "connected":
        # GitHub does not say which pull request was linked in a "connected" event.
        return "a linked pull request (connected)"
    source = (item.get("source") or {}).get("issue") or {}
    if not source.get("number"):
        return None
    other = issue.source_repository(source)
    kind = "PR" if source.get("pull_request") else "issue"
    merged = (source.get("pull_request") or {}).get("merged_at")
    state = "merged" if merged else str(source.get("state") or "open")
    if other and not issue.same_repository(other, repo):
        return f"{kind} {other}#{source['number']} ({state}, another repository)"
    return f"{kind} #{source['number']} ({state})"


def _release_notes(facts: Sequence[ReleaseFact]) -> tuple[str, ...]:
    notes = [
        "release flags are as of today: GitHub does not date an edit from prerelease to stable"
    ]
    edited = [f.release.tag for f in facts if f.edited_after_publishing and not f.release.draft]
    if edited:
        notes.append(
            f"edited after publishing (flags may have changed then): {', '.join(edited[:8])}"
        )
    assumed = sorted(
        {str(i.ref) for f in facts for i in f.images if i.pullable and i.pushed_at is None}
    )
    if assumed:
        notes.append(
            "image push times unknown (the OCI API has none), assumed = release time: "
            + ", ".join(assumed[:6])
            + (f" and {len(assumed) - 6} more" if len(assumed) > 6 else "")
        )
    never = sorted({str(i.ref) for f in facts for i in f.images if not i.pullable})
    if never:
        notes.append(f"not pullable today, so never counted: {', '.join(never[:6])}")
    return tuple(notes)


class DockerHubPushTimes:
    """``tag_last_pushed`` from Docker Hub's API: a push time the OCI API does not give.

    It is the *last* push of the tag: a re-pushed tag looks newer than it is, which can
    only make a backtest say "ready" later than it really was, never earlier.
    Failures are remembered as notes and the push time is then assumed (None).
    """

    def __init__(self, http: HttpClient, base_url: str = DOCKER_HUB_API) -> None:
        """Ask ``base_url`` (Docker Hub's API host) through the shared HTTP client."""
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.failures: list[str] = []

    def __call__(self, ref: ImageRef) -> datetime | None:
        """The last push time of ``ref`` when it lives on Docker Hub, else None."""
        if ref.host != DOCKER_HUB:
            return None
        url = f"{self.base_url}/v2/repositories/{ref.name}/tags/{ref.tag}"
        try:
            reply = self.http.get(url, not_found_ok=True)
            data = json.loads(reply.body) if reply.status == 200 else {}
        except (SourceError, ValueError) as exc:
            self.failures.append(f"{url}: {exc}")
            return None
        if not isinstance(data, dict):
            return None
        return _when(data.get("tag_last_pushed") or data.get("last_updated"))
