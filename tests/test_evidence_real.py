"""Evidence on headscale's real text: exact lines at v0.28.0, v0.29.0-beta.1 and v0.29.0.

The inputs are the committed excerpts of tests/fixtures/headscale (real paths, real line
numbers); the expected lines are what ``git grep`` shows on the full upstream tree at
each tag (see that folder's README.md). The tarballs are built like ``git archive``'s,
members in git's tree order.
"""

from __future__ import annotations

import pytest

from tests.headscale_excerpts import MARKERS, MENTIONS, TAGS, excerpt_files, excerpt_text
from tests.test_tarscan import build
from watcher.actions.proposal import propose
from watcher.chart.bump import BumpResult
from watcher.config.model import ChartConfig, FeatureConfig, WatchConfig
from watcher.core.models import Release, SignalStatus
from watcher.core.sanitize import sanitize
from watcher.sources.changelog import changelog_signal, docs_excerpt
from watcher.sources.feature import feature_signal
from watcher.sources.tarscan import scan_tarball

REPO = "juanfont/headscale"
RULE = FeatureConfig(markers=MARKERS, paths=("hscontrol/**/*.go",))
CONSTANT = "tailcfg.PeerCapabilityRelay"
LITERAL = "tailscale.com/cap/relay"

# The lines that carry a marker, as git grep shows them (unchanged from beta.1 to 0.29.0).
FILTER_32 = (
    "hscontrol/policy/v2/filter.go:32: "
    "tailcfg.PeerCapabilityRelay:     tailcfg.PeerCapabilityRelayTarget,"
)
TYPES_2379 = (
    "hscontrol/policy/v2/types.go:2379: "
    "tailcfg.PeerCapabilityRelay:      true, // tailscale.com/cap/relay"
)
MATCHER_50 = (
    "hscontrol/policy/matcher/matcher.go:50: "
    "// tailscale.com/cap/relay) carry their destinations in CapGrant.Dsts and"
)
# Code lines first (archive order), then comment-only ones: all_evidence at each tag.
EVERY_HIT = {
    "v0.28.0": [],
    "v0.29.0-beta.1": [FILTER_32, TYPES_2379, MATCHER_50],
    "v0.29.0": [
        "hscontrol/policy/v2/compiled.go:611: "
        "if _, ok := cg.CapMap[tailcfg.PeerCapabilityRelay]; !ok {",
        FILTER_32,
        TYPES_2379,
        MATCHER_50,
        "hscontrol/policy/pm.go:41: "
        "// routers, relay targets (tailscale.com/cap/relay), and via targets;",
        "hscontrol/policy/v2/compiled.go:598: "
        "// tailscale.com/cap/relay grant. A node whose IP is in this set is a relay",
        "hscontrol/policy/v2/policy.go:49: "
        "// tailscale.com/cap/relay grant; viaTargetTags holds the tags used as",
        "hscontrol/policy/v2/policy.go:385: "
        "//   - relay target (tailscale.com/cap/relay): peers must drop a stale",
    ],
}
GRANTS_LINE = (
    "field controls application-level features like Taildrive file sharing and peer relay, "
    "and the `via`"
)
# Evidence is plain upstream text at the source; each medium escapes it once (the PR
# table qualifies `#2180` as upstream's, see test_caps_line_links_upstream_in_markdown).
CAPS_LINE = (
    "- Add capability grants for Taildrive (`cap/drive`) and peer relay (`cap/relay`) with "
    "automatic companion capabilities "
    "[#2180](https://github.com/juanfont/headscale/pull/2180)"
)


def release(tag: str) -> Release:
    url = f"https://github.com/{REPO}/releases/tag/{tag}"
    return Release(tag, tag.removeprefix("v"), "-" in tag, False, url, None)


def scan(tag: str, rule: FeatureConfig = RULE) -> list[str]:
    found = scan_tarball(build(excerpt_files(tag)).chunks(), rule, source="test")
    return list(feature_signal(found, release(tag), rule).evidence)


@pytest.mark.parametrize("tag", TAGS)
def test_feature_evidence_ranks_code_before_comments(tag: str) -> None:
    every = scan(tag, RULE.model_copy(update={"all_evidence": True}))
    assert every == EVERY_HIT[tag]
    # The default scan stops at the first code hit: that is the one evidence line.
    assert scan(tag) == EVERY_HIT[tag][:1]


