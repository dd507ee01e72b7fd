"""Several watches, one chart: the chart's one pull request, composed from its watches. Pure.

Watches that bump the same chart (repository, path and ``group``) share one pull request
(docs/architecture.md, «The chart bump»): one branch derived from the chart, one diff
(every ready watch's bump composed by :func:`watcher.chart.bump.plan_bumps`, so two
watches moving one key agree on the newest target), one title naming every watch, and a
body made of each watch's own section (:mod:`watcher.actions.proposal` writes those)
under a hidden marker listing the watches and their targets.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from watcher.actions.proposal import MARKER_RE, parse_marker
from watcher.chart.bump import BumpResult
from watcher.config.model import ChartConfig
from watcher.core.models import Release

# GitHub refuses a pull request body above 65,536 characters, and a title above 256.
BODY_LIMIT = 65_536
TITLE_LIMIT = 256
CHART_MARKER_RE = re.compile(
    r"<!-- watcher:chart=(?P<chart>[\w.:/#-]+) watches=(?P<watches>[\w.@,+-]*) -->"
)
# What a pull request watcher closed itself carries instead of its marker, so the next
# cycle neither takes it for a PR a maintainer closed (respected) nor for an open one.
CLOSED_PREFIX = "<!-- watcher:closed "


@dataclass(frozen=True)
class Member:
    """One watch in a chart's pull request: its id, target, title, body section, commit subject."""

    watch_id: str
    target: Release
    title: str
    section: str
    subject: str = ""


@dataclass(frozen=True)
class ChartProposal:
    """Everything needed to open or update the one pull request of a chart."""

    chart: str  # the chart's key, see :func:`chart_key`
    members: tuple[Member, ...]
    branch: str
    title: str
    body: str
    files: Mapping[str, str]
    diff: str
    commit_message: str

    @property
    def targets(self) -> dict[str, str]:
        """Watch id -> target tag of every member."""
        return {m.watch_id: m.target.tag for m in self.members}

    @property
    def published_at(self) -> datetime:
        """The newest member release's publication (the commit's date: same input, same SHA)."""
        dates = [m.target.published_at for m in self.members if m.target.published_at]
        return max(dates, default=datetime(2000, 1, 1, tzinfo=UTC)).astimezone(UTC)


def chart_dir(chart: ChartConfig) -> str:
    """The chart's directory in its repository, normalised ('' for the root)."""
    path = posixpath.normpath(chart.path.strip("/") or ".")
    return "" if path == "." else path


def chart_key(chart: ChartConfig) -> str:
    """What watches share a pull request by: ``repo/path`` (``#group`` when one is set)."""
    key = f"{chart.repo}:{chart_dir(chart) or '.'}"
    return f"{key}#{chart.group}" if chart.group else key


def chart_branch(chart: ChartConfig) -> str:
    """The chart's deterministic branch: ``watcher-chart/<path>`` (``root`` for the root).

    Its own prefix, so it never collides with a single-watch branch ``watcher/<watch-id>``
    of older versions (git refuses a branch that is another's directory).
    """
    branch = f"watcher-chart/{chart_dir(chart) or 'root'}"
    return f"{branch}--{chart.group}" if chart.group else branch


def chart_marker(key: str, targets: Mapping[str, str]) -> str:
    """The hidden line naming the chart and each member ``watch@target``, in the body."""
    watches = ",".join(f"{w}@{t}" for w, t in sorted(targets.items()))
    return f"<!-- watcher:chart={key} watches={watches} -->"


def parse_chart_marker(body: str | None) -> tuple[str | None, dict[str, str]] | None:
    """(chart key, watch id -> target) of one of our PR bodies, else None.

    A single-watch body of an older version (``watcher:watch=... target=...``) reads as
    a chart-less PR of that one watch, so it is adopted (closed in favour of the chart's).
    """
    found = CHART_MARKER_RE.search(body or "")
    if found is not None:
        pairs = (item.rpartition("@") for item in found["watches"].split(",") if item)
        return found["chart"], {w: t for w, _, t in pairs if w and t}
    legacy = parse_marker(body)
    return (None, {legacy[0]: legacy[1]}) if legacy else None


