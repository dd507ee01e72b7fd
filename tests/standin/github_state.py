"""The data behind the GitHub stand-in: repositories, releases, issues, tokens, quota.

Tests change it directly (``standin.github.add_release(...)``) while the server runs;
one re-entrant lock keeps readers in server threads from seeing half an edit.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from tests.standin.gitrepo import GitRepo
from tests.standin.quota import ANONYMOUS_LIMIT, TOKEN_LIMIT, Quota


@dataclass
class ReleaseState:
    """A release as GitHub stores it; ``created_at`` is the tagged commit's date, like GitHub."""

    id: int
    tag_name: str
    name: str
    body: str
    draft: bool
    prerelease: bool
    created_at: datetime
    published_at: datetime | None
    updated_at: datetime
    target_commitish: str
    author: str

    @property
    def stable_published(self) -> bool:
        """Published and not a prerelease: what ``/releases/latest`` may return."""
        return not self.draft and not self.prerelease


@dataclass(frozen=True)
class CrossRef:
    """The issue or pull request (possibly in another repository) that mentioned an issue."""

    repo: str
    number: int
    title: str
    is_pull_request: bool = False
    state: str = "open"
    merged_at: datetime | None = None


@dataclass
class TimelineEvent:
    """One issue timeline event; ``cross-referenced`` ones carry a ``source``."""

    id: int
    event: str
    created_at: datetime
    actor: str
    commit_id: str | None = None
    state_reason: str | None = None
    source: CrossRef | None = None


@dataclass
class IssueState:
    """An issue (or, with ``is_pull_request``, the issue side of a pull request)."""

    id: int
    number: int
    title: str
    body: str
    state: str
    state_reason: str | None
    labels: list[str]
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    author: str
    is_pull_request: bool = False
    closed_by: str | None = None
    timeline: list[TimelineEvent] = field(default_factory=list)


@dataclass
class RepoState:
    """One repository: its real git repository plus the GitHub-only data around it."""

    id: int
    owner: str
    name: str
    git: GitRepo
    default_branch: str
    description: str
    created_at: datetime
    releases: list[ReleaseState] = field(default_factory=list)
    issues: dict[int, IssueState] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    def release(self, tag: str) -> ReleaseState | None:
        """The release for ``tag``, if any."""
        return next((r for r in self.releases if r.tag_name == tag), None)


@dataclass(frozen=True)
class TokenInfo:
    """A personal access token: which repositories it may push to, and its hourly limit."""

    token: str
    push_to: frozenset[str]
    limit: int


