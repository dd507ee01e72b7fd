"""Frozen value objects that cross layer boundaries (sources -> evaluate -> state -> CLI).

This module imports nothing of ours (docs/architecture.md, «Invariants»): every other layer
depends on it, never the other way round.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime


class SignalName(enum.StrEnum):
    """The kinds of evidence a watch can gather.

    Which ones a watch requires: docs/architecture.md, «What support landed means».
    """

    RELEASE = "release"
    FEATURE = "feature"
    IMAGE = "image"
    CHANGELOG = "changelog"
    ISSUE = "issue"
    # Commit-graph evidence: the merge commits of the watch's pull requests are ancestors
    # of the release's tag commit (docs/architecture.md, «What support landed means»).
    PULLS = "pulls"


class SignalStatus(enum.StrEnum):
    """Outcome of one signal: it holds, it was checked and does not hold, or it failed."""

    HOLDS = "holds"
    MISSING = "missing"
    ERROR = "error"
    SKIPPED = "skipped"


class VerdictState(enum.StrEnum):
    """The per-watch state machine of docs/architecture.md, «What support landed means»."""

    WAITING = "waiting"
    PENDING = "pending"
    READY = "ready"
    PROPOSED = "proposed"
    DONE = "done"


# The states in which a watch counts as ready: the PR may be open or already merged.
READY_STATES = frozenset({VerdictState.READY, VerdictState.PROPOSED, VerdictState.DONE})


@dataclass(frozen=True)
class Release:
    """A GitHub release that passed the watch's tag pattern (draft or not, stable or not)."""

    tag: str
    version: str
    prerelease: bool
    draft: bool
    url: str
    published_at: datetime | None
    name: str = ""

    @property
    def stable(self) -> bool:
        """True for a published release that is no prerelease by flag or by version."""
        return not self.draft and not self.prerelease


@dataclass(frozen=True)
class Excerpt:
    """A passage of upstream text quoted in the PR body (a changelog subsection, a docs page)."""

    title: str
    url: str
    text: str


@dataclass(frozen=True)
class ReleaseNotes:
    """What upstream says of one release between the chart's version and the target.

    ``notes`` are its GitHub release body and its changelog section (raw upstream text,
    sanitised where it is shown); ``breaking`` the passages of those that announce a
    breaking change or an upgrade step, shown before everything else.
    """

    release: Release
    notes: tuple[Excerpt, ...] = ()
    breaking: tuple[Excerpt, ...] = ()


@dataclass(frozen=True)
class UpgradePath:
    """From the version the chart deploys today to the target: every release in between.

    ``releases`` run newest first, the target included, the chart's own version not;
    ``omitted`` counts the oldest ones left out for length. ``current_tag`` is the
    upstream tag of ``current`` when one is known, and ``compare_url`` the upstream's
    compare view from it to the target.
    """

    current: str
    current_tag: str | None
    target: Release
    compare_url: str | None
    releases: tuple[ReleaseNotes, ...]
    omitted: int = 0


@dataclass(frozen=True)
class Signal:
    """One piece of evidence about one release (or about the watch as a whole)."""

    name: SignalName
    status: SignalStatus
    summary: str
    evidence: tuple[str, ...] = ()
    release_tag: str | None = None
    excerpts: tuple[Excerpt, ...] = ()

    @property
    def holds(self) -> bool:
        """Whether this signal is satisfied."""
        return self.status is SignalStatus.HOLDS

    def status_for(self, required: Collection[SignalName]) -> str:
        """Its status as shown to a person: ``missing, not required`` when it does not hold
        and the verdict does not wait for it (READY beside an open issue is no contradiction)."""
        if self.holds or self.name in required:
            return self.status.value
        return f"{self.status.value}, not required"


@dataclass(frozen=True)
class FeatureHit:
    """Where a marker was found in a release's source, and whether in code or a comment."""

    path: str
    line: int
    text: str
    marker: str = ""
    # False when the marker is only in a comment on that line (weaker evidence).
    in_code: bool = True


@dataclass(frozen=True)
class FeatureScan:
    """Result of scanning one release tarball for a marker."""

    found: bool
    hits: tuple[FeatureHit, ...]
    commit_sha: str | None
    members_seen: int
    bytes_read: int
    complete: bool


@dataclass(frozen=True)
class IssueStatus:
    """The observable state of one upstream issue (reported, never required by default)."""

    number: int
    title: str
    state: str
    state_reason: str | None
    url: str
    labels: tuple[str, ...] = ()
    closed_by: str | None = None
    # The pull request of the same repository that closed it, when the timeline names one.
    closing_pull: int | None = None


@dataclass(frozen=True)
class PullRequestInfo:
    """An upstream pull request as the commit-graph signal needs it.

    ``merge_commit_sha`` is set only for a merged pull request: GitHub also fills it for
    an open one (the test merge of ``refs/pull/N/merge``), which is on no branch. It is the
    merge commit, the squash commit, or the last rebased commit, depending on how the pull
    request was merged; in each case a commit of ``base`` once merged.
    """

    number: int
    title: str
    url: str
    state: str
    base: str
    default_branch: str
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None

    @property
    def merged(self) -> bool:
        """Whether the pull request was merged (not merely closed)."""
        return self.merged_at is not None and self.merge_commit_sha is not None


@dataclass(frozen=True)
class CandidateObservation:
    """Everything observed about one stable candidate release, newest first in a list."""

    release: Release
    signals: tuple[Signal, ...]

    def signal(self, name: SignalName) -> Signal | None:
        """The signal of that name, if it was gathered for this release."""
        return next((s for s in self.signals if s.name is name), None)


@dataclass(frozen=True)
class WatchObservation:
    """All signals gathered for one watch in one run; the input of ``evaluate``."""

    watch_id: str
    required: frozenset[SignalName]
    candidates: tuple[CandidateObservation, ...]
    general: tuple[Signal, ...] = ()
    errors: tuple[str, ...] = ()
    prerelease_hint: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The evaluated state of one watch, with one reason line per signal."""

    watch_id: str
    state: VerdictState
    target: Release | None
    signals: tuple[Signal, ...]
    reasons: tuple[str, ...]
    error: str | None = None
    evaluated_at: datetime | None = None
    changed_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class CachedResponse:
    """A stored response body with its validators, so a 304 can be served locally."""

    url: str
    etag: str | None
    last_modified: str | None
    status: int
    content_type: str | None
    body: bytes
    #: When the server last gave or confirmed (a 304) this body; None when not known.
    #: Not part of the answer: two copies of one answer are equal whenever stamped.
    stored_at: datetime | None = field(default=None, compare=False)
