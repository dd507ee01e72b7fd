"""The dashboard issue: one per watcher in the chart repository, body rewritten in place.

Found by a hidden marker (or the number remembered in the database), created once,
and edited only when its rendered content changes: the body shows when each watch
last *changed*, never when it was last checked, so an idle poll writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from github.Issue import Issue
from github.Repository import Repository

from watcher.actions.sanitize import sanitize
from watcher.config import WatchConfig
from watcher.github.writes import GitHubWriter
from watcher.models import Verdict
from watcher.state.deliveries import TargetStatus

DASHBOARD_MARK = "<!-- watcher:dashboard -->"


def render_dashboard(
    rows: Sequence[tuple[WatchConfig, Verdict | None, str | None]],
    targets: Sequence[TargetStatus] = (),
) -> str:
    """The dashboard body for (watch, last verdict, current error) rows. Pure.

    Apprise ``targets`` that cannot deliver are listed with when that began, never with
    an attempt count, so a failing target does not make every poll edit the issue.
    """
    lines = [
        DASHBOARD_MARK,
        "This issue is maintained by watcher: it shows what each watch is waiting for.",
        "",
        "| watch | state | target | since | pull request |",
        "|---|---|---|---|---|",
    ]
    for watch, verdict, _ in rows:
        if verdict is None:
            lines.append(f"| `{watch.id}` | no verdict yet | | | |")
            continue
        target = f"[{verdict.target.tag}]({verdict.target.url})" if verdict.target else ""
        since = f"{verdict.changed_at:%Y-%m-%d %H:%M} UTC" if verdict.changed_at else ""
        pr = verdict.extra.get("pr_url", "")
        pr_cell = f"[#{verdict.extra.get('pr_number', '')}]({pr})" if pr else ""
        lines.append(
            f"| `{watch.id}` | **{verdict.state.value}** | {target} | {since} | {pr_cell} |"
        )
    for watch, verdict, error in rows:
        lines += [
            "",
            f"### `{watch.id}`: {sanitize(watch.description or watch.repo, watch.repo, 300)}",
            "",
        ]
        if verdict is not None:
            lines += [
                f"- {s.name.value}: {s.status.value}: {sanitize(s.summary, watch.repo, 400)}"
                for s in verdict.signals
            ]
        if error:
            lines.append(f"- error: {sanitize(error, watch.repo, 400)}")
    lines += _undeliverable(targets)
    return "\n".join(lines) + "\n"


def _undeliverable(targets: Sequence[TargetStatus]) -> list[str]:
    stuck = [t for t in targets if t.undeliverable]
    if not stuck:
        return []
    lines = ["", "### notifications that cannot be delivered", ""]
    for t in stuck:
        since = f"{t.failing_since:%Y-%m-%d %H:%M} UTC" if t.failing_since else "?"
        lines.append(
            f"- `{t.label}`: failing since {since}, {t.undeliverable} notification(s) waiting; "
            "see `watcher status` for the last error"
        )
    return lines


def body_hash(body: str) -> str:
    """A short hash of a body, stored to know whether an edit is needed."""
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def find_or_create(
    writer: GitHubWriter, repo: Repository, title: str, body: str, known: int | None
) -> tuple[Issue, bool]:
    """The dashboard issue (by remembered number, else by marker), created if missing."""
    if known is not None:
        issue = writer.call("read dashboard", lambda: repo.get_issue(known), write=False)
        if DASHBOARD_MARK in (issue.body or "") and issue.state == "open":
            return issue, False
    found = writer.call(
        "find dashboard",
        lambda: next(
            (i for i in repo.get_issues(state="open") if DASHBOARD_MARK in (i.body or "")), None
        ),
        write=False,
    )
    if found is not None:
        return found, False
    return writer.call("create dashboard", lambda: repo.create_issue(title=title, body=body)), True
