"""The `pulls` signal (commit-graph evidence): the release contains the implementing change.

The pull requests a watch names (``[watch.pulls].numbers``) and those that closed its
issues are read with ``GET /repos/{o}/{r}/pulls/{n}``. A merged one has a
``merge_commit_sha`` on its base branch: the merge commit, the squash commit, or the last
commit of a rebase merge. The release contains the change when that commit is an
ancestor of the release's tag commit: ``GET /repos/{o}/{r}/compare/{tag}...{merge}``
answers ``behind`` or ``identical`` (the merge commit has nothing the tag lacks;
https://docs.github.com/en/rest/commits/commits#compare-two-commits). A pull request
merged into another branch than the default one counts only once that branch reached
the tag, which the same question answers; one not merged never counts (GitHub fills
``merge_commit_sha`` for an open one too: its test merge, which is on no branch).

Both answers are immutable, so the caller's :class:`GraphCache` keeps them for good: a
merged pull request (its merge commit never changes) and one answer per pair of
commits. A later poll asks nothing for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from packaging.version import Version

from watcher.core.errors import PayloadError, SourceError
from watcher.core.models import PullRequestInfo, Release, Signal, SignalName, SignalStatus
from watcher.net.github_read import GitHubReader

_SHA = re.compile(r"^[0-9a-f]{40}$")
# Compare statuses that mean "the head commit is in the base" (nothing ahead of it).
CONTAINED = frozenset({"behind", "identical"})
# The answer kept for two commits without common history (the compare API says 404).
UNRELATED = "unrelated"


@dataclass(frozen=True)
class GraphCache:
    """The caller's store for immutable answers, by key (sources never touch the database)."""

    get: Callable[[str], str | None]
    put: Callable[[str, str], None]


def wanted_pulls(numbers: Iterable[int], closing: Iterable[int | None]) -> tuple[int, ...]:
    """The pull requests to check: those named, then those that closed an issue, once each."""
    return tuple(dict.fromkeys([*numbers, *(n for n in closing if n)]))


def fetch_pull(reader: GitHubReader, repo: str, number: int, cache: GraphCache) -> PullRequestInfo:
    """Pull request ``number``; a merged one comes from ``cache`` once it was read."""
    key = f"pull:{repo}#{number}"
    stored = cache.get(key)
    if stored is not None:
        doc = json.loads(stored)
        merged_at = doc.pop("merged_at")
        return PullRequestInfo(**doc, merged_at=merged_at and datetime.fromisoformat(merged_at))
    path = f"/repos/{repo}/pulls/{number}"
    info = parse_pull(reader.get_json(path).data, reader.url(path))
    if info.merged:
        doc = asdict(info)
        doc["merged_at"] = info.merged_at.isoformat() if info.merged_at else None
        cache.put(key, json.dumps(doc))
    return info


def parse_pull(data: Any, url: str) -> PullRequestInfo:
    """A ``pull-request`` answer, checked field by field; PayloadError naming ``url``."""
    if not isinstance(data, dict):
        raise PayloadError(f"{url}: not a pull request object")
    base = data.get("base")
    base_repo = base.get("repo") if isinstance(base, dict) else None
    number, state = data.get("number"), data.get("state")
    if not isinstance(number, int) or state not in ("open", "closed"):
        raise PayloadError(f"{url}: pull request without a number or state")
    if not isinstance(base, dict) or not isinstance(base.get("ref"), str):
        raise PayloadError(f"{url}: pull request without base.ref")
    merged_at = _time(data.get("merged_at"), url)
    sha = data.get("merge_commit_sha")
    if merged_at is not None and not (isinstance(sha, str) and _SHA.match(sha)):
        raise PayloadError(f"{url}: merged pull request without a merge_commit_sha")
    default = base_repo.get("default_branch") if isinstance(base_repo, dict) else None
    return PullRequestInfo(
        number=number,
        title=str(data.get("title") or ""),
        url=str(data.get("html_url") or url),
        state=state,
        base=base["ref"],
        default_branch=default if isinstance(default, str) else base["ref"],
        merged_at=merged_at,
        merge_commit_sha=sha if merged_at is not None else None,
    )


