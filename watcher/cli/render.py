"""Text and JSON renderings of verdicts, runs and histories (strings only; the CLI prints).

The JSON shapes are documented in README.md ("JSON output") and are a stable interface.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from watcher.core.models import Excerpt, Release, Signal, SignalName, UpgradePath, Verdict

if TYPE_CHECKING:
    from watcher.actions.planning import Plan
    from watcher.config.model import WatchConfig
    from watcher.runner.report import RunReport, WatchOutcome
    from watcher.state.deliveries import TargetStatus
    from watcher.state.store import Event, StoredVerdict

# Signals whose evidence is upstream text worth reading in the terminal (the source line
# with the marker, the changelog lines), and how many lines of it `check` shows.
QUOTED_SIGNALS = frozenset({SignalName.FEATURE, SignalName.CHANGELOG})
QUOTED_LINES = 2
# A fleet (README «Running a fleet»): above this many watches, `check` and `status` show
# one summary line per state instead of every watch's evidence; filters narrow it down.
DETAIL_LIMIT = 20
# Watch ids a summary line names before it says how many more there are.
SUMMARY_IDS = 5
# The summary's rows, in the order a verdict moves; `none`: never evaluated yet.
SUMMARY_STATES = ("waiting", "pending", "ready", "proposed", "done", "none", "error")


def summary_lines(watches: Sequence[tuple[str, str | None, bool]]) -> list[str]:
    """One line per state of ``(watch id, state or None, failed)``: how many, which.

    ``error`` counts the watches whose last evaluation failed (they also count under the
    state of their last good verdict).
    """
    groups: dict[str, list[str]] = {state: [] for state in SUMMARY_STATES}
    for watch_id, state, failed in watches:
        groups[state or "none"].append(watch_id)
        if failed:
            groups["error"].append(watch_id)
    lines = [f"{len(watches)} watch(es)"]
    for state, ids in groups.items():
        if ids:
            more = f", … (+{len(ids) - SUMMARY_IDS})" if len(ids) > SUMMARY_IDS else ""
            lines.append(f"  {state + ':':<9} {len(ids):>5}  {', '.join(ids[:SUMMARY_IDS])}{more}")
    return lines


def _summary_hint(shown: int) -> str:
    return (
        f"({shown} watches: one line per state; --state and --upstream select fewer "
        f"than {DETAIL_LIMIT + 1} for their evidence, --json gives every one)"
    )


def check_text(report: RunReport, shown: Sequence[WatchOutcome] | None = None) -> str:
    """The human table of one `watcher check` run (``shown``: the outcomes to show, all
    by default; more than DETAIL_LIMIT are summarised)."""
    outcomes = report.outcomes if shown is None else shown
    lines: list[str] = []
    if len(outcomes) > DETAIL_LIMIT:
        lines += summary_lines(
            [
                (o.watch.id, o.verdict.state.value if o.verdict else None, bool(o.error))
                for o in outcomes
            ]
        )
        lines.append(_summary_hint(len(outcomes)))
        outcomes = ()
    for outcome in outcomes:
        if outcome.error and outcome.verdict is None:
            continue  # nothing to show but the error, which the CLI prints on stderr
        head, *rest = _verdict_lines(outcome.watch, outcome.verdict)
        if outcome.error:
            head += "  (the last good verdict: this run failed, see the error below)"
        lines += [head, *rest]
        lines.append(
            f"  cost:      {outcome.requests} request(s), {outcome.not_modified} not modified, "
            f"{outcome.seconds:.2f} s"
        )
        if outcome.verdict and outcome.verdict.extra.get("pr_url"):
            extra = outcome.verdict.extra
            lines.append(f"  pull request: {extra['pr_url']} ({extra.get('pr_action', '')})")
        if outcome.plan is not None:
            lines.extend(plan_lines(outcome.plan))
    stats = report.stats
    if not lines and not stats.requests:
        return ""  # every watch failed before a single answer: the errors say it all
    remaining = "" if stats.quota_remaining is None else f", quota left {stats.quota_remaining}"
    lines.append(
        f"run {report.run_id}: {stats.requests} request(s), {stats.not_modified} answered 304, "
        f"{stats.quota_used} counted against the quota{remaining}"
    )
    return "\n".join(lines) + "\n"


def plan_lines(plan: Plan) -> list[str]:
    """What `check --plan` shows of the pull request a ready watch would get."""
    proposal = plan.proposal
    where = f"{plan.chart.repo}@{plan.files.base}"
    if not plan.bump.changed:
        return [f"  plan:      nothing to push: {where} is already at {proposal.target.tag}"]
    lines = [
        f"  plan:      pull request on {where}, branch {plan.branch}",
        f"  title:     {proposal.title}",
        *_upgrade_lines(plan.upgrade),
        "  --- body ---",
        *proposal.body.rstrip("\n").splitlines(),
    ]
    # The body normally carries the whole diff already; show it apart only when it does
    # not (a body capped for length).
    if proposal.diff.strip() not in proposal.body:
        lines += ["  --- diff ---", *proposal.diff.rstrip("\n").splitlines()]
    return [*lines, "  --- end of plan ---"]


def _upgrade_lines(upgrade: UpgradePath | None) -> list[str]:
    """One line on the releases since the chart's version (the body quotes them)."""
    if upgrade is None:
        return []
    tags = ", ".join(r.release.tag for r in upgrade.releases)
    breaking = sum(len(r.breaking) for r in upgrade.releases)
    compare = f"; {upgrade.compare_url}" if upgrade.compare_url else ""
    return [
        f"  upgrade:   from {upgrade.current_tag or upgrade.current}: {tags}; "
        f"{breaking} breaking passage(s){compare}"
    ]


