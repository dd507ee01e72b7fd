"""What one watch's part of the chart-bump pull request says: title, body, files. Pure.

The chart's pull request (:mod:`watcher.actions.grouping`) owns the branch and the
hidden marker by which reconciliation finds it; :data:`MARKER_RE` here is the marker of
older, single-watch pull requests, still recognised. Every piece of upstream text in the
body goes through :func:`watcher.core.sanitize.sanitize`.

It is written for the maintainer who decides to merge: what landed and which signals
were required for it (the others are informational), then, in plain sight, every
breaking change and upgrade step between the version the chart deploys and the target,
a compare link, upstream's own words on the feature, the release notes of every release
in between (collapsed), and the change itself. The body stays well under GitHub's
65,536 characters: upstream passages have budgets, and the diff (which the PR's "Files
changed" shows anyway) gets what is left of ``BODY_LIMIT``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from watcher.chart.bump import BumpResult, Change
from watcher.config.model import ChartConfig, WatchConfig
from watcher.core.models import Release, Signal, UpgradePath
from watcher.core.sanitize import sanitize, sanitize_quote

MARKER_RE = re.compile(r"<!-- watcher:watch=(?P<watch>[\w.-]+) target=(?P<target>[^\s]+) -->")
DIFF_LIMIT = 30_000
# GitHub refuses a body over 65,536 characters; the diff gets what the rest leaves of this.
BODY_LIMIT = 60_000
# An excerpt is already cut by its source; this keeps a hostile one from filling the body.
EXCERPT_LIMIT = 4_000
# Characters of quoted upstream text: breaking passages in all, release notes in all and
# per release. What does not fit is linked instead.
BREAKING_BUDGET = 12_000
NOTES_BUDGET = 12_000
RELEASE_BUDGET = 6_000


@dataclass(frozen=True)
class Proposal:
    """Everything needed to open or update the pull request for one target."""

    watch_id: str
    target: Release
    title: str
    body: str
    files: Mapping[str, str]
    diff: str
    commit_message: str


def parse_marker(body: str | None) -> tuple[str, str] | None:
    """(watch id, target tag) from a PR body, or None for a PR that is not ours."""
    found = MARKER_RE.search(body or "")
    return (found["watch"], found["target"]) if found else None


def propose(
    watch: WatchConfig,
    chart: ChartConfig,
    target: Release,
    signals: Sequence[Signal],
    bump: BumpResult,
    notes: Sequence[str] = (),
    checks: Sequence[str] = (),
    upgrade: UpgradePath | None = None,
) -> Proposal:
    """Build the proposal for bumping ``chart`` to ``target``.

    ``checks`` is the body's section on the checks run on the bumped chart (helm);
    ``upgrade`` (the releases since the chart's version) adds the compare link, the
    breaking changes and the release notes.
    """
    name = watch.repo.split("/")[-1]
    fields = {
        "name": name,
        "tag": target.tag,
        "version": target.version,
        "feature": chart.feature_name,
        "watch": watch.id,
    }
    title = chart.title.format(**fields)
    body = _body(watch, chart, target, signals, bump, notes, checks, upgrade)
    subject = chart.commit.message.format(**fields, title=title)
    message = (
        f"{subject}\n\n"
        f"Bump the chart to {watch.repo} {target.tag}.\n\n"
        f"Watcher-Watch: {watch.id}\nWatcher-Target: {target.tag}\n"
    )
    return Proposal(watch.id, target, title, body, dict(bump.files), bump.diff, message)


def _body(
    watch: WatchConfig,
    chart: ChartConfig,
    target: Release,
    signals: Sequence[Signal],
    bump: BumpResult,
    notes: Sequence[str],
    checks: Sequence[str],
    upgrade: UpgradePath | None,
) -> str:
    repo = watch.repo
    date = f" on {target.published_at:%Y-%m-%d}" if target.published_at else ""
    lines = [
        f"## {repo} {target.tag}: {chart.feature_name} landed",
        "",
        f"[{target.tag}]({target.url}) was released{date}.{_compare(upgrade)}",
        "",
        "watcher checked (the required signals decide; the others are informational):",
        "",
        "| signal | role | status | evidence |",
        "|---|---|---|---|",
    ]
    required = [s for s in signals if s.name.value in watch.required]
    for signal in (*required, *(s for s in signals if s not in required)):
        evidence = "<br>".join(_cell(sanitize(e, repo, 300)) for e in signal.evidence[:3])
        role = "**required**" if signal in required else "informational"
        lines.append(
            f"| {signal.name.value} | {role} | {signal.status.value} | "
            f"{_cell(sanitize(signal.summary, repo, 500))}{'<br>' + evidence if evidence else ''} |"
        )
    lines += _breaking_lines(upgrade, repo)
    lines += _excerpt_lines(signals, repo, target.tag)
    lines += _release_notes_lines(upgrade, repo)
    lines += ["", "### What this pull request changes", ""]
    lines += [_change_line(c) for c in bump.changes]
    lines += [_change_line(c, left=True) for c in (*bump.kept, *bump.floating)]
    lines += [f"- note: {sanitize(n, repo, 500)}" for n in notes]
    tail: list[str] = ["", *checks] if checks else []
    if chart.checklist:
        tail += ["", "### Remaining checklist", ""]
        tail += [f"- [ ] {item}" for item in chart.checklist]
    tail += [
        "",
        "<sub>Opened by watcher, which keeps this pull request current: a newer qualifying "
        "release updates it, and closing it unmerged is respected. Pushing to the branch "
        "stops watcher from touching it.</sub>",
    ]
    room = BODY_LIMIT - sum(len(line) + 1 for line in (*lines, *tail)) - 100
    lines += _diff_lines(bump.diff, min(DIFF_LIMIT, room))
    return "\n".join((*lines, *tail)) + "\n"


def _compare(upgrade: UpgradePath | None) -> str:
    """The sentence on where the chart stands, with the compare link when there is one."""
    if upgrade is None:
        return ""
    count = len(upgrade.releases) + upgrade.omitted
    since = f"{count} release{'s' if count != 1 else ''} since"
    if upgrade.omitted:
        since += f" (the oldest {upgrade.omitted} not quoted here)"
    old = upgrade.current_tag or upgrade.current
    if upgrade.compare_url is None:
        return f" The chart deploys {old} today; {since}."
    target = upgrade.target.tag
    return (
        f" The chart deploys {old} today; {since}: "
        f"[compare {old}...{target}]({upgrade.compare_url})."
    )


def _breaking_lines(upgrade: UpgradePath | None, repo: str) -> list[str]:
    """Every breaking change and upgrade step on the way, quoted in plain sight."""
    if upgrade is None or not any(r.breaking for r in upgrade.releases):
        return []
    old = upgrade.current_tag or upgrade.current
    lines = [
        "",
        f"### Breaking changes and upgrade steps since {old}",
        "",
        "Marked as breaking, removed, deprecated or an upgrade step upstream, newest first:",
    ]
    budget, linked = BREAKING_BUDGET, []
    for notes in upgrade.releases:
        if notes.breaking:
            lines += ["", f"#### {notes.release.tag}"]
        for excerpt in notes.breaking:
            quoted = sanitize_quote(excerpt.text, repo, budget)
            title = f"[{sanitize(excerpt.title, repo, 200)}]({excerpt.url})"
            if not quoted:
                linked.append(title)
                continue
            budget -= sum(len(q) + 1 for q in quoted)
            lines += ["", f"{title}:", "", *quoted]
    if linked:
        lines += ["", f"More, not quoted for length: {', '.join(linked)}"]
    return lines


def _release_notes_lines(upgrade: UpgradePath | None, repo: str) -> list[str]:
    """The notes of every release in between, newest first, each collapsed."""
    if upgrade is None or not upgrade.releases:
        return []
    old = upgrade.current_tag or upgrade.current
    lines = ["", f"### Release notes since {old}", ""]
    budget, linked = NOTES_BUDGET, []
    for notes in upgrade.releases:
        release = notes.release
        link = f"[{release.tag}]({release.url})"
        body: list[str] = []
        room = min(budget, RELEASE_BUDGET)
        for excerpt in notes.notes:
            quoted = sanitize_quote(excerpt.text, repo, room)
            if quoted:
                room -= sum(len(q) + 1 for q in quoted)
                budget -= sum(len(q) + 1 for q in quoted)
                body += [f"[{sanitize(excerpt.title, repo, 200)}]({excerpt.url})", "", *quoted, ""]
        if not body:
            linked.append(link)
            continue
        date = f" ({release.published_at:%Y-%m-%d})" if release.published_at else ""
        lines += [f"<details><summary>{release.tag}{date}</summary>", "", *body, "</details>", ""]
    if linked:
        lines += [f"Not quoted for length (or without notes): {', '.join(linked)}", ""]
    return lines[:-1]


def _diff_lines(diff: str, limit: int) -> list[str]:
    """The diff, collapsed, cut to ``limit`` characters (the PR's "Files changed" has it all)."""
    if limit < 1000:
        return ["", 'The diff is in the pull request\'s "Files changed" tab.']
    shown = diff if len(diff) <= limit else diff[:limit] + "\n… (truncated)"
    return [
        "",
        "<details><summary>Diff</summary>",
        "",
        "```diff",
        shown.rstrip("\n"),
        "```",
        "</details>",
    ]


def _excerpt_lines(signals: Sequence[Signal], repo: str, tag: str) -> list[str]:
    """Upstream's own words on the feature at the tag, collapsed: how it is configured."""
    excerpts = [e for s in signals for e in s.excerpts]
    if not excerpts:
        return []
    lines = ["", f"### How {repo} documents it at {tag}", ""]
    for excerpt in excerpts:
        title = sanitize(excerpt.title, repo, 200)
        lines += [
            f"<details><summary>{title}</summary>",
            "",
            *sanitize_quote(excerpt.text[:EXCERPT_LIMIT], repo, EXCERPT_LIMIT * 2),
            "",
            f"[{title} at {tag}]({excerpt.url})",
            "</details>",
            "",
        ]
    return lines[:-1]


def _change_line(change: Change, left: bool = False) -> str:
    if left:
        return f"- left alone: `{change.file}` `{change.key}` = `{change.old}` ({change.note})"
    return f"- `{change.file}` `{change.key}`: `{change.old}` → `{change.new}` ({change.note})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
