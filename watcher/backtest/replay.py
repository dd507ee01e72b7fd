"""Replay a watch over upstream history: at every moment an input changed, what would ``check`` say?

Pure: no I/O, no clock, no database. :mod:`watcher.backtest.gather` gathers the dated
inputs (a :class:`~watcher.backtest.gather.History`); this module orders the moments
at which one of them changed (a release published, a draft created, an image pushed, a
tag without release, an issue closed, reopened or referenced), rebuilds at each moment
the :class:`~watcher.core.models.WatchObservation` that ``check`` would have built from what
existed then, and runs the same :func:`~watcher.core.evaluate.evaluate` on it.

From the rows it derives the answer a maintainer asks: when the watch would first have
opened its pull request, for which release, and what issue state alone would have said.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from packaging.version import Version

from watcher.backtest.gather import History, IssueFact, ReleaseFact
from watcher.core.evaluate import done_looking, evaluate
from watcher.core.image_ref import ImageRef
from watcher.core.models import (
    READY_STATES,
    CandidateObservation,
    IssueStatus,
    Release,
    Signal,
    SignalName,
    SignalStatus,
    Verdict,
    VerdictState,
    WatchObservation,
)
from watcher.net.registry import ManifestInfo
from watcher.sources import image, issue, release

ASSUMED_IMAGE_TIME = "image time assumed = release time"


class EventKind(enum.StrEnum):
    """What changed at a moment of the timeline."""

    START = "start"
    RELEASE = "release"
    PRERELEASE = "prerelease"
    DRAFT = "draft"
    TAG = "tag"
    IMAGE = "image"
    ISSUE = "issue"


# At one instant, inputs are listed in the order a reader expects (the release before
# its image); all of them are evaluated together since each sees everything <= its time.
_KIND_ORDER = {kind: index for index, kind in enumerate(EventKind)}


@dataclass(frozen=True)
class Moment:
    """One dated change of an input, before evaluation."""

    at: datetime
    kind: EventKind
    event: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    """One line of the timeline: the change and the verdict right after it."""

    at: datetime
    kind: EventKind
    event: str
    verdict: Verdict
    changed: bool
    notes: tuple[str, ...] = ()

    @property
    def state(self) -> VerdictState:
        """The verdict's state."""
        return self.verdict.state

    @property
    def target(self) -> Release | None:
        """The verdict's target release (None while waiting)."""
        return self.verdict.target


@dataclass(frozen=True)
class PullRequestMoment:
    """When the watch would have opened (or updated) its pull request, and for what."""

    at: datetime
    target: Release
    action: str


@dataclass(frozen=True)
class IssueOnlyAnswer:
    """What watching the issues alone would have concluded, and why that is wrong."""

    said: str
    wrong_because: str | None
    per_issue: tuple[str, ...]

    @property
    def wrong(self) -> bool:
        """Whether issue state disagrees with the replayed verdict."""
        return self.wrong_because is not None


@dataclass(frozen=True)
class Backtest:
    """The replayed timeline of one watch and the conclusions drawn from it."""

    watch_id: str
    repo: str
    since: datetime | None
    until: datetime | None
    rows: tuple[Row, ...]
    pull_requests: tuple[PullRequestMoment, ...]
    shipped: Release | None
    first_in_code: Release | None
    issue_only: IssueOnlyAnswer
    notes: tuple[str, ...]
    history: History

    @property
    def opened(self) -> PullRequestMoment | None:
        """The first moment the watch would have opened its pull request."""
        return self.pull_requests[0] if self.pull_requests else None

    @property
    def final(self) -> Verdict | None:
        """The verdict at the end of the window."""
        return self.rows[-1].verdict if self.rows else None

    @property
    def commit_graph(self) -> Signal | None:
        """The `pulls` signal at the release that shipped (else at the end of the window)."""
        if self.shipped is not None:
            fact = next(f for f in self.history.releases if f.release.tag == self.shipped.tag)
            if fact.feature is not None and fact.feature.signal.name is SignalName.PULLS:
                return fact.feature.signal
            if fact.pulls is not None:
                return fact.pulls
        final = self.final
        return (
            next((s for s in final.signals if s.name is SignalName.PULLS), None) if final else None
        )


