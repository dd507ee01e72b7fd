"""The chart-bump PR says what changed upstream since the chart's version, on real text.

The stand-in's chart deploys headscale v0.28.0; its history carries headscale's real
CHANGELOG section for 0.29.0 (tests/fixtures/headscale), whose ``### BREAKING`` holds
the strict upgrade path and the removed ``randomize_client_port`` key. The passages are
found generically: node_exporter's real ``[CHANGE]`` entries are checked too.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.headscale_excerpts import excerpt_text
from tests.prs import pulls
from tests.standin.headscale import load_headscale
from watcher.actions.proposal import propose
from watcher.chart.bump import BumpResult
from watcher.config.model import ChartConfig, FeatureConfig, WatchConfig
from watcher.core.models import Excerpt, Release, ReleaseNotes, UpgradePath
from watcher.sources.changelog import (
    breaking_excerpts,
    breaking_passages,
    index_changelog,
    section_excerpt,
)
from watcher.sources.release_notes import deployed_version

REPO = "juanfont/headscale"
PAGE = f"https://github.com/{REPO}/blob/v0.29.0/CHANGELOG.md"
NODE_EXPORTER = Path(__file__).parent / "fixtures" / "node_exporter"
# headscale 0.29.0's upgrade steps, as the PR body must show them (sanitised Markdown).
UPGRADE_LINES = (
    ">   - Skipping minor versions (e.g. 0.27 → 0.29) is blocked; upgrade one minor "
    "version at a time",
    "> - The `randomize_client_port` server-config key was removed; the",
    ">   Headscale refuses to start when the old key is set. Move it to the",
    # The configuration snippet stays a code block.
    '>   ```jsonc\n>   {\n>     "randomizeClientPort": true,\n>   }\n>   ```',
)


def test_headscale_breaking_passages_on_the_real_changelog() -> None:
    text = excerpt_text("v0.29.0", "CHANGELOG.md")
    found = breaking_excerpts(index_changelog(text), "0.29.0", "CHANGELOG.md", PAGE)
    assert [(e.title, e.url.removeprefix(PAGE)) for e in found] == [
        ("CHANGELOG.md > 0.29.0 > BREAKING", "#breaking"),
        ("CHANGELOG.md > 0.29.0 > CLI", "#cli-1"),  # "Deprecate ...", "Remove ..." items
        ("CHANGELOG.md > 0.29.0 > API", "#api"),
        ("CHANGELOG.md > 0.29.0 > Other", "#other"),
    ]
    breaking = found[0].text
    assert "- Skipping minor versions (e.g. 0.27 → 0.29) is blocked;" in breaking
    assert "Headscale refuses to start when the old key is set." in breaking
    assert breaking.startswith("#### Hostname handling") and "### Changes" not in breaking
    assert found[3].text == (
        "- Remove old migrations for the debian package "
        "[#3185](https://github.com/juanfont/headscale/pull/3185)"
    )
    # The Grants subsection only points at BREAKING ("see BREAKING below"): not quoted.
    assert not any("danger-all`. It resolves" in e.text for e in found)


def test_node_exporter_change_entries_are_breaking_candidates() -> None:
    text = (NODE_EXPORTER / "v1.10.0" / "CHANGELOG.md").read_text()
    index = index_changelog(text)
    (found,) = breaking_excerpts(index, "1.10.0", "CHANGELOG.md", "https://x/CHANGELOG.md")
    assert found.text.splitlines() == [
        "* [CHANGE] mdadm: Use sysfs for RAID metrics #3031",
        "* [CHANGE] filesystem: Add erofs in default excluded fs #3313",
        "* [CHANGE] tcpstat: Use std lib binary.NativeEndian #3386",
    ]
    # The unreleased placeholder's empty "* [CHANGE]" is not 1.10.0's.
    assert breaking_excerpts(index, "1.9.1", "CHANGELOG.md", "https://x/CHANGELOG.md") == ()


def test_other_upstream_styles_are_found() -> None:
    text = (
        "## [2.0.0] - 2026-01-01\n\n### Added\n\n- Remote write\n\n"
        "### Removed\n\n- The `--legacy` flag\n\n### Dependency upgrades\n\n- go 1.25\n\n"
        "### Fixed\n\n- dns: BREAKING: the default port is 5353\n  because of #12\n"
        "- **Breaking:** config moved\n- Removes the v1 API\n\n"
        "## [1.0.0] - 2025-01-01\n\n### Removed\n\n- old\n"
    )
    found = breaking_excerpts(index_changelog(text), "2.0.0", "CHANGELOG.md", "https://x/c.md")
    assert [(e.title, e.text) for e in found] == [
        ("CHANGELOG.md > 2.0.0 > Removed", "- The `--legacy` flag"),
        (
            "CHANGELOG.md > 2.0.0 > Fixed",
            "- dns: BREAKING: the default port is 5353\n  because of #12\n"
            "- **Breaking:** config moved\n- Removes the v1 API",
        ),
    ]


# Subsection titles (flagged or not) and item openings (marked or not), for the property.
TITLES = {"BREAKING": True, "Removed": True, "Upgrade notes": True, "Features": False}
TITLES |= {"Dependency upgrades": False, "Fixes": False}
OPENINGS = {"Remove": True, "Deprecate": True, "[CHANGE]": True, "**Breaking:**": True}
OPENINGS |= {"Add": False, "Fix": False, "[FEATURE]": False, "Removal-free": False}
Block = tuple[str, str]  # ("title", title) | ("item", opening) | ("fence", "")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [*(("title", t) for t in TITLES), *(("item", o) for o in OPENINGS), ("fence", "")]
        ),
        max_size=25,
    )
)
def test_breaking_passages_take_exactly_the_marked_lines(blocks: list[Block]) -> None:
    lines, expected = ["## 1.0.0 (2026-01-01)", ""], set()
    flagged = False
    for n, (kind, text) in enumerate(blocks):
        if kind == "title":
            flagged = TITLES[text]
            lines += [f"### {text}", ""]
            continue
        body = (
            [f"- {text} thing {n}", f"  more on thing {n}"]
            if kind == "item"
            # A fence: its lines are never read as a heading or an item.
            else ["```", f"### BREAKING {n}", f"- Remove in code {n}", "```"]
        )
        lines += body
        if flagged or (kind == "item" and OPENINGS[text]):
            expected |= set(body)
    lines += ["", "## 0.9.0 (2025-01-01)", "", "### BREAKING", "", "- Remove old thing"]
    end = lines.index("## 0.9.0 (2025-01-01)")
    passages = breaking_passages(lines, 1, end)
    taken = [line for _, passage in passages for line in passage.splitlines()]
    assert {line for line in taken if line.strip()} == expected
    assert "- Remove old thing" not in taken  # the next version's own
    # Every passage is upstream's lines in their order, after the heading it names.
    for heading, passage in passages:
        assert heading is None or lines[heading].startswith("### ")
        at = heading or 0
        for line in passage.splitlines():
            at = lines.index(line, at + 1)


HEADINGS = [
    f"{'#' * n} {v}{d}"
    for n in (1, 2, 3)
    for v in ("1.0.0", "v1.1.0", "[2.0.0]")
    for d in ("", " (2026-01-01)")
]


def naive_section(lines: list[str], version: str) -> str | None:
    """The spec, walked plainly: the first unfenced heading naming ``version``, up to the
    next unfenced heading at its level or above."""
    fenced, start, level = False, None, 0
    for index, line in enumerate(lines):
        fenced = not fenced if line.startswith("```") else fenced
        depth = len(line) - len(line.lstrip("#")) if line.startswith("#") and not fenced else 0
        if start is not None and depth and depth <= level:
            return "\n".join(lines[start + 1 : index])
        named = line.lstrip("# [v").split(" ")[0].rstrip("]") == version
        if start is None and depth and named:
            start, level = index, depth
    return None if start is None else "\n".join(lines[start + 1 :])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*HEADINGS, "### Changes", "text", "- item", "```", ""])))
def test_one_pass_index_finds_each_versions_section(lines: list[str]) -> None:
    # One walk for every release since the chart's version, answering as the spec says.
    index = index_changelog("\n".join(lines))
    for version in ("1.0.0", "1.1.0", "2.0.0", "3.0.0"):
        expected = naive_section(lines, version)
        excerpt = section_excerpt(index, version, "C.md", "https://x/C.md")
        if expected is None or not expected.strip():
            assert excerpt is None
        else:
            assert excerpt is not None and excerpt.text == expected.strip()


def _body(result_stdout: str) -> str:
    (watch,) = json.loads(result_stdout)["watches"]
    body: str = watch["plan"]["body"]
    return body


def test_v0_29_0_pr_and_its_move_to_v0_29_1(acting: WatcherRun) -> None:
    standin = acting.standin
    load_headscale(standin, "ready")
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(standin)
    body = pr["body"]
    web = f"{standin.url}/{REPO}"
    assert f"[compare v0.28.0...v0.29.0]({web}/compare/v0.28.0...v0.29.0)" in body
    breaking = body.index("### Breaking changes and upgrade steps since v0.28.0")
    assert breaking < body.index("### How juanfont/headscale documents it")
    assert breaking < body.index("### Release notes since v0.28.0")
    for line in UPGRADE_LINES:
        assert body.index(line) > breaking, line
    assert "| feature | **required** | holds |" in body
    assert "| changelog | informational | holds |" in body
    assert "<details><summary>v0.29.0 (2026-01-28)</summary>" in body

    load_headscale(standin, "patch")
    standin.log.clear()
    result = acting("check", "--plan", "--json")
    body = _body(result.stdout)
    # The plan reads nothing the observation did not: one release list, one tag list,
    # one changelog (the new target's, for the changelog signal).
    paths = [r.path for r in standin.log.records()]
    assert paths.count(f"/api/repos/{REPO}/releases") == 1
    assert paths.count(f"/api/repos/{REPO}/tags") == 1
    assert paths.count(f"/api/repos/{REPO}/contents/CHANGELOG.md") == 1
    assert acting("run", "--once").exit_code == 0
    (pr,) = pulls(standin)
    assert pr["body"] == body
    assert f"[compare v0.28.0...v0.29.1]({web}/compare/v0.28.0...v0.29.1)" in body
    for line in UPGRADE_LINES:
        assert line in body, line
    notes = body[body.index("### Release notes since v0.28.0") :]
    newer = notes.index("<details><summary>v0.29.1 (2026-02-10)</summary>")
    assert newer < notes.index("<details><summary>v0.29.0 (2026-01-28)</summary>")
    assert "> Bug fixes." in notes[newer:]

    plan = json.loads(result.stdout)["watches"][0]["plan"]
    upgrade = plan["upgrade"]
    assert (upgrade["from"], upgrade["from_tag"]) == ("0.28.0", "v0.28.0")
    assert upgrade["compare_url"] == f"{web}/compare/v0.28.0...v0.29.1"
    assert [r["tag"] for r in upgrade["releases"]] == ["v0.29.1", "v0.29.0"]
    assert upgrade["releases"][0]["breaking"] == []
    assert "Skipping minor versions" in upgrade["releases"][1]["breaking"][0]["text"]
    signals = json.loads(result.stdout)["watches"][0]["signals"]
    assert {s["name"]: s["required"] for s in signals}["changelog"] is False


def test_check_plan_text_shows_the_breaking_changes(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    result = acting("check", "--plan")
    assert result.exit_code == 0
    web = f"{acting.standin.url}/{REPO}"
    upgrade = f"  upgrade:   from v0.28.0: v0.29.0; 4 breaking passage(s); {web}/compare/"
    assert f"{upgrade}v0.28.0...v0.29.0\n" in result.stdout
    assert "### Breaking changes and upgrade steps since v0.28.0" in result.stdout
    assert UPGRADE_LINES[0] in result.stdout


WATCH = WatchConfig(id="w", repo=REPO, feature=FeatureConfig(markers=("cap/relay",)))
CHART = ChartConfig(repo="o/chart", checklist=("check it",) * 20)


def _release(n: int) -> Release:
    return Release(f"v1.{n}.0", f"1.{n}.0", False, False, f"https://h/{REPO}/r/{n}", None)


@settings(max_examples=20, deadline=None)
@given(
    st.integers(1, 60),
    st.integers(0, 30_000),
    st.sampled_from(["x", "<@a fixes #1 ", "line\n", "```\n@u\n"]),
    st.integers(0, 60_000),
)
def test_the_body_stays_under_githubs_limit(
    count: int, size: int, unit: str, diff_size: int
) -> None:
    text = (unit * (size // len(unit) + 1))[:size]
    releases = tuple(
        ReleaseNotes(
            _release(n),
            (Excerpt("notes", "https://h/n", text), Excerpt("changelog", "https://h/c", text)),
            (Excerpt("breaking", "https://h/b", text),) * 3,
        )
        for n in range(count, 0, -1)
    )
    target = releases[0].release
    upgrade = UpgradePath("0.9.0", "v0.9.0", target, "https://h/compare", releases)
    diff = "+" * diff_size
    bump = BumpResult({"a": "b"}, (), (), (), diff)
    body = propose(WATCH, CHART, target, (), bump, ("note",) * 5, upgrade=upgrade).body
    assert len(body) < 65_536
    assert "### Breaking changes" in body or not size


def test_the_chart_version_falls_back_to_app_version() -> None:
    chart = 'apiVersion: v2\nname: x\nversion: 1.0.0\nappVersion: "{}"\n'
    assert deployed_version((), WATCH, chart.format("v0.28.0")) == "0.28.0"
    assert deployed_version((), WATCH, chart.format("latest")) is None
    assert deployed_version((), WATCH) is None


def test_releases_left_out_for_length_are_counted() -> None:
    target = _release(60)
    notes = (ReleaseNotes(target),)
    upgrade = UpgradePath("1.0.0", "v1.0.0", target, "https://h/compare", notes, omitted=59)
    body = propose(WATCH, CHART, target, (), BumpResult({}, (), (), (), ""), upgrade=upgrade).body
    assert "60 releases since (the oldest 59 not quoted here)" in body


def test_a_changelog_over_its_cap_still_gets_the_pr(acting: WatcherRun) -> None:
    # The changelog is informational: too big to read, it costs its quotes, not the PR.
    load_headscale(acting.standin, "ready")
    acting.edits["retries = 1\n"] = "retries = 1\nbody_caps = { changelog_bytes = 65536 }\n"
    acting.standin.faults.add(
        method="GET",
        path=r"/contents/CHANGELOG\.md$",
        status=200,
        body=b"## x\n" * 65536,
        times=None,
    )
    result = acting("check", "--plan", "--json")
    assert result.exit_code == 0, result.output
    body = _body(result.stdout)
    assert "| changelog | informational | error |" in body
    assert "/compare/v0.28.0...v0.29.0)" in body and "> Peer relays!" in body
    assert "### Breaking changes" not in body  # the changelog held them
