"""What upstream released between the version the chart deploys and the target.

A maintainer deciding to merge a bump needs what could break on the way (docs/
architecture.md, «The chart bump»): every stable release after the chart's version up
to the target, each with its GitHub release body and its changelog section, and the
passages of those that announce breaking changes and upgrade steps
(:func:`watcher.sources.changelog.breaking_passages`). The changelog is read once, at
the target's commit: a changelog carries the sections of every earlier version.

It costs no request in a run that observed the watch: the release list and the tags
were read (and cached) moments before, so they are reused without revalidation, and the
changelog at the target's commit is cached for good (the `changelog` signal read it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from packaging.version import InvalidVersion, Version

from watcher.chart.bump import ImageTarget
from watcher.chart.yaml_edit import find_scalar
from watcher.config.model import WatchConfig
from watcher.core.errors import PayloadError
from watcher.core.models import Excerpt, Release, ReleaseNotes, UpgradePath
from watcher.net.github_read import GitHubReader
from watcher.sources.changelog import (
    NOTES_LIMIT,
    Changelog,
    blob_url,
    breaking_excerpts,
    fetch_changelog,
    index_changelog,
    section_excerpt,
)
from watcher.sources.release import fetch_tag_commits, parse_releases

# Releases further back than this many are not read (a chart years behind its upstream
# is better served by reading the compare view).
MAX_RELEASES = 50


def deployed_version(
    targets: Sequence[ImageTarget], watch: WatchConfig, chart_yaml: str = ""
) -> str | None:
    """The upstream version the chart deploys today: the oldest one its images run.

    From the tags the watch's images carry before the bump (or the appVersion they
    default to), read as the watch's tags are; else ``Chart.yaml``'s appVersion (a chart
    whose images the watch does not name); None when nothing names a version.
    """
    versions = [v for v in (_version(t.before, watch) for t in targets) if v is not None]
    if not versions and chart_yaml:
        app = find_scalar(chart_yaml, "appVersion", filename="Chart.yaml")
        versions = [v for v in (_version(app.value if app else None, watch),) if v is not None]
    return str(min(versions)) if versions else None


def upgrade_path(
    reader: GitHubReader, watch: WatchConfig, target: Release, current: str | None
) -> UpgradePath | None:
    """The releases after ``current`` up to ``target``; None when the chart is not behind."""
    old = _version(current, watch)
    new = _version(target.version, watch)
    if old is None or new is None or old >= new:
        return None
    raw = reader.get_paginated(f"/repos/{watch.repo}/releases", revalidate=False).data
    source = reader.url(f"/repos/{watch.repo}/releases")
    releases, _ = parse_releases(raw, watch.tag_regex, source)  # skipped: noted by observe
    between = [r for r in releases if r.stable and old < Version(r.version) <= new]
    shas = fetch_tag_commits(reader, watch.repo, revalidate=False)
    old_tag = next((r.tag for r in releases if Version(r.version) == old), None)
    old_tag = old_tag or next((t for t in shas if _version(t, watch) == old), None)
    sha = shas.get(target.tag)
    path = watch.changelog.path
    try:
        text = fetch_changelog(reader, watch.repo, path, sha or target.tag, sha is not None)
    except PayloadError:
        # A changelog over its size cap never reads: the release bodies still say what
        # changed, and the changelog signal's row in the body shows the error.
        text = None
    changelog = None if text is None else index_changelog(text)
    page = blob_url(target, watch.repo, path)
    bodies = _bodies(raw)
    notes = tuple(
        _notes(release, bodies.get(release.tag, ""), changelog, path, page)
        for release in between[:MAX_RELEASES]
    )
    compare = None
    if old_tag is not None:
        compare = f"{_web_root(target, watch.repo)}/compare/{old_tag}...{target.tag}"
    omitted = max(0, len(between) - MAX_RELEASES)
    return UpgradePath(str(old), old_tag, target, compare, notes, omitted)


def _notes(
    release: Release, body: str, changelog: Changelog | None, path: str, page: str
) -> ReleaseNotes:
    """One release's notes and breaking passages (release body first, then changelog)."""
    notes: list[Excerpt] = []
    breaking: list[Excerpt] = []
    body = body.strip()[:NOTES_LIMIT]
    if body:
        title = f"{release.tag} release notes"
        notes.append(Excerpt(title, release.url, body))
        breaking += breaking_excerpts(index_changelog(body), None, title, release.url)
    if changelog is not None:
        section = section_excerpt(changelog, release.version, path, page)
        if section is not None and _same(section.text, body):
            notes.pop()  # the release body is the changelog section again
        if section is not None:
            notes.append(section)
        seen = {_flat(e.text) for e in breaking}
        breaking += [
            e
            for e in breaking_excerpts(changelog, release.version, path, page)
            if _flat(e.text) not in seen
        ]
    return ReleaseNotes(release, tuple(notes), tuple(breaking))


def _bodies(raw: Sequence[Any]) -> Mapping[str, str]:
    """Tag -> release body, from the release list's JSON (entries without either skipped)."""
    return {
        item["tag_name"]: item["body"]
        for item in raw
        if isinstance(item, dict)
        and isinstance(item.get("tag_name"), str)
        and isinstance(item.get("body"), str)
    }


def _same(one: str, other: str) -> bool:
    return bool(other) and _flat(one) == _flat(other)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _web_root(release: Release, repo: str) -> str:
    """The upstream repository's web page, on the host its releases live on."""
    return blob_url(release, repo, "").removesuffix(f"/blob/{release.tag}/")


def _version(text: str | None, watch: WatchConfig) -> Version | None:
    """``text`` read as the watch reads tags (``v0.28.0`` -> 0.28.0), or as a bare version."""
    if not text:
        return None
    match = watch.tag_regex.search(text)
    for candidate in (match.group("version") if match else "", text):
        try:
            return Version(candidate)
        except InvalidVersion:
            continue
    return None