def backtest(
    history: History, since: datetime | None = None, until: datetime | None = None
) -> Backtest:
    """Replay ``history``; rows are limited to [since, until], conclusions to <= until."""
    moments = [m for m in moments_of(history) if until is None or m.at <= until]
    evaluated = [(m, evaluate(observation_at(history, m.at))) for m in moments]
    rows: list[Row] = []
    previous: Verdict | None = None
    if since is not None:
        previous = evaluate(observation_at(history, since))
        rows.append(
            Row(since, EventKind.START, "state at the start of the window", previous, False)
        )
    for moment, verdict in evaluated:
        changed = previous is None or _key(previous) != _key(verdict)
        previous = verdict
        if since is None or moment.at >= since:
            rows.append(Row(moment.at, moment.kind, moment.event, verdict, changed, moment.notes))
    pull_requests = _pull_requests(evaluated)
    end = until or (moments[-1].at if moments else None)
    shipped = _shipped(history, end)
    return Backtest(
        watch_id=history.watch_id,
        repo=history.repo,
        since=since,
        until=until,
        rows=tuple(rows),
        pull_requests=pull_requests,
        shipped=shipped,
        first_in_code=_first_in_code(history, end),
        issue_only=issue_only_answer(history, shipped, pull_requests, end),
        notes=history.notes,
        history=history,
    )


def moments_of(history: History) -> list[Moment]:
    """Every dated change of an input, oldest first."""
    moments: list[Moment] = []
    for fact in history.releases:
        moments.extend(_release_moments(fact))
    moments.extend(
        Moment(
            tag.committed_at,
            EventKind.TAG,
            f"tag {tag.name} (commit date; no release, never a candidate)",
        )
        for tag in history.tags
    )
    for issue_fact in history.issues:
        moments.extend(_issue_moments(issue_fact))
    moments.sort(key=lambda m: (m.at, _KIND_ORDER[m.kind], m.event))
    return moments


def _release_moments(fact: ReleaseFact) -> list[Moment]:
    rel = fact.release
    if rel.draft:
        if fact.created_at is None:
            return []
        return [
            Moment(
                fact.created_at,
                EventKind.DRAFT,
                f"draft {rel.tag} created (drafts are never candidates)",
            )
        ]
    if rel.published_at is None:
        return []
    if rel.prerelease:
        event = f"{rel.tag} published (prerelease, not a candidate{_feature_hint(fact)})"
        return [Moment(rel.published_at, EventKind.PRERELEASE, event)]
    notes = (
        (ASSUMED_IMAGE_TIME,)
        if any(i.pullable and i.pushed_at is None for i in fact.images)
        else ()
    )
    if fact.edited_after_publishing and fact.updated_at is not None:
        notes = (*notes, f"edited {fact.updated_at:%Y-%m-%d}; flags as of today")
    moments = [Moment(rel.published_at, EventKind.RELEASE, f"{rel.tag} published", notes)]
    # An image pushed after the release is its own moment; one pushed before counts
    # from the publication, since the release is not a candidate until then.
    moments.extend(
        Moment(i.pushed_at, EventKind.IMAGE, f"image {i.ref} pushed")
        for i in fact.images
        if i.pullable and i.pushed_at is not None and i.pushed_at > rel.published_at
    )
    return moments


def _feature_hint(fact: ReleaseFact) -> str:
    if fact.feature is None or not fact.feature.signal.holds:
        return ""
    return ", has the marker" if fact.feature.scanned else ", has the marker (inferred)"


def _issue_moments(fact: IssueFact) -> list[Moment]:
    moments = []
    if fact.opened_at is not None:
        moments.append(
            Moment(fact.opened_at, EventKind.ISSUE, f"#{fact.number} opened: {fact.title}")
        )
    for event in fact.events:
        if event.kind == "closed":
            text = f"#{fact.number} closed ({event.state_reason or 'no reason'})"
            if event.closing:
                text += f" by {event.closing}"
        elif event.kind == "reopened":
            text = f"#{fact.number} reopened"
        else:
            text = f"#{fact.number} referenced by {event.mention or 'an unnamed source'}"
        moments.append(Moment(event.at, EventKind.ISSUE, text))
    return moments


