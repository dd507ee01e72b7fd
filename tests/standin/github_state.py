"""The data behind the GitHub stand-in: repositories, releases, issues, pull requests,
tokens, apps, quota.

Tests change it directly (``standin.github.add_release(...)``) while the server runs;
one re-entrant lock keeps readers in server threads from seeing half an edit.
"""

from __future__ import annotations

import itertools
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from tests.standin.apps import INSTALLATION_TOKEN_SECONDS, AppRegistry, AppState
from tests.standin.gitdata import commit_files, merge_commit, rebase_commits, squash_commit
from tests.standin.gitrepo import GitRepo, Identity
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
class CommentState:
    """One issue (or pull request conversation) comment."""

    id: int
    issue_number: int
    body: str
    author: str
    created_at: datetime
    updated_at: datetime


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
    assignees: list[str] = field(default_factory=list)
    comments: list[CommentState] = field(default_factory=list)


@dataclass
class PullState:
    """The pull-request side of an issue number (title, body, state live in its issue).

    ``head_sha`` is frozen when the pull request is closed or merged; while it is open
    the head is read from the branch, like GitHub's.
    """

    number: int
    head_ref: str
    base_ref: str
    head_sha: str
    draft: bool = False
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    requested_reviewers: list[str] = field(default_factory=list)


@dataclass
class LabelState:
    """A repository label."""

    name: str
    color: str | None = None
    description: str | None = None


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
    pulls: dict[int, PullState] = field(default_factory=dict)
    labels: dict[str, LabelState] = field(default_factory=dict)
    # Commits GitHub signed itself (an App's API commit without author or committer).
    signed_commits: set[str] = field(default_factory=set)

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    def next_number(self) -> int:
        """The next issue number; pull requests and issues share the sequence, like GitHub."""
        return max(self.issues, default=0) + 1

    def comment(self, comment_id: int) -> CommentState | None:
        """The issue comment ``comment_id`` anywhere in the repository, or None."""
        for issue in self.issues.values():
            for item in issue.comments:
                if item.id == comment_id:
                    return item
        return None

    def release(self, tag: str) -> ReleaseState | None:
        """The release for ``tag``, if any."""
        return next((r for r in self.releases if r.tag_name == tag), None)


@dataclass(frozen=True)
class TokenInfo:
    """A token: which repositories it may push to, its hourly limit and who it acts as.

    ``kind`` is ``"pat"`` (a personal access token) or ``"installation"`` (a GitHub App
    installation token, which expires at ``expires_at``, epoch seconds).
    """

    token: str
    push_to: frozenset[str]
    limit: int
    login: str = "stand-in-user"
    kind: str = "pat"
    expires_at: float | None = None


# Quota identity of requests authenticated by an app's JWT (``app:ID``).
APP_IDENTITY = "app:"


