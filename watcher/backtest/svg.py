"""The backtest timeline as a standalone SVG, laid out for a PNG or a Markdown embed.

Written by hand (no plotting library: the picture is simple and hand-written SVG is
deterministic, so tests can compare it). Everything a reader needs is on the picture,
not in tooltips, which a PNG or a Markdown embed loses:

- every release, prerelease, tag and image push is labelled; labels are laid out in
  rows so that no two overlap and no leader line crosses a label (text widths come
  from :data:`_ADVANCE`, the DejaVu Sans metrics most Linux systems render sans-serif
  with, and the widest common one);
- the axis runs to the end of the window (``--to``, else the day of the run), so the
  final state shows for as long as it has lasted; idle stretches longer than an eighth
  of the window are drawn shortened, marked with a break on the axis;
- the legend explains every colour: verdict states, release kinds, issue events, the
  pull request line, and ``*`` (image push time assumed) when a label carries it;
- simultaneous issue events are nudged apart so every dot stays visible.

The output depends only on the :class:`~watcher.backtest.replay.Backtest` and ``end``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from watcher.backtest.replay import ASSUMED_IMAGE_TIME, Backtest, EventKind, PullRequestMoment, Row
from watcher.backtest.text import title_line
from watcher.core.models import VerdictState

STATE_COLOURS = {
    VerdictState.WAITING: "#c8ccd2",
    VerdictState.PENDING: "#f4b740",
    VerdictState.READY: "#43b36a",
    VerdictState.PROPOSED: "#2f8f57",
    VerdictState.DONE: "#1f6f43",
}
ISSUE_COLOURS = {
    "opened": "#5b7db1",
    "referenced": "#9b59b6",
    "closed": "#c0392b",
    "reopened": "#e67e22",
}
STABLE, PRERELEASE, IMAGE, PR = "#1f4e79", "#6f9fd0", "#2e8b8b", "#2f8f57"

WIDTH = 1200
LEFT, RIGHT = 100, 24
PLOT_W = WIDTH - LEFT - RIGHT
FONT = 11
ROW_H = 15  # one row of labels
BAND_H = 26
ISSUE_STEP = 22
DOT_R = 4.0
MIN_PHASE = 4.0  # the least width of a verdict phase, however short
LABEL_GAP = 6.0  # the least horizontal space between two labels in one row

# Advance widths of DejaVu Sans (regular, bold) for ASCII 32..126 in 1/1000 em,
# measured with cairo's text_extents; other characters count as a full em.
_ADVANCE = {
    "normal": (
        318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337,
        636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531,
        1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787,
        603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500,
        500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612,
        635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
    ),
    "bold": (
        348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365,
        696, 696, 696, 696, 696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580,
        1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775, 637, 995, 837, 850,
        733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500,
        500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687,
        716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
    ),
}  # fmt: skip


def text_width(text: str, size: float = FONT, weight: str = "normal") -> float:
    """The width of ``text`` in pixels as DejaVu Sans renders it (an upper bound elsewhere)."""
    table = _ADVANCE[weight]
    units = sum(table[ord(c) - 32] if 32 <= ord(c) < 127 else 1000 for c in text)
    return units * size / 1000


# -- the time scale ------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """Time to x: linear, except idle stretches longer than ``long_gap``, shortened."""

    start: datetime
    end: datetime
    knots: tuple[datetime, ...]
    long_gap: timedelta

    @classmethod
    def for_times(cls, times: Sequence[datetime], end: datetime) -> Scale:
        """A scale over ``times`` (sorted) that runs on to ``end``, with a margin each side."""
        span = max(end - times[0], timedelta(days=1))
        pad = max(span / 60, timedelta(hours=12))
        start, end = times[0] - pad, max(end, times[-1] + pad)
        knots = tuple(sorted({start, *times, end}))
        return cls(start, end, knots, max((end - start) / 8, timedelta(days=2)))

    def _shown(self, gap: timedelta) -> timedelta:
        return gap if gap <= self.long_gap else self.long_gap / 2

    @property
    def breaks(self) -> list[tuple[datetime, datetime]]:
        """The idle stretches drawn shortened."""
        pairs = zip(self.knots, self.knots[1:], strict=False)
        return [(a, b) for a, b in pairs if b - a > self.long_gap]

    def _before(self, at: datetime) -> timedelta:
        shown = timedelta(0)
        for a, b in zip(self.knots, self.knots[1:], strict=False):
            if at <= a:
                break
            gap = b - a
            part = min(at, b) - a
            shown += part if gap <= self.long_gap else self._shown(gap) * (part / gap)
        return shown

    def x(self, at: datetime) -> float:
        """The x coordinate of ``at``."""
        total = self._before(self.end) or timedelta(seconds=1)
        return round(LEFT + PLOT_W * (self._before(at) / total), 1)

    def in_break(self, at: datetime) -> bool:
        """Whether ``at`` lies inside a shortened stretch (where axis ticks are omitted)."""
        return any(a < at < b for a, b in self.breaks)


# -- label layout --------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """A label for the point ``anchor``: its text, colour and weight."""

    anchor: float
    text: str
    fill: str
    weight: str = "normal"


@dataclass(frozen=True)
class Placed:
    """A label placed: its row (0 nearest the points) and left edge."""

    label: Label
    row: int
    left: float

    @property
    def right(self) -> float:
        """The right edge of its text."""
        return self.left + text_width(self.label.text, weight=self.label.weight)


def place_labels(labels: Sequence[Label]) -> list[Placed]:
    """Rows for ``labels`` so that no two overlap: each in the lowest row with room.

    A label is centred on its anchor, or starts or ends there, whichever first fits in
    its row without covering another label's anchor (where the reader would take it for
    that point's label); only when no row up to :data:`_MAX_ROWS` allows that does it
    settle for any free place. Leader lines of labels in higher rows pass behind the
    labels below, drawn on a white box (see :func:`_label`), so no line crosses a text.
    Deterministic: sorted by anchor.
    """
    ordered = sorted(labels, key=lambda lab: (lab.anchor, lab.text))
    anchors = [lab.anchor for lab in ordered]
    placed: list[Placed] = []
    for label in ordered:
        width = text_width(label.text, weight=label.weight)
        lefts = [
            round(min(max(left, 4.0), WIDTH - 4.0 - width), 1)
            for left in (label.anchor - width / 2, label.anchor - 4, label.anchor + 4 - width)
        ]
        spot = next(
            (row, left)
            for strict in (True, False)
            for row in range(_MAX_ROWS if strict else len(ordered) + 1)
            for left in lefts
            if _free(placed, row, left, left + width)
            and not (strict and _covers(anchors, label.anchor, left, left + width))
        )
        placed.append(Placed(label, *spot))
    return placed


#: Rows a label may climb to stay off other anchors before it gives that up.
_MAX_ROWS = 4


def _free(placed: Sequence[Placed], row: int, left: float, right: float) -> bool:
    return not any(
        p.row == row and left < p.right + LABEL_GAP and p.left < right + LABEL_GAP for p in placed
    )


def _covers(anchors: Sequence[float], own: float, left: float, right: float) -> bool:
    # Anchors within a few pixels of its own (simultaneous events) cannot be avoided.
    return any(left - 2 <= a <= right + 2 and abs(a - own) > 3 for a in anchors)


def _label(placed: Placed, baseline: float) -> list[str]:
    """A placed label on a white box that hides the leader lines passing behind it."""
    width = placed.right - placed.left
    return [
        f'<rect x="{placed.left - 2}" y="{baseline - FONT}" width="{round(width + 4, 1)}" '
        f'height="{FONT + 4}" fill="white"/>',
        _text(
            placed.left,
            baseline,
            placed.label.text,
            fill=placed.label.fill,
            weight=placed.label.weight,
        ),
    ]


# -- the picture ---------------------------------------------------------------------


def backtest_svg(result: Backtest, end: datetime | None = None) -> str:
    """The timeline as a standalone SVG (``end``: where the axis stops, default the window's)."""
    rows = result.rows
    if not rows:
        height = 60.0
        parts = [_open(height), _text(LEFT, 22, title_line(result), size=14, weight="bold")]
        parts.append(_text(LEFT, 44, "no events in this window"))
        return "\n".join([*parts, "</svg>"]) + "\n"
    stop = result.until or end or rows[-1].at
    scale = Scale.for_times([row.at for row in rows], max(stop, rows[-1].at))
    release_labels = place_labels(_release_labels(rows, scale))
    pr_labels = place_labels(_pr_labels(result.pull_requests, scale))
    issues = sorted({row.event.split(" ", 1)[0] for row in rows if row.kind is EventKind.ISSUE})

    legend, legend_bottom = _legend(rows, result.pull_requests, scale)
    label_rows = 1 + max((p.row for p in release_labels), default=0)
    ticks_top = legend_bottom + 14 + label_rows * ROW_H
    band_y = ticks_top + 30
    axis_y = band_y + BAND_H + 6
    pr_y = axis_y + 40
    pr_rows = 1 + max((p.row for p in pr_labels), default=0)
    issue_y = pr_y + pr_rows * ROW_H + 20
    height = issue_y + ISSUE_STEP * len(issues) + 6

    parts = [_open(height), _text(LEFT, 22, title_line(result), size=14, weight="bold")]
    parts += legend
    parts += _release_lane(rows, scale, release_labels, ticks_top, band_y)
    parts += _bands(rows, scale, band_y)
    # The pull request lines cross the axis: drawn first, the axis labels hide them.
    parts += _pr_lane(result.pull_requests, scale, pr_labels, band_y, pr_y)
    parts += _axis(scale, axis_y)
    parts += _breaks(scale, band_y, axis_y)
    parts += _issue_lanes(rows, issues, scale, issue_y)
    return "\n".join([*parts, "</svg>"]) + "\n"


def _open(height: float) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="{FONT}">\n'
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>'
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int = FONT,
    weight: str = "normal",
    fill: str = "#222",
    **extra: str,
) -> str:
    attrs = "".join(f" {k.replace('_', '-')}={quoteattr(v)}" for k, v in extra.items())
    return (
        f'<text x="{x}" y="{y}" font-size="{size}" font-weight="{weight}" fill="{fill}"{attrs}>'
        f"{escape(text)}</text>"
    )


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M}"