def observation_at(history: History, at: datetime) -> WatchObservation:
    """The observation ``check`` would have built at ``at`` from what existed then."""
    published = sorted(
        (f for f in history.releases if _published_by(f.release, at)),
        key=lambda f: Version(f.release.version),
        reverse=True,
    )
    stable = [f for f in published if f.release.stable]
    candidates: list[CandidateObservation] = []
    for fact in stable[: history.max_candidates]:
        observed = _candidate(fact, stable[0].release, at)
        candidates.append(observed)
        if done_looking(observed, history.required):
            break
    general = (issue_signal_at(history, at),) if history.issues else ()
    return WatchObservation(
        watch_id=history.watch_id,
        required=history.required,
        candidates=tuple(candidates),
        general=general,
        prerelease_hint=_prerelease_hint(published, stable, at),
    )


def _published_by(rel: Release, at: datetime) -> bool:
    return not rel.draft and rel.published_at is not None and rel.published_at <= at


def _candidate(fact: ReleaseFact, newest: Release, at: datetime) -> CandidateObservation:
    rel = fact.release
    signals = [release.release_signal(rel, newest)]
    if fact.feature is None:
        signals.append(
            Signal(SignalName.FEATURE, SignalStatus.SKIPPED, "not gathered", release_tag=rel.tag)
        )
        return CandidateObservation(rel, tuple(signals))
    signals.append(fact.feature.signal)
    if fact.feature.signal.holds:
        available = {
            i.ref: i
            for i in fact.images
            if i.pullable and (i.pushed_at or rel.published_at or at) <= at
        }

        def lookup(ref: ImageRef) -> ManifestInfo | None:
            known = available.get(ref)
            return ManifestInfo(known.digest, None) if known else None

        signals.append(image.image_signal([i.ref for i in fact.images], rel, lookup))
        if fact.pulls is not None:
            signals.append(fact.pulls)
        if fact.changelog is not None:
            signals.append(fact.changelog)
    return CandidateObservation(rel, tuple(signals))


def _prerelease_hint(
    published: Sequence[ReleaseFact], stable: Sequence[ReleaseFact], at: datetime
) -> str | None:
    pre = release.newest_prerelease_above(
        [f.release for f in published], stable[0].release if stable else None
    )
    fact = next((f for f in published if f.release == pre), None)
    if fact is None or fact.feature is None or not fact.feature.signal.holds:
        return None
    return f"{fact.feature.signal.summary} (prerelease, not counted)"


def issue_signal_at(history: History, at: datetime) -> Signal:
    """The ``issue`` signal as it would have read at ``at``, rebuilt from the timelines."""
    return issue.issue_signal([_issue_status_at(fact, at) for fact in history.issues], history.repo)


def _issue_status_at(fact: IssueFact, at: datetime) -> IssueStatus:
    state = "open" if fact.opened_at is None or fact.opened_at <= at else "not opened yet"
    reason: str | None = None
    commit: str | None = None
    pull: str | None = None
    for event in fact.events:
        if event.at > at:
            break
        if event.kind == "closed":
            state, reason = "closed", event.state_reason
            # Like issue.closing_reference: a closing commit wins over referencing PRs.
            if event.closing and commit is None:
                commit = event.closing
        elif event.kind == "reopened":
            state, reason = "open", None
        elif event.closing:
            pull = event.closing
    return IssueStatus(
        number=fact.number,
        title=fact.title,
        state=state,
        state_reason=reason,
        url=fact.url,
        labels=fact.labels,
        closed_by=(commit or pull) if state == "closed" else None,
    )


def _key(verdict: Verdict) -> tuple[VerdictState, str | None]:
    return verdict.state, verdict.target.tag if verdict.target else None


def _pull_requests(evaluated: Iterable[tuple[Moment, Verdict]]) -> tuple[PullRequestMoment, ...]:
    """Open at the first ready verdict; update when a newer target becomes ready."""
    out: list[PullRequestMoment] = []
    for moment, verdict in evaluated:
        target = verdict.target
        if verdict.state not in READY_STATES or target is None:
            continue
        if not out:
            out.append(PullRequestMoment(moment.at, target, "open"))
        elif Version(target.version) > Version(out[-1].target.version):
            out.append(PullRequestMoment(moment.at, target, "update"))
    return tuple(out)


