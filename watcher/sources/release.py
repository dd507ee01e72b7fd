"""The `release` signal: which published releases are stable candidates, newest first.

Ordering is by ``packaging.version`` of the tag's version group, never by date: real
upstream history has patch releases cut from release branches after the next minor.
A release is a candidate only when it is published (not a draft), not flagged as a
prerelease, its tag matches the watch's pattern, and its version is no prerelease or
dev release by PEP 440 (``-beta1``, ``-beta.4``, ``-alpha12``, ``-rc.1`` all parse as such).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from packaging.version import InvalidVersion, Version

from watcher.core.errors import REPOSITORY_NOT_FOUND_HINT, NotFoundError, PayloadError
from watcher.core.models import Release, Signal, SignalName, SignalStatus
from watcher.net.github_read import Fetched, GitHubReader


def fetch_releases(reader: GitHubReader, repo: str) -> Fetched:
    """All releases of ``repo`` (drafts included when the token may see them).

    A repository without releases answers ``[]``; a 404 means the repository itself is
    missing (or private and the token cannot see it), which the config names.
    """
    try:
        return reader.get_paginated(f"/repos/{repo}/releases")
    except NotFoundError as exc:
        raise NotFoundError(
            f"upstream repository {repo} not found (404): check [[watch]].repo",
            hint=f"{exc.message}; {REPOSITORY_NOT_FOUND_HINT}",
        ) from exc


def fetch_tag_commits(reader: GitHubReader, repo: str, *, revalidate: bool) -> dict[str, str]:
    """Tag name -> commit SHA; only revalidated when the releases changed."""
    fetched = reader.get_paginated(f"/repos/{repo}/tags", revalidate=revalidate)
    shas: dict[str, str] = {}
    for item in fetched.data:
        try:
            shas[str(item["name"])] = str(item["commit"]["sha"])
        except (KeyError, TypeError) as exc:
            raise PayloadError(
                f"{reader.url(f'/repos/{repo}/tags')}: tag entry without name/commit.sha"
            ) from exc
    return shas


def parse_releases(raw: Sequence[Any], tag_pattern: re.Pattern[str], source: str) -> list[Release]:
    """Releases whose tag matches ``tag_pattern``, newest version first."""
    releases: list[tuple[Version, Release]] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("tag_name"), str):
            raise PayloadError(f"{source}: release entry without a tag_name")
        match = tag_pattern.search(item["tag_name"])
        if not match:
            continue
        try:
            version = Version(match.group("version"))
        except InvalidVersion:
            continue
        releases.append((version, _release(item, version)))
    releases.sort(key=lambda pair: pair[0], reverse=True)
    return [release for _, release in releases]


def _release(item: dict[str, Any], version: Version) -> Release:
    flagged = bool(item.get("prerelease"))
    return Release(
        tag=item["tag_name"],
        version=str(version),
        prerelease=flagged or version.is_prerelease or version.is_devrelease,
        draft=bool(item.get("draft")),
        url=str(item.get("html_url") or ""),
        published_at=_timestamp(item.get("published_at")),
        name=str(item.get("name") or ""),
    )


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def stable(releases: Sequence[Release]) -> list[Release]:
    """The candidates: published, non-prerelease releases, order kept."""
    return [r for r in releases if r.stable]


def newest_prerelease_above(releases: Sequence[Release], floor: Release | None) -> Release | None:
    """The newest published prerelease newer than ``floor`` (for a "coming soon" hint)."""
    for release in releases:
        if release.draft or not release.prerelease:
            continue
        if floor is None or Version(release.version) > Version(floor.version):
            return release
        return None
    return None


def release_signal(candidate: Release | None, newest: Release | None) -> Signal:
    """The release signal for one candidate (None: no stable release matched at all)."""
    if candidate is None:
        return Signal(SignalName.RELEASE, SignalStatus.MISSING, "no stable release matches")
    date = f" ({candidate.published_at:%Y-%m-%d})" if candidate.published_at else ""
    role = "newest stable release" if candidate == newest else "stable release"
    return Signal(
        SignalName.RELEASE,
        SignalStatus.HOLDS,
        f"{candidate.tag}{date} is the {role}",
        evidence=(candidate.url,) if candidate.url else (),
        release_tag=candidate.tag,
    )
