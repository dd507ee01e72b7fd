"""Pull requests: list, open, read, edit, merge, request reviewers.

A pull request is an issue number plus a :class:`PullState` (branches, merge data); its
title, body, state, labels and comments live on the issue side, so the issue endpoints
see and edit pull requests like GitHub's do. Mergeability and diff numbers are computed
with real git on every full read.
"""

from __future__ import annotations

from typing import Any

from tests.standin import github_shapes as shapes
from tests.standin import write_shapes as wshapes
from tests.standin.gitdata import merge_commit
from tests.standin.github_api import (
    REPO,
    GitHubApi,
    HttpError,
    body_object,
    custom_error,
    validation_failed,
)
from tests.standin.github_state import PullState, RepoState
from tests.standin.gitrepo import SAFE_REF, Identity
from tests.standin.pagination import paginate
from tests.standin.routing import Router
from tests.standin.wire import Request, Response, json_response

RESOURCE = "PullRequest"


class PullsApi:
    """``/pulls`` and ``/pulls/{n}/...``."""

    def __init__(self, api: GitHubApi) -> None:
        """Serve through ``api``."""
        self.api = api
        self.state = api.state

    def register(self, router: Router) -> None:
        """Add this group's routes."""
        routes = [
            ("GET HEAD", "/pulls", self._list),
            ("POST", "/pulls", self._create),
            ("GET HEAD", r"/pulls/(?P<number>\d+)", self._get),
            ("PATCH", r"/pulls/(?P<number>\d+)", self._edit),
            ("PUT", r"/pulls/(?P<number>\d+)/merge", self._merge),
            ("POST", r"/pulls/(?P<number>\d+)/requested_reviewers", self._request_reviewers),
            ("GET HEAD", r"/pulls/(?P<number>\d+)/requested_reviewers", self._reviewers),
            ("GET HEAD", r"/pulls/(?P<number>\d+)/files", self._files),
        ]
        for methods, suffix, handler in routes:
            router.add(methods, REPO + suffix, handler)

    # -- shaping ---------------------------------------------------------------------------

    def _view(self, repo: RepoState, pull: PullState, full: bool) -> wshapes.PullView:
        """Live SHAs, and for a full read mergeability and diff numbers from git."""
        git = repo.git
        head = self.state.head_sha(repo, pull)
        base = git.ref_sha(f"refs/heads/{pull.base_ref}") or head
        pushed_at = self.api.pushed_at(repo)
        if not full:
            return wshapes.PullView(head, base, pushed_at, None)
        merged = pull.merged_at is not None
        open_ = repo.issues[pull.number].state == "open"
        test_merge = self._test_merge(repo, base, head) if open_ else None
        mergeable = (test_merge is not None) if open_ else None
        # A merged pull request's numbers are those it had against its merge base.
        merge_base = git.merge_base(base, head) or base
        if merged and pull.merge_commit_sha:
            merge_base = git.merge_base(f"{pull.merge_commit_sha}^1", head) or merge_base
        additions, deletions, files = git.diff_stats(merge_base, head)
        return wshapes.PullView(
            head,
            base,
            pushed_at,
            mergeable,
            merge_commit_sha=pull.merge_commit_sha if merged else test_merge,
            commits=git.count(merge_base, head),
            additions=additions,
            deletions=deletions,
            changed_files=files,
        )

    def _test_merge(self, repo: RepoState, base: str, head: str) -> str | None:
        """GitHub's ``refs/pull/N/merge``: a trial merge commit on no branch (None: conflict).

        An open pull request's ``merge_commit_sha`` names it, so a client that took that
        field for "merged" would check a commit no release can contain.
        """
        who = Identity("GitHub", "noreply@github.com", self.api.pushed_at(repo))
        text = f"Merge {head} into {base}"
        return merge_commit(repo.git, (base, head), text, who)

    def _json(self, request: Request, repo: RepoState, number: int, full: bool = True) -> Any:
        pull, issue = repo.pulls[number], repo.issues[number]
        site = self.api.site_for(request)
        return wshapes.pull_request(site, repo, pull, issue, self._view(repo, pull, full), full)

    def _pull(self, repo: RepoState, params: dict[str, str]) -> PullState:
        pull = repo.pulls.get(int(params["number"]))
        if pull is None:
            raise HttpError(404)
        return pull

    # -- endpoints ---------------------------------------------------------------------------

    def _list(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        query = request.query
        state = query.get("state", "open")
        head = query.get("head")
        # GitHub filters on "user:ref-name"; a bare branch name is taken as the owner's.
        head_ref = head.split(":", 1)[1] if head and ":" in head else head
        head_owner = head.split(":", 1)[0] if head and ":" in head else repo.owner
        matches = [
            pull
            for number, pull in sorted(repo.pulls.items())
            if state in ("all", repo.issues[number].state)
            and (
                head is None
                or (pull.head_ref == head_ref and head_owner.lower() == repo.owner.lower())
            )
            and (query.get("base") is None or pull.base_ref == query["base"])
        ]
        key = "updated_at" if query.get("sort") in ("updated", "long-running") else "created_at"
        default = "desc" if key == "created_at" or query.get("sort") is None else "asc"
        matches.sort(
            key=lambda p: (getattr(repo.issues[p.number], key), p.number),
            reverse=query.get("direction", default) == "desc",
        )
        url = f"{self.api.site_for(request).repo(repo.full_name)}/pulls"
        page, headers = paginate(matches, request, url)
        body = [self._json(request, repo, pull.number, full=False) for pull in page]
        return json_response(200, body, headers)

    def _files(self, request: Request, params: dict[str, str]) -> Response:
        """The files the pull request changes against its merge base, with their patches."""
        repo = self.api.repo(params)
        pull = self._pull(repo, params)
        git = repo.git
        head = self.state.head_sha(repo, pull)
        base = git.ref_sha(f"refs/heads/{pull.base_ref}") or head
        merge_base = git.merge_base(base, head) or base
        if pull.merge_commit_sha:  # merged: the base as it was before the merge
            merge_base = git.merge_base(f"{pull.merge_commit_sha}^1", head) or merge_base
        # GitHub lists at most 3000 files.
        diffs = git.diff_files(merge_base, head)[:3000]
        site = self.api.site_for(request)
        url = f"{site.repo(repo.full_name)}/pulls/{pull.number}/files"
        page, headers = paginate(diffs, request, url)
        body = [wshapes.diff_entry(site, repo, head, d) for d in page]
        return json_response(200, body, headers)

    def _create(self, request: Request, params: dict[str, str]) -> Response:
        repo, token = self.api.writable(request, params)
        body = body_object(request)
        title, head, base = body.get("title"), body.get("head"), body.get("base")
        if not isinstance(title, str) or not title:
            raise validation_failed(RESOURCE, "title", "missing_field")
        if not isinstance(base, str) or not _branch_exists(repo, base):
            raise validation_failed(RESOURCE, "base")
        if not isinstance(head, str):
            raise validation_failed(RESOURCE, "head", "missing_field")
        owner, _, branch = head.rpartition(":")
        if (owner and owner.lower() != repo.owner.lower()) or not _branch_exists(repo, branch):
            # Heads in forks are not emulated: only the repository's own branches exist.
            raise validation_failed(RESOURCE, "head")
        for number, pull in repo.pulls.items():
            if (
                pull.head_ref == branch
                and pull.base_ref == base
                and repo.issues[number].state == "open"
            ):
                raise custom_error(
                    RESOURCE, f"A pull request already exists for {repo.owner}:{branch}."
                )
        head_sha = repo.git.ref_sha(f"refs/heads/{branch}")
        base_sha = repo.git.ref_sha(f"refs/heads/{base}")
        assert head_sha is not None and base_sha is not None
        if repo.git.is_ancestor(head_sha, base_sha):
            raise custom_error(RESOURCE, f"No commits between {base} and {branch}")
        pull = self.state.open_pull(
            repo.full_name,
            branch,
            base,
            title,
            str(body.get("body") or ""),
            author=token.login,
            draft=bool(body.get("draft", False)),
        )
        data = self._json(request, repo, pull.number)
        return json_response(201, data, {"location": data["url"]})

    def _get(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        pull = self._pull(repo, params)
        return json_response(200, self._json(request, repo, pull.number))

    def _edit(self, request: Request, params: dict[str, str]) -> Response:
        repo, token = self.api.writable(request, params)
        pull = self._pull(repo, params)
        issue = repo.issues[pull.number]
        body = body_object(request)
        if "base" in body:
            if not isinstance(body["base"], str) or not _branch_exists(repo, body["base"]):
                raise validation_failed(RESOURCE, "base")
            pull.base_ref = body["base"]
        if isinstance(body.get("title"), str):
            issue.title = body["title"]
        if "body" in body:
            issue.body = str(body["body"] or "")
        state = body.get("state")
        if state not in (None, issue.state):
            self._change_state(repo, pull, str(state), token.login)
        issue.updated_at = self.state.now_dt()
        return json_response(200, self._json(request, repo, pull.number))

    def _change_state(self, repo: RepoState, pull: PullState, state: str, actor: str) -> None:
        issue = repo.issues[pull.number]
        if pull.merged_at is not None:
            raise custom_error(RESOURCE, "Cannot change the state of a merged pull request")
        if state == "closed":
            self.state.close_pull(repo.full_name, pull.number, actor)
        elif state == "open":
            if not _branch_exists(repo, pull.head_ref):
                raise custom_error(
                    RESOURCE, "state cannot be changed. The head branch was deleted."
                )
            issue.state, issue.closed_at, issue.closed_by = "open", None, None
        else:
            raise validation_failed(RESOURCE, "state")

    def _merge(self, request: Request, params: dict[str, str]) -> Response:
        repo, token = self.api.writable(request, params)
        pull = self._pull(repo, params)
        body = body_object(request)
        if repo.issues[pull.number].state != "open":
            raise HttpError(405, "Pull Request is not mergeable")
        expected = body.get("sha")
        if expected is not None and expected != self.state.head_sha(repo, pull):
            raise HttpError(409, "Head branch was modified. Review and try the merge again.")
        method = body.get("merge_method", "merge")
        if method not in ("merge", "squash", "rebase"):
            raise HttpError(422, f"merge_method {method!r} is not emulated by the stand-in")
        title, text = body.get("commit_title"), body.get("commit_message")
        message = None
        if title or text:
            message = "\n\n".join(str(part) for part in (title, text) if part)
        sha = self.state.merge_pull(repo.full_name, pull.number, token.login, method, message)
        if sha is None:
            raise HttpError(405, "Pull Request is not mergeable")
        return json_response(200, wshapes.merge_result(sha))

    def _reviewers(self, request: Request, params: dict[str, str]) -> Response:
        """``pull-request-review-request``: requested users (no teams in the stand-in)."""
        pull = self._pull(self.api.repo(params), params)
        site = self.api.site_for(request)
        users = [shapes.user(site, login) for login in pull.requested_reviewers]
        return json_response(200, {"users": users, "teams": []})

    def _request_reviewers(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        pull = self._pull(repo, params)
        reviewers = body_object(request).get("reviewers") or []
        if not isinstance(reviewers, list) or not all(isinstance(r, str) for r in reviewers):
            raise validation_failed(RESOURCE, "reviewers")
        if repo.issues[pull.number].author in reviewers:
            raise HttpError(422, "Review cannot be requested from pull request author.")
        for login in reviewers:
            if login not in pull.requested_reviewers:
                pull.requested_reviewers.append(login)
        return json_response(201, self._json(request, repo, pull.number, full=False))


def _branch_exists(repo: RepoState, name: str) -> bool:
    return (
        bool(name)
        and SAFE_REF.match(name) is not None
        and (repo.git.ref_sha(f"refs/heads/{name}") is not None)
    )