class GitHubState:
    """Everything the GitHub side serves. Repositories are keyed case-insensitively."""

    def __init__(self, workdir: Path, now: Callable[[], float]) -> None:
        """Keep git repositories under ``workdir``; ``now`` dates edits and quota windows."""
        self.workdir = workdir
        self.now = now
        self.lock = threading.RLock()
        self.repos: dict[str, RepoState] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self.quota = Quota(now)
        self._ids = itertools.count(1_000_001)

    def next_id(self) -> int:
        """A fresh numeric id (repositories, releases, issues, events share one sequence)."""
        with self.lock:
            return next(self._ids)

    def _now_dt(self) -> datetime:
        return datetime.fromtimestamp(int(self.now()), UTC)

    # -- repositories and tokens ------------------------------------------------------

    def add_repo(
        self,
        full_name: str,
        git: GitRepo | None = None,
        default_branch: str = "main",
        description: str = "",
    ) -> RepoState:
        """Register a repository; without ``git`` an empty one is created under workdir."""
        owner, name = full_name.split("/")
        if git is None:
            git = GitRepo.init(self.workdir / "git" / owner / name, default_branch)
        with self.lock:
            if full_name.lower() in self.repos:
                raise ValueError(f"repository {full_name} already exists")
            repo = RepoState(
                id=self.next_id(),
                owner=owner,
                name=name,
                git=git,
                default_branch=default_branch,
                description=description,
                created_at=self._now_dt(),
            )
            self.repos[full_name.lower()] = repo
            return repo

    def repo(self, full_name: str) -> RepoState:
        """The repository ``owner/name`` (KeyError when unknown)."""
        with self.lock:
            return self.repos[full_name.lower()]

    def find_repo(self, owner: str, name: str) -> RepoState | None:
        """The repository, or None."""
        with self.lock:
            return self.repos.get(f"{owner}/{name}".lower())

    def add_token(
        self, token: str, push_to: Iterable[str] = (), limit: int = TOKEN_LIMIT
    ) -> TokenInfo:
        """Accept ``token``; it sees draft releases of the repositories in ``push_to``."""
        info = TokenInfo(token, frozenset(p.lower() for p in push_to), limit)
        with self.lock:
            self.tokens[token] = info
        return info

    def can_push(self, token: TokenInfo | None, repo: RepoState) -> bool:
        """Whether ``token`` has push access to ``repo`` (anonymous never has)."""
        return token is not None and repo.full_name.lower() in token.push_to

    def set_remaining(self, token: str | None, remaining: int) -> None:
        """Force the quota left to ``token`` (None: anonymous clients)."""
        self.quota.set_remaining(token, self.limit_for(token), remaining)

    def limit_for(self, token: str | None) -> int:
        """The hourly limit of ``token`` (None: anonymous)."""
        with self.lock:
            info = self.tokens.get(token) if token is not None else None
        return info.limit if info is not None else ANONYMOUS_LIMIT

    # -- releases ---------------------------------------------------------------------

    def add_release(
        self,
        full_name: str,
        tag: str,
        name: str | None = None,
        body: str = "",
        draft: bool = False,
        prerelease: bool = False,
        created_at: datetime | None = None,
        published_at: datetime | None = None,
        target_commitish: str | None = None,
        author: str = "release-bot",
    ) -> ReleaseState:
        """Publish (or draft) a release; dates default to the tagged commit's date."""
        repo = self.repo(full_name)
        if created_at is None:
            sha = repo.git.resolve(f"refs/tags/{tag}")
            created_at = repo.git.commit_date(sha) if sha else self._now_dt()
        if published_at is None and not draft:
            published_at = created_at
        release = ReleaseState(
            id=self.next_id(),
            tag_name=tag,
            name=tag if name is None else name,
            body=body,
            draft=draft,
            prerelease=prerelease,
            created_at=created_at,
            published_at=None if draft else published_at,
            updated_at=published_at or created_at,
            target_commitish=target_commitish or repo.default_branch,
            author=author,
        )
        with self.lock:
            if repo.release(tag) is not None:
                raise ValueError(f"{full_name} already has a release for {tag}")
            repo.releases.append(release)
        return release

    def edit_release(
        self,
        full_name: str,
        tag: str,
        when: datetime | None = None,
        name: str | None = None,
        body: str | None = None,
        draft: bool | None = None,
        prerelease: bool | None = None,
        created_at: datetime | None = None,
    ) -> ReleaseState:
        """Edit a release after the fact; publishing a draft sets ``published_at``."""
        repo = self.repo(full_name)
        when = when or self._now_dt()
        with self.lock:
            old = repo.release(tag)
            if old is None:
                raise KeyError(f"{full_name} has no release {tag}")
            new = replace(
                old,
                name=old.name if name is None else name,
                body=old.body if body is None else body,
                draft=old.draft if draft is None else draft,
                prerelease=old.prerelease if prerelease is None else prerelease,
                created_at=old.created_at if created_at is None else created_at,
                updated_at=when,
            )
            if old.draft and not new.draft:
                new.published_at = when
            repo.releases[repo.releases.index(old)] = new
            return new

    def delete_release(self, full_name: str, tag: str) -> None:
        """Remove the release of ``tag`` (the tag itself stays)."""
        repo = self.repo(full_name)
        with self.lock:
            repo.releases = [r for r in repo.releases if r.tag_name != tag]

    # -- issues -------------------------------------------------------------------------

    def add_issue(
        self,
        full_name: str,
        number: int,
        title: str,
        body: str = "",
        labels: Iterable[str] = (),
        created_at: datetime | None = None,
        author: str = "reporter",
        is_pull_request: bool = False,
    ) -> IssueState:
        """Open an issue (or a pull request's issue side) with a given number."""
        repo = self.repo(full_name)
        when = created_at or self._now_dt()
        issue = IssueState(
            id=self.next_id(),
            number=number,
            title=title,
            body=body,
            state="open",
            state_reason=None,
            labels=list(labels),
            created_at=when,
            updated_at=when,
            closed_at=None,
            author=author,
            is_pull_request=is_pull_request,
        )
        with self.lock:
            repo.issues[number] = issue
        return issue

    def add_event(
        self,
        full_name: str,
        number: int,
        event: str,
        when: datetime,
        actor: str = "maintainer",
        commit_id: str | None = None,
        state_reason: str | None = None,
        source: CrossRef | None = None,
    ) -> TimelineEvent:
        """Append a timeline event to issue ``number``."""
        issue = self.repo(full_name).issues[number]
        item = TimelineEvent(self.next_id(), event, when, actor, commit_id, state_reason, source)
        with self.lock:
            issue.timeline.append(item)
            issue.updated_at = max(issue.updated_at, when)
        return item

    def close_issue(
        self,
        full_name: str,
        number: int,
        when: datetime,
        reason: str = "completed",
        commit_id: str | None = None,
        actor: str = "maintainer",
    ) -> IssueState:
        """Close an issue, recording a ``closed`` timeline event."""
        issue = self.repo(full_name).issues[number]
        self.add_event(full_name, number, "closed", when, actor, commit_id, reason)
        with self.lock:
            issue.state, issue.state_reason = "closed", reason
            issue.closed_at, issue.closed_by = when, actor
        return issue
