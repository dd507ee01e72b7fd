"""The `feature` signal: does the release's source at its tag contain the marker?

The tarball is streamed from ``GET /repos/{o}/{r}/tarball/{tag}`` straight into the
stream-mode scanner (:mod:`watcher.sources.tarscan`); nothing is written to disk. The
result is cached by the caller under (repository, commit SHA, :func:`rule_key`), so a
release is scanned once, ever; and once for all the watches of an upstream: a download
scans for every rule of the run's watches of that repository that has no scan of the
commit yet (their *peers*), so a fleet downloads each commit once, not once per watch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import httpx

from watcher.config.model import FeatureConfig
from watcher.core import progress
from watcher.core.errors import ArchiveError
from watcher.core.models import FeatureScan, Release, Signal, SignalName, SignalStatus
from watcher.net.github_read import GitHubReader
from watcher.sources.tarscan import ScanOutcome, scan_tarball_many

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ScanCache:
    """The caller's feature-scan cache for one (repository, rule), keyed by commit SHA.

    Sources never touch the database: the runner hands in the store's cache this way.
    """

    get: Callable[[str], FeatureScan | None]
    put: Callable[[str, FeatureScan], None]


# Bumped whenever the scanner finds or ranks hits differently, so results cached by an
# older version are scanned again instead of reused (2: several markers, whole words,
# code before comments).
SCANNER_VERSION = 2


def rule_key(rule: FeatureConfig) -> str:
    """A stable hash of everything that changes a scan's outcome (not the caps).

    The markers are a set: their order changes nothing found, so it changes no key.
    ``marker = "x"`` and ``markers = ["x"]`` are the same rule.
    """
    material = json.dumps(
        {
            "markers": sorted(rule.all_markers),
            "paths": list(rule.paths),
            "exclude": list(rule.exclude),
            "all": rule.all_evidence,
            "scanner": SCANNER_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Peer:
    """Another watch's rule for the same repository, and its cache: scanned in the same
    download when its scan of the commit is missing too."""

    rule: FeatureConfig
    cache: ScanCache

    @cached_property
    def key(self) -> str:
        """The rule's :func:`rule_key`, hashed once however many downloads ask."""
        return rule_key(self.rule)


def scan_release_many(
    reader: GitHubReader, repo: str, tag: str, rules: Sequence[FeatureConfig]
) -> list[ScanOutcome]:
    """Stream the tarball of ``tag`` once and scan it for each of ``rules`` (shared caps).

    A rule's outcome is its scan or the error that ended it (see
    :func:`~watcher.sources.tarscan.scan_tarball_many`); a download that fails before
    the body raises for all of them.
    """
    url = reader.url(f"/repos/{repo}/tarball/{tag}")
    with reader.tarball(repo, tag) as reply:
        chunks = progress.metered(reply.iter_bytes(CHUNK), f"scanning {repo}@{tag}")
        outcomes = scan_tarball_many(chunks, rules, source=url)
    return [_broken_off(url, outcome) for outcome in outcomes]


def _broken_off(url: str, outcome: ScanOutcome) -> ScanOutcome:
    """The connection died mid-body: the same outcome as a truncated archive."""
    if not isinstance(outcome, httpx.TransportError):
        return outcome
    error = ArchiveError(f"{url}: archive truncated: the download broke off ({outcome})")
    error.__cause__ = outcome
    return error


def cached_scan(
    github: GitHubReader,
    repo: str,
    rel: Release,
    *,
    sha: str | None,
    rule: FeatureConfig,
    cache: ScanCache,
    peers: Sequence[Peer] = (),
) -> tuple[FeatureScan, bool]:
    """The scan of ``rel`` from ``cache`` by commit SHA, else streamed and stored; (scan, hit).

    A download also scans for the ``peers`` that share the rule's caps and have no scan
    of the commit yet, and stores theirs (a peer that failed stores nothing). Concurrent
    callers for one commit wait for the first one's download, then find their scan
    stored; ``hit`` is True whenever this call downloaded nothing.
    """
    scan = cache.get(sha) if sha else None
    if scan is not None:
        return scan, True
    with github.http.flight(f"scan:{repo}@{sha or rel.tag}"):
        # A peer's download, finished while this call waited, may have stored this scan.
        scan = cache.get(sha) if sha else None
        if scan is not None:
            return scan, True
        own = Peer(rule, cache)
        wanted = [own, *_unscanned(own, peers, sha)]
        outcomes = scan_release_many(github, repo, rel.tag, [peer.rule for peer in wanted])
        # Stored before the next caller in line looks: it then finds its scan.
        for peer, outcome in zip(wanted, outcomes, strict=True):
            # Without a SHA from /tags the tarball's own top directory names the commit.
            key = sha or (outcome.commit_sha if isinstance(outcome, FeatureScan) else None)
            if isinstance(outcome, FeatureScan) and key:
                peer.cache.put(key, outcome)
    if isinstance(outcomes[0], Exception):
        raise outcomes[0]
    return outcomes[0], False


def _unscanned(own: Peer, peers: Sequence[Peer], sha: str | None) -> list[Peer]:
    """The peers worth scanning with ``own``: its caps, another rule, no scan of ``sha``."""
    seen = {own.key}
    chosen: list[Peer] = []
    for peer in peers:
        if peer.key in seen or peer.rule.caps != own.rule.caps:
            continue
        seen.add(peer.key)
        if sha is None or peer.cache.get(sha) is None:
            chosen.append(peer)
    return chosen


def feature_signal(scan: FeatureScan, release: Release, rule: FeatureConfig) -> Signal:
    """Turn a scan into the feature signal, with ``path:line: text`` evidence.

    The best hit comes first: code before comments. When the markers are only in
    comments the summary says so, as that evidence would vanish with a reworded comment.
    """
    if not scan.found:
        where = ", ".join(rule.paths)
        return Signal(
            SignalName.FEATURE,
            SignalStatus.MISSING,
            f"{' / '.join(rule.all_markers)} not in {where}@{release.tag} "
            f"({scan.members_seen} files read)",
            release_tag=release.tag,
        )
    first = scan.hits[0]
    evidence = tuple(f"{h.path}:{h.line}: {h.text}" for h in scan.hits)
    marker = first.marker or rule.all_markers[0]
    where = "" if first.in_code else " (only in a comment)"
    return Signal(
        SignalName.FEATURE,
        SignalStatus.HOLDS,
        f"{marker} in {first.path}@{release.tag}{where}",
        evidence=evidence,
        release_tag=release.tag,
    )