def _assumed(row: Row) -> bool:
    return ASSUMED_IMAGE_TIME in row.notes


def _legend(
    rows: Sequence[Row], moments: Sequence[PullRequestMoment], scale: Scale
) -> tuple[list[str], float]:
    """Legend items flowing in rows under the title; returns the parts and its bottom."""
    items: list[tuple[str, str, str, str]] = [  # (symbol, colour, dash, text)
        ("box", STATE_COLOURS[s], "", s.value)
        for s in VerdictState
        if any(r.state is s for r in rows)
    ]
    kinds = {row.kind for row in rows}
    for kind, colour, dash, text in (
        (EventKind.RELEASE, STABLE, "", "stable release"),
        (EventKind.PRERELEASE, PRERELEASE, "", "prerelease"),
        (EventKind.TAG, PRERELEASE, "3,2", "tag without release"),
        (EventKind.IMAGE, IMAGE, "2,2", "image pushed"),
    ):
        if kind in kinds:
            items.append(("line", colour, dash, text))
    issue_kinds = {_issue_kind(r.event) for r in rows if r.kind is EventKind.ISSUE}
    items += [
        ("dot", colour, "", f"issue {kind}")
        for kind, colour in ISSUE_COLOURS.items()
        if kind in issue_kinds
    ]
    if moments:
        items.append(("line", PR, "6,3", "pull request opened / updated"))
    if any(_assumed(r) for r in rows if r.kind is EventKind.RELEASE):
        items.append(("", "", "", "* image push time assumed = release time"))
    if scale.breaks:
        items.append(("", "", "", "// idle time shortened"))
    parts, x, y0 = [], float(LEFT), 34.0
    for symbol, colour, dash, text in items:
        width = (18 if symbol else 0) + text_width(text) + 18
        if x + width > WIDTH - RIGHT:
            x, y0 = float(LEFT), y0 + ROW_H + 3
        parts += _symbol(symbol, colour, dash, x, y0)
        parts.append(_text(x + (18 if symbol else 0), y0 + 10, text))
        x += width
    return parts, y0 + 12


