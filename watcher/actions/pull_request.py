"""Open and keep current the one pull request of a chart: idempotent and crash-safe.

The watches of one chart share it (docs/architecture.md, «The chart bump»): each
candidate is decided from GitHub's state (merged or already on the base: done; its
target's PR closed unmerged: respected), the rest are composed into one proposal, and
any other open PR of ours for the chart is closed with a comment. Every step is
re-derived from GitHub's own state, so a run killed at any point is finished by the
next one without duplicates:

- our pull requests are found by the hidden marker in their body (not by local state);
- our commits carry trailers (``Watcher-Chart``, ``Watcher-Content``: a hash of the
  files we write), so "is the branch already right?" costs no content reads, and a head
  commit without them is a human push that we never overwrite;
- the commit's dates are the newest member release's publication time, so re-creating
  a commit after a crash yields the very same SHA (except a commit GitHub signs for an
  App, which GitHub dates: :mod:`watcher.actions.commit_identity`);
- 422 "Reference already exists" / "A pull request already exists" mean an earlier run
  got that far: we pick up what it left;
- a write whose answer is lost is looked up before it is retried (see
  :mod:`watcher.net.github_write`): the branch by its name and target, the pull request by
  its head branch and marker, the merge of the maintainer branch by its trailer, edits by
  re-reading what they changed. Trees and commits are addressed by their content, so
  repeating one creates nothing new.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from github import GithubException, InputGitAuthor, InputGitTreeElement
from github.Commit import Commit
from github.GitRef import GitRef
from github.PullRequest import PullRequest
from github.Repository import Repository
from packaging.version import Version

from watcher.actions.commit_identity import commit_identity
from watcher.actions.grouping import (
    ChartProposal,
    chart_branch,
    chart_key,
    closed_body,
    parse_chart_marker,
)
from watcher.config.model import ChartConfig
from watcher.core.models import VerdictState
from watcher.net.github_write import GitHubWriter, error_text
from watcher.net.retry import done, found

HUMAN_PUSH_MARK = "<!-- watcher:human-push head={sha} -->"
CLOSING_MARK = "<!-- watcher:closing pr={number} -->"


@dataclass(frozen=True)
class Candidate:
    """A ready watch of the chart: its target, and whether its own bump changes the chart."""

    watch_id: str
    target: str
    follow: bool = False
    changes: bool = True


@dataclass(frozen=True)
class MemberOutcome:
    """Where one watch of the chart stands after reconciliation."""

    state: VerdictState
    note: str = ""


@dataclass(frozen=True)
class PullRequestOutcome:
    """What reconciliation did to the chart's pull request, and where each watch stands."""

    action: str
    members: Mapping[str, MemberOutcome]
    number: int | None = None
    url: str | None = None
    head_sha: str | None = None
    note: str = ""
    proposal: ChartProposal | None = None


@dataclass(frozen=True)
class _Ours:
    """One of our pull requests: the chart it bumps (None: an older single-watch PR)."""

    pr: PullRequest
    chart: str | None
    targets: Mapping[str, str]


# Builds the chart's proposal for the given watches (config order), with body notes.
Build = Callable[[Sequence[str], Sequence[str]], ChartProposal]


