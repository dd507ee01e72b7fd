"""Deliver transition comments from the outbox: late after a crash, never twice, never lost.

Rows are written in the same transaction as the verdict they announce. Delivery claims
the row first (one process at a time; the claim expires if its holder dies) and counts
the attempt; an attempt after the first one looks for its own hidden marker among the
issue's comments before posting, so a crash between posting and marking it sent does
not post twice, and a post whose answer is lost is looked up the same way before it is
retried. The lookup's ``since`` is on GitHub's clock, which filters it
(:mod:`watcher.core.clock`): ours may be days ahead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from watcher.core.clock import on_github
from watcher.notify.message import markdown
from watcher.state.store import OutboxItem, Store

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.IssueComment import IssueComment

    from watcher.net.github_write import GitHubWriter

# How far before an item's last attempt its comment is looked for (the offset to GitHub's
# clock is measured to the second, from its answers' Date header, and drifts between runs).
LOOKBACK = timedelta(hours=1)


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
