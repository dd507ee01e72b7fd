"""Deliver transition comments from the outbox: late after a crash, never twice, never lost.

Rows are written in the same transaction as the verdict they announce. Delivery marks
the attempt first; an attempt after the first one looks for its own hidden marker among
the issue's comments before posting, so a crash between posting and marking it sent
does not post twice.
"""

from __future__ import annotations

from typing import Any

from github.Issue import Issue

from watcher.actions.sanitize import sanitize
from watcher.github.writes import GitHubWriter
from watcher.state.store import OutboxItem, Store


def outbox_mark(item: OutboxItem) -> str:
    """The hidden line that identifies one outbox row's comment."""
    return f"<!-- watcher:outbox={item.id} watch={item.watch_id} -->"


def render_item(item: OutboxItem, upstream_repo: str) -> str:
    """The comment text for one outbox row."""
    payload: dict[str, Any] = dict(item.payload)
    if item.kind == "error":
        since = payload.get("since", "")
        text = (
            f"**{item.watch_id}**: failing since {since}: "
            f"{sanitize(str(payload.get('error', '')), upstream_repo, 800)}\n\n"
            f"The last good verdict (`{payload.get('state')}`) is kept."
        )
    else:
        old, new = payload.get("from_state") or "start", payload.get("to_state")
        target = payload.get("to_target")
        text = f"**{item.watch_id}**: {old} → **{new}**" + (f" (target {target})" if target else "")
        reasons = [sanitize(str(r), upstream_repo, 300) for r in payload.get("reasons", [])]
        if reasons:
            text += "\n\n" + "\n".join(f"- {r}" for r in reasons[:8])
    return f"{outbox_mark(item)}\n{text}\n"


def deliver(store: Store, writer: GitHubWriter, issue: Issue, upstream_repo: dict[str, str]) -> int:
    """Post every pending outbox row as a comment on ``issue``; returns how many were posted."""
    posted = 0
    for item in store.pending_outbox():
        attempt = store.begin_delivery(item.id)
        mark = outbox_mark(item)
        if attempt > 1:
            comments = writer.call("read comments", lambda: list(issue.get_comments()), write=False)
            earlier = next((c for c in comments if mark in (c.body or "")), None)
            if earlier is not None:
                store.mark_sent(item.id, earlier.html_url)
                continue
        body = render_item(item, upstream_repo.get(item.watch_id, ""))
        comment = writer.call("post comment", lambda b=body: issue.create_comment(b))  # type: ignore[misc]
        store.mark_sent(item.id, comment.html_url)
        posted += 1
    return posted
