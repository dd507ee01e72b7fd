"""The dashboard issue: one per watcher instance in the chart repository, rewritten in place.

Its hidden markers name the instance (``config.instance``), so two instances on one
repository keep their own dashboards; an issue with the marker of older versions (no
instance) belongs to the instance named ``watcher`` only, the default. Found by the
number remembered in the database, else by its markers in an open issue that watcher's
own login opened (a stranger's issue with the marker is never adopted), created once
under a database claim. The body shows when each watch last *changed* and, refreshed at
most hourly, when this instance last finished a cycle (a stopped watcher shows); so an
idle poll writes nothing. It never exceeds GitHub's 65,536 characters: a large fleet is
summarised (counts per state; ready, proposed and failing watches listed, the others
folded).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import datetime
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
INSTANCE_MARK = "<!-- watcher:instance={instance} -->"
# The instance that adopts a dashboard of older versions, whose marker names none.
LEGACY_INSTANCE = "watcher"
# GitHub refuses an issue body above 65,536 characters.
BODY_LIMIT = 65_536
_INSTANCE_RE = re.compile(r"<!-- watcher:instance=(?P<name>[^\s>]+) -->")

Row = tuple[WatchConfig, Verdict | None, str | None]


def is_dashboard(body: str | None, instance: str) -> bool:
    """Whether ``body`` is the dashboard of ``instance`` (by its markers alone)."""
    text = body or ""
    if DASHBOARD_MARK not in text:
        return False
    named = _INSTANCE_RE.search(text)
    return named["name"] == instance if named else instance == LEGACY_INSTANCE


def render_dashboard(
    rows: Sequence[Row],
    targets: Sequence[TargetStatus] = (),
    instance: str = LEGACY_INSTANCE,
    heartbeat: datetime | None = None,
    warnings: Sequence[str] = (),
) -> str:
    """The dashboard body for (watch, last verdict, current error) rows. Pure.

    Apprise ``targets`` that cannot deliver are listed with when that began, never with
    an attempt count, so a failing target does not make every poll edit the issue.
    ``heartbeat`` is when this instance last finished a cycle, as the caller refreshes it;
    ``warnings`` (a skewed clock) are quoted under it.
    A body over GitHub's limit gives way to the summary (:func:`_summary`).
    """
    head = [
        DASHBOARD_MARK,
        INSTANCE_MARK.format(instance=instance),
        f"This issue is maintained by watcher (instance `{instance}`): it shows what each "
        "watch is waiting for.",
    ]
    if heartbeat is not None:
        head.append(
            f"Last cycle finished: {heartbeat:%Y-%m-%d %H:%M} UTC (refreshed hourly; "
            "an older time means this watcher stopped)."
        )
    head += [f"> **Warning:** {warning}" for warning in warnings]
    head += ["", _counts(rows)]
    tail = _undeliverable(targets)
    body = "\n".join([*head, *_details(rows), *tail]) + "\n"
    if len(body) <= BODY_LIMIT:
        return body
    return ("\n".join([*head, *_summary(rows, BODY_LIMIT // 2), *tail]) + "\n")[:BODY_LIMIT]


def _counts(rows: Sequence[Row]) -> str:
    """One line: how many watches are in each state, and how many are failing."""
    states: dict[str, int] = {}
    for _, verdict, _ in rows:
        name = verdict.state.value if verdict else "no verdict yet"
        states[name] = states.get(name, 0) + 1
    failing = sum(1 for _, _, error in rows if error)
    parts = [f"{n} {name}" for name, n in states.items()]
    parts += [f"{failing} failing"] if failing else []
    return f"{len(rows)} watches: " + ", ".join(parts)


def _row(watch: WatchConfig, verdict: Verdict | None) -> str:
    if verdict is None:
        return f"| `{watch.id}` | no verdict yet | | | |"
    target = f"[{verdict.target.tag}]({verdict.target.url})" if verdict.target else ""
    since = f"{verdict.changed_at:%Y-%m-%d %H:%M} UTC" if verdict.changed_at else ""
    pr = verdict.extra.get("pr_url", "")
    pr_cell = f"[#{pr.rsplit('/', 1)[-1]}]({pr})" if pr else ""
    return f"| `{watch.id}` | **{verdict.state.value}** | {target} | {since} | {pr_cell} |"


TABLE_HEAD = ["", "| watch | state | target | since | pull request |", "|---|---|---|---|---|"]


def _summary(rows: Sequence[Row], budget: int) -> list[str]:
    """A large fleet: ready, proposed and failing watches in the table, the rest folded."""
    shown = [
        (w, v)
        for w, v, error in rows
        if error or (v is not None and v.state.value in ("ready", "proposed"))
    ]
    table = _capped(
        [_row(watch, verdict) for watch, verdict in shown],
        budget,
        lambda rest: f"| … and {rest} more | | | | |",
    )
    listed = {w.id for w, _ in shown}
    folded = [(w, v) for w, v, _ in rows if w.id not in listed]
    others = _capped(
        [f"- `{w.id}`: {v.state.value if v else 'no verdict yet'}" for w, v in folded],
        budget // 2,
        lambda rest: f"- … and {rest} more: see `watcher status`",
    )
    return [
        *TABLE_HEAD,
        *table,
        "",
        f"<details><summary>{len(folded)} other watches</summary>",
        "",
        *others,
        "",
        "</details>",
    ]


def _capped(lines: Sequence[str], budget: int, more: Callable[[int], str]) -> list[str]:
    """``lines`` while they fit in ``budget`` characters, then ``more(how many are left)``."""
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        used += len(line) + 1
        if used > budget:
            return [*kept, more(len(lines) - index)]
        kept.append(line)
    return kept


def _details(rows: Sequence[Row]) -> list[str]:
    """The table of every watch, then each watch's signals and error."""
    lines = list(TABLE_HEAD)
    lines += [_row(watch, verdict) for watch, verdict, _ in rows]
    for watch, verdict, error in rows:
        lines += [
            "",
            f"### `{watch.id}`: {sanitize(watch.description or watch.repo, watch.repo, 300)}",
            "",
        ]
        if verdict is not None:
            lines += [
                f"- {s.name.value}: {s.status_for(watch.required)}: "
                f"{sanitize(s.summary, watch.repo, 400)}"
                for s in verdict.signals
            ]
        if error:
            lines.append(f"- error: {sanitize(error, watch.repo, 400)}")
    return lines


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