def _symbol(symbol: str, colour: str, dash: str, x: float, y0: float) -> list[str]:
    if symbol == "box":
        return [f'<rect x="{x}" y="{y0}" width="12" height="12" fill="{colour}"/>']
    if symbol == "dot":
        return [f'<circle cx="{x + 6}" cy="{y0 + 6}" r="{DOT_R}" fill="{colour}"/>']
    if symbol == "line":
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        return [
            f'<line x1="{x}" y1="{y0 + 6}" x2="{x + 14}" y2="{y0 + 6}" stroke="{colour}" '
            f'stroke-width="2"{dashes}/>'
        ]
    return []


def _release_labels(rows: Sequence[Row], scale: Scale) -> list[Label]:
    labels = []
    for row in rows:
        x = scale.x(row.at)
        if row.kind is EventKind.RELEASE:
            tag = row.event.split(" ", 1)[0]
            target = row.changed and row.target is not None and row.target.tag == tag
            text = tag + ("*" if _assumed(row) else "")
            labels.append(Label(x, text, STABLE, "bold" if target else "normal"))
        elif row.kind is EventKind.PRERELEASE:
            labels.append(Label(x, row.event.split(" ", 1)[0], PRERELEASE))
        elif row.kind is EventKind.TAG:
            labels.append(Label(x, row.event.split(" ", 2)[1], PRERELEASE))
        elif row.kind is EventKind.IMAGE:
            reference = row.event.split(" ", 2)[1]
            labels.append(Label(x, "image " + reference.rsplit(":", 1)[-1], IMAGE))
    return labels


