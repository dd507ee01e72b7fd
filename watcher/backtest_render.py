"""Text, JSON and SVG renderings of a :class:`~watcher.backtest.Backtest` (strings only).

The JSON shape is documented in ``docs/backtest.md`` and is a stable interface. The SVG
is written by hand (a few dozen elements: an axis, bands, ticks, dots): a plotting
library would add a heavy dependency for a picture this simple, and hand-written SVG
is deterministic, so tests can compare it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from watcher.backtest import Backtest, EventKind, PullRequestMoment, Row
from watcher.models import Release, VerdictState

STATE_COLOURS = {
    VerdictState.WAITING: "#c8ccd2",
    VerdictState.PENDING: "#f4b740",
    VerdictState.READY: "#43b36a",
    VerdictState.PROPOSED: "#2f8f57",
    VerdictState.DONE: "#1f6f43",
}
ISSUE_COLOURS = {"closed": "#c0392b", "reopened": "#e67e22", "opened": "#7f8c8d"}


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M}"


def _tag(release: Release | None) -> str:
    return release.tag if release is not None else "-"


# -- text --------------------------------------------------------------------------------


def backtest_text(result: Backtest) -> str:
    """The human timeline: ``date | event | verdict | target`` and the conclusions."""
    header = ("date (UTC)", "event", "verdict", "target")
    cells = [
        (
            _when(row.at),
            row.event + (f" ({'; '.join(row.notes)})" if row.notes else ""),
            ("-> " if row.changed else "   ") + row.state.value,
            _tag(row.target),
        )
        for row in result.rows
    ]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(4)]
    lines = [_title(result), _table_line(header, widths)]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(_table_line(c, widths) for c in cells)
    lines.append("")
    lines.extend(_conclusions(result))
    return "\n".join(lines) + "\n"


def _title(result: Backtest) -> str:
    window = "all history"
    if result.since or result.until:
        start = f"{result.since:%Y-%m-%d}" if result.since else "the beginning"
        end = f"{result.until:%Y-%m-%d}" if result.until else "now"
        window = f"{start} .. {end}"
    return f"backtest of {result.watch_id} ({result.repo}), {window}: {len(result.rows)} row(s)"


def _table_line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _conclusions(result: Backtest) -> list[str]:
    lines = [_pr_line(result.pull_requests, result)]
    lines.extend(
        f"  then would have updated it at {_when(p.at)} to {p.target.tag}"
        for p in result.pull_requests[1:]
    )
    shipped = result.shipped
    if shipped is not None and shipped.published_at is not None:
        line = f"supported from {shipped.tag} (stable, published {_when(shipped.published_at)})"
        first = result.first_in_code
        if first is not None and first != shipped and first.published_at is not None:
            line += f"; the marker was first in {first.tag} ({_when(first.published_at)})"
        lines.append(line)
    answer = result.issue_only
    because = f" (wrong because {answer.wrong_because})" if answer.wrong else " (agrees)"
    lines.append(f"issue-state alone would have said: {answer.said}{because}")
    lines.extend(f"  {line}" for line in answer.per_issue)
    scans = result.history.scans
    lines.append(
        f"feature: {scans.scanned} tarball(s) scanned, {scans.cached} from the cache, "
        f"{scans.inferred} inferred by version order"
    )
    if result.notes:
        lines.append("notes:")
        lines.extend(f"  - {note}" for note in result.notes)
    return lines


def _pr_line(pull_requests: Sequence[PullRequestMoment], result: Backtest) -> str:
    if pull_requests:
        first = pull_requests[0]
        return f"would have opened its PR at {_when(first.at)} for {first.target.tag}"
    final = result.final
    state = final.state.value if final else "no verdict"
    return f"would not have opened a PR in this window (final verdict: {state})"


# -- JSON --------------------------------------------------------------------------------


def backtest_json(result: Backtest) -> str:
    """The JSON document of a backtest (see docs/backtest.md)."""
    return json.dumps(backtest_document(result), indent=2) + "\n"


def backtest_document(result: Backtest) -> dict[str, Any]:
    """The backtest as plain data (the JSON document, before serialising)."""
    scans = result.history.scans
    return {
        "watch": result.watch_id,
        "repo": result.repo,
        "from": _iso(result.since),
        "to": _iso(result.until),
        "rows": [_row(row) for row in result.rows],
        "pull_request": _pull_request(result.pull_requests),
        "shipped": _release(result.shipped),
        "first_in_code": _release(result.first_in_code),
        "issue_only": {
            "said": result.issue_only.said,
            "wrong": result.issue_only.wrong,
            "because": result.issue_only.wrong_because,
            "issues": list(result.issue_only.per_issue),
        },
        "feature_scans": {
            "scanned": scans.scanned,
            "cached": scans.cached,
            "inferred": scans.inferred,
        },
        "notes": list(result.notes),
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _row(row: Row) -> dict[str, Any]:
    return {
        "at": row.at.isoformat(),
        "kind": row.kind.value,
        "event": row.event,
        "state": row.state.value,
        "target": row.target.tag if row.target else None,
        "changed": row.changed,
        "notes": list(row.notes),
        "reasons": list(row.verdict.reasons),
    }


def _pull_request(moments: Sequence[PullRequestMoment]) -> dict[str, Any] | None:
    if not moments:
        return None
    return {
        "opened_at": moments[0].at.isoformat(),
        "target": moments[0].target.tag,
        "updates": [{"at": m.at.isoformat(), "target": m.target.tag} for m in moments[1:]],
    }


def _release(release: Release | None) -> dict[str, Any] | None:
    if release is None:
        return None
    return {
        "tag": release.tag,
        "published_at": _iso(release.published_at),
        "prerelease": release.prerelease,
        "url": release.url,
    }


# -- SVG ---------------------------------------------------------------------------------

WIDTH = 1200
LEFT, RIGHT = 90, 30
BAND_Y, BAND_H = 120, 26
AXIS_Y = 160
ISSUE_Y, ISSUE_STEP = 200, 22


@dataclass(frozen=True)
class _Scale:
    start: datetime
    end: datetime

    def x(self, at: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        return round(LEFT + (WIDTH - LEFT - RIGHT) * (at - self.start).total_seconds() / span, 1)


def backtest_svg(result: Backtest) -> str:
    """The timeline as a standalone SVG: verdict bands, release ticks, issue events, axis."""
    rows = result.rows
    issues = sorted({row.event.split(" ", 1)[0] for row in rows if row.kind is EventKind.ISSUE})
    height = ISSUE_Y + ISSUE_STEP * max(len(issues), 1) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        _text(LEFT, 20, _title(result), size=14, weight="bold"),
    ]
    if not rows:
        parts.append(_text(LEFT, 60, "no events in this window"))
        return "\n".join([*parts, "</svg>"]) + "\n"
    pad = max((rows[-1].at - rows[0].at) / 40, timedelta(days=1))
    scale = _Scale(rows[0].at - pad, rows[-1].at + pad)
    parts.extend(_legend())
    parts.extend(_bands(rows, scale))
    parts.extend(_release_ticks(rows, scale))
    parts.extend(_axis(scale))
    parts.extend(_issue_lanes(rows, issues, scale))
    parts.extend(_pr_markers(result.pull_requests, scale, height))
    footer = "* image push time assumed = release time" if any(r.notes for r in rows) else ""
    if footer:
        parts.append(_text(LEFT, height - 10, footer, fill="#555"))
    return "\n".join([*parts, "</svg>"]) + "\n"


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int = 11,
    weight: str = "normal",
    fill: str = "#222",
    **extra: str,
) -> str:
    attrs = "".join(f" {k.replace('_', '-')}={quoteattr(v)}" for k, v in extra.items())
    return (
        f'<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}" fill="{fill}"{attrs}>'
        f"{escape(text)}</text>"
    )


def _legend() -> list[str]:
    parts = []
    x = LEFT
    for state in (VerdictState.WAITING, VerdictState.PENDING, VerdictState.READY):
        parts.append(f'<rect x="{x}" y="32" width="12" height="12" fill="{STATE_COLOURS[state]}"/>')
        parts.append(_text(x + 16, 42, state.value))
        x += 90
    parts.append(
        f'<line x1="{x}" y1="38" x2="{x + 14}" y2="38" stroke="#1f4e79" stroke-width="2"/>'
    )
    parts.append(_text(x + 18, 42, "stable release"))
    parts.append(
        f'<line x1="{x + 120}" y1="38" x2="{x + 134}" y2="38" stroke="#8fb3d9" stroke-width="2"/>'
    )
    parts.append(_text(x + 138, 42, "prerelease / tag"))
    return parts


def _bands(rows: Sequence[Row], scale: _Scale) -> list[str]:
    parts = [_text(10, BAND_Y + 17, "verdict")]
    ends = [row.at for row in rows[1:]] + [scale.end]
    for row, end in zip(rows, ends, strict=True):
        x1, x2 = scale.x(row.at), scale.x(end)
        if x2 <= x1:
            continue
        title = f"{_when(row.at)}: {row.state.value} {_tag(row.target)}"
        parts.append(
            f'<rect x="{x1}" y="{BAND_Y}" width="{round(x2 - x1, 1)}" height="{BAND_H}" '
            f'fill="{STATE_COLOURS[row.state]}"><title>{escape(title)}</title></rect>'
        )
    return parts


def _release_ticks(rows: Sequence[Row], scale: _Scale) -> list[str]:
    kinds = {EventKind.RELEASE, EventKind.PRERELEASE, EventKind.TAG, EventKind.IMAGE}
    parts = [_text(10, 100, "releases")]
    for row in rows:
        if row.kind not in kinds:
            continue
        x = scale.x(row.at)
        stable = row.kind is EventKind.RELEASE
        colour = "#1f4e79" if stable else "#8fb3d9"
        top = 70 if stable else 85
        dash = ' stroke-dasharray="3,2"' if row.kind in {EventKind.TAG, EventKind.IMAGE} else ""
        parts.append(
            f'<line x1="{x}" y1="{top}" x2="{x}" y2="{BAND_Y}" stroke="{colour}" '
            f'stroke-width="1.5"{dash}>'
            f"<title>{escape(_when(row.at) + ' ' + row.event)}</title></line>"
        )
        if row.notes:
            parts.append(_text(x - 3, top - 2, "*", fill="#555"))
        if row.changed and row.target is not None and stable:
            parts.append(
                _text(
                    x + 3, 64, row.target.tag, fill="#1f4e79", transform=f"rotate(-30 {x + 3} 64)"
                )
            )
    return parts


def _axis(scale: _Scale) -> list[str]:
    parts = [f'<line x1="{LEFT}" y1="{AXIS_Y}" x2="{WIDTH - RIGHT}" y2="{AXIS_Y}" stroke="#444"/>']
    months = (
        12
        if (scale.end - scale.start).days > 3 * 365
        else 3
        if (scale.end - scale.start).days > 365
        else 1
    )
    tick = datetime(scale.start.year, 1, 1, tzinfo=scale.start.tzinfo)
    while tick <= scale.end:
        if tick >= scale.start:
            x = scale.x(tick)
            parts.append(f'<line x1="{x}" y1="{AXIS_Y}" x2="{x}" y2="{AXIS_Y + 5}" stroke="#444"/>')
            label = f"{tick:%Y}" if months == 12 else f"{tick:%Y-%m}"
            parts.append(_text(x - 14, AXIS_Y + 18, label, fill="#444"))
        month = tick.month - 1 + months
        tick = tick.replace(year=tick.year + month // 12, month=month % 12 + 1)
    return parts


def _issue_lanes(rows: Sequence[Row], issues: Sequence[str], scale: _Scale) -> list[str]:
    parts = []
    lanes = {number: ISSUE_Y + ISSUE_STEP * index for index, number in enumerate(issues)}
    for number, y in lanes.items():
        parts.append(_text(10, y + 4, f"issue {number}"))
        parts.append(f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#eee"/>')
    for row in rows:
        if row.kind is not EventKind.ISSUE:
            continue
        number, _, rest = row.event.partition(" ")
        kind = rest.split(" ", 1)[0].rstrip(":")
        colour = ISSUE_COLOURS.get(kind, "#95a5a6")
        parts.append(
            f'<circle cx="{scale.x(row.at)}" cy="{lanes[number]}" r="4" fill="{colour}">'
            f"<title>{escape(_when(row.at) + ' ' + row.event)}</title></circle>"
        )
    return parts


def _pr_markers(moments: Sequence[PullRequestMoment], scale: _Scale, height: int) -> list[str]:
    parts = []
    for index, moment in enumerate(moments):
        x = scale.x(moment.at)
        label = f"PR {'opened' if moment.action == 'open' else 'updated'}: {moment.target.tag}"
        # Later labels step up so close moments stay legible; near the right edge the
        # label sits left of its line instead of running off the image.
        y = BAND_Y - 10 - 12 * (index % 3)
        near_edge = x > WIDTH - RIGHT - 140
        parts.append(
            f'<line x1="{x}" y1="{y + 2}" x2="{x}" y2="{height - 30}" stroke="#2f8f57" '
            f'stroke-width="2" stroke-dasharray="6,3"/>'
        )
        parts.append(
            _text(
                x - 4 if near_edge else x + 4,
                y,
                label,
                weight="bold",
                fill="#2f8f57",
                text_anchor="end" if near_edge else "start",
            )
        )
    return parts
