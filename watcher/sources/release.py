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

from watcher.core.errors import REPOSITORY_NOT_FOUND_HINT, NotFoundError
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
        name = item.get("name") if isinstance(item, dict) else None
        commit = item.get("commit") if isinstance(item, dict) else None
        sha = commit.get("sha") if isinstance(commit, dict) else None
        # An absurd entry is skipped: its release (if any) is then scanned by tag name.
        if isinstance(name, str) and isinstance(sha, str):
            shas[name] = sha
    return shas


#: A longer version is no real release (and a version with more than 4,300 digits in one
#: part cannot even be parsed): such a release is skipped with a note.
MAX_VERSION_LENGTH = 100


def parse_releases(
    raw: Sequence[Any], tag_pattern: re.Pattern[str], source: str
) -> tuple[list[Release], list[str]]:
    """Releases whose tag matches ``tag_pattern``, newest version first, and notes on the
    entries skipped as absurd (no tag, a field of the wrong type, a monstrous version).

    Parsing is total: one absurd entry is skipped, never failing the watch for every
    release; informational fields of the wrong type (name, URL, date) are ignored.
    """
    releases: list[tuple[Version, Release]] = []
    skipped: list[str] = []
    for index, item in enumerate(raw):
        tag = item.get("tag_name") if isinstance(item, dict) else None
        if not isinstance(tag, str):
            skipped.append(f"entry {index + 1} of {source} has no tag_name")
            continue
        match = tag_pattern.search(tag)
        if not match:
            continue
        problem, version = _version(match.group("version"))
        if version is None:
            if problem:
                skipped.append(f"{_shown(tag)}: {problem}")
            continue
        flags = {key: item.get(key, False) for key in ("prerelease", "draft")}
        wrong = [
            f"{key} is {_shown(value)}" for key, value in flags.items() if type(value) is not bool
        ]
        if wrong:
            skipped.append(f"{_shown(tag)}: {', '.join(wrong)}, not true or false")
            continue
        releases.append((version, _release(item, tag, version, flags)))
    releases.sort(key=lambda pair: pair[0], reverse=True)
    return [release for _, release in releases], skipped


def _version(text: str) -> tuple[str, Version | None]:
    """The parsed version, or why it is absurd ("" for a tag that is simply no version)."""
    if len(text) > MAX_VERSION_LENGTH:
        return f"a version of {len(text):,} characters", None
    try:
        return "", Version(text)
    except InvalidVersion:
        return "", None


def _shown(value: object) -> str:
    """An upstream value fit for a one-line note: repr (escapes control characters), capped."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _release(item: dict[str, Any], tag: str, version: Version, flags: dict[str, Any]) -> Release:
    return Release(
        tag=tag,
        version=str(version),
        prerelease=flags["prerelease"] or version.is_prerelease or version.is_devrelease,
        draft=flags["draft"],
        url=_text(item.get("html_url")),
        published_at=_timestamp(item.get("published_at")),
        name=_text(item.get("name")),
    )


def _text(value: object) -> str:
    """An informational string field: anything but a string counts as absent."""
    return value if isinstance(value, str) else ""


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


def release_signal(
    candidate: Release | None, newest: Release | None, skipped: Sequence[str] = ()
) -> Signal:
    """The release signal for one candidate (None: no stable release matched at all);
    ``skipped`` are parse_releases' notes on absurd entries, told in its summary."""
    note = ""
    if skipped:
        more = f" and {len(skipped) - 1} more" if len(skipped) > 1 else ""
        note = f"; skipped as absurd: {skipped[0]}{more}"
    if candidate is None:
        return Signal(SignalName.RELEASE, SignalStatus.MISSING, f"no stable release matches{note}")
    date = f" ({candidate.published_at:%Y-%m-%d})" if candidate.published_at else ""
    role = "newest stable release" if candidate == newest else "stable release"
    return Signal(
        SignalName.RELEASE,
        SignalStatus.HOLDS,
        f"{candidate.tag}{date} is the {role}{note}",
        evidence=(candidate.url,) if candidate.url else (),
        release_tag=candidate.tag,
    )
