"""Release selection survives the traps of real upstream history.

The traps are listed in docs/architecture.md, «What support landed means».
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from watcher.config.model import DEFAULT_TAG_PATTERN, load_config
from watcher.core.errors import PayloadError
from watcher.core.models import Release
from watcher.sources.release import newest_prerelease_above, parse_releases, stable

PATTERN = load_config(None).watch[0].tag_regex


def raw(
    tag: str,
    *,
    prerelease: bool = False,
    draft: bool = False,
    published: str | None = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    return {
        "tag_name": tag,
        "prerelease": prerelease,
        "draft": draft,
        "published_at": published,
        "html_url": f"https://x/{tag}",
    }


# Listed in created_at order as GitHub does (newest created first), NOT version order.
HISTORY = [
    raw("v0.27.2"),  # patch from a release branch, created after v0.28.0
    raw("v0.30.0", draft=True),
    raw("v0.29.0-rc.1", prerelease=True),
    raw("v0.29.0-beta.4", prerelease=True),
    raw("v0.29.0-beta1"),  # a prerelease spelling NOT flagged as prerelease on GitHub
    raw("v0.28.0-alpha12", prerelease=True),
    raw("v0.28.0"),
    raw("v0.27.1"),
    raw("backup/v0.26.0"),
    raw("tmp-v0.31.0"),
    raw("v0.24.0-docker-ko-test1"),
    raw("v0.23-fix"),
    raw("upstream/v1.0.0"),
    raw("v0.26.0-rc.1", prerelease=True),  # an rc that never became a release
]


def test_candidates_are_stable_and_ordered_by_version_not_date() -> None:
    releases = parse_releases(HISTORY, PATTERN, "src")
    assert [r.tag for r in stable(releases)] == ["v0.28.0", "v0.27.2", "v0.27.1"]


@pytest.mark.parametrize(
    "tag",
    ["backup/v0.26.0", "tmp-v0.31.0", "v0.24.0-docker-ko-test1", "v0.23-fix", "upstream/v1.0.0"],
)
def test_non_release_tags_never_match(tag: str) -> None:
    assert parse_releases([raw(tag)], PATTERN, "src") == []


@pytest.mark.parametrize(
    "tag", ["v0.29.0-beta1", "v0.29.0-beta.4", "v0.28.0-alpha12", "v0.29.0-rc.1"]
)
def test_prerelease_spellings_are_prereleases_even_unflagged(tag: str) -> None:
    (release,) = parse_releases([raw(tag)], PATTERN, "src")
    assert release.prerelease and not release.stable


def test_draft_is_never_a_candidate() -> None:
    (release,) = parse_releases([raw("v9.0.0", draft=True)], PATTERN, "src")
    assert not release.stable


def test_release_edited_to_stable_counts() -> None:
    before = parse_releases([raw("v0.29.0", prerelease=True)], PATTERN, "src")
    after = parse_releases([raw("v0.29.0", prerelease=False)], PATTERN, "src")
    assert stable(before) == [] and [r.tag for r in stable(after)] == ["v0.29.0"]


def test_newest_prerelease_above_newest_stable() -> None:
    releases = parse_releases(HISTORY, PATTERN, "src")
    pre = newest_prerelease_above(releases, stable(releases)[0])
    assert isinstance(pre, Release) and pre.tag == "v0.29.0-rc.1"
    assert (
        newest_prerelease_above(releases, Release("v1.0.0", "1.0.0", False, False, "", None))
        is None
    )


def test_default_pattern_allows_unprefixed_tags() -> None:
    assert [
        r.tag for r in parse_releases([raw("1.2.3")], re.compile(DEFAULT_TAG_PATTERN), "s")
    ] == ["1.2.3"]


def test_malformed_release_entry_names_the_source() -> None:
    with pytest.raises(PayloadError, match="https://api/x: release entry without a tag_name"):
        parse_releases([{"name": "no tag"}], PATTERN, "https://api/x")