def is_ours(issue: Issue, author: str, instance: str) -> bool:
    """Whether ``issue`` is an open dashboard of ``instance`` opened by ``author``.

    The marker alone proves nothing: anyone can paste it into an issue, and watcher must
    not rewrite or comment on a stranger's issue. ``author`` is watcher's own login.
    """
    return (
        issue.state == "open"
        and is_dashboard(issue.body, instance)
        and issue.user is not None
        and issue.user.login.lower() == author.lower()
    )


def find(writer: GitHubWriter, repo: Repository, author: str, instance: str) -> Issue | None:
    """The open dashboard of ``instance`` ``author`` opened in ``repo`` (the oldest; a read)."""
    return writer.call(
        "find dashboard",
        lambda: next(
            # Filtered here, not with ``creator=``: how GitHub spells an App's bot in that
            # filter is not documented, the login on each issue is.
            (
                i
                for i in repo.get_issues(state="open", sort="created", direction="asc")
                if is_ours(i, author, instance)
            ),
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
    instance: str = LEGACY_INSTANCE,
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
        # below), so the login is not asked again on every cycle; a body without the
        # markers was edited by hand, and is repaired rather than replaced.
        if issue.state == "open":
            return issue, False
    if not claim():
        return None
    author = writer.identity()
    found = find(writer, repo, author, instance)
    if found is not None:
        return found, False
    issue = writer.call(
        "create dashboard",
        lambda: repo.create_issue(title=title, body=body),
        lookup=lambda: find(writer, repo, author, instance),
    )
    return issue, True


def duplicates(issues: Sequence[object], kept: int, author: str, instance: str) -> list[int]:
    """The numbers of other open dashboards of ``instance`` by ``author`` (issue JSON)."""
    found = []
    for item in issues:
        if not isinstance(item, dict) or "pull_request" in item:
            continue
        user = item.get("user")
        login = user.get("login") if isinstance(user, dict) else None
        number = item.get("number")
        if (
            isinstance(number, int)
            and number != kept
            and item.get("state") == "open"
            and isinstance(login, str)
            and login.lower() == author.lower()
            and is_dashboard(str(item.get("body") or ""), instance)
        ):
            found.append(number)
    return found


def close_duplicate(writer: GitHubWriter, repo: Repository, number: int, kept: int) -> None:
    """Close a second dashboard of this instance with a pointer to the one kept.

    Its markers are disarmed, so it is never taken for a dashboard again; the comment
    is looked up by its marker after a lost answer, the close by the issue's state.
    """
    issue = writer.call("read dashboard", lambda: repo.get_issue(number), write=False)
    mark = f"<!-- watcher:duplicate-of={kept} -->"
    comments = writer.call("read comments", lambda: list(issue.get_comments()), write=False)
    if not any(mark in (c.body or "") for c in comments):
        text = f"{mark}\nwatcher keeps one dashboard per instance: this one duplicates #{kept}."
        writer.call(
            "comment on duplicate dashboard",
            lambda: issue.create_comment(text),
            lookup=lambda: next((c for c in issue.get_comments() if mark in (c.body or "")), None),
        )
    body = (issue.body or "").replace(DASHBOARD_MARK, "<!-- watcher:closed-dashboard -->")

    def lookup() -> bool | None:
        return found(repo.get_issue(number).state == "closed")

    close = done(lambda: issue.edit(state="closed", body=body))
    writer.call("close duplicate dashboard", close, lookup=lookup)


def edit_body(writer: GitHubWriter, repo: Repository, issue: Issue, body: str) -> None:
    """Rewrite the dashboard's body; after a lost answer, re-read it before editing again."""

    def lookup() -> bool | None:
        return found((repo.get_issue(issue.number).body or "") == body)

    writer.call("update dashboard", done(lambda: issue.edit(body=body)), lookup=lookup)