def _release_lane(
    rows: Sequence[Row], scale: Scale, labels: Sequence[Placed], ticks_top: float, band_y: float
) -> list[str]:
    parts = [_text(10, band_y - 12, "releases")]
    styles = {
        EventKind.RELEASE: (STABLE, ""),
        EventKind.PRERELEASE: (PRERELEASE, ""),
        EventKind.TAG: (PRERELEASE, ' stroke-dasharray="3,2"'),
        EventKind.IMAGE: (IMAGE, ' stroke-dasharray="2,2"'),
    }
    for row in rows:
        if row.kind not in styles:
            continue
        colour, dash = styles[row.kind]
        x = scale.x(row.at)
        parts.append(
            f'<line x1="{x}" y1="{band_y - 22}" x2="{x}" y2="{band_y}" stroke="{colour}" '
            f'stroke-width="1.5"{dash}><title>{escape(_when(row.at) + " " + row.event)}</title>'
            "</line>"
        )
    for placed in labels:
        x = placed.label.anchor
        parts.append(
            f'<line x1="{x}" y1="{ticks_top - placed.row * ROW_H}" x2="{x}" y2="{band_y - 22}" '
            f'stroke="{placed.label.fill}" stroke-width="0.7" stroke-opacity="0.7"/>'
        )
    for placed in labels:
        parts += _label(placed, ticks_top - placed.row * ROW_H)
    return parts


def _bands(rows: Sequence[Row], scale: Scale, band_y: float) -> list[str]:
    """One rectangle per phase (same state and target); a short phase is widened to
    :data:`MIN_PHASE` pixels so that a pending day in years of history still shows."""
    parts = [_text(10, band_y + 17, "verdict")]
    phases = [r for i, r in enumerate(rows) if i == 0 or _phase(rows[i - 1]) != _phase(r)]
    ends = [row.at for row in phases[1:]] + [scale.end]
    cursor = float(LEFT)
    for row, end in zip(phases, ends, strict=True):
        x1 = max(scale.x(row.at), cursor)
        x2 = max(scale.x(end), x1 + MIN_PHASE) if end > row.at else x1
        if x2 <= x1:
            continue
        cursor = x2
        target = row.target.tag if row.target is not None else "-"
        title = f"from {_when(row.at)}: {row.state.value} {target}"
        parts.append(
            f'<rect x="{x1}" y="{band_y}" width="{round(x2 - x1, 1)}" height="{BAND_H}" '
            f'fill="{STATE_COLOURS[row.state]}"><title>{escape(title)}</title></rect>'
        )
    return parts


def _phase(row: Row) -> tuple[VerdictState, str | None]:
    return row.state, row.target.tag if row.target is not None else None