def _verdict_lines(watch: WatchConfig, verdict: Verdict | None) -> list[str]:
    if verdict is None:
        return [f"{watch.id}: no verdict yet"]
    head = f"{watch.id}: {verdict.state.value.upper()}"
    if verdict.target is not None:
        head += f"  target {_release(verdict.target)}"
    lines = [head]
    for signal in verdict.signals:
        status = signal.status_for(watch.required)
        lines.append(f"  {signal.name.value + ':':<10} [{status}] {signal.summary}")
        if signal.name in QUOTED_SIGNALS:
            lines.extend(f"{'':13}{line}" for line in signal.evidence[:QUOTED_LINES])
    lines.extend(f"  {reason}" for reason in verdict.reasons if reason.startswith("note:"))
    return lines


def _release(release: Release) -> str:
    date = f" ({release.published_at:%Y-%m-%d})" if release.published_at else ""
    return f"{release.tag}{date}"


def check_json(report: RunReport, code: int, shown: Sequence[WatchOutcome] | None = None) -> str:
    """The JSON document of one `watcher check` run (``shown``: its watches, default all)."""
    doc = {
        "exit_code": code,
        "run_id": report.run_id,
        "requests": {
            "total": report.stats.requests,
            "not_modified": report.stats.not_modified,
            "quota_used": report.stats.quota_used,
            "quota_remaining": report.stats.quota_remaining,
        },
        "watches": [_outcome_doc(o) for o in (report.outcomes if shown is None else shown)],
    }
    return json.dumps(doc, indent=2)


def _outcome_doc(outcome: WatchOutcome) -> dict[str, Any]:
    doc = verdict_doc(outcome.watch.id, outcome.verdict)
    for signal in doc["signals"]:
        signal["required"] = signal["name"] in outcome.watch.required
    doc["error"] = outcome.error
    doc["hint"] = outcome.hint if outcome.error else None
    plan = outcome.plan
    if plan is not None:
        doc["plan"] = {
            "repo": plan.chart.repo,
            "base": plan.files.base,
            "branch": plan.branch,
            "title": plan.proposal.title,
            "body": plan.proposal.body,
            "diff": plan.proposal.diff,
            "files": sorted(plan.proposal.files),
            "upgrade": _upgrade_doc(plan.upgrade),
        }
    return doc


def _upgrade_doc(upgrade: UpgradePath | None) -> dict[str, Any] | None:
    """The releases since the chart's version, with their breaking passages (raw text)."""
    if upgrade is None:
        return None

    def excerpts(items: Sequence[Excerpt], text: bool) -> list[dict[str, str]]:
        return [
            {"title": e.title, "url": e.url} | ({"text": e.text} if text else {}) for e in items
        ]

    return {
        "from": upgrade.current,
        "from_tag": upgrade.current_tag,
        "compare_url": upgrade.compare_url,
        "releases": [
            {
                **(_release_doc(r.release) or {}),
                "breaking": excerpts(r.breaking, text=True),
                "notes": excerpts(r.notes, text=False),
            }
            for r in upgrade.releases
        ],
    }


def verdict_doc(watch_id: str, verdict: Verdict | None) -> dict[str, Any]:
    """A verdict as a JSON-able dict (``state`` null when none was recorded yet)."""
    if verdict is None:
        return {"id": watch_id, "state": None, "target": None, "signals": [], "reasons": []}
    return {
        "id": watch_id,
        "state": verdict.state.value,
        "target": _release_doc(verdict.target),
        "signals": [_signal_doc(s) for s in verdict.signals],
        "reasons": list(verdict.reasons),
        "evaluated_at": _iso(verdict.evaluated_at),
        "pull_request": verdict.extra.get("pr_url") or None,
        "changed_at": _iso(verdict.changed_at),
    }


def _release_doc(release: Release | None) -> dict[str, Any] | None:
    if release is None:
        return None
    return {
        "tag": release.tag,
        "version": release.version,
        "url": release.url,
        "published_at": _iso(release.published_at),
    }