def content_hash(files: Mapping[str, str]) -> str:
    """A short stable hash of the files a proposal writes (path -> text)."""
    blob = json.dumps(dict(files), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def reconcile(
    writer: GitHubWriter,
    chart: ChartConfig,
    base: str,
    candidates: Sequence[Candidate],
    build: Build,
) -> PullRequestOutcome:
    """Bring the chart's one pull request in line with its ready ``candidates``.

    ``chart`` gives the pull request's options (labels, draft, prepared branch);
    ``build`` composes the proposal for the candidates that still need one.
    """
    return _Reconciler(writer, chart, base, candidates, build).run()


class _Reconciler:
    def __init__(
        self,
        writer: GitHubWriter,
        chart: ChartConfig,
        base: str,
        candidates: Sequence[Candidate],
        build: Build,
    ) -> None:
        self.w = writer
        self.chart = chart
        self.base = base
        self.candidates = candidates
        self.build = build
        self.key = chart_key(chart)
        self.branch = chart_branch(chart)
        # A read, but under the writer's policy like every other call: PyGithub's errors
        # (requests' ConnectionError too) become WatcherErrors here.
        self.repo: Repository = writer.call(
            "read repository", lambda: writer.gh.get_repo(chart.repo), write=False
        )
        self.notes: list[str] = []
        self._edited = False

    def run(self) -> PullRequestOutcome:
        ours = self._our_pulls()
        members: dict[str, MemberOutcome] = {}
        for candidate in self.candidates:
            decided = self._decide(candidate, ours)
            if decided is not None:
                members[candidate.watch_id] = decided
        eligible = [c.watch_id for c in self.candidates if c.watch_id not in members]
        open_prs = [o.pr for o in ours if o.pr.state == "open"]
        if not eligible:
            why = "; ".join(f"{w}: {m.note}" for w, m in members.items()) or "no watch is ready"
            for pr in open_prs:
                self._close(pr, f"nothing is left to change ({why})")
            return PullRequestOutcome("closed" if open_prs else "none", members, note=why)
        self.p = self.build(eligible, ())
        self.hash = content_hash(self.p.files)
        primary = next((pr for pr in open_prs if pr.head.ref == self.branch), None)
        head = self._branch_head()
        if head is not None and not self._is_ours(head[1]):
            return self._human_push(primary, head[0], eligible, members)
        pushed = False
        if head is None or _trailer(head[1], "Watcher-Content") != self.hash:
            head_sha = self._push(exists=head is not None)
            pushed = True
        else:
            head_sha = head[0]
        head_sha = self._merge_prepared(head_sha, head[1] if head and not pushed else "")
        self.p = self.build(eligible, tuple(self.notes))
        pr, created = self._ensure_pull(primary, self.p.body)
        for other in open_prs:
            if other.number != pr.number:
                self._close(other, f"superseded by #{pr.number}, the chart's one pull request")
        action = "opened" if created else ("updated" if pushed or self._edited else "unchanged")
        members |= {w: MemberOutcome(VerdictState.PROPOSED) for w in eligible}
        note = "; ".join(self.notes)
        return PullRequestOutcome(
            action, members, pr.number, pr.html_url, head_sha, note, proposal=self.p
        )

    def _decide(self, candidate: Candidate, ours: list[_Ours]) -> MemberOutcome | None:
        """Where a watch stands without the pull request: done, respected, or None (in it)."""
        watch, target = candidate.watch_id, candidate.target
        merged = [(o.pr, o.targets[watch]) for o in ours if o.pr.merged_at and watch in o.targets]
        if merged:
            pr, tag = max(merged, key=lambda item: _version(item[1]))
            # follow = true: a newer target gets a new pull request
            if not (candidate.follow and _version(tag) < _version(target)):
                return MemberOutcome(VerdictState.DONE, f"PR #{pr.number} ({tag}) was merged")
        for o in ours:
            if o.pr.state == "closed" and not o.pr.merged_at and o.targets.get(watch) == target:
                return MemberOutcome(
                    VerdictState.READY,
                    f"PR #{o.pr.number} for {target} was closed unmerged; watcher does not "
                    "reopen it (a newer release may open a new one)",
                )
        if not candidate.changes:
            note = f"{self.base} already has {target}: nothing to change"
            return MemberOutcome(VerdictState.DONE, note)
        return None

    # -- finding what exists ---------------------------------------------------------------

    def _our_pulls(self) -> list[_Ours]:
        """Our pull requests of this chart: on its branch, and older single-watch ones.

        The single-watch branch ``watcher/<watch-id>`` of an older version is searched
        for each candidate, so such a PR is adopted: merged or closed it counts as the
        chart's, open it is closed in favour of the chart's one pull request.
        """
        owner = self.chart.repo.split("/")[0]
        legacy = {f"watcher/{c.watch_id}": c.watch_id for c in self.candidates}
        found: list[_Ours] = []
        for branch in (self.branch, *legacy):
            pulls = self.w.call(
                "list pull requests",
                lambda branch=branch: list(  # type: ignore[misc]
                    self.repo.get_pulls(state="all", head=f"{owner}:{branch}")
                ),
                write=False,
            )
            for pr in pulls:
                mark = parse_chart_marker(pr.body)
                if mark is None:
                    continue
                chart, targets = mark
                if chart == self.key or (chart is None and legacy.get(branch) in targets):
                    found.append(_Ours(pr, chart, targets))
        return found

    def _branch_head(self) -> tuple[str, str] | None:
        try:
            ref = self.w.call(
                "read branch",
                lambda: self.repo.get_git_ref(f"heads/{self.branch}"),
                write=False,
                passthrough=(404,),
            )
        except GithubException:
            return None
        sha = ref.object.sha
        commit = self.w.call("read commit", lambda: self.repo.get_git_commit(sha), write=False)
        return sha, commit.message

    # -- writing ---------------------------------------------------------------------------

    def _push(self, exists: bool) -> str:
        """One commit on top of the base head with the proposal's files, then move the ref."""
        base_ref = self.w.call(
            "read base branch", lambda: self.repo.get_git_ref(f"heads/{self.base}"), write=False
        )
        base_commit = self.w.call(
            "read base commit", lambda: self.repo.get_git_commit(base_ref.object.sha), write=False
        )
        elements = [
            InputGitTreeElement(path, "100644", "blob", content=text)
            for path, text in sorted(self.p.files.items())
        ]
        tree = self.w.call(
            "create tree",
            lambda: self.repo.create_git_tree(elements, base_tree=base_commit.tree),
            idempotent=True,
        )
        who = commit_identity(self.chart.commit, self.p.published_at, app=self.w.app)
        message = self.p.commit_message + f"Watcher-Content: {self.hash}\n" + who.signoff
        people = {}
        if who.author and who.committer and who.date:
            people["author"] = InputGitAuthor(*who.author, date=who.date)
            people["committer"] = InputGitAuthor(*who.committer, date=who.date)
        # Content-addressed when dated by us; GitHub-dated commits: see commit_identity.
        commit = self.w.call(
            "create commit",
            lambda: self.repo.create_git_commit(message, tree, [base_commit], **people),
            idempotent=True,
        )
        self._move_ref(commit.sha, exists)
        return commit.sha

    def _move_ref(self, sha: str, exists: bool) -> None:
        ref_name = f"heads/{self.branch}"
        if not exists:
            try:
                self.w.call(
                    "create branch",
                    lambda: self.repo.create_git_ref(f"refs/{ref_name}", sha),
                    passthrough=(422,),
                    lookup=lambda: self._ref_at(ref_name, sha),
                )
                return
            except GithubException as exc:
                if "already exists" not in error_text(exc):
                    raise
                # An earlier run created it after we looked: check it is still ours below.
                head = self._branch_head()
                if head is not None and not self._is_ours(head[1]):
                    raise
        ref = self.w.call("read branch", lambda: self.repo.get_git_ref(ref_name), write=False)

        move = done(lambda: ref.edit(sha, force=True))
        self.w.call("move branch", move, lookup=lambda: found(self._ref_at(ref_name, sha)))

    def _ref_at(self, ref_name: str, sha: str) -> GitRef | None:
        """The ref ``ref_name`` if it exists and points at ``sha`` (a lost write's lookup)."""
        try:
            ref = self.repo.get_git_ref(ref_name)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise
        return ref if ref.object.sha == sha else None

    def _merge_prepared(self, head_sha: str, head_message: str) -> str:
        prepared = self.chart.prepared_branch
        if not prepared or _trailer(head_message, "Watcher-Prepared"):
            if prepared:
                self.notes.append(f"maintainer branch `{prepared}` is merged into this one")
            return head_sha
        message = (
            f"Merge maintainer branch {prepared} into {self.branch}\n\n"
            f"Watcher-Chart: {self.key}\n"
            f"Watcher-Content: {self.hash}\nWatcher-Prepared: merged\n"
        )
        try:
            merge = self.w.call(
                "merge prepared branch",
                lambda: self.repo.merge(self.branch, prepared, message),
                passthrough=(404, 409),
                lookup=self._prepared_merge,
            )
        except GithubException as exc:
            why = "it conflicts with the bump" if exc.status == 409 else "it does not exist"
            self.notes.append(f"maintainer branch `{prepared}` was not merged: {why}")
            return head_sha
        self.notes.append(f"maintainer branch `{prepared}` is merged into this one")
        return merge.sha if merge is not None else head_sha

    def _prepared_merge(self) -> Commit | None:
        """The branch head if it is our merge of the maintainer branch (found by trailer)."""
        head = self._branch_head()
        if head is None or _trailer(head[1], "Watcher-Prepared") != "merged":
            return None
        return self.repo.get_commit(head[0])

    def _ensure_pull(self, open_pr: PullRequest | None, body: str) -> tuple[PullRequest, bool]:
        if open_pr is not None:
            if open_pr.title != self.p.title or (open_pr.body or "") != body:
                self._edit_pull(open_pr, body)
                self._edited = True
            return open_pr, False
        try:
            pr = self.w.call(
                "open pull request",
                lambda: self.repo.create_pull(
                    base=self.base,
                    head=self.branch,
                    title=self.p.title,
                    body=body,
                    draft=self.chart.draft,
                ),
                passthrough=(422,),
                lookup=self._open_pull,
            )
        except GithubException as exc:
            if "already exists" not in error_text(exc):
                raise
            existing = self._open_pull()
            if existing is None:
                raise
            return self._ensure_pull(existing, body)[0], False
        self._decorate(pr)
        return pr, True

    def _open_pull(self) -> PullRequest | None:
        """The chart's open pull request, found by its head branch and marker."""
        return next(
            (o.pr for o in self._our_pulls() if o.pr.state == "open" and o.chart == self.key),
            None,
        )

    def _edit_pull(self, pr: PullRequest, body: str) -> None:
        def lookup() -> bool | None:
            now = self.repo.get_pull(pr.number)
            return found(now.title == self.p.title and (now.body or "") == body)

        edit = done(lambda: pr.edit(title=self.p.title, body=body))
        self.w.call("update pull request", edit, lookup=lookup)

    def _decorate(self, pr: PullRequest) -> None:
        # Each is looked up on the issue (labels, assignees) or the review requests after a
        # lost answer, so a retry only adds what is still missing.
        labels, assignees = set(self.chart.labels), set(self.chart.assignees)
        reviewers = set(self.chart.reviewers)
        if labels:
            self.w.call(
                "add labels",
                done(lambda: pr.add_to_labels(*self.chart.labels)),
                lookup=lambda: found(labels <= {x.name for x in pr.as_issue().labels}),
            )
        if assignees:
            self.w.call(
                "add assignees",
                done(lambda: pr.add_to_assignees(*self.chart.assignees)),
                lookup=lambda: found(assignees <= {u.login for u in pr.as_issue().assignees}),
            )
        if reviewers:
            self.w.call(
                "request reviewers",
                done(lambda: pr.create_review_request(reviewers=list(self.chart.reviewers))),
                lookup=lambda: found(reviewers <= {u.login for u in pr.get_review_requests()[0]}),
            )

    def _human_push(
        self,
        open_pr: PullRequest | None,
        head_sha: str,
        eligible: Sequence[str],
        members: dict[str, MemberOutcome],
    ) -> PullRequestOutcome:
        note = (
            f"someone else pushed to `{self.branch}` (head {head_sha[:12]}); watcher leaves "
            "the branch alone. Delete the branch (or merge/close the PR) to let watcher act again."
        )
        state = VerdictState.READY if open_pr is None else VerdictState.PROPOSED
        members |= {w: MemberOutcome(state, note) for w in eligible}
        if open_pr is None:
            return PullRequestOutcome("human-push", members, head_sha=head_sha, note=note)
        targets = ", ".join(f"{w} {t}" for w, t in self.p.targets.items())
        self._comment_once(
            open_pr,
            HUMAN_PUSH_MARK.format(sha=head_sha),
            f"watcher wanted to update this pull request ({targets}), but {note}",
        )
        return PullRequestOutcome(
            "human-push", members, open_pr.number, open_pr.html_url, head_sha, note
        )

    def _close(self, pr: PullRequest, why: str) -> None:
        """Close one of our pull requests with a comment saying why; its marker is disarmed.

        Disarmed, the next cycle takes it neither for an open PR nor for one a maintainer
        closed (which would be respected).
        """
        self._comment_once(pr, CLOSING_MARK.format(number=pr.number), f"watcher closes this: {why}")
        body = closed_body(pr.body or "")

        def lookup() -> bool | None:
            return found(self.repo.get_pull(pr.number).state == "closed")

        close = done(lambda: pr.edit(state="closed", body=body))
        self.w.call("close pull request", close, lookup=lookup)
        self.notes.append(f"closed #{pr.number}: {why}")

    def _comment_once(self, pr: PullRequest, mark: str, text: str) -> None:
        """Comment ``text`` on ``pr`` unless a comment with ``mark`` is already there."""
        comments = self.w.call("read comments", lambda: list(pr.get_issue_comments()), write=False)
        if any(mark in (c.body or "") for c in comments):
            return
        self.w.call(
            "comment on pull request",
            lambda: pr.create_issue_comment(f"{mark}\n{text}"),
            lookup=lambda: next(
                (c for c in pr.get_issue_comments() if mark in (c.body or "")), None
            ),
        )

    def _is_ours(self, message: str) -> bool:
        """Whether a head commit is watcher's for this chart (by its trailer)."""
        return _trailer(message, "Watcher-Chart") == self.key


def _trailer(message: str, key: str) -> str | None:
    for line in reversed(message.splitlines()):
        if line.startswith(f"{key}: "):
            return line.split(": ", 1)[1].strip()
    return None


def _version(tag: str) -> Version:
    return Version(tag.lstrip("v"))
