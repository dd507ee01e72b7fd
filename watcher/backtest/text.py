"""Text and JSON renderings of a :class:`~watcher.backtest.replay.Backtest` (strings only).

The JSON shape is documented in ``docs/backtest.md`` and is a stable interface. The SVG
picture is :mod:`watcher.backtest.svg`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from watcher.backtest.replay import Backtest, PullRequestMoment, Row
from watcher.core.models import Release, Signal


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
    lines = [title_line(result), _table_line(header, widths)]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(_table_line(c, widths) for c in cells)
    lines.append("")
    lines.extend(_conclusions(result))
    return "\n".join(lines) + "\n"


def title_line(result: Backtest) -> str:
    """The first line of every rendering: watch, repository, window and row count."""
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
    graph = result.commit_graph
    if graph is not None:
        lines.append(f"commit graph: {graph.summary}")
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
        "commit_graph": _signal(result.commit_graph),
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


def _signal(signal: Signal | None) -> dict[str, Any] | None:
    if signal is None:
        return None
    return {
        "status": signal.status.value,
        "summary": signal.summary,
        "evidence": list(signal.evidence),
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