def _signal_doc(signal: Signal) -> dict[str, Any]:
    return {
        "name": signal.name.value,
        "status": signal.status.value,
        "summary": signal.summary,
        "evidence": list(signal.evidence),
        "release": signal.release_tag,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


StatusRow = tuple["WatchConfig", "StoredVerdict | None", "str | None"]
"""One watch in `watcher status`: its config, stored verdict and the last error's hint."""


def status_text(
    rows: Sequence[StatusRow], targets: Sequence[TargetStatus] = (), warning: str | None = None
) -> str:
    """`watcher status`: a warning if any (a skewed clock), the last recorded verdict of
    every watch (a summary line per state above DETAIL_LIMIT watches), then Apprise targets."""
    lines: list[str] = [f"warning: {warning}"] if warning else []
    if len(rows) > DETAIL_LIMIT:
        lines += summary_lines(
            [
                (w.id, s.verdict.state.value if s and s.verdict else None, bool(s and s.error))
                for w, s, _ in rows
            ]
        )
        lines.append(_summary_hint(len(rows)))
        rows = ()
    for watch, stored, hint in rows:
        lines.extend(_verdict_lines(watch, stored.verdict if stored else None))
        verdict = stored.verdict if stored else None
        if verdict and verdict.changed_at:
            lines.append(f"  since:     {verdict.changed_at:%Y-%m-%d %H:%M:%S %Z}")
        if verdict and verdict.extra.get("pr_url"):
            lines.append(f"  pull request: {verdict.extra['pr_url']}")
        if stored and stored.error:
            lines.append(f"  error:     {stored.error} (at {_iso(stored.error_at)})")
            if hint:
                lines.append(f"  hint:      {hint}")
    lines.extend(_target_lines(targets))
    return "\n".join(lines)


def _target_lines(targets: Sequence[TargetStatus]) -> list[str]:
    lines = []
    for t in targets:
        state = "UNDELIVERABLE" if t.undeliverable else "failing" if t.last_error else "ok"
        line = f"notify {t.label}: {state}, {t.pending} waiting"
        if t.failing_since is not None:
            line += f", failing since {t.failing_since:%Y-%m-%d %H:%M:%S %Z}"
            line += f" ({t.attempts} attempt(s))"
        lines.append(line)
        if t.last_error:
            lines.append(f"  last error: {t.last_error}")
    return lines


def status_json(
    rows: Sequence[StatusRow],
    targets: Sequence[TargetStatus] = (),
    warning: str | None = None,
) -> str:
    """`watcher status --json`: the entries of `check --json` plus ``error_at``,
    ``notifications`` (one object per Apprise target) and ``warnings`` (a skewed clock)."""
    docs = []
    for watch, stored, hint in rows:
        doc = verdict_doc(watch.id, stored.verdict if stored else None)
        doc["error"] = stored.error if stored else None
        doc["hint"] = hint if stored and stored.error else None
        doc["error_at"] = _iso(stored.error_at) if stored else None
        docs.append(doc)
    notifications = [
        {
            "target": t.label,
            "pending": t.pending,
            "undeliverable": t.undeliverable,
            "attempts": t.attempts,
            "failing_since": _iso(t.failing_since),
            "last_error": t.last_error,
        }
        for t in targets
    ]
    doc = {
        "watches": docs,
        "notifications": notifications,
        "warnings": [warning] if warning else [],
    }
    return json.dumps(doc, indent=2)


def history_text(watch_id: str, events: Sequence[Event]) -> str:
    """`watcher history WATCH`: a header, then one line per transition, oldest first.

    The first verdict has no "from"; a target shows as ``old -> new`` only when it moved.
    """
    if not events:
        return f"{watch_id}: no transitions recorded yet"
    rows = [("date (UTC)", "state", "target")]
    for e in events:
        state = e.to_state if e.from_state is None else f"{e.from_state} -> {e.to_state}"
        rows.append((f"{e.at:%Y-%m-%d %H:%M:%S}", state, _moved(e.from_target, e.to_target)))
    width = max(len(state) for _, state, _ in rows)
    lines = [f"{at:<19}  {state:<{width}}  {target}".rstrip() for at, state, target in rows]
    return f"{watch_id}: {len(events)} transition(s)\n" + "\n".join(lines)


def _moved(before: str | None, after: str | None) -> str:
    if before == after or before is None:
        return after or ""
    return f"{before} -> {after or 'none'}"


def history_json(events: Sequence[Event]) -> str:
    """`watcher history WATCH --json`."""
    return json.dumps(
        [
            {
                "id": e.id,
                "at": _iso(e.at),
                "from_state": e.from_state,
                "to_state": e.to_state,
                "from_target": e.from_target,
                "to_target": e.to_target,
                "detail": e.detail,
            }
            for e in events
        ],
        indent=2,
    )
