"""Open and keep current the chart-bump pull request: idempotent and crash-safe.

Every step is re-derived from GitHub's own state, so a run killed at any point is
finished by the next one without duplicates:

- our pull requests are found by the hidden marker in their body (not by local state);
- our commits carry trailers (``Watcher-Watch``, ``Watcher-Target``, ``Watcher-Content``:
  a hash of the files we write), so "is the branch already right?" costs no content
  reads, and a head commit without them is a human push that we never overwrite;
- the commit's dates are the release's publication time, so re-creating a commit after
  a crash yields the very same SHA (except a commit GitHub signs for an App, which GitHub
  dates: :mod:`watcher.actions.commit_identity`);
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
from watcher.actions.proposal import Proposal, parse_marker
from watcher.config.model import ChartConfig
from watcher.core.models import VerdictState
from watcher.net.github_write import GitHubWriter, error_text
from watcher.net.retry import done, found

HUMAN_PUSH_MARK = "<!-- watcher:human-push head={sha} -->"


@dataclass(frozen=True)
class PullRequestOutcome:
    """What reconciliation did and the state the watch is in afterwards."""

    action: str
    state: VerdictState
    number: int | None = None
    url: str | None = None
    head_sha: str | None = None
    note: str = ""


def content_hash(files: Mapping[str, str]) -> str:
    """A short stable hash of the files a proposal writes (path -> text)."""
    blob = json.dumps(dict(files), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def reconcile(
    writer: GitHubWriter,
    chart: ChartConfig,
    base: str,
    proposal: Proposal,
    finish_body: Callable[[Sequence[str]], str] | None = None,
) -> PullRequestOutcome:
    """Bring the chart repository in line with ``proposal`` and report the outcome."""
    return _Reconciler(writer, chart, base, proposal, finish_body).run()


class _Reconciler:
    def __init__(
        self,
        writer: GitHubWriter,
        chart: ChartConfig,
        base: str,
        proposal: Proposal,
        finish_body: Callable[[Sequence[str]], str] | None,
    ) -> None:
        self.w = writer
        self.chart = chart
        self.base = base
        self.p = proposal
        self.finish_body = finish_body
        # A read, but under the writer's policy like every other call: PyGithub's errors
        # (requests' ConnectionError too) become WatcherErrors here.
        self.repo: Repository = writer.call(
            "read repository", lambda: writer.gh.get_repo(chart.repo), write=False
        )
        self.hash = content_hash(proposal.files)
        self.notes: list[str] = []
        self._edited = False

    def run(self) -> PullRequestOutcome:
        ours = self._our_pulls()
        done = self._merged_outcome(ours)
        if done is not None:
            return done
        open_pr = next((pr for pr, _ in ours if pr.state == "open"), None)
        if open_pr is None:
            closed = next(
                (pr for pr, t in ours if t == self.p.target.tag and pr.state == "closed"), None
            )
            if closed is not None:
                return PullRequestOutcome(
                    "closed-respected",
                    VerdictState.READY,
                    closed.number,
                    closed.html_url,
                    note=f"PR #{closed.number} for {self.p.target.tag} was closed unmerged; "
                    "watcher does not reopen it (a newer release may open a new one)",
                )
        head = self._branch_head()
        if head is not None and not _is_ours(head[1], self.p.watch_id):
            return self._human_push(open_pr, head[0])
        pushed = False
        if head is None or _trailer(head[1], "Watcher-Content") != self.hash:
            head_sha = self._push(exists=head is not None)
            pushed = True
        else:
            head_sha = head[0]
        head_sha = self._merge_prepared(head_sha, head[1] if head and not pushed else "")
        body = self.finish_body(self.notes) if self.finish_body else self.p.body
        pr, created = self._ensure_pull(open_pr, body)
        action = "opened" if created else ("updated" if pushed or self._edited else "unchanged")
        return PullRequestOutcome(
            action, VerdictState.PROPOSED, pr.number, pr.html_url, head_sha, "; ".join(self.notes)
        )

    # -- finding what exists ---------------------------------------------------------------

    def _our_pulls(self) -> list[tuple[PullRequest, str]]:
        owner = self.chart.repo.split("/")[0]
        pulls = self.w.call(
            "list pull requests",
            lambda: list(self.repo.get_pulls(state="all", head=f"{owner}:{self.p.branch}")),
            write=False,
        )
        found = []
        for pr in pulls:
            mark = parse_marker(pr.body)
            if mark and mark[0] == self.p.watch_id:
                found.append((pr, mark[1]))
        return found

    def _merged_outcome(self, ours: list[tuple[PullRequest, str]]) -> PullRequestOutcome | None:
        merged = [(pr, tag) for pr, tag in ours if pr.merged_at is not None]
        if not merged:
            return None
        newest_pr, newest_tag = max(merged, key=lambda item: _version(item[1]))
        if self.chart.follow and _version(newest_tag) < _version(self.p.target.tag):
            return None  # follow = true: a newer target gets a new pull request
        return PullRequestOutcome(
            "merged",
            VerdictState.DONE,
            newest_pr.number,
            newest_pr.html_url,
            note=f"PR #{newest_pr.number} ({newest_tag}) was merged",
        )

    def _branch_head(self) -> tuple[str, str] | None:
        try:
            ref = self.w.call(
                "read branch",
                lambda: self.repo.get_git_ref(f"heads/{self.p.branch}"),
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
        who = commit_identity(self.chart.commit, self.p.target.published_at, app=self.w.app)
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
        ref_name = f"heads/{self.p.branch}"
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
                if head is not None and not _is_ours(head[1], self.p.watch_id):
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
            f"Merge maintainer branch {prepared} into {self.p.branch}\n\n"
            f"Watcher-Watch: {self.p.watch_id}\nWatcher-Target: {self.p.target.tag}\n"
            f"Watcher-Content: {self.hash}\nWatcher-Prepared: merged\n"
        )
        try:
            merge = self.w.call(
                "merge prepared branch",
                lambda: self.repo.merge(self.p.branch, prepared, message),
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
                    head=self.p.branch,
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
        """Our open pull request for this watch, found by its head branch and marker."""
        return next((pr for pr, _ in self._our_pulls() if pr.state == "open"), None)

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

    def _human_push(self, open_pr: PullRequest | None, head_sha: str) -> PullRequestOutcome:
        note = (
            f"someone else pushed to `{self.p.branch}` (head {head_sha[:12]}); watcher leaves "
            "the branch alone. Delete the branch (or merge/close the PR) to let watcher act again."
        )
        if open_pr is None:
            return PullRequestOutcome(
                "human-push", VerdictState.READY, head_sha=head_sha, note=note
            )
        mark = HUMAN_PUSH_MARK.format(sha=head_sha)
        comments = self.w.call(
            "read comments", lambda: list(open_pr.get_issue_comments()), write=False
        )
        if not any(mark in (c.body or "") for c in comments):
            body = f"{mark}\nwatcher wanted to update this pull request to {self.p.target.tag}"
            body += f", but {note}"
            self.w.call(
                "comment on pull request",
                lambda: open_pr.create_issue_comment(body),
                lookup=lambda: next(
                    (c for c in open_pr.get_issue_comments() if mark in (c.body or "")), None
                ),
            )
        return PullRequestOutcome(
            "human-push", VerdictState.PROPOSED, open_pr.number, open_pr.html_url, head_sha, note
        )


def _is_ours(message: str, watch_id: str) -> bool:
    return _trailer(message, "Watcher-Watch") == watch_id


def _trailer(message: str, key: str) -> str | None:
    for line in reversed(message.splitlines()):
        if line.startswith(f"{key}: "):
            return line.split(": ", 1)[1].strip()
    return None


def _version(tag: str) -> Version:
    return Version(tag.lstrip("v"))
