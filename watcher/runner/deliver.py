"""Delivering a run's notifications (``watcher run``): Apprise targets, the dashboard issue,
the outbox of comments on the tracking issue (docs/architecture.md, «Notifications»).

The notification modules and PyGithub are imported only when a run delivers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from watcher.core.errors import WatcherError
from watcher.runner.report import Delivery

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.Repository import Repository

    from watcher.config.model import Config, NotifyConfig
    from watcher.runner.act import Actor
    from watcher.state.deliveries import TargetStatus
    from watcher.state.store import Store


def deliver(config: Config, store: Store, actor: Actor) -> Delivery:
    """Send the outbox to the Apprise targets, then rewrite the dashboard and comment.

    Expected failures (a target refusing, GitHub erring) come back masked in the
    delivery's error; the outbox keeps what was not delivered for the next cycle.
    """
    apprise_error = _deliver_apprise(config, store, actor)
    targets = tuple(store.target_statuses(config.notify.apprise_undeliverable_after))
    github_error = _notify(config, store, actor, targets)
    error = "; ".join(e for e in (apprise_error, github_error) if e) or None
    return Delivery(error=error, targets=targets)


def _deliver_apprise(config: Config, store: Store, actor: Actor) -> str | None:
    """Send the outbox to the Apprise targets; the failures, masked, if any."""
    if not actor.targets:
        return None
    from watcher.notify.apprise import deliver as deliver_apprise

    report = deliver_apprise(
        store,
        actor.targets,
        holder=actor.holder,
        retry=timedelta(seconds=config.notify.apprise_retry_seconds),
    )
    return "; ".join(f"notifications: {f}" for f in report.failures) or None


def _notify(
    config: Config, store: Store, actor: Actor, targets: tuple[TargetStatus, ...] = ()
) -> str | None:
    """Rewrite the dashboard when it changed, then deliver the outbox; the error, if any."""
    from watcher.notify.dashboard import body_hash, render_dashboard
    from watcher.notify.outbox import deliver as deliver_outbox

    settings = actor.notify
    repo_name = settings.dashboard_repo or next(
        (w.chart.repo for w in config.watch if w.chart), None
    )
    if repo_name is None or not (settings.dashboard or settings.tracking_issue):
        return None
    rows = []
    for watch in config.watch:
        stored = store.get_verdict(watch.id)
        rows.append((watch, stored.verdict if stored else None, stored.error if stored else None))
    body = render_dashboard(rows, targets)
    changed = store.get_value(f"dashboard:{repo_name}:hash") != body_hash(body)
    if (not changed or not settings.dashboard) and not store.pending_outbox(limit=1):
        return None  # an idle poll reads and writes nothing on GitHub
    writer = actor.writer
    try:
        repo = writer.call("read repository", lambda: writer.gh.get_repo(repo_name), write=False)
        issue = None
        if settings.dashboard:
            issue = _dashboard(store, actor, repo, settings, body, changed)
        if settings.tracking_issue:
            number = settings.tracking_issue
            issue = writer.call("read tracking issue", lambda: repo.get_issue(number), write=False)
        if issue is not None:
            repos = {w.id: w.repo for w in config.watch}
            deliver_outbox(store, writer, issue, repos, actor.holder, actor.claim_ttl)
    except WatcherError as exc:
        return f"notifications: {exc.message}"
    return None


def _dashboard(
    store: Store, actor: Actor, repo: Repository, settings: NotifyConfig, body: str, changed: bool
) -> Issue | None:
    """Find or create the dashboard issue; rewrite its body when ``changed``.

    None when another process is creating it at this moment.
    """
    from watcher.notify.dashboard import body_hash, edit_body, find_or_create

    key = f"dashboard:{repo.full_name}"
    known = store.get_value(key)
    # Creating one is claimed in the database, so two processes never both open one.
    claim = f"{key}:create"
    try:
        found = find_or_create(
            actor.writer,
            repo,
            settings.dashboard_title,
            body,
            int(known) if known else None,
            claim=lambda: store.acquire_lease(claim, actor.holder, actor.claim_ttl),
        )
        if found is None:
            return None  # another process is creating it; the next cycle uses that one
        issue, created = found
        if not created and changed and (issue.body or "") != body:
            edit_body(actor.writer, repo, issue, body)
        store.set_value(key, str(issue.number))
        store.set_value(f"{key}:hash", body_hash(body))
    finally:
        store.release_lease(claim, actor.holder)
    return issue