def _time(value: Any, url: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise PayloadError(f"{url}: merged_at {value!r} is not a timestamp") from exc


def contains(reader: GitHubReader, repo: str, tag_sha: str, sha: str, cache: GraphCache) -> bool:
    """Whether commit ``sha`` is an ancestor of (or is) ``tag_sha``; asked once per pair."""
    if tag_sha == sha:
        return True
    key = f"compare:{repo}:{tag_sha}...{sha}"
    status = cache.get(key)
    if status is None:
        path = f"/repos/{repo}/compare/{tag_sha}...{sha}?per_page=1"
        status = _status(reader.get_json_once(path), reader.url(path))
        cache.put(key, status)
    return status in CONTAINED


def _status(data: Any, url: str) -> str:
    if data is None:
        return UNRELATED  # GitHub's 404 "No common ancestor between ..."
    status = data.get("status") if isinstance(data, dict) else None
    ahead = data.get("ahead_by") if isinstance(data, dict) else None
    if status not in ("ahead", "behind", "identical", "diverged") or not isinstance(ahead, int):
        raise PayloadError(f"{url}: comparison without a known status and ahead_by")
    if (status in CONTAINED) != (ahead == 0):
        raise PayloadError(f"{url}: status {status!r} contradicts ahead_by {ahead}")
    return str(status)


@dataclass(frozen=True)
class CommitGraph:
    """Everything the signal needs for one watch in one run; :meth:`signal` per release."""

    reader: GitHubReader
    repo: str
    pulls: tuple[PullRequestInfo, ...]
    releases: tuple[Release, ...]  # every release of the watch (prereleases too)
    shas: dict[str, str]  # tag -> commit SHA
    cache: GraphCache

    def contains(self, release: Release, pull: PullRequestInfo) -> bool:
        """Whether ``release``'s tag commit contains ``pull``'s merge commit."""
        tag_sha = self.shas.get(release.tag)
        if tag_sha is None:
            raise SourceError(
                f"{self.reader.url(f'/repos/{self.repo}/tags')}: no commit for tag {release.tag}",
                hint="the tag may have been deleted upstream; it is asked again next poll",
            )
        if pull.merge_commit_sha is None:
            return False
        if release.published_at and pull.merged_at and release.published_at < pull.merged_at:
            return False  # published before the merge: it cannot hold the merge commit
        return contains(self.reader, self.repo, tag_sha, pull.merge_commit_sha, self.cache)

    def first_in(self, release: Release, pull: PullRequestInfo) -> Release:
        """The oldest release by version, down from ``release``, that still contains it.

        It walks down until one does not: a change, once in a release line, stays (the
        assumption the feature signal makes too), so this asks few questions, each once.
        """
        first = release
        older = sorted(
            (r for r in self.releases if not r.draft and _v(r) < _v(release)),
            key=_v,
            reverse=True,
        )
        for candidate in older:
            if candidate.tag not in self.shas or not self.contains(candidate, pull):
                break
            first = candidate
        return first

    def signal(self, release: Release) -> Signal:
        """HOLDS when every pull request's merge commit is in ``release``.

        One part per pull request: "#3102, merged 2026-04-01, is in v0.29.0; first in ...".
        """
        if not self.pulls:
            return Signal(
                SignalName.PULLS,
                SignalStatus.MISSING,
                "no pull request to check yet (none named, none closed the issues)",
                release_tag=release.tag,
            )
        described = [_describe(self, release, pull) for pull in self.pulls]
        held = all(ok for _, ok in described)
        evidence = tuple(_evidence(pull) for pull in self.pulls)
        status = SignalStatus.HOLDS if held else SignalStatus.MISSING
        summary = " | ".join(text for text, _ in described)
        return Signal(SignalName.PULLS, status, summary, evidence, release.tag)


def _describe(graph: CommitGraph, release: Release, pull: PullRequestInfo) -> tuple[str, bool]:
    if not pull.merged or pull.merged_at is None:
        why = "open" if pull.state == "open" else "closed unmerged"
        return f"#{pull.number} is not merged ({why})", False
    merged = f"#{pull.number}, merged {pull.merged_at:%Y-%m-%d}"
    if pull.base != pull.default_branch:
        merged += f" into {pull.base}"
    if not graph.contains(release, pull):
        return f"{merged}, is not in {release.tag}", False
    first = graph.first_in(release, pull)
    return f"{merged}, is in {release.tag}; first in {first.tag}", True


def _evidence(pull: PullRequestInfo) -> str:
    sha = f" (merge commit {pull.merge_commit_sha[:12]})" if pull.merge_commit_sha else ""
    return f"{pull.url} {pull.title}{sha}"


def _v(release: Release) -> Version:
    return Version(release.version)


def read_pulls(
    reader: GitHubReader, repo: str, numbers: Sequence[int], cache: GraphCache
) -> tuple[PullRequestInfo, ...]:
    """Every pull request of ``numbers``, in that order."""
    return tuple(fetch_pull(reader, repo, n, cache) for n in numbers)
