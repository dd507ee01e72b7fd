"""Acting on the ready watches of one chart (``watcher run``): reconcile the chart's one
pull request, record where it left each watch.

The write side of a run (docs/architecture.md, «The chart bump»). PyGithub and the pull
request code are imported only when a run acts, so read-only commands never load them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from watcher.core.errors import ConfigError, SourceError
from watcher.core.models import Verdict, VerdictState
from watcher.state.leases import process_holder

if TYPE_CHECKING:
    from watcher.actions.grouping import ChartProposal
    from watcher.actions.planning import Plan
    from watcher.actions.pull_request import PullRequestOutcome
    from watcher.config.model import Config, NotifyConfig
    from watcher.net.github_write import GitHubWriter
    from watcher.notify.targets import AppriseTarget
    from watcher.runner.readers import Readers
    from watcher.state.store import Event, Store, StoredVerdict


@dataclass
class Actor:
    """The write side of a run (``watcher run``): PyGithub writer plus notification settings.

    ``connect`` builds the writer at its first use: PyGithub with requests, PyJWT and
    cryptography is about 20 MiB of a daemon's resident memory, and a daemon waiting for
    a release (most of its life) writes nothing, so it never loads them.
    ``holder`` names this process in database claims (outbox items, dashboard creation);
    a claim lasts ``claim_ttl``, longer than one write with all its retries may take.
    """

    connect: Callable[[], GitHubWriter]
    notify: NotifyConfig
    targets: tuple[AppriseTarget, ...] = ()
    holder: str = field(default_factory=process_holder)
    claim_ttl: timedelta = timedelta(minutes=5)
    _writer: GitHubWriter | None = field(default=None, init=False, repr=False)

    @property
    def writer(self) -> GitHubWriter:
        """The PyGithub writer, built by ``connect`` the first time a write needs it."""
        if self._writer is None:
            self._writer = self.connect()
        return self._writer

    @classmethod
    def build(cls, config: Config, environ: Mapping[str, str]) -> Actor:
        """The write side configured from ``config``, the twin of ``Readers.build``.

        Credentials and Apprise URLs come from ``environ`` and are checked now (a
        ConfigError); the PyGithub writer itself is built at the first write.
        """
        from watcher.net.credentials import read_credentials
        from watcher.notify.targets import apprise_targets

        credentials = read_credentials(environ)
        if credentials is None:
            raise ConfigError(
                "watcher run writes to GitHub and needs credentials",
                hint="set GITHUB_TOKEN (or WATCHER_APP_ID, WATCHER_APP_INSTALLATION_ID and "
                "WATCHER_APP_PRIVATE_KEY_FILE); `watcher check --plan` shows what it would do",
            )
        targets = tuple(apprise_targets(config))
        if targets:
            from watcher.notify.apprise import validate  # Apprise only loads when used

            validate(targets)
        gh = config.github
        # A claim outlives one write with every retry and wait the writer may spend on it.
        claim = (gh.retries + 1) * (gh.timeout_seconds + gh.max_wait_seconds)
        claim_ttl = timedelta(seconds=claim + gh.write_interval_seconds)

        def connect() -> GitHubWriter:
            from watcher.net.github_write import GitHubWriter

            return GitHubWriter.for_credentials(
                gh.api_url,
                credentials,
                write_interval=gh.write_interval_seconds,
                retries=gh.retries,
                max_wait=gh.max_wait_seconds,
                timeout=gh.timeout_seconds,
            )

        return cls(connect, config.notify, targets, claim_ttl=claim_ttl)

    def write_calls(self) -> int:
        """Calls the write side sent so far (none before the writer is built)."""
        writer = self._writer
        return 0 if writer is None else writer.writes + writer.reads

    def close(self) -> None:
        """Close the writer's session, if one was ever opened."""
        if self._writer is not None:
            self._writer.close()


@dataclass(frozen=True)
class ReadyWatch:
    """A watch found ready in this run, with its plan, waiting for its chart's turn."""

    plan: Plan
    verdict: Verdict
    previous: StoredVerdict | None

    @property
    def watch_id(self) -> str:
        """The watch's id."""
        return self.plan.watch.id


def by_chart(ready: Sequence[ReadyWatch]) -> list[list[ReadyWatch]]:
    """The ready watches grouped by the chart they bump, in config order."""
    from watcher.actions.grouping import chart_key

    groups: dict[str, list[ReadyWatch]] = {}
    for item in ready:
        groups.setdefault(chart_key(item.plan.chart), []).append(item)
    return list(groups.values())


