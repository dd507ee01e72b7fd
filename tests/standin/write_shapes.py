"""JSON bodies of the write side: git data objects, branches, comparisons, pull requests,
comments, labels and GitHub App installations.

Like :mod:`tests.standin.github_shapes` (whose building blocks they reuse), every shape
here is validated against GitHub's OpenAPI description by ``test_standin_schema``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from tests.standin.apps import PERMISSIONS, AppState
from tests.standin.github_shapes import (
    Json,
    Site,
    iso,
    label,
    node_id,
    repository,
    user,
    verification,
)
from tests.standin.github_state import (
    CommentState,
    IssueState,
    LabelState,
    PullState,
    RepoState,
    TokenInfo,
)
from tests.standin.gitrepo import CommitInfo, FileDiff

# Keys of a ``full-repository`` that the plain ``repository`` (in pull requests) lacks.
FULL_REPOSITORY_ONLY = ("subscribers_count", "network_count")


def _wrapped_base64(data: bytes) -> str:
    # GitHub wraps base64 content at 60 columns, each line ending in a newline.
    encoded = base64.b64encode(data).decode()
    return "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))


def _object_url(site: Site, repo: RepoState, kind: str, sha: str) -> str:
    plural = {"blob": "blobs", "tree": "trees", "commit": "commits", "tag": "tags"}[kind]
    return f"{site.repo(repo.full_name)}/git/{plural}/{sha}"


def blob_created(site: Site, repo: RepoState, sha: str) -> Json:
    """The ``short-blob`` answer to ``POST /git/blobs``."""
    return {"url": _object_url(site, repo, "blob", sha), "sha": sha}


def blob(site: Site, repo: RepoState, sha: str, data: bytes) -> Json:
    """A ``blob``: base64 content."""
    return {
        "sha": sha,
        "node_id": node_id("B", sha),
        "size": len(data),
        "url": _object_url(site, repo, "blob", sha),
        "content": _wrapped_base64(data),
        "encoding": "base64",
    }


def git_tree(
    site: Site, repo: RepoState, sha: str, entries: Sequence[tuple[str, str, str, int, str]]
) -> Json:
    """A ``git-tree`` from (mode, type, sha, size, path) entries."""
    items = []
    for mode, kind, entry_sha, size, path in entries:
        item: Json = {"path": path, "mode": mode, "type": kind, "sha": entry_sha}
        if kind == "blob":
            item["size"] = size
        if kind != "commit":
            # Submodule entries point outside the repository: GitHub gives them no url.
            item["url"] = _object_url(site, repo, kind, entry_sha)
        items.append(item)
    return {
        "sha": sha,
        "url": _object_url(site, repo, "tree", sha),
        "tree": items,
        "truncated": False,
    }


def git_commit(site: Site, repo: RepoState, info: CommitInfo) -> Json:
    """A ``git-commit`` (the git data API's view of a commit)."""
    html = site.html(repo.full_name)

    def person(name: str, email: str, date: str) -> Json:
        return {"name": name, "email": email, "date": iso(datetime.fromisoformat(date))}

    return {
        "sha": info.sha,
        "node_id": node_id("C", info.sha),
        "url": _object_url(site, repo, "commit", info.sha),
        "html_url": f"{html}/commit/{info.sha}",
        "author": person(info.author_name, info.author_email, info.author_date),
        "committer": person(info.committer_name, info.committer_email, info.committer_date),
        "tree": {"sha": info.tree, "url": _object_url(site, repo, "tree", info.tree)},
        "message": info.message,
        "parents": [
            {
                "sha": p,
                "url": _object_url(site, repo, "commit", p),
                "html_url": f"{html}/commit/{p}",
            }
            for p in info.parents
        ],
        "verification": verification(repo, info.sha),
    }


def branch(site: Site, repo: RepoState, name: str, commit_json: Json) -> Json:
    """A ``branch-with-protection`` for an unprotected branch."""
    url = f"{site.repo(repo.full_name)}/branches/{quote(name, safe='')}"
    return {
        "name": name,
        "commit": commit_json,
        "_links": {"self": url, "html": f"{site.html(repo.full_name)}/tree/{quote(name)}"},
        "protected": False,
        "protection": {
            "enabled": False,
            "required_status_checks": {"enforcement_level": "off", "contexts": [], "checks": []},
        },
        "protection_url": f"{url}/protection",
    }


@dataclass(frozen=True)
class Comparison:
    """What ``/compare/{base}...{head}`` reports, with commits already shaped."""

    base: str
    head: str
    base_commit: Json
    merge_base_commit: Json
    ahead_by: int
    behind_by: int
    commits: list[Json]

    @property
    def status(self) -> str:
        """``identical``, ``ahead``, ``behind`` or ``diverged``, as GitHub names them."""
        if self.ahead_by and self.behind_by:
            return "diverged"
        if self.ahead_by:
            return "ahead"
        return "behind" if self.behind_by else "identical"


def comparison(site: Site, repo: RepoState, cmp: Comparison) -> Json:
    """A ``commit-comparison``."""
    spec = f"{quote(cmp.base)}...{quote(cmp.head)}"
    html = f"{site.html(repo.full_name)}/compare/{spec}"
    return {
        "url": f"{site.repo(repo.full_name)}/compare/{spec}",
        "html_url": html,
        "permalink_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "base_commit": cmp.base_commit,
        "merge_base_commit": cmp.merge_base_commit,
        "status": cmp.status,
        "ahead_by": cmp.ahead_by,
        "behind_by": cmp.behind_by,
        "total_commits": cmp.ahead_by,
        "commits": cmp.commits,
    }


def plain_repository(site: Site, repo: RepoState, pushed_at: datetime) -> Json:
    """A ``repository`` (as embedded in pull requests): a full one minus a few counters."""
    data = repository(site, repo, pushed_at)
    for key in FULL_REPOSITORY_ONLY:
        data.pop(key, None)
    return data


@dataclass(frozen=True)
class PullView:
    """Everything a pull request body needs beyond its state: live SHAs and diff numbers."""

    head_sha: str
    base_sha: str
    pushed_at: datetime
    mergeable: bool | None
    # The merge commit once merged; while open, GitHub's trial merge (on no branch).
    merge_commit_sha: str | None = None
    commits: int = 0
    additions: int = 0
    deletions: int = 0
    changed_files: int = 0


def _side(site: Site, repo: RepoState, ref: str, sha: str, repo_json: Json) -> Json:
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(site, repo.owner),
        "repo": repo_json,
    }


