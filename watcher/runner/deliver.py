"""Delivering a run's notifications (``watcher run``): Apprise targets, the dashboard issue,
the outbox of comments on the tracking issue (docs/architecture.md, «Notifications»).

The notification modules and PyGithub are imported only when a run delivers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from watcher.core.clock import skew_warning
from watcher.core.errors import NotFoundError, WatcherError
from watcher.runner.report import Delivery

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.Repository import Repository

    from watcher.config.model import Config, NotifyConfig
    from watcher.runner.act import Actor
    from watcher.runner.readers import Readers
    from watcher.state.deliveries import TargetStatus
    from watcher.state.store import Store


def deliver(config: Config, store: Store, actor: Actor, readers: Readers) -> Delivery:
    """Send the outbox to the Apprise targets, then rewrite the dashboard and comment.

    Expected failures (a target refusing, GitHub erring) come back masked in the
    delivery's error; the outbox keeps what was not delivered for the next cycle.
    """
    apprise_error = _deliver_apprise(config, store, actor)
    targets = tuple(store.target_statuses(config.notify.apprise_undeliverable_after))
    github_error = _notify(config, store, actor, readers, targets)
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
    config: Config,
    store: Store,
    actor: Actor,
    readers: Readers,
    targets: tuple[TargetStatus, ...] = (),
) -> str | None:
    """Repair or rewrite the dashboard when needed, then deliver the outbox; the error, if any."""
    from watcher.notify.dashboard import render_dashboard
    from watcher.notify.outbox import delete_comments
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
    key = _dashboard_key(repo_name, config.instance)
    heartbeat = _heartbeat(store, key)
    offset = readers.http.stats.clock_offset
    skew = skew_warning(offset)
    body = render_dashboard(rows, targets, config.instance, heartbeat, [skew] if skew else [])
    seen = _Seen(needed=False)
    if settings.dashboard:
        try:
            seen = _look(store, readers, repo_name, key, body, config.instance)
        except WatcherError as exc:
            return f"notifications: {exc.message}"
    try:
        duplicates = _duplicates(store, readers, repo_name, key, settings.tracking_issue)
    except WatcherError as exc:
        return f"notifications: {exc.message}"
    if not seen.needed and not duplicates and not store.pending_outbox(limit=1):
        return None  # an idle poll writes nothing (and its reads answered 304)
    writer = actor.writer
    try:
        repo = writer.call("read repository", lambda: writer.gh.get_repo(repo_name), write=False)
        issue = None
        if settings.dashboard:
            issue = _dashboard(store, actor, repo, key, settings, body, seen, config.instance)
            if issue is not None:
                store.set_value(f"{key}:heartbeat", heartbeat.isoformat())
        if settings.tracking_issue:
            number = settings.tracking_issue
            issue = writer.call("read tracking issue", lambda: repo.get_issue(number), write=False)
        if issue is not None:
            delete_comments(writer, issue, duplicates)
            repos = {w.id: w.repo for w in config.watch}
            deliver_outbox(store, writer, issue, repos, actor.holder, actor.claim_ttl, offset)
    except WatcherError as exc:
        return f"notifications: {exc.message}"
    return None


def _duplicates(
    store: Store, readers: Readers, repo: str, key: str, tracking: int | None
) -> list[int]:
    """Later copies of our comments on the issue that gets them (a conditional read).

    A comment GitHub applied after every lookup gave up is only found here, by the next
    cycle: at most one comment per outbox marker stays (notify/outbox.py).
    """
    from watcher.notify.outbox import duplicate_comments

    number = tracking or store.get_value(key)
    if number is None:
        return []  # no dashboard yet: nothing was commented
    path = f"/repos/{repo}/issues/{number}/comments"
    try:
        listed = readers.github.get_paginated(path, oldest_first=True).data
    except NotFoundError:
        return []  # the dashboard is gone: _look finds or opens another
    return duplicate_comments(listed if isinstance(listed, list) else [])


# How often the dashboard's "last cycle finished" line may cost an edit of the issue.
HEARTBEAT = timedelta(hours=1)


@dataclass(frozen=True)
class _Seen:
    """What the dashboard looks like on GitHub: whether it needs the writer, and why."""

    needed: bool
    stale: bool = False  # the issue's body is not what this cycle renders
    duplicates: tuple[int, ...] = ()  # other open dashboards of this instance


def _dashboard_key(repo: str, instance: str) -> str:
    """The key the dashboard's number is remembered under (older versions' for `watcher`)."""
    from watcher.notify.dashboard import LEGACY_INSTANCE

    key = f"dashboard:{repo}"
    return key if instance == LEGACY_INSTANCE else f"{key}#{instance}"


def _heartbeat(store: Store, key: str) -> datetime:
    """The "last cycle finished" time to show: the one shown, unless an hour old."""
    now = store.now().replace(second=0, microsecond=0)
    shown = store.get_value(f"{key}:heartbeat")
    if shown is not None:
        try:
            then = datetime.fromisoformat(shown)
        except ValueError:
            return now
        if now - then < HEARTBEAT:
            return then
    return now


def _look(store: Store, readers: Readers, repo: str, key: str, body: str, instance: str) -> _Seen:
    """The dashboard as GitHub has it, by conditional reads (free when nothing changed).

    A hand edit, a closed dashboard or a second dashboard of this instance (a race, a
    lost answer) all need the writer; so does a body that changed since the last write.
    """
    from watcher.notify.dashboard import body_hash, duplicates

    known = store.get_value(key)
    if known is None:
        return _Seen(needed=True, stale=True)
    try:
        issue = readers.github.get_json(f"/repos/{repo}/issues/{known}").data
    except NotFoundError:
        return _Seen(needed=True, stale=True)  # deleted or moved: find or open another
    if not isinstance(issue, dict) or issue.get("state") != "open":
        return _Seen(needed=True, stale=True)
    text = str(issue.get("body") or "")
    stale = text != body or store.get_value(f"{key}:hash") != body_hash(body)
    user = issue.get("user")
    author = user.get("login") if isinstance(user, dict) else None
    others: tuple[int, ...] = ()
    if isinstance(author, str):
        listed = readers.github.get_paginated(f"/repos/{repo}/issues?state=open").data
        others = tuple(
            duplicates(listed if isinstance(listed, list) else [], int(known), author, instance)
        )
    return _Seen(needed=stale or bool(others), stale=stale, duplicates=others)


def _dashboard(
    store: Store,
    actor: Actor,
    repo: Repository,
    key: str,
    settings: NotifyConfig,
    body: str,
    seen: _Seen,
    instance: str,
) -> Issue | None:
    """Find or create the dashboard issue; rewrite its body when stale; close duplicates.

    Of several open dashboards of this instance the oldest is kept, whichever process
    looks: two processes never each close the other's. None when another process is
    creating it at this moment. ``key`` is where :func:`_look` found its number.
    """
    from watcher.notify.dashboard import body_hash, close_duplicate, edit_body, find_or_create

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
            instance=instance,
        )
        if found is None:
            return None  # another process is creating it; the next cycle uses that one
        issue, created = found
        numbers = sorted({issue.number, *seen.duplicates})
        if numbers[0] != issue.number:
            kept = numbers[0]
            issue = actor.writer.call("read dashboard", lambda: repo.get_issue(kept), write=False)
            created = False
        for number in numbers[1:]:
            close_duplicate(actor.writer, repo, number, issue.number)
        if not created and (issue.body or "") != body:
            edit_body(actor.writer, repo, issue, body)
        store.set_value(key, str(issue.number))
        store.set_value(f"{key}:hash", body_hash(body))
    finally:
        store.release_lease(claim, actor.holder)
    return issue
