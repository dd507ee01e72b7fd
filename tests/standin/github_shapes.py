"""JSON bodies shaped like GitHub's REST responses, built from the stand-in's state.

Field names and types follow GitHub's OpenAPI description; ``test_standin_schema``
validates every shape here against it so they cannot drift.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from tests.standin.github_state import (
    CrossRef,
    IssueState,
    ReleaseState,
    RepoState,
    TimelineEvent,
)
from tests.standin.gitrepo import CommitInfo, TagInfo, TagObject, TreeEntry
from tests.standin.quota import Bucket

Json = dict[str, Any]

# The *_url templates every repository carries: (field, path after the repository URL).
REPO_URL_TEMPLATES = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


# GitHub's default when a request names no version; 2026-03-10 dropped some fields.
DEFAULT_API_VERSION = "2022-11-28"
API_VERSIONS = ("2022-11-28", "2026-03-10")


@dataclass(frozen=True)
class Site:
    """What shapes depend on: ``api`` (REST root), ``web`` (html host), the API version."""

    api: str
    web: str
    api_version: str = DEFAULT_API_VERSION

    @property
    def legacy_fields(self) -> bool:
        """Whether to include fields that API version 2026-03-10 removed."""
        return self.api_version == "2022-11-28"

    def repo(self, full_name: str) -> str:
        """The REST URL of a repository."""
        return f"{self.api}/repos/{full_name}"

    def html(self, full_name: str) -> str:
        """The web URL of a repository."""
        return f"{self.web}/{full_name}"


def iso(when: datetime | None) -> str | None:
    """GitHub's timestamp form: UTC with a ``Z``."""
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, key: object) -> str:
    """An opaque, stable GraphQL node id."""
    return f"{kind}_" + base64.b64encode(str(key).encode()).decode().rstrip("=")


