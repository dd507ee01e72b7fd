"""The `feature` signal: does the release's source at its tag contain the marker?

The tarball is streamed from ``GET /repos/{o}/{r}/tarball/{tag}`` straight into the
stream-mode scanner (:mod:`watcher.sources.tarscan`); nothing is written to disk. The
result is cached by the caller under (repository, commit SHA, :func:`rule_key`), so a
release is scanned once, ever.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from watcher.config.model import FeatureConfig
from watcher.core import progress
from watcher.core.errors import ArchiveError
from watcher.core.models import FeatureScan, Release, Signal, SignalName, SignalStatus
from watcher.net.github_read import GitHubReader
from watcher.sources.tarscan import scan_tarball

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


def scan_release(reader: GitHubReader, repo: str, tag: str, rule: FeatureConfig) -> FeatureScan:
    """Stream the tarball of ``tag`` and scan it for ``rule``'s markers."""
    url = reader.url(f"/repos/{repo}/tarball/{tag}")
    with reader.tarball(repo, tag) as reply:
        try:
            chunks = progress.metered(reply.iter_bytes(CHUNK), f"scanning {repo}@{tag}")
            return scan_tarball(chunks, rule, source=url)
        except httpx.TransportError as exc:
            # The connection died mid-body: the same outcome as a truncated archive.
            raise ArchiveError(f"{url}: archive truncated: the download broke off ({exc})") from exc


def cached_scan(
    github: GitHubReader,
    repo: str,
    rel: Release,
    *,
    sha: str | None,
    rule: FeatureConfig,
    cache: ScanCache,
) -> tuple[FeatureScan, bool]:
    """The scan of ``rel`` from ``cache`` by commit SHA, else streamed and stored; (scan, hit)."""
    scan = cache.get(sha) if sha else None
    if scan is not None:
        return scan, True
    scan = scan_release(github, repo, rel.tag, rule)
    # Without a SHA from /tags the tarball's own top directory names the commit.
    key = sha or scan.commit_sha
    if key:
        cache.put(key, scan)
    return scan, False


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
