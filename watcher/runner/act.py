"""Acting on one ready watch (``watcher run``): reconcile its pull request, record the result.

The write side of a run (docs/architecture.md, «The chart bump»). PyGithub and the pull
request code are imported only when a run acts, so read-only commands never load them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from watcher.core.errors import ConfigError, SourceError
from watcher.core.models import Verdict, VerdictState
from watcher.state.leases import process_holder

if TYPE_CHECKING:
    from watcher.actions.planning import Plan
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
            from watcher.net.github_write import GitHubWriter, auth_for

            return GitHubWriter(
                gh.api_url,
                auth_for(credentials),
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


def act(
    store: Store,
    run_id: int,
    actor: Actor,
    proposal: Plan,
    verdict: Verdict,
    previous: StoredVerdict | None,
    readers: Readers,
) -> Event | None:
    """Record `ready` (when newly so), reconcile the PR, then record what that made of it."""
    from watcher.actions.pull_request import content_hash, reconcile
    from watcher.notify.dashboard import body_hash

    fingerprint = {
        "content": content_hash(proposal.proposal.files),
        "body": body_hash(proposal.proposal.body),
    }
    before = previous.verdict if previous else None
    if before is not None and _quiet(before, verdict, proposal, fingerprint, readers):
        # Nothing upstream, in the chart, or on the PR changed: no GitHub call at all.
        return store.record_verdict(
            run_id, replace(verdict, state=before.state, extra=before.extra)
        )
    first: Event | None = None
    if before is None or before.state in (VerdictState.WAITING, VerdictState.PENDING):
        # The transition to ready is news of its own, even if the PR fails to open.
        first = store.record_verdict(run_id, verdict)
    result = reconcile(
        actor.writer,
        proposal.chart,
        proposal.files.base,
        proposal.proposal,
        finish_body=lambda notes: proposal.body(tuple(notes)),
    )
    extra = {"pr_action": result.action, "note": result.note, **fingerprint}
    if result.number is not None:
        extra |= {"pr_number": str(result.number), "pr_url": result.url or ""}
    acted = replace(verdict, state=result.state, extra=extra)
    if result.note:
        acted = replace(acted, reasons=(*acted.reasons, f"pull request: {result.note}"))
    return store.record_verdict(run_id, acted) or first


def _quiet(
    before: Verdict,
    verdict: Verdict,
    proposal: Plan,
    fingerprint: dict[str, str],
    readers: Readers,
) -> bool:
    """Whether the last reconciliation still holds, judged by free conditional reads."""
    same_target = (
        before.target is not None
        and verdict.target is not None
        and before.target.tag == verdict.target.tag
    )
    if before.state is VerdictState.DONE and (same_target or not proposal.chart.follow):
        return True  # merged: nothing more to do unless following newer releases
    if before.state is not VerdictState.PROPOSED or not same_target:
        return False
    if any(before.extra.get(k) != v for k, v in fingerprint.items()):
        return False
    number, repo = before.extra.get("pr_number"), proposal.chart.repo
    try:
        pr = readers.github.get_json(f"/repos/{repo}/pulls/{number}")
        ref = readers.github.get_json(f"/repos/{repo}/git/ref/heads/{proposal.proposal.branch}")
    except SourceError:
        return False
    return not pr.changed and not ref.changed