def user(site: Site, login: str) -> Json:
    """A ``simple-user``; the id is derived from the login so it is stable."""
    api = f"{site.api}/users/{login}"
    return {
        "login": login,
        "id": zlib.crc32(login.encode()),
        "node_id": node_id("U", login),
        "avatar_url": f"{site.web}/avatars/{login}",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{site.web}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        # Installation tokens act as ``slug[bot]``, which GitHub types as a Bot.
        "type": "Bot" if login.endswith("[bot]") else "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def repository(site: Site, repo: RepoState, pushed_at: datetime) -> Json:
    """A ``full-repository``."""
    base = site.repo(repo.full_name)
    html = site.html(repo.full_name)
    stamp = iso(repo.created_at)
    open_issues = sum(1 for i in repo.issues.values() if i.state == "open")
    data: Json = {
        "id": repo.id,
        "node_id": node_id("R", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": user(site, repo.owner),
        "private": False,
        "html_url": html,
        "description": repo.description or None,
        "fork": False,
        "url": base,
        "git_url": f"{html}.git",
        "ssh_url": f"git@127.0.0.1:{repo.full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "mirror_url": None,
        "homepage": None,
        "language": "Go",
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "subscribers_count": 0,
        "network_count": 0,
        "size": 1,
        "default_branch": repo.default_branch,
        "open_issues_count": open_issues,
        "open_issues": open_issues,
        "topics": [],
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "visibility": "public",
        "pushed_at": iso(pushed_at),
        "created_at": stamp,
        "updated_at": iso(pushed_at),
        "license": None,
        "allow_forking": True,
        "is_template": False,
    }
    data.update({key: base + suffix for key, suffix in REPO_URL_TEMPLATES.items()})
    if site.legacy_fields:
        data["has_downloads"] = True
    return data


def release(site: Site, repo: RepoState, rel: ReleaseState) -> Json:
    """A ``release``."""
    base = site.repo(repo.full_name)
    return {
        "url": f"{base}/releases/{rel.id}",
        "html_url": f"{site.html(repo.full_name)}/releases/tag/{quote(rel.tag_name)}",
        "assets_url": f"{base}/releases/{rel.id}/assets",
        "upload_url": f"{site.web}/uploads/repos/{repo.full_name}/releases/{rel.id}"
        "/assets{?name,label}",
        "tarball_url": f"{base}/tarball/{quote(rel.tag_name)}",
        "zipball_url": f"{base}/zipball/{quote(rel.tag_name)}",
        "id": rel.id,
        "node_id": node_id("RE", rel.id),
        "tag_name": rel.tag_name,
        "target_commitish": rel.target_commitish,
        "name": rel.name,
        "body": rel.body,
        "draft": rel.draft,
        "prerelease": rel.prerelease,
        "immutable": False,
        "created_at": iso(rel.created_at),
        "published_at": iso(rel.published_at),
        "updated_at": iso(rel.updated_at),
        "author": user(site, rel.author),
        "assets": [],
    }


def tag(site: Site, repo: RepoState, info: TagInfo) -> Json:
    """One entry of ``/repos/{o}/{r}/tags``."""
    base = site.repo(repo.full_name)
    ref = quote(f"refs/tags/{info.name}")
    return {
        "name": info.name,
        "commit": {"sha": info.commit_sha, "url": f"{base}/commits/{info.commit_sha}"},
        "zipball_url": f"{base}/zipball/{ref}",
        "tarball_url": f"{base}/tarball/{ref}",
        "node_id": node_id("REF", f"{repo.id}:{info.name}"),
    }


def git_ref(site: Site, repo: RepoState, full_ref: str, sha: str, kind: str) -> Json:
    """A ``git-ref``; an annotated tag's ref points at the tag object, like GitHub's."""
    base = site.repo(repo.full_name)
    plural = "tags" if kind == "tag" else "commits"
    return {
        "ref": full_ref,
        "node_id": node_id("REF", f"{repo.id}:{full_ref}"),
        "url": f"{base}/git/{full_ref}",
        "object": {"type": kind, "sha": sha, "url": f"{base}/git/{plural}/{sha}"},
    }


def unverified() -> Json:
    """The ``verification`` block of an unsigned object."""
    return {
        "verified": False,
        "reason": "unsigned",
        "signature": None,
        "payload": None,
        "verified_at": None,
    }


# What GitHub's web-flow signature looks like; the stand-in does not compute one.
WEB_FLOW_SIGNATURE = (
    "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAABCAAQBQJstandinwebflowsignature\n"
    "-----END PGP SIGNATURE-----\n"
)


def verification(repo: RepoState, sha: str) -> Json:
    """The ``verification`` of commit ``sha``: verified when GitHub signed it itself.

    GitHub signs a commit created through the API with an App installation token when
    the request names no author and no committer ("Verified" in the web UI); the
    payload is the commit object as git stores it.
    """
    if sha not in repo.signed_commits:
        return unverified()
    payload = repo.git.git("cat-file", "commit", sha).decode()
    return {
        "verified": True,
        "reason": "valid",
        "signature": WEB_FLOW_SIGNATURE,
        "payload": payload,
        "verified_at": iso(datetime.fromisoformat(repo.git.commit_info(sha).committer_date)),
    }


def git_tag(site: Site, repo: RepoState, obj: TagObject) -> Json:
    """A ``git-tag`` (annotated tag object)."""
    base = site.repo(repo.full_name)
    plural = "tags" if obj.object_type == "tag" else "commits"
    return {
        "node_id": node_id("TAG", obj.sha),
        "tag": obj.tag,
        "sha": obj.sha,
        "url": f"{base}/git/tags/{obj.sha}",
        "message": obj.message,
        "tagger": {
            "date": iso(datetime.fromisoformat(obj.tagger_date)),
            "email": obj.tagger_email,
            "name": obj.tagger_name,
        },
        "object": {
            "sha": obj.object_sha,
            "type": obj.object_type,
            "url": f"{base}/git/{plural}/{obj.object_sha}",
        },
        "verification": unverified(),
    }


def commit(site: Site, repo: RepoState, info: CommitInfo) -> Json:
    """A ``commit`` as ``/commits/{ref}`` returns it (no GitHub users linked)."""
    base = site.repo(repo.full_name)
    html = site.html(repo.full_name)
    return {
        "url": f"{base}/commits/{info.sha}",
        "sha": info.sha,
        "node_id": node_id("C", info.sha),
        "html_url": f"{html}/commit/{info.sha}",
        "comments_url": f"{base}/commits/{info.sha}/comments",
        "commit": {
            "url": f"{base}/git/commits/{info.sha}",
            "author": {
                "name": info.author_name,
                "email": info.author_email,
                "date": iso(datetime.fromisoformat(info.author_date)),
            },
            "committer": {
                "name": info.committer_name,
                "email": info.committer_email,
                "date": iso(datetime.fromisoformat(info.committer_date)),
            },
            "message": info.message,
            "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{base}/git/trees/{info.tree}"},
            "verification": verification(repo, info.sha),
        },
        "author": None,
        "committer": None,
        "parents": [
            {"sha": p, "url": f"{base}/commits/{p}", "html_url": f"{html}/commit/{p}"}
            for p in info.parents
        ],
        "stats": {"additions": 0, "deletions": 0, "total": 0},
        "files": [],
    }


def _content_links(site: Site, repo: RepoState, path: str, sha: str, ref: str, kind: str) -> Json:
    base = site.repo(repo.full_name)
    view = "blob" if kind == "file" else "tree"
    return {
        "url": f"{base}/contents/{quote(path)}?ref={quote(ref)}",
        "git_url": f"{base}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}",
        "html_url": f"{site.html(repo.full_name)}/{view}/{quote(ref)}/{quote(path)}",
        "download_url": (
            f"{site.web}/raw/{repo.full_name}/{quote(ref)}/{quote(path)}"
            if kind == "file"
            else None
        ),
    }


def content_file(site: Site, repo: RepoState, path: str, sha: str, data: bytes, ref: str) -> Json:
    """A ``content-file``: base64 content wrapped at 60 columns, like GitHub's."""
    encoded = base64.b64encode(data).decode()
    wrapped = "".join(encoded[i : i + 60] + "\n" for i in range(0, len(encoded), 60))
    links = _content_links(site, repo, path, sha, ref, "file")
    return {
        "type": "file",
        "encoding": "base64",
        "size": len(data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": wrapped,
        "sha": sha,
        **links,
        "_links": {"self": links["url"], "git": links["git_url"], "html": links["html_url"]},
    }


def content_entry(site: Site, repo: RepoState, entry: TreeEntry, ref: str) -> Json:
    """One item of a directory listing from ``/contents/{dir}``."""
    links = _content_links(site, repo, entry.path, entry.sha, ref, entry.kind)
    return {
        "type": entry.kind,
        "size": entry.size,
        "name": entry.name,
        "path": entry.path,
        "sha": entry.sha,
        **links,
        "_links": {"self": links["url"], "git": links["git_url"], "html": links["html_url"]},
    }


def label(
    site: Site,
    full_name: str,
    name: str,
    color: str | None = None,
    description: str | None = None,
) -> Json:
    """A label as issues and pull requests embed it; the colour defaults to one from its name."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return {
        "id": int(digest[:8], 16),
        "node_id": node_id("LA", f"{full_name}:{name}"),
        "url": f"{site.repo(full_name)}/labels/{quote(name)}",
        "name": name,
        "description": description,
        "color": color or digest[8:14],
        "default": name in ("bug", "enhancement"),
        "archived_by": None,
    }


def issue(site: Site, full_name: str, item: IssueState, merged_at: datetime | None = None) -> Json:
    """An ``issue`` of ``full_name``; ``pull_request`` is present only for pull requests.

    ``merged_at`` comes from the pull request, when the stand-in holds one for the number.
    """
    base = f"{site.repo(full_name)}/issues/{item.number}"
    kind = "pull" if item.is_pull_request else "issues"
    html = f"{site.html(full_name)}/{kind}/{item.number}"
    data: Json = {
        "id": item.id,
        "node_id": node_id("I", item.id),
        "url": base,
        "repository_url": site.repo(full_name),
        "labels_url": f"{base}/labels{{/name}}",
        "comments_url": f"{base}/comments",
        "events_url": f"{base}/events",
        "html_url": html,
        "timeline_url": f"{base}/timeline",
        "number": item.number,
        "state": item.state,
        "state_reason": item.state_reason,
        "title": item.title,
        "body": item.body,
        "user": user(site, item.author),
        "labels": [label(site, full_name, name) for name in item.labels],
        "assignees": [user(site, login) for login in item.assignees],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": len(item.comments),
        "closed_at": iso(item.closed_at),
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "author_association": "NONE",
    }
    if site.legacy_fields:
        data["assignee"] = user(site, item.assignees[0]) if item.assignees else None
    if item.closed_by is not None:
        data["closed_by"] = user(site, item.closed_by)
    if item.is_pull_request:
        pulls = f"{site.repo(full_name)}/pulls/{item.number}"
        data["pull_request"] = {
            "url": pulls,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": iso(merged_at)
            or (iso(item.closed_at) if item.state_reason == "completed" else None),
        }
    return data


def _cross_ref_issue(site: Site, source: CrossRef, when: datetime) -> Json:
    # The source may live in a repository the stand-in does not hold, so it is built
    # from the reference itself rather than looked up.
    item = IssueState(
        id=zlib.crc32(f"{source.repo}#{source.number}".encode()),
        number=source.number,
        title=source.title,
        body="",
        state=source.state,
        state_reason="completed" if source.merged_at else None,
        labels=[],
        created_at=when,
        updated_at=when,
        closed_at=source.merged_at,
        author="contributor",
        is_pull_request=source.is_pull_request,
    )
    return issue(site, source.repo, item)


def timeline_event(site: Site, repo: RepoState, number: int, event: TimelineEvent) -> Json:
    """One item of ``/issues/{n}/timeline``."""
    if event.source is not None:
        return {
            "event": event.event,
            "actor": user(site, event.actor),
            "created_at": iso(event.created_at),
            "updated_at": iso(event.created_at),
            "source": {
                "type": "issue",
                "issue": _cross_ref_issue(site, event.source, event.created_at),
            },
        }
    base = site.repo(repo.full_name)
    data: Json = {
        "id": event.id,
        "node_id": node_id("E", event.id),
        "url": f"{base}/issues/events/{event.id}",
        "actor": user(site, event.actor),
        "event": event.event,
        "commit_id": event.commit_id,
        "commit_url": f"{base}/commits/{event.commit_id}" if event.commit_id else None,
        "created_at": iso(event.created_at),
        "performed_via_github_app": None,
    }
    if event.event in ("closed", "reopened"):
        data["state_reason"] = event.state_reason
    return data


def rate_limit(site: Site, core: Bucket) -> Json:
    """``/rate_limit``: the caller's core bucket plus fixed others."""

    def entry(bucket: Bucket) -> Json:
        return {
            "limit": bucket.limit,
            "remaining": bucket.remaining,
            "reset": bucket.reset,
            "used": bucket.used,
        }

    search = Bucket(limit=10, used=0, reset=core.reset)
    graphql = Bucket(limit=0 if core.limit <= 60 else 5000, used=0, reset=core.reset)
    data: Json = {
        "resources": {"core": entry(core), "search": entry(search), "graphql": entry(graphql)}
    }
    if site.legacy_fields:
        data["rate"] = entry(core)
    return data


def not_found() -> Json:
    """GitHub's 404 body."""
    return {
        "message": "Not Found",
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    }


def message(text: str, status: int) -> Json:
    """A GitHub error body with ``message``."""
    return {
        "message": text,
        "documentation_url": "https://docs.github.com/rest",
        "status": str(status),
    }
