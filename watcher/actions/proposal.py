"""What the chart-bump pull request says: branch, title, body, files. Pure.

The body carries a hidden marker naming the watch and the target, so reconciliation
finds its own pull requests (and ignores humans') without any local state. Every piece
of upstream text in it goes through :func:`watcher.core.sanitize.sanitize`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from watcher.chart.bump import BumpResult, Change
from watcher.config.model import ChartConfig, WatchConfig
from watcher.core.models import Release, Signal
from watcher.core.sanitize import sanitize

MARKER_RE = re.compile(r"<!-- watcher:watch=(?P<watch>[\w.-]+) target=(?P<target>[^\s]+) -->")
DIFF_LIMIT = 30_000
# An excerpt is already cut by its source; this keeps a hostile one from filling the body.
EXCERPT_LIMIT = 4_000


@dataclass(frozen=True)
class Proposal:
    """Everything needed to open or update the pull request for one target."""

    watch_id: str
    target: Release
    branch: str
    title: str
    body: str
    files: Mapping[str, str]
    diff: str
    commit_message: str


def branch_name(watch_id: str) -> str:
    """The deterministic branch of a watch's pull request."""
    return f"watcher/{watch_id}"


def marker(watch_id: str, target_tag: str) -> str:
    """The hidden line that identifies the watch and target of a PR body."""
    return f"<!-- watcher:watch={watch_id} target={target_tag} -->"


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
) -> Proposal:
    """Build the proposal for bumping ``chart`` to ``target``.

    ``checks`` is the body's section on the checks run on the bumped chart (helm).
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
    body = _body(watch, chart, target, signals, bump, notes, checks)
    message = (
        f"{title}\n\n"
        f"Bump the chart to {watch.repo} {target.tag}.\n\n"
        f"Watcher-Watch: {watch.id}\nWatcher-Target: {target.tag}\n"
    )
    return Proposal(
        watch.id, target, branch_name(watch.id), title, body, dict(bump.files), bump.diff, message
    )


def _body(
    watch: WatchConfig,
    chart: ChartConfig,
    target: Release,
    signals: Sequence[Signal],
    bump: BumpResult,
    notes: Sequence[str],
    checks: Sequence[str],
) -> str:
    repo = watch.repo
    date = f" on {target.published_at:%Y-%m-%d}" if target.published_at else ""
    lines = [
        marker(watch.id, target.tag),
        f"## {repo} {target.tag}: {chart.feature_name} landed",
        "",
        f"[{target.tag}]({target.url}) was released{date}. watcher checked:",
        "",
        "| signal | status | evidence |",
        "|---|---|---|",
    ]
    for signal in signals:
        evidence = "<br>".join(_cell(sanitize(e, repo, 300)) for e in signal.evidence[:3])
        lines.append(
            f"| {signal.name.value} | {signal.status.value} | "
            f"{_cell(sanitize(signal.summary, repo, 500))}{'<br>' + evidence if evidence else ''} |"
        )
    lines += _excerpt_lines(signals, repo, target.tag)
    lines += ["", "### What this pull request changes", ""]
    lines += [_change_line(c) for c in bump.changes]
    lines += [_change_line(c, left=True) for c in (*bump.kept, *bump.floating)]
    lines += [f"- note: {sanitize(n, repo, 500)}" for n in notes]
    diff = bump.diff if len(bump.diff) <= DIFF_LIMIT else bump.diff[:DIFF_LIMIT] + "\n… (truncated)"
    lines += [
        "",
        "<details><summary>Diff</summary>",
        "",
        "```diff",
        diff.rstrip("\n"),
        "```",
        "</details>",
    ]
    lines += ["", *checks] if checks else []
    if chart.checklist:
        lines += ["", "### Remaining checklist", ""]
        lines += [f"- [ ] {item}" for item in chart.checklist]
    lines += [
        "",
        "<sub>Opened by watcher, which keeps this pull request current: a newer qualifying "
        "release updates it, and closing it unmerged is respected. Pushing to the branch "
        "stops watcher from touching it.</sub>",
    ]
    return "\n".join(lines) + "\n"


def _excerpt_lines(signals: Sequence[Signal], repo: str, tag: str) -> list[str]:
    """Upstream's own words on the feature at the tag, collapsed: how it is configured."""
    excerpts = [e for s in signals for e in s.excerpts]
    if not excerpts:
        return []
    lines = ["", f"### How {repo} documents it at {tag}", ""]
    for excerpt in excerpts:
        title = sanitize(excerpt.title, repo, 200)
        # sanitize() makes one line of its input, so the quote is sanitised line by line.
        quoted = excerpt.text[:EXCERPT_LIMIT].splitlines()
        lines += [
            f"<details><summary>{title}</summary>",
            "",
            *(f"> {sanitize(line, repo, EXCERPT_LIMIT)}".rstrip() for line in quoted),
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