def act(
    store: Store, run_id: int, actor: Actor, group: Sequence[ReadyWatch], readers: Readers
) -> dict[str, Event | None]:
    """Reconcile the one pull request of a chart for its ready watches; each watch's event.

    Each watch newly ready records `ready` first (news of its own, even if the PR fails);
    then the pull request is reconciled once for them all, and each watch records where
    that left it: `proposed` in the PR, `done` (merged, or the base already has its
    target), or `ready` with a note (a PR closed unmerged, a human push).
    """
    from watcher.actions.grouping import chart_key
    from watcher.actions.planning import chart_proposal, helm_checks
    from watcher.actions.pull_request import Candidate, reconcile
    from watcher.chart.bump import plan_bumps

    events: dict[str, Event | None] = {}
    active: list[ReadyWatch] = []
    for item in group:
        before = _before(item)
        if before is not None and _settled(before, item):
            # Merged: nothing more to do unless following newer releases.
            events[item.watch_id] = store.record_verdict(
                run_id, replace(item.verdict, state=before.state, extra=before.extra)
            )
        else:
            active.append(item)
    if not active:
        return events
    key = chart_key(active[0].plan.chart)
    plans = {item.watch_id: item.plan for item in active}
    changing = [item.plan for item in active if item.plan.bump.changed]
    fingerprint = _fingerprint(chart_proposal(changing)) if changing else None
    if fingerprint is not None and _quiet(store, key, active, fingerprint, readers):
        # Nothing upstream, in the chart, or on the PR changed: no GitHub call at all.
        for item in active:
            kept = _before(item) or item.verdict
            events[item.watch_id] = store.record_verdict(
                run_id, replace(item.verdict, state=kept.state, extra=kept.extra)
            )
        return events
    for item in active:
        before = _before(item)
        if before is None or before.state in (VerdictState.WAITING, VerdictState.PENDING):
            events[item.watch_id] = store.record_verdict(run_id, item.verdict)
    first = active[0].plan
    if len(changing) > 1:
        # Each watch's bump passed helm alone; the composed one must too before it is pushed.
        helm_checks(readers.github, first.files, plan_bumps([p.request for p in changing]))
    result = reconcile(
        actor.writer,
        first.chart,
        first.files.base,
        [
            Candidate(
                i.watch_id, i.plan.proposal.target.tag, i.plan.chart.follow, i.plan.bump.changed
            )
            for i in active
        ],
        lambda ids, notes: chart_proposal([plans[w] for w in ids], notes),
    )
    carried = [plans[w] for w in result.proposal.targets] if result.proposal else []
    fingerprint = _fingerprint(chart_proposal(carried)) if carried else {}
    _remember(store, key, first.chart.repo, result, fingerprint)
    for item in active:
        member = result.members[item.watch_id]
        extra = {"pr_action": result.action, "note": member.note or result.note}
        if member.state is VerdictState.PROPOSED and result.url:
            extra["pr_url"] = result.url
        acted = replace(item.verdict, state=member.state, extra=extra)
        if extra["note"]:
            reasons = (*acted.reasons, f"pull request: {extra['note']}")
            acted = replace(acted, reasons=reasons)
        events[item.watch_id] = store.record_verdict(run_id, acted) or events.get(item.watch_id)
    return events


def _before(item: ReadyWatch) -> Verdict | None:
    return item.previous.verdict if item.previous else None


def _settled(before: Verdict, item: ReadyWatch) -> bool:
    """Whether a watch is done with this target (or done and not following newer ones)."""
    same_target = before.target is not None and before.target.tag == item.plan.proposal.target.tag
    return before.state is VerdictState.DONE and (same_target or not item.plan.chart.follow)


def _fingerprint(proposal: ChartProposal) -> dict[str, str]:
    from watcher.actions.pull_request import content_hash
    from watcher.notify.dashboard import body_hash

    return {"content": content_hash(proposal.files), "body": body_hash(proposal.body)}


def _quiet(
    store: Store,
    key: str,
    active: Sequence[ReadyWatch],
    fingerprint: dict[str, str],
    readers: Readers,
) -> bool:
    """Whether the chart's PR, as last left, still holds, judged by free conditional reads."""
    record = store.pull_request(key)
    if record is None or record.state != "open":
        return False
    for item in active:
        before = _before(item)
        if before is None or before.state is not VerdictState.PROPOSED:
            return False
    targets = {item.watch_id: item.plan.proposal.target.tag for item in active}
    if record.members != targets:
        return False
    if (record.content, record.body) != (fingerprint["content"], fingerprint["body"]):
        return False
    try:
        pr = readers.github.get_json(f"/repos/{record.repo}/pulls/{record.number}")
        ref = readers.github.get_json(f"/repos/{record.repo}/git/ref/heads/{record.branch}")
    except SourceError:
        return False
    return not pr.changed and not ref.changed


def _remember(
    store: Store, key: str, repo: str, result: PullRequestOutcome, fingerprint: dict[str, str]
) -> None:
    """Keep the chart's open pull request as reconciliation left it (or forget it)."""
    from watcher.state.store import PullRequestRecord

    if result.number is None or result.proposal is None or result.url is None:
        store.forget_pull_request(key)
        return
    store.put_pull_request(
        PullRequestRecord(
            chart=key,
            repo=repo,
            number=result.number,
            url=result.url,
            branch=result.proposal.branch,
            head_sha=result.head_sha,
            state="open",
            members=result.proposal.targets,
            content=fingerprint["content"],
            body=fingerprint["body"],
            updated_at=store.now(),
        )
    )
