"""The dashboard issue: one per watcher in the chart repository, body rewritten in place.

Found by the number remembered in the database, else by a hidden marker in an open issue
that watcher's own login opened (a stranger's issue with the marker is never adopted),
created once under a database claim, and edited only when its rendered content changes:
the body shows when each watch last *changed*, never when it was last checked, so an
idle poll writes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from watcher.config.model import WatchConfig
from watcher.core.models import Verdict
from watcher.core.sanitize import sanitize
from watcher.net.retry import done, found
from watcher.state.deliveries import TargetStatus

if TYPE_CHECKING:
    # Types only: an idle cycle renders the dashboard to compare its hash without
    # loading PyGithub (about 20 MiB), which only a write needs.
    from github.Issue import Issue
    from github.Repository import Repository

    from watcher.net.github_write import GitHubWriter

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


def is_ours(issue: Issue, author: str) -> bool:
    """Whether ``issue`` is an open dashboard opened by ``author`` (watcher's own login).

    The marker alone proves nothing: anyone can paste it into an issue, and watcher must
    not rewrite or comment on a stranger's issue.
    """
    return (
        issue.state == "open"
        and DASHBOARD_MARK in (issue.body or "")
        and issue.user is not None
        and issue.user.login.lower() == author.lower()
    )


def find(writer: GitHubWriter, repo: Repository, author: str) -> Issue | None:
    """The open dashboard issue ``author`` opened in ``repo``, found by marker (a read)."""
    return writer.call(
        "find dashboard",
        lambda: next(
            # Filtered here, not with ``creator=``: how GitHub spells an App's bot in that
            # filter is not documented, the login on each issue is.
            (i for i in repo.get_issues(state="open") if is_ours(i, author)),
            None,
        ),
        write=False,
    )


def find_or_create(
    writer: GitHubWriter,
    repo: Repository,
    title: str,
    body: str,
    known: int | None,
    claim: Callable[[], bool],
) -> tuple[Issue, bool] | None:
    """The dashboard issue (by remembered number, else by marker and author), created if missing.

    ``claim`` is asked before searching and creating: it is true for one process at a
    time (a database claim that expires), so two processes never both create one. Without
    it this returns None: another process is creating the dashboard right now, and the
    next cycle finds it.
    """
    if known is not None:
        issue = writer.call("read dashboard", lambda: repo.get_issue(known), write=False)
        # Remembered because watcher created or adopted it (under the author check
        # below), so the login is not asked again on every cycle.
        if issue.state == "open" and DASHBOARD_MARK in (issue.body or ""):
            return issue, False
    if not claim():
        return None
    author = writer.identity()
    found = find(writer, repo, author)
    if found is not None:
        return found, False
    issue = writer.call(
        "create dashboard",
        lambda: repo.create_issue(title=title, body=body),
        lookup=lambda: find(writer, repo, author),
    )
    return issue, True


def edit_body(writer: GitHubWriter, repo: Repository, issue: Issue, body: str) -> None:
    """Rewrite the dashboard's body; after a lost answer, re-read it before editing again."""

    def lookup() -> bool | None:
        return found((repo.get_issue(issue.number).body or "") == body)

    writer.call("update dashboard", done(lambda: issue.edit(body=body)), lookup=lookup)
