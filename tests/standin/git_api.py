"""The git data API and the branch-level endpoints, on the repository's real git objects.

Blobs, trees and commits are written with git plumbing (``hash-object``, ``mktree``,
``commit-tree``), refs move with ``update-ref`` (compare-and-swap, so a concurrent
writer loses like on GitHub), and merges use ``git merge-tree``: the SHAs a client gets
back are the ones git computes for the same content.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

from tests.standin import github_shapes as shapes
from tests.standin import write_shapes as wshapes
from tests.standin.gitdata import MODES, TreeEdit, TreeError, edit_tree, merge_commit
from tests.standin.github_api import REPO, GitHubApi, HttpError, body_object
from tests.standin.github_state import RepoState, TokenInfo, noreply
from tests.standin.gitrepo import SAFE_REF, Identity
from tests.standin.pagination import paginate
from tests.standin.routing import Router
from tests.standin.wire import Request, Response, json_response

SHA = re.compile(r"^[0-9a-f]{40}$")
ZERO_SHA = "0" * 40


class GitDataApi:
    """``/git/blobs|trees|commits|refs``, ``/branches``, ``/compare`` and ``/merges``."""

    def __init__(self, api: GitHubApi) -> None:
        """Serve through ``api`` (repository lookup, write access, URL roots)."""
        self.api = api
        self.state = api.state

    def register(self, router: Router) -> None:
        """Add this group's routes."""
        routes = [
            ("POST", "/git/blobs", self._create_blob),
            ("GET HEAD", r"/git/blobs/(?P<sha>[^/]+)", self._blob),
            ("POST", "/git/trees", self._create_tree),
            ("GET HEAD", r"/git/trees/(?P<sha>.+)", self._tree),
            ("POST", "/git/commits", self._create_commit),
            ("GET HEAD", r"/git/commits/(?P<sha>[^/]+)", self._commit),
            ("GET HEAD", "/git/refs", self._matching_refs),
            ("GET HEAD", r"/git/refs/(?P<ref>.+)", self._legacy_ref),
            ("GET HEAD", r"/git/matching-refs/(?P<ref>.*)", self._matching_refs),
            ("POST", "/git/refs", self._create_ref),
            # Only the plural form takes writes; PATCH/DELETE on /git/ref/... is a 404 there.
            ("PATCH", r"/git/refs/(?P<ref>.+)", self._update_ref),
            ("DELETE", r"/git/refs/(?P<ref>.+)", self._delete_ref),
            ("GET HEAD", r"/branches/(?P<branch>.+)", self._branch),
            ("GET HEAD", r"/compare/(?P<base>.+?)\.\.\.(?P<head>.+)", self._compare),
            ("POST", "/merges", self._merge),
        ]
        for methods, suffix, handler in routes:
            router.add(methods, REPO + suffix, handler)

    # -- helpers ------------------------------------------------------------------------

    def _object(self, repo: RepoState, sha: str, kind: str) -> str:
        """``sha`` when it names an object of ``kind``; 404 otherwise (GitHub's read rule)."""
        if not SHA.match(sha) or repo.git.object_type(sha) != kind:
            raise HttpError(404)
        return sha

    def commit_json(self, request: Request, repo: RepoState, sha: str) -> shapes.Json:
        """The ``commit`` shape of ``sha`` for this request."""
        return shapes.commit(self.api.site_for(request), repo, repo.git.commit_info(sha))

    def _ref_json(self, request: Request, repo: RepoState, full_ref: str) -> shapes.Json:
        target = repo.git.ref_target(full_ref)
        if target is None:
            raise HttpError(404)
        return shapes.git_ref(self.api.site_for(request), repo, full_ref, *target)

    # -- blobs, trees, commits ------------------------------------------------------------

    def _create_blob(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        body = body_object(request)
        content, encoding = body.get("content"), body.get("encoding", "utf-8")
        if not isinstance(content, str):
            raise HttpError(422, 'Invalid request.\n\n"content" wasn\'t supplied.')
        if encoding in ("utf-8", "utf8"):
            data = content.encode()
        elif encoding == "base64":
            try:
                data = base64.b64decode(content)
            except binascii.Error as exc:
                raise HttpError(422, "Invalid Base64 content") from exc
        else:
            raise HttpError(422, f"encoding must be utf-8 or base64, not {encoding!r}")
        sha = repo.git.hash_blob(data)
        created = wshapes.blob_created(self.api.site_for(request), repo, sha)
        return json_response(201, created, {"location": created["url"]})

    def _blob(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        sha = self._object(repo, params["sha"], "blob")
        data = repo.git.cat_blob(sha) or b""
        return json_response(200, wshapes.blob(self.api.site_for(request), repo, sha, data))

    def _create_tree(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        body = body_object(request)
        entries = body.get("tree")
        if not isinstance(entries, list):
            raise HttpError(422, 'Invalid request.\n\n"tree" wasn\'t supplied.')
        base_tree = body.get("base_tree")
        if base_tree is not None and (
            not isinstance(base_tree, str) or repo.git.object_type(base_tree) != "tree"
        ):
            raise HttpError(422, "base_tree is not a valid tree oid")
        edits = [self._tree_edit(repo, entry) for entry in entries]
        try:
            sha = edit_tree(repo.git, base_tree, edits)
        except TreeError as exc:
            raise HttpError(422, str(exc)) from exc
        tree = wshapes.git_tree(self.api.site_for(request), repo, sha, repo.git.ls_tree(sha))
        return json_response(201, tree, {"location": tree["url"]})

    def _tree_edit(self, repo: RepoState, entry: Any) -> TreeEdit:
        """One ``tree`` item of ``POST /git/trees``: sha or content, sha null deletes."""
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise HttpError(422, "Invalid tree info: every entry needs a path")
        mode = str(entry.get("mode", "100644"))
        kind = str(entry.get("type") or MODES.get(mode, ""))
        if "content" in entry and entry.get("sha") is not None:
            raise HttpError(422, "Only one of tree.sha or tree.content may be given")
        if isinstance(entry.get("content"), str):
            return TreeEdit(
                entry["path"], mode, kind, repo.git.hash_blob(entry["content"].encode())
            )
        sha = entry.get("sha")
        if sha is not None and (not isinstance(sha, str) or not SHA.match(sha)):
            raise HttpError(422, f"tree.sha {sha!r} is not a valid SHA")
        return TreeEdit(entry["path"], mode, kind, sha)

    def _tree(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        sha = params["sha"]
        if repo.git.object_type(sha) != "tree":
            # GitHub also takes a commit SHA or a branch/tag name and uses its tree.
            commit = repo.git.resolve(sha)
            if commit is None:
                raise HttpError(404)
            sha = repo.git.commit_info(commit).tree
        recursive = request.query.get("recursive") not in (None, "", "0", "false")
        entries = repo.git.ls_tree(sha, recursive=recursive)
        return json_response(200, wshapes.git_tree(self.api.site_for(request), repo, sha, entries))

    def _create_commit(self, request: Request, params: dict[str, str]) -> Response:
        repo, token = self.api.writable(request, params)
        body = body_object(request)
        message, tree = body.get("message"), body.get("tree")
        if not isinstance(message, str) or not isinstance(tree, str):
            raise HttpError(422, 'Invalid request.\n\n"message" and "tree" are required.')
        if repo.git.object_type(tree) != "tree":
            raise HttpError(422, "Tree SHA does not exist")
        parents = body.get("parents") or []
        if not isinstance(parents, list) or any(
            not isinstance(p, str) or not SHA.match(p) or repo.git.object_type(p) != "commit"
            for p in parents
        ):
            raise HttpError(422, "Parent SHA does not exist or is not a commit object")
        default = self._default_identity(token)
        # An App's commit without author and committer is GitHub's to sign: the bot is
        # the author, GitHub the committer, and the commit shows "Verified".
        web_flow = token.kind == "installation" and "author" not in body and "committer" not in body
        author = self._identity(body.get("author"), default)
        committer = self._identity(body.get("committer"), author)
        if web_flow:
            committer = Identity("GitHub", "noreply@github.com", default.date)
        sha = repo.git.commit_tree(tree, parents, message, author, committer)
        if web_flow:
            repo.signed_commits.add(sha)
        commit = wshapes.git_commit(self.api.site_for(request), repo, repo.git.commit_info(sha))
        return json_response(201, commit, {"location": commit["url"]})

    def _default_identity(self, token: TokenInfo) -> Identity:
        now = datetime.fromtimestamp(int(self.state.now()), UTC)
        return Identity(token.login, noreply(token.login), now)

    @staticmethod
    def _identity(data: Any, default: Identity) -> Identity:
        """An author/committer object; a missing date means now, a missing object the default."""
        if data is None:
            return default
        if not isinstance(data, dict) or not data.get("name") or not data.get("email"):
            raise HttpError(422, "Invalid request.\n\nauthor/committer need name and email.")
        when = default.date
        if data.get("date") is not None:
            try:
                when = datetime.fromisoformat(str(data["date"]))
            except ValueError as exc:
                raise HttpError(422, f"Invalid date {data['date']!r}") from exc
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
        return Identity(str(data["name"]), str(data["email"]), when)

    def _commit(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        sha = self._object(repo, params["sha"], "commit")
        info = repo.git.commit_info(sha)
        return json_response(200, wshapes.git_commit(self.api.site_for(request), repo, info))

    # -- refs -----------------------------------------------------------------------------

    def _legacy_ref(self, request: Request, params: dict[str, str]) -> Response:
        """``GET /git/refs/{ref}``: the ref itself when it exists, else the refs it prefixes."""
        repo = self.api.repo(params)
        full_ref = f"refs/{params['ref']}"
        if repo.git.ref_target(full_ref) is not None:
            return json_response(200, self._ref_json(request, repo, full_ref))
        return self._matching_refs(request, params)

    def _matching_refs(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        prefix = "refs/" + params.get("ref", "")
        site = self.api.site_for(request)
        rows = [r for r in repo.git.refs() if r[0].startswith(prefix)]
        page, headers = paginate(rows, request, f"{site.repo(repo.full_name)}/git/matching-refs")
        body = [shapes.git_ref(site, repo, ref, sha, kind) for ref, sha, kind in page]
        return json_response(200, body, headers)

    def _create_ref(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        body = body_object(request)
        ref, sha = body.get("ref"), body.get("sha")
        if not isinstance(ref, str) or not _valid_ref(ref):
            raise HttpError(422, "Reference name is not valid: it needs refs/ and two slashes")
        if not isinstance(sha, str) or not SHA.match(sha) or repo.git.object_type(sha) is None:
            raise HttpError(422, "Object does not exist")
        # Compare-and-swap against "does not exist", so two racing creators get one 422.
        if not repo.git.update_ref(ref, sha, ZERO_SHA):
            raise HttpError(422, "Reference already exists")
        data = self._ref_json(request, repo, ref)
        return json_response(201, data, {"location": data["url"]})

    def _update_ref(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        full_ref = f"refs/{params['ref']}"
        body = body_object(request)
        sha, force = body.get("sha"), bool(body.get("force", False))
        current = repo.git.ref_sha(full_ref) if _valid_ref(full_ref) else None
        if current is None:
            raise HttpError(422, "Reference does not exist")
        if not isinstance(sha, str) or not SHA.match(sha) or repo.git.object_type(sha) is None:
            raise HttpError(422, "Object does not exist")
        if not force and not repo.git.is_ancestor(current, sha):
            raise HttpError(422, "Update is not a fast forward")
        if not repo.git.update_ref(full_ref, sha, current):
            raise HttpError(409, "Reference update failed: the ref moved meanwhile")
        return json_response(200, self._ref_json(request, repo, full_ref))

    def _delete_ref(self, request: Request, params: dict[str, str]) -> Response:
        repo, token = self.api.writable(request, params)
        full_ref = f"refs/{params['ref']}"
        if not _valid_ref(full_ref) or not repo.git.delete_ref(full_ref):
            raise HttpError(422, "Reference does not exist")
        if full_ref.startswith("refs/heads/"):
            self._close_pulls_of(repo, full_ref.removeprefix("refs/heads/"), token.login)
        return Response(204)

    def _close_pulls_of(self, repo: RepoState, branch: str, actor: str) -> None:
        """GitHub closes open pull requests whose head branch is deleted."""
        for number, pull in list(repo.pulls.items()):
            if pull.head_ref == branch and repo.issues[number].state == "open":
                self.state.close_pull(repo.full_name, number, actor)

    # -- branches, compare, merges ----------------------------------------------------------

    def _branch(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        sha = repo.git.ref_sha(f"refs/heads/{params['branch']}") if _valid_branch(params) else None
        if sha is None:
            raise HttpError(404, "Branch not found")
        commit = self.commit_json(request, repo, sha)
        body = wshapes.branch(self.api.site_for(request), repo, params["branch"], commit)
        return json_response(200, body)

    def _compare(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        base, head = repo.git.resolve(params["base"]), repo.git.resolve(params["head"])
        if base is None or head is None:
            raise HttpError(404)
        merge_base = repo.git.merge_base(base, head)
        if merge_base is None:
            raise HttpError(
                404, f"No common ancestor between {params['base']} and {params['head']}."
            )
        cmp = wshapes.Comparison(
            base=params["base"],
            head=params["head"],
            base_commit=self.commit_json(request, repo, base),
            merge_base_commit=self.commit_json(request, repo, merge_base),
            ahead_by=repo.git.count(merge_base, head),
            behind_by=repo.git.count(merge_base, base),
            commits=[
                self.commit_json(request, repo, sha)
                for sha in repo.git.log_range(merge_base, head, limit=_per_page(request))
            ],
        )
        return json_response(200, wshapes.comparison(self.api.site_for(request), repo, cmp))

    def _merge(self, request: Request, params: dict[str, str]) -> Response:
        """``POST /merges``: merge ``head`` into branch ``base`` with a merge commit."""
        repo, token = self.api.writable(request, params)
        body = body_object(request)
        base_name, head_name = body.get("base"), body.get("head")
        if not isinstance(base_name, str) or not isinstance(head_name, str):
            raise HttpError(422, 'Invalid request.\n\n"base" and "head" are required.')
        base = repo.git.ref_sha(f"refs/heads/{base_name}") if SAFE_REF.match(base_name) else None
        if base is None:
            raise HttpError(404, "Base does not exist")
        head = repo.git.resolve(head_name)
        if head is None:
            raise HttpError(404, "Head does not exist")
        if repo.git.is_ancestor(head, base):
            return Response(204)  # nothing to merge
        message = body.get("commit_message") or f"Merge {head_name} into {base_name}"
        sha = merge_commit(repo.git, (base, head), str(message), self._default_identity(token))
        if sha is None:
            raise HttpError(409, "Merge conflict")
        if not repo.git.update_ref(f"refs/heads/{base_name}", sha, base):
            raise HttpError(409, "Base branch was modified. Review and try the merge again.")
        commit = self.commit_json(request, repo, sha)
        return json_response(201, commit, {"location": commit["url"]})


def _per_page(request: Request) -> int:
    """``per_page`` of a compare (its commit list; GitHub's default 250, at most 250)."""
    text = request.query.get("per_page", "250")
    return max(1, min(250, int(text))) if text.isdigit() else 250


def _valid_ref(full_ref: str) -> bool:
    """GitHub's rule for a writable ref: ``refs/...`` with at least two slashes, safe for git."""
    return (
        full_ref.startswith("refs/")
        and full_ref.count("/") >= 2
        and SAFE_REF.match(full_ref) is not None
        and ".." not in full_ref
        and not full_ref.endswith(("/", ".lock"))
    )


def _valid_branch(params: dict[str, str]) -> bool:
    return _valid_ref(f"refs/heads/{params['branch']}")