def test_feature_summary_names_the_constant_found_in_code() -> None:
    found = scan_tarball(build(excerpt_files("v0.29.0")).chunks(), RULE, source="test")
    signal = feature_signal(found, release("v0.29.0"), RULE)
    assert signal.summary == f"{CONSTANT} in hscontrol/policy/v2/compiled.go@v0.29.0"


def test_the_literal_alone_is_only_in_comments_and_says_so() -> None:
    # The old single-marker rule on the same tree: its evidence is a comment, and the
    # summary tells the maintainer, instead of presenting it as code.
    literal = FeatureConfig(marker=LITERAL, paths=("hscontrol/**/*.go",))
    files = excerpt_files("v0.29.0")
    del files["hscontrol/policy/v2/types.go"]  # the one line with the literal after code
    found = scan_tarball(build(files).chunks(), literal, source="test")
    signal = feature_signal(found, release("v0.29.0"), literal)
    assert signal.summary == (
        f"{LITERAL} in hscontrol/policy/matcher/matcher.go@v0.29.0 (only in a comment)"
    )
    assert found.complete  # no code hit: the whole archive was read


def test_a_comment_that_goes_away_does_not_flip_the_verdict() -> None:
    files = excerpt_files("v0.29.0")
    files["hscontrol/policy/matcher/matcher.go"] = b"package matcher\n"
    assert scan("v0.29.0")[:1] == EVERY_HIT["v0.29.0"][:1]
    found = scan_tarball(build(files).chunks(), RULE, source="test")
    assert found.found and found.hits[0].in_code


@pytest.mark.parametrize(
    ("tag", "status", "summary", "evidence"),
    [
        (
            "v0.28.0",
            SignalStatus.MISSING,
            "CHANGELOG.md@v0.28.0: section 0.28.0 (2026-02-04) does not mention "
            "peer relay, cap/relay",
            (),
        ),
        (
            "v0.29.0-beta.1",
            SignalStatus.MISSING,
            "CHANGELOG.md@v0.29.0-beta.1: section 0.29.0 is an undated placeholder "
            "(it mentions peer relay, cap/relay already)",
            (GRANTS_LINE, CAPS_LINE),
        ),
        (
            "v0.29.0",
            SignalStatus.HOLDS,
            "CHANGELOG.md@v0.29.0: section 0.29.0 (2026-06-17) mentions peer relay, cap/relay",
            (GRANTS_LINE, CAPS_LINE),
        ),
    ],
)
def test_changelog_evidence(
    tag: str, status: SignalStatus, summary: str, evidence: tuple[str, ...]
) -> None:
    text = excerpt_text(tag, "CHANGELOG.md")
    signal = changelog_signal(text, release(tag), MENTIONS, "CHANGELOG.md", repo=REPO)
    assert (signal.status, signal.summary, signal.evidence) == (status, summary, evidence)


def test_the_markers_alone_miss_the_real_changelog() -> None:
    # Why `mentions` exists: release notes say "peer relay", not the constant.
    text = excerpt_text("v0.29.0", "CHANGELOG.md")
    signal = changelog_signal(text, release("v0.29.0"), MARKERS, "CHANGELOG.md", repo=REPO)
    assert signal.status is SignalStatus.MISSING


def test_grants_subsection_is_the_excerpt_with_a_link_at_the_tag() -> None:
    text = excerpt_text("v0.29.0", "CHANGELOG.md")
    signal = changelog_signal(text, release("v0.29.0"), MENTIONS, "CHANGELOG.md", repo=REPO)
    (excerpt,) = signal.excerpts
    lines = text.splitlines()
    start = lines.index("### Grants")
    end = lines.index("### Node attributes (`nodeAttrs`)")
    assert excerpt.text == "\n".join(lines[start:end]).strip()
    assert excerpt.title == "CHANGELOG.md > 0.29.0 > Grants"
    assert excerpt.url == f"https://github.com/{REPO}/blob/v0.29.0/CHANGELOG.md#grants"