def _feature_releases(history: History, end: datetime | None) -> Iterable[Release]:
    for fact in history.releases:
        rel = fact.release
        holds = fact.feature is not None and fact.feature.signal.holds
        if holds and rel.published_at is not None and (end is None or _published_by(rel, end)):
            yield rel


def _shipped(history: History, end: datetime | None) -> Release | None:
    """The first stable release (by publication time) whose source has the feature."""
    stable = [r for r in _feature_releases(history, end) if r.stable]
    return min(stable, key=_published, default=None)


def _first_in_code(history: History, end: datetime | None) -> Release | None:
    """The first published release of any kind (prereleases too) that has the feature."""
    return min(_feature_releases(history, end), key=_published, default=None)


def _published(rel: Release) -> datetime:
    assert rel.published_at is not None  # filtered by _feature_releases
    return rel.published_at


def issue_only_answer(
    history: History,
    shipped: Release | None,
    pull_requests: Sequence[PullRequestMoment],
    end: datetime | None,
) -> IssueOnlyAnswer:
    """What "supported once the issues are closed as completed" would have said, and why not."""
    if not history.issues:
        return IssueOnlyAnswer("nothing (no issues are watched)", None, ())
    closed_at = _issues_done_at(history, end)
    numbers = ", ".join(f"#{f.number}" for f in history.issues)
    shipped_at = shipped.published_at if shipped else None
    per_issue = tuple(_issue_line(fact, shipped, end) for fact in history.issues)
    if closed_at is None:
        still_open = ", ".join(
            f"#{f.number}"
            for f in history.issues
            if end is None or _issue_status_at(f, end).state != "closed"
        )
        said = f"not supported ({still_open or numbers} not closed as completed)"
        because = None
        if shipped is not None and shipped_at is not None:
            because = f"{shipped.tag} has shipped it since {shipped_at:%Y-%m-%d}"
        return IssueOnlyAnswer(said, because, per_issue)
    said = f"supported from {closed_at:%Y-%m-%d} (when {numbers} were all closed as completed)"
    if shipped is None or shipped_at is None:
        return IssueOnlyAnswer(said, "no stable release had the feature at all", per_issue)
    days = (shipped_at - closed_at).days
    if days > 0:
        because = (
            f"no stable release had it until {shipped.tag} on {shipped_at:%Y-%m-%d}, "
            f"{days} days later"
        )
        return IssueOnlyAnswer(said, because, per_issue)
    if days < 0:
        return IssueOnlyAnswer(
            said, f"{shipped.tag} had shipped it {-days} days earlier", per_issue
        )
    opened = pull_requests[0].at if pull_requests else None
    agrees = (
        None if opened is None or opened.date() == closed_at.date() else "the PR moment differs"
    )
    return IssueOnlyAnswer(said, agrees, per_issue)


def _issues_done_at(history: History, end: datetime | None) -> datetime | None:
    """The first time every watched issue was closed as completed (still so at ``end``)."""
    times = sorted({e.at for f in history.issues for e in f.events if end is None or e.at <= end})
    done_since: datetime | None = None
    for at in times:
        done = issue_signal_at(history, at).holds
        if done and done_since is None:
            done_since = at
        elif not done:
            done_since = None
    return done_since


def _issue_line(fact: IssueFact, shipped: Release | None, end: datetime | None) -> str:
    status = _issue_status_at(fact, end) if end is not None else None
    closes = [e.at for e in fact.events if e.kind == "closed" and (end is None or e.at <= end)]
    shipped_at = shipped.published_at if shipped else None
    if status is not None and status.state == "closed" and closes:
        line = f"#{fact.number} closed ({status.state_reason or 'no reason'}) {closes[-1]:%Y-%m-%d}"
        if shipped is not None and shipped_at is not None:
            days = (shipped_at - closes[-1]).days
            when = f"{days} days before" if days >= 0 else f"{-days} days after"
            line += f", {when} {shipped.tag} shipped it ({shipped_at:%Y-%m-%d})"
        else:
            line += ", yet no stable release has the feature"
        return line
    line = f"#{fact.number} still open"
    if end is not None:
        line += f" at {end:%Y-%m-%d}"
    if shipped is not None and shipped_at is not None and end is not None:
        days = (end - shipped_at).days
        line += f", {days} days after {shipped.tag} shipped it ({shipped_at:%Y-%m-%d})"
    return line