def closed_body(body: str) -> str:
    """``body`` with its marker disarmed: a PR watcher closed itself is no longer ours."""
    for pattern in (CHART_MARKER_RE, MARKER_RE):
        body = pattern.sub(lambda m: CLOSED_PREFIX + m[0].removeprefix("<!-- watcher:"), body)
    return body


def compose(
    chart: ChartConfig, name: str, members: Sequence[Member], bump: BumpResult
) -> ChartProposal:
    """The chart's pull request for ``members`` (config order) and their composed ``bump``."""
    key = chart_key(chart)
    branch = chart_branch(chart)
    title = group_title(name, members)
    targets = {m.watch_id: m.target.tag for m in members}
    # Alone on its chart, a watch's commit says what its own template asks.
    subject = members[0].subject if len(members) == 1 and members[0].subject else title
    lines = [
        subject,
        "",
        *(f"Bump the chart for {m.watch_id}: {m.target.tag}." for m in members),
        "",
        f"Watcher-Chart: {key}",
        f"Watcher-Watch: {','.join(targets)}",
        f"Watcher-Target: {','.join(targets.values())}",
    ]
    message = "\n".join(lines) + "\n"
    body = group_body(key, members, bump)
    return ChartProposal(
        key, tuple(members), branch, title, body, dict(bump.files), bump.diff, message
    )


def group_title(name: str, members: Sequence[Member]) -> str:
    """One title naming every member; a single watch keeps its own configured title."""
    if len(members) == 1:
        return members[0].title[:TITLE_LIMIT]
    title = f"{name}: " + ", ".join(f"{m.watch_id} {m.target.tag}" for m in members)
    if len(title) <= TITLE_LIMIT:
        return title
    more = f" and {len(members) - 1} more watches"
    return f"{name}: {members[0].watch_id} {members[0].target.tag}{more}"[:TITLE_LIMIT]


def group_body(key: str, members: Sequence[Member], bump: BumpResult) -> str:
    """The marker, a summary and the combined diff (several watches), then each section.

    A section that would take the body over GitHub's limit is replaced by one line.
    """
    head = [chart_marker(key, {m.watch_id: m.target.tag for m in members})]
    if len(members) > 1:
        head += [
            f"## {len(members)} watches bump this chart together",
            "",
            "watcher keeps one pull request per chart: it carries the bump of every watch "
            "below, each with its own evidence.",
            "",
            "| watch | target |",
            "|---|---|",
            *(f"| `{m.watch_id}` | [{m.target.tag}]({m.target.url}) |" for m in members),
            "",
            "<details><summary>Combined diff</summary>",
            "",
            "```diff",
            bump.diff.rstrip("\n")[:20_000],
            "```",
            "</details>",
        ]
    text = "\n".join(head) + "\n"
    shown: dict[str, str] = {}  # a block already in the body -> the watch that shows it
    for m in members:
        section = _without_repeats(m.section.rstrip("\n"), m.watch_id, shown)
        part = f"\n---\n\n{section}\n" if len(members) > 1 else section + "\n"
        if len(text) + len(part) > BODY_LIMIT - 1_000:
            part = f"\n---\n\n`{m.watch_id}` ({m.target.tag}): evidence left out, "
            part += "the body would exceed GitHub's limit; see `watcher check`.\n"
        text += part
    return text[:BODY_LIMIT]


def _without_repeats(section: str, watch_id: str, shown: dict[str, str]) -> str:
    """``section`` with each ``###`` block an earlier watch's section already has (the
    same upstream's breaking changes, release notes, docs, checklist) replaced by a
    pointer to it: watches of one upstream and target would otherwise repeat them whole."""
    blocks = re.split(r"(?m)^(?=### )", section)
    out = [blocks[0]]
    for block in blocks[1:]:
        body = block.rstrip("\n")
        if body in shown:
            heading = body.splitlines()[0]
            out.append(f"{heading}\n\nThe same as in the section of `{shown[body]}` above.\n\n")
        else:
            shown[body] = watch_id
            out.append(block)
    return "".join(out).rstrip("\n")