def test_docs_page_excerpt_is_its_introduction() -> None:
    text = excerpt_text("v0.29.0", "docs/ref/policy.md")
    excerpt = docs_excerpt(text, release("v0.29.0"), "docs/ref/policy.md", None, REPO)
    assert excerpt is not None
    assert excerpt.text.startswith("# Policy\n") and excerpt.text.endswith("migrate-acls-grants).")
    assert "`policy.path`" in excerpt.text
    # Relative links would point into the chart repository: they are made absolute at the tag.
    page = f"https://github.com/{REPO}/blob/v0.29.0/docs/ref/"
    assert f"[configuration file]({page}configuration.md)" in excerpt.text
    assert f"[limitations]({page}policy.md#limitations)" in excerpt.text
    assert "](https://tailscale.com/docs/features/access-control/acls)" in excerpt.text
    assert excerpt.url == f"https://github.com/{REPO}/blob/v0.29.0/docs/ref/policy.md"
    section = docs_excerpt(text, release("v0.29.0"), "docs/ref/policy.md", "policy", REPO)
    assert section is not None and section.url.endswith("policy.md#policy")
    assert docs_excerpt(text, release("v0.29.0"), "docs/ref/policy.md", "nope", REPO) is None


@pytest.mark.parametrize(
    ("link", "absolute"),
    [
        ("[a](b.md)", "[a](https://h/o/r/blob/v1/docs/ref/b.md)"),
        ("[a](../about/f.md#x)", "[a](https://h/o/r/blob/v1/docs/about/f.md#x)"),
        ("[a](#top)", "[a](https://h/o/r/blob/v1/docs/ref/page.md#top)"),
        ("![i](img/x.png)", "![i](https://h/o/r/blob/v1/docs/ref/img/x.png)"),
        ("[a](https://x.y/z)", "[a](https://x.y/z)"),
        ("[a](mailto:x@y.z)", "[a](mailto:x@y.z)"),
    ],
)
def test_relative_links_of_a_docs_page_become_absolute(link: str, absolute: str) -> None:
    rel = Release("v1", "1", False, False, "https://h/o/r/releases/tag/v1", None)
    excerpt = docs_excerpt(f"# T\n\n{link}\n", rel, "docs/ref/page.md", None, "o/r")
    assert excerpt is not None and excerpt.text == f"# T\n\n{absolute}"


def test_pr_body_quotes_the_evidence_and_the_grants_subsection() -> None:
    text = excerpt_text("v0.29.0", "CHANGELOG.md")
    rel = release("v0.29.0")
    changelog = changelog_signal(text, rel, MENTIONS, "CHANGELOG.md", repo=REPO)
    found = scan_tarball(build(excerpt_files("v0.29.0")).chunks(), RULE, source="test")
    feature = feature_signal(found, rel, RULE)
    watch = WatchConfig(id="hs", repo=REPO, feature=RULE)
    chart = ChartConfig(repo="kapernikov/headscale-helm", feature_name="peer relay support")
    body = propose(watch, chart, rel, (feature, changelog), BumpResult({}, (), (), (), "")).body
    assert f"{EVERY_HIT['v0.29.0'][0].replace('|', chr(92) + '|')}" in body
    assert GRANTS_LINE in body
    block = body.split("<details><summary>CHANGELOG.md > 0.29.0 > Grants</summary>", 1)[1]
    block = block.split("</details>", 1)[0]
    assert "> ### Grants\n>\n> We now support [Tailscale grants]" in block
    assert (
        f"[CHANGELOG.md > 0.29.0 > Grants at v0.29.0]"
        f"(https://github.com/{REPO}/blob/v0.29.0/CHANGELOG.md#grants)"
    ) in block
    # Upstream references are qualified, so they do not point at the chart's issues.
    assert f"[{REPO}#2180](https://github.com/{REPO}/pull/2180)" in block


def test_caps_line_links_upstream_in_markdown() -> None:
    """Rendered for GitHub, the plain evidence's `#2180` names upstream, not the chart repo."""
    rendered = sanitize(CAPS_LINE, REPO)
    assert "[juanfont/headscale#2180](https://github.com/juanfont/headscale/pull/2180)" in rendered