def noreply(login: str) -> str:
    """GitHub's no-reply e-mail address of ``login``."""
    return f"{zlib.crc32(login.encode())}+{login}@users.noreply.github.com"


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
        self.apps = AppRegistry()
        # (N, seconds): more than N content-creating requests in that window get GitHub's
        # secondary-rate-limit 403. None (the default) switches the limit off.
        self.content_limit: tuple[int, float] | None = None
        self._content_times: deque[float] = deque()
        self._ids = itertools.count(1_000_001)

    def next_id(self) -> int:
        """A fresh numeric id (repositories, releases, issues, events share one sequence)."""
        with self.lock:
            return next(self._ids)

    def now_dt(self) -> datetime:
        """The stand-in's clock as a UTC datetime (whole seconds, like GitHub's stamps)."""
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
                created_at=self.now_dt(),
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
        self,
        token: str,
        push_to: Iterable[str] = (),
        limit: int = TOKEN_LIMIT,
        login: str = "stand-in-user",
    ) -> TokenInfo:
        """Accept ``token`` acting as ``login``; it may write to (and see drafts of) ``push_to``."""
        info = TokenInfo(token, frozenset(p.lower() for p in push_to), limit, login)
        with self.lock:
            self.tokens[token] = info
        return info

    def token_info(self, token: str | None) -> TokenInfo | None:
        """The token's record; None when unknown or (installation tokens) expired."""
        with self.lock:
            info = self.tokens.get(token) if token is not None else None
        if info is not None and info.expires_at is not None and self.now() >= info.expires_at:
            return None
        return info

    def add_app(
        self,
        app_id: int,
        public_key_pem: str | bytes,
        installation_id: int,
        repos: Iterable[str] = (),
        slug: str | None = None,
    ) -> AppState:
        """Register a GitHub App (its public key) installed on ``repos``."""
        return self.apps.add(app_id, public_key_pem, installation_id, repos, self.now_dt(), slug)

    def issue_installation_token(self, app: AppState) -> TokenInfo:
        """A new one-hour installation token for ``app``, usable as a push token."""
        info = TokenInfo(
            token=self.apps.new_token(),
            push_to=app.repos,
            limit=TOKEN_LIMIT,
            login=app.bot_login,
            kind="installation",
            expires_at=float(int(self.now()) + INSTALLATION_TOKEN_SECONDS),
        )
        with self.lock:
            self.tokens[info.token] = info
            app.tokens.append(info.token)
        return info

    def take_content_slot(self) -> float | None:
        """Count one content-creating request; seconds to wait when over ``content_limit``."""
        if self.content_limit is None:
            return None
        most, window = self.content_limit
        now = self.now()
        with self.lock:
            while self._content_times and self._content_times[0] <= now - window:
                self._content_times.popleft()
            if len(self._content_times) >= most:
                return self._content_times[0] + window - now
            self._content_times.append(now)
        return None

    def can_push(self, token: TokenInfo | None, repo: RepoState) -> bool:
        """Whether ``token`` has push access to ``repo`` (anonymous never has)."""
        return token is not None and repo.full_name.lower() in token.push_to

    def set_remaining(self, token: str | None, remaining: int) -> None:
        """Force the quota left to ``token`` (None: anonymous clients)."""
        self.quota.set_remaining(token, self.limit_for(token), remaining)

    def limit_for(self, token: str | None) -> int:
        """The hourly limit of ``token`` (None: anonymous; ``app:ID``: an app's JWT)."""
        if token is not None and token.startswith(APP_IDENTITY):
            return TOKEN_LIMIT
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
            created_at = repo.git.commit_date(sha) if sha else self.now_dt()
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
        when = when or self.now_dt()
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
        when = created_at or self.now_dt()
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

    # -- pull requests and pushes ------------------------------------------------------

    def open_pull(
        self,
        full_name: str,
        head: str,
        base: str,
        title: str,
        body: str = "",
        author: str = "contributor",
        draft: bool = False,
    ) -> PullState:
        """Open a pull request from branch ``head`` into ``base`` (both must exist)."""
        repo = self.repo(full_name)
        head_sha = repo.git.ref_sha(f"refs/heads/{head}")
        if head_sha is None or repo.git.ref_sha(f"refs/heads/{base}") is None:
            raise KeyError(f"{full_name}: branch {head!r} or {base!r} does not exist")
        with self.lock:
            number = repo.next_number()
            self.add_issue(full_name, number, title, body, author=author, is_pull_request=True)
            pull = PullState(number, head, base, head_sha, draft)
            repo.pulls[number] = pull
        return pull

    def pull(self, full_name: str, number: int) -> tuple[RepoState, PullState, IssueState]:
        """The repository, pull request and its issue side (KeyError when unknown)."""
        repo = self.repo(full_name)
        with self.lock:
            return repo, repo.pulls[number], repo.issues[number]

    def head_sha(self, repo: RepoState, pull: PullState) -> str:
        """The pull request's head: the branch while open (if it exists), else frozen."""
        issue = repo.issues[pull.number]
        if issue.state == "open":
            live = repo.git.ref_sha(f"refs/heads/{pull.head_ref}")
            if live is not None:
                pull.head_sha = live
        return pull.head_sha

    def merge_pull(
        self,
        full_name: str,
        number: int,
        actor: str = "maintainer",
        method: str = "merge",
        message: str | None = None,
        when: datetime | None = None,
    ) -> str | None:
        """Merge an open pull request with real git (merge, squash or rebase); None on a
        conflict.

        The base branch moves to the new commit and the pull request closes as merged,
        ``when`` (default: the stand-in's now) for histories written in the past.
        """
        repo, pull, issue = self.pull(full_name, number)
        if issue.state != "open":
            raise ValueError(f"{full_name}#{number} is not open")
        git = repo.git
        head = self.head_sha(repo, pull)
        base = git.ref_sha(f"refs/heads/{pull.base_ref}")
        if base is None:
            raise KeyError(f"{full_name}: base branch {pull.base_ref} is gone")
        when = when or self.now_dt()
        who = Identity(actor, noreply(actor), when)
        if method == "squash":
            text = message or f"{issue.title} (#{number})"
            sha = squash_commit(git, base, head, text, who)
        elif method == "rebase":
            sha = rebase_commits(git, base, head, who)
        else:
            text = message or (
                f"Merge pull request #{number} from {repo.owner}/{pull.head_ref}\n\n{issue.title}"
            )
            sha = merge_commit(git, (base, head), text, who)
        if sha is None or not git.update_ref(f"refs/heads/{pull.base_ref}", sha, base):
            return None
        with self.lock:
            pull.merged_at, pull.merged_by, pull.merge_commit_sha = when, actor, sha
            issue.state, issue.closed_at, issue.closed_by = "closed", when, actor
            issue.updated_at = when
        return sha

    def record_merged_pull(
        self,
        full_name: str,
        number: int,
        title: str,
        merge_commit_sha: str,
        merged_at: datetime,
        base: str | None = None,
        created_at: datetime | None = None,
    ) -> PullState:
        """A pull request merged before the stand-in's history begins (a mirror's).

        Its merge commit must be in the repository; the head branch is long gone, so the
        head is the merge commit itself (true of a rebase merge's last commit).
        """
        repo = self.repo(full_name)
        issue = self.add_issue(
            full_name,
            number,
            title,
            created_at=created_at or merged_at,
            author="contributor",
            is_pull_request=True,
        )
        pull = PullState(number, f"pr-{number}", base or repo.default_branch, merge_commit_sha)
        with self.lock:
            pull.merged_at, pull.merged_by, pull.merge_commit_sha = (
                merged_at,
                "maintainer",
                merge_commit_sha,
            )
            issue.state, issue.closed_at, issue.closed_by = "closed", merged_at, "maintainer"
            repo.pulls[number] = pull
        return pull

    def close_pull(self, full_name: str, number: int, actor: str = "maintainer") -> PullState:
        """Close a pull request without merging it."""
        repo, pull, issue = self.pull(full_name, number)
        self.head_sha(repo, pull)  # freeze the head as it was when closed
        when = self.now_dt()
        with self.lock:
            issue.state, issue.closed_at, issue.closed_by = "closed", when, actor
            issue.updated_at = when
        return pull

    def push_commit(
        self,
        full_name: str,
        branch: str,
        files: Mapping[str, str | bytes | None],
        author: str = "maintainer",
        message: str | None = None,
        when: datetime | None = None,
    ) -> str:
        """A human push: one commit of ``files`` (None deletes) on top of ``branch``."""
        repo = self.repo(full_name)
        who = Identity(author, noreply(author), when or self.now_dt())
        text = message or f"Update {', '.join(sorted(files))}"
        with self.lock:
            return commit_files(repo.git, branch, files, text, who)
