"""Release selection survives the traps of real upstream history.

The traps are listed in docs/architecture.md, «What support landed means».
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.config.model import DEFAULT_TAG_PATTERN, load_config
from watcher.core.models import Release
from watcher.sources.release import newest_prerelease_above, parse_releases, stable

PATTERN = load_config(None).watch[0].tag_regex


def parse(items: list[Any], pattern: re.Pattern[str] = PATTERN) -> list[Release]:
    """parse_releases for well-formed entries: nothing is skipped as absurd."""
    releases, skipped = parse_releases(items, pattern, "src")
    assert skipped == []
    return releases


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
    releases = parse(HISTORY)
    assert [r.tag for r in stable(releases)] == ["v0.28.0", "v0.27.2", "v0.27.1"]


@pytest.mark.parametrize(
    "tag",
    ["backup/v0.26.0", "tmp-v0.31.0", "v0.24.0-docker-ko-test1", "v0.23-fix", "upstream/v1.0.0"],
)
def test_non_release_tags_never_match(tag: str) -> None:
    assert parse([raw(tag)]) == []


@pytest.mark.parametrize(
    "tag", ["v0.29.0-beta1", "v0.29.0-beta.4", "v0.28.0-alpha12", "v0.29.0-rc.1"]
)
def test_prerelease_spellings_are_prereleases_even_unflagged(tag: str) -> None:
    (release,) = parse([raw(tag)])
    assert release.prerelease and not release.stable


def test_draft_is_never_a_candidate() -> None:
    (release,) = parse([raw("v9.0.0", draft=True)])
    assert not release.stable


def test_release_edited_to_stable_counts() -> None:
    before = parse([raw("v0.29.0", prerelease=True)])
    after = parse([raw("v0.29.0", prerelease=False)])
    assert stable(before) == [] and [r.tag for r in stable(after)] == ["v0.29.0"]


def test_newest_prerelease_above_newest_stable() -> None:
    releases = parse(HISTORY)
    pre = newest_prerelease_above(releases, stable(releases)[0])
    assert isinstance(pre, Release) and pre.tag == "v0.29.0-rc.1"
    assert (
        newest_prerelease_above(releases, Release("v1.0.0", "1.0.0", False, False, "", None))
        is None
    )


def test_default_pattern_allows_unprefixed_tags() -> None:
    assert [r.tag for r in parse([raw("1.2.3")], re.compile(DEFAULT_TAG_PATTERN))] == ["1.2.3"]


def test_malformed_release_entry_is_skipped_with_a_note_naming_the_source() -> None:
    releases, skipped = parse_releases([{"name": "no tag"}, raw("v1.0.0")], PATTERN, "https://x")
    assert [r.tag for r in releases] == ["v1.0.0"]
    assert skipped == ["entry 1 of https://x has no tag_name"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
FIELD_VALUES = JSON | st.sampled_from(["false", "true", "0", "", "v1.2.3", "v" + "9" * 5000])


@settings(max_examples=300, deadline=None)
@given(
    entries=st.lists(
        st.one_of(
            JSON,
            st.fixed_dictionaries(
                {"tag_name": FIELD_VALUES},
                optional={
                    key: FIELD_VALUES
                    for key in ("prerelease", "draft", "name", "html_url", "published_at")
                },
            ),
        ),
        max_size=6,
    )
)
def test_any_json_parses_totally(entries: list[Any]) -> None:
    """Whatever GitHub (or a proxy) sends, parsing never raises: every entry is a release,
    skipped with a note, or not matching; a release stable only with real false flags."""
    releases, skipped = parse_releases(entries, PATTERN, "src")
    tagged = [e for e in entries if isinstance(e, dict) and isinstance(e.get("tag_name"), str)]
    assert len(releases) + len(skipped) <= len(entries)
    for release in releases:
        assert PATTERN.search(release.tag) and len(release.version) <= 100
        if release.stable:
            assert any(
                e["tag_name"] == release.tag
                and e.get("prerelease", False) is False
                and e.get("draft", False) is False
                for e in tagged
            )
        assert isinstance(release.name, str) and isinstance(release.url, str)


@pytest.mark.parametrize("flag", ["prerelease", "draft"])
@pytest.mark.parametrize("value", ["false", "true", 0, None, [False]])
def test_flag_of_the_wrong_type_skips_the_release_with_a_note(flag: str, value: object) -> None:
    releases, skipped = parse_releases(
        [{**raw("v1.0.0"), flag: value}, raw("v0.9.0")], PATTERN, "s"
    )
    assert [r.tag for r in releases] == ["v0.9.0"]
    (note,) = skipped
    assert "'v1.0.0'" in note and flag in note


def test_monstrous_version_is_skipped_with_a_note() -> None:
    tag = "v1.0." + "1" * 5000
    releases, skipped = parse_releases([raw(tag), raw("v0.9.0")], PATTERN, "s")
    assert [r.tag for r in releases] == ["v0.9.0"]
    (note,) = skipped
    assert f"{len(tag) - 1:,} characters" in note and len(note) < 100
