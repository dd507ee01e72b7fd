"""Deliver transition comments from the outbox: late after a crash, never twice, never lost.

Rows are written in the same transaction as the verdict they announce. Delivery claims
the row first (one process at a time; the claim expires if its holder dies) and counts
the attempt; an attempt after the first one looks for its own hidden marker among the
issue's comments before posting, so a crash between posting and marking it sent does
not post twice, and a post whose answer is lost is looked up the same way before it is
retried. The lookup's ``since`` is on GitHub's clock, which filters it
(:mod:`watcher.core.clock`): ours may be days ahead.

Convergence, not only prevention: a write GitHub applies after every lookup gave up (a
comment landing long after its timeout) still makes a second comment. So each acting
cycle checks its footprint on the issue (:func:`duplicate_comments`, over a conditional
read, free when nothing changed): of the comments carrying one outbox marker the first
is kept and any later one, by the same author, is deleted (:func:`delete_comments`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from watcher.core.clock import on_github
from watcher.net.retry import done
from watcher.notify.message import markdown
from watcher.state.store import OutboxItem, Store

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.IssueComment import IssueComment

    from watcher.net.github_write import GitHubWriter

# How far before an item's last attempt its comment is looked for (the offset to GitHub's
# clock is measured to the second, from its answers' Date header, and drifts between runs).
LOOKBACK = timedelta(hours=1)


# An outbox marker anywhere in a comment (see outbox_mark).
_MARK = re.compile(r"<!-- watcher:outbox=\d+ watch=\S+ -->")


def outbox_mark(item: OutboxItem) -> str:
    """The hidden line that identifies one outbox row's comment."""
    return f"<!-- watcher:outbox={item.id} watch={item.watch_id} -->"


def render_item(item: OutboxItem, upstream_repo: str) -> str:
    """The comment text for one outbox row: its marker, then the notice in Markdown."""
    return f"{outbox_mark(item)}\n{markdown(item.notice, upstream_repo)}\n"


def deliver(
    store: Store,
    writer: GitHubWriter,
    issue: Issue,
    upstream_repo: dict[str, str],
    holder: str,
    claim_ttl: timedelta,
    clock_offset: float | None = None,
) -> int:
    """Post every pending outbox row as a comment on ``issue``; returns how many were posted.

    Each row is claimed for ``holder`` first (rows another process holds are left to it);
    a row attempted before, or a post whose answer is lost, is looked up by its marker.
    ``clock_offset``: GitHub's clock minus ours, in seconds (``RequestStats.clock_offset``).
    """
    posted = 0
    for item in store.pending_outbox():
        attempt = store.claim_outbox(item.id, holder, claim_ttl)
        if attempt is None:
            continue  # another process is delivering it, or just did
        mark = outbox_mark(item)
        # Our stamp on GitHub's clock, which filters `since`, and a margin further back.
        since = on_github(item.last_attempt_at or item.created_at, clock_offset) - LOOKBACK

        def earlier(mark: str = mark, since: datetime = since) -> IssueComment | None:
            return find_comment(issue, mark, since)

        found = None
        if attempt > 1:
            found = writer.call("read comments", earlier, write=False)
        if found is None:
            body = render_item(item, upstream_repo.get(item.watch_id, ""))
            found = writer.call(
                "post comment",
                lambda b=body: issue.create_comment(b),  # type: ignore[misc]
                lookup=earlier,
            )
            posted += 1
        store.mark_sent(item.id, found.html_url, holder)
    return posted


def find_comment(issue: Issue, mark: str, since: datetime) -> IssueComment | None:
    """The comment on ``issue`` updated after ``since`` that carries ``mark``, if any."""
    return next((c for c in issue.get_comments(since=since) if mark in (c.body or "")), None)


def duplicate_comments(comments: Sequence[Any]) -> list[int]:
    """Ids of the comments to delete: every later copy of an outbox marker's comment.

    ``comments`` are GitHub's JSON objects of one issue, in any order. The first comment
    (by creation time, then id) carrying a marker is kept; a later one carrying the same
    marker goes only when its author is the kept one's (never someone quoting it). Pure.
    """
    kept: dict[str, str] = {}
    doomed: list[int] = []
    for comment in sorted(_ours(comments), key=lambda c: (c[1], c[0])):
        number, _, author, mark = comment
        if mark not in kept:
            kept[mark] = author
        elif kept[mark] == author:
            doomed.append(number)
    return doomed


def _ours(comments: Sequence[Any]) -> list[tuple[int, str, str, str]]:
    """(id, created_at, author, marker) of each well-formed comment carrying a marker."""
    found = []
    for comment in comments:
        if not isinstance(comment, dict):
            continue
        number, created, body = comment.get("id"), comment.get("created_at"), comment.get("body")
        user = comment.get("user")
        author = user.get("login") if isinstance(user, dict) else None
        if not (isinstance(number, int) and isinstance(created, str) and isinstance(body, str)):
            continue
        mark = _MARK.search(body)
        if mark is not None and isinstance(author, str):
            found.append((number, created, author, mark.group(0)))
    return found


def delete_comments(writer: GitHubWriter, issue: Issue, ids: Sequence[int]) -> int:
    """Delete the comments ``ids`` of ``issue``; one already gone counts as deleted."""
    from github import GithubException

    for number in ids:
        # A 404 (the only status passed through) says it is deleted already.
        with contextlib.suppress(GithubException):
            writer.call(
                "delete a duplicate comment",
                done(lambda n=number: issue.get_comment(n).delete()),  # type: ignore[misc]
                passthrough=(404,),
                idempotent=True,  # a second DELETE deletes nothing more
            )
    return len(ids)