def _axis(scale: Scale, axis_y: float) -> list[str]:
    parts = [f'<line x1="{LEFT}" y1="{axis_y}" x2="{WIDTH - RIGHT}" y2="{axis_y}" stroke="#444"/>']
    linear_days = (scale.x(scale.start + scale.long_gap) - LEFT) / scale.long_gap.days or 1
    label_w = text_width("2024-05") + 14
    months = next((m for m in (1, 2, 3, 6, 12) if m * 30.4 * linear_days >= label_w), 24)
    tick = datetime(scale.start.year, 1, 1, tzinfo=UTC)
    last_right = -1e9
    while tick <= scale.end:
        if tick >= scale.start and not scale.in_break(tick):
            x = scale.x(tick)
            label = f"{tick:%Y}" if months >= 12 else f"{tick:%Y-%m}"
            width = text_width(label)
            left = min(x - width / 2, WIDTH - 2 - width)
            if left > last_right + 8:
                parts.append(
                    f'<line x1="{x}" y1="{axis_y}" x2="{x}" y2="{axis_y + 5}" stroke="#444"/>'
                )
                parts.append(
                    f'<rect x="{round(left - 2, 1)}" y="{axis_y + 7}" '
                    f'width="{round(width + 4, 1)}" height="{FONT + 4}" fill="white"/>'
                )
                parts.append(_text(round(left, 1), axis_y + 18, label, fill="#444"))
                last_right = left + width
        month = tick.month - 1 + months
        tick = tick.replace(year=tick.year + month // 12, month=month % 12 + 1)
    return parts


def _breaks(scale: Scale, band_y: float, axis_y: float) -> list[str]:
    parts = []
    for a, b in scale.breaks:
        x = round((scale.x(a) + scale.x(b)) / 2, 1)
        parts.append(
            f'<rect x="{x - 3}" y="{band_y - 1}" width="6" height="{axis_y - band_y + 3}" '
            'fill="white"/>'
        )
        for dx in (-3, 3):
            parts.append(
                f'<line x1="{x + dx - 3}" y1="{axis_y + 5}" x2="{x + dx + 3}" y2="{band_y - 3}" '
                'stroke="#777" stroke-width="1"/>'
            )
    return parts


def _pr_labels(moments: Sequence[PullRequestMoment], scale: Scale) -> list[Label]:
    return [
        Label(
            scale.x(m.at),
            f"PR {'opened' if m.action == 'open' else 'updated'}: {m.target.tag}",
            PR,
            "bold",
        )
        for m in moments
    ]


def _pr_lane(
    moments: Sequence[PullRequestMoment],
    scale: Scale,
    labels: Sequence[Placed],
    band_y: float,
    pr_y: float,
) -> list[str]:
    if not moments:
        return []
    parts = [_text(10, pr_y, "pull request")]
    # Lines first, then the labels on their white boxes: a line to a lower row passes
    # behind the labels above it instead of through their text.
    for placed in labels:
        x = placed.label.anchor
        bottom = pr_y + placed.row * ROW_H - FONT
        parts.append(
            f'<line x1="{x}" y1="{band_y - 4}" x2="{x}" y2="{bottom}" stroke="{PR}" '
            f'stroke-width="2" stroke-dasharray="6,3"/>'
        )
    for placed in labels:
        parts += _label(placed, pr_y + placed.row * ROW_H)
    return parts


def _issue_kind(event: str) -> str:
    return event.split(" ", 2)[1].rstrip(":") if " " in event else ""


def _issue_lanes(
    rows: Sequence[Row], issues: Sequence[str], scale: Scale, issue_y: float
) -> list[str]:
    parts = []
    lanes = {number: issue_y + ISSUE_STEP * index for index, number in enumerate(issues)}
    for number, y in lanes.items():
        parts.append(_text(10, y + 4, f"issue {number}"))
        parts.append(f'<line x1="{LEFT}" y1="{y}" x2="{WIDTH - RIGHT}" y2="{y}" stroke="#eee"/>')
    last_x: dict[str, float] = {}
    for row in rows:
        if row.kind is not EventKind.ISSUE:
            continue
        number = row.event.split(" ", 1)[0]
        # Events at (nearly) the same time are nudged right so that every dot shows.
        x = max(scale.x(row.at), last_x.get(number, -1e9) + 2 * DOT_R + 1.5)
        last_x[number] = x
        colour = ISSUE_COLOURS.get(_issue_kind(row.event), "#95a5a6")
        parts.append(
            f'<circle cx="{round(x, 1)}" cy="{lanes[number]}" r="{DOT_R}" fill="{colour}">'
            f"<title>{escape(_when(row.at) + ' ' + row.event)}</title></circle>"
        )
    return parts