def pull_request(
    site: Site,
    repo: RepoState,
    pull: PullState,
    issue: IssueState,
    view: PullView,
    full: bool = True,
) -> Json:
    """A ``pull-request`` (``full``) or ``pull-request-simple`` (list items)."""
    base = site.repo(repo.full_name)
    api = f"{base}/pulls/{pull.number}"
    html = f"{site.html(repo.full_name)}/pull/{pull.number}"
    issue_url = f"{base}/issues/{pull.number}"
    statuses = f"{base}/statuses/{view.head_sha}"
    repo_json = plain_repository(site, repo, view.pushed_at)
    links = {
        "self": api,
        "html": html,
        "issue": issue_url,
        "comments": f"{issue_url}/comments",
        "review_comments": f"{api}/comments",
        "review_comment": f"{base}/pulls/comments{{/number}}",
        "commits": f"{api}/commits",
        "statuses": statuses,
    }
    data: Json = {
        "url": api,
        "id": issue.id,
        "node_id": node_id("PR", issue.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_url,
        "commits_url": f"{api}/commits",
        "review_comments_url": f"{api}/comments",
        "review_comment_url": f"{base}/pulls/comments{{/number}}",
        "comments_url": f"{issue_url}/comments",
        "statuses_url": statuses,
        "number": pull.number,
        "state": issue.state,
        "locked": False,
        "title": issue.title,
        "user": user(site, issue.author),
        "body": issue.body or None,
        "labels": [_label(site, repo, name) for name in issue.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(issue.created_at),
        "updated_at": iso(issue.updated_at),
        "closed_at": iso(issue.closed_at),
        "merged_at": iso(pull.merged_at),
        "assignees": [user(site, login) for login in issue.assignees],
        "requested_reviewers": [user(site, login) for login in pull.requested_reviewers],
        "requested_teams": [],
        "head": _side(site, repo, pull.head_ref, view.head_sha, repo_json),
        "base": _side(site, repo, pull.base_ref, view.base_sha, repo_json),
        "_links": {key: {"href": href} for key, href in links.items()},
        "author_association": "OWNER" if issue.author == repo.owner else "CONTRIBUTOR",
        "auto_merge": None,
        "draft": pull.draft,
    }
    if site.legacy_fields:
        data["merge_commit_sha"] = view.merge_commit_sha or pull.merge_commit_sha
        data["assignee"] = user(site, issue.assignees[0]) if issue.assignees else None
    if full:
        data.update(
            {
                "merged": pull.merged_at is not None,
                "mergeable": view.mergeable,
                "rebaseable": view.mergeable,
                "mergeable_state": _mergeable_state(view.mergeable),
                "merged_by": user(site, pull.merged_by) if pull.merged_by else None,
                "comments": len(issue.comments),
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": view.commits,
                "additions": view.additions,
                "deletions": view.deletions,
                "changed_files": view.changed_files,
            }
        )
    return data


def diff_entry(site: Site, repo: RepoState, head_sha: str, diff: FileDiff) -> Json:
    """A ``diff-entry``: one file of ``GET /pulls/{n}/files``."""
    path = quote(diff.path)
    data: Json = {
        "sha": diff.sha,
        "filename": diff.path,
        "status": diff.status,
        "additions": diff.additions,
        "deletions": diff.deletions,
        "changes": diff.additions + diff.deletions,
        "blob_url": f"{site.html(repo.full_name)}/blob/{head_sha}/{path}",
        "raw_url": f"{site.html(repo.full_name)}/raw/{head_sha}/{path}",
        "contents_url": f"{site.repo(repo.full_name)}/contents/{path}?ref={head_sha}",
    }
    if diff.patch:
        data["patch"] = diff.patch
    if diff.previous_path is not None:
        data["previous_filename"] = diff.previous_path
    return data


def _mergeable_state(mergeable: bool | None) -> str:
    if mergeable is None:
        return "unknown"
    return "clean" if mergeable else "dirty"


def _label(site: Site, repo: RepoState, name: str) -> Json:
    known = repo.labels.get(name.lower())
    if known is None:
        return label(site, repo.full_name, name)
    return label(site, repo.full_name, known.name, known.color, known.description)


def full_label(site: Site, repo: RepoState, item: LabelState) -> Json:
    """A ``label`` as ``/labels`` returns it."""
    return {**_label(site, repo, item.name), "archived_at": None}


def issue_comment(site: Site, repo: RepoState, item: CommentState) -> Json:
    """An ``issue-comment``."""
    base = site.repo(repo.full_name)
    issue = repo.issues[item.issue_number]
    kind = "pull" if issue.is_pull_request else "issues"
    return {
        "id": item.id,
        "node_id": node_id("IC", item.id),
        "url": f"{base}/issues/comments/{item.id}",
        "html_url": f"{site.html(repo.full_name)}/{kind}/{item.issue_number}"
        f"#issuecomment-{item.id}",
        "body": item.body,
        "user": user(site, item.author),
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "issue_url": f"{base}/issues/{item.issue_number}",
        "author_association": "OWNER" if item.author == repo.owner else "CONTRIBUTOR",
        "performed_via_github_app": None,
    }


def merge_result(sha: str) -> Json:
    """The ``pull-request-merge-result`` of ``PUT /pulls/{n}/merge``."""
    return {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}


def installation(site: Site, app: AppState) -> Json:
    """An ``installation`` of a GitHub App."""
    stamp = iso(app.created_at)
    return {
        "id": app.installation_id,
        "account": user(site, app.owner),
        "repository_selection": "selected",
        "access_tokens_url": f"{site.api}/app/installations/{app.installation_id}/access_tokens",
        "repositories_url": f"{site.api}/installation/repositories",
        "html_url": f"{site.web}/settings/installations/{app.installation_id}",
        "app_id": app.app_id,
        "app_slug": app.slug,
        "target_id": user(site, app.owner)["id"],
        "target_type": "Organization",
        "permissions": dict(PERMISSIONS),
        "events": [],
        "created_at": stamp,
        "updated_at": stamp,
        "single_file_name": None,
        "suspended_by": None,
        "suspended_at": None,
    }


def installation_token(info: TokenInfo) -> Json:
    """An ``installation-token``."""
    assert info.expires_at is not None
    expires = datetime.fromtimestamp(info.expires_at, UTC)
    return {
        "token": info.token,
        "expires_at": iso(expires),
        "permissions": dict(PERMISSIONS),
        "repository_selection": "selected",
    }
