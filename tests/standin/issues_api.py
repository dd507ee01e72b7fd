"""Issues on the write side: list, create, edit, comments, labels and assignees.

Pull requests share the issue number space and appear in issue listings with a
``pull_request`` key, like GitHub's. Labels named on an issue are created on the fly.
"""

from __future__ import annotations

from typing import Any

from tests.standin import write_shapes as wshapes
from tests.standin.github_api import (
    REPO,
    GitHubApi,
    HttpError,
    body_object,
    json_body,
    validation_failed,
)
from tests.standin.github_shapes import iso
from tests.standin.github_state import CommentState, IssueState, LabelState, RepoState
from tests.standin.pagination import paginate
from tests.standin.routing import Router
from tests.standin.wire import Request, Response, json_response

ISSUE = r"/issues/(?P<number>\d+)"


class IssuesApi:
    """``/issues``, ``/issues/{n}/comments|labels|assignees``, ``/issues/comments``, ``/labels``."""

    def __init__(self, api: GitHubApi) -> None:
        """Serve through ``api``."""
        self.api = api
        self.state = api.state

    def register(self, router: Router) -> None:
        """Add this group's routes."""
        routes = [
            ("GET HEAD", "/issues", self._list),
            ("POST", "/issues", self._create),
            ("PATCH", ISSUE, self._edit),
            ("GET HEAD", ISSUE + "/comments", self._comments),
            ("POST", ISSUE + "/comments", self._create_comment),
            ("GET HEAD", r"/issues/comments/(?P<id>\d+)", self._comment),
            ("PATCH", r"/issues/comments/(?P<id>\d+)", self._edit_comment),
            ("DELETE", r"/issues/comments/(?P<id>\d+)", self._delete_comment),
            ("POST", ISSUE + "/labels", self._add_labels),
            ("PUT", ISSUE + "/labels", self._set_labels),
            ("DELETE", ISSUE + r"/labels/(?P<name>.+)", self._remove_label),
            ("POST", ISSUE + "/assignees", self._add_assignees),
            ("GET HEAD", "/labels", self._labels),
            ("GET HEAD", r"/labels/(?P<name>.+)", self._label),
            ("POST", "/labels", self._create_label),
        ]
        for methods, suffix, handler in routes:
            router.add(methods, REPO + suffix, handler)

    # -- helpers ---------------------------------------------------------------------------

    def _issue(self, repo: RepoState, params: dict[str, str]) -> IssueState:
        issue = repo.issues.get(int(params["number"]))
        if issue is None:
            raise HttpError(404)
        return issue

    def _issue_response(
        self, request: Request, repo: RepoState, issue: IssueState, status: int = 200
    ) -> Response:
        return json_response(status, self.api.issue_json(request, repo, issue.number))

    def _touch(self, issue: IssueState) -> None:
        issue.updated_at = self.state.now_dt()

    @staticmethod
    def _names(value: Any, field: str) -> list[str]:
        """A list of strings from a request field (422 otherwise)."""
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise validation_failed("Issue", field)
        return list(value)

    def _ensure_labels(self, repo: RepoState, names: list[str]) -> list[str]:
        """The labels' canonical names, creating the unknown ones like GitHub does."""
        canonical = []
        for name in names:
            known = repo.labels.setdefault(name.lower(), LabelState(name))
            canonical.append(known.name)
        return canonical

    def _labels_response(self, request: Request, repo: RepoState, issue: IssueState) -> Response:
        site = self.api.site_for(request)
        body = [wshapes.full_label(site, repo, repo.labels[n.lower()]) for n in issue.labels]
        return json_response(200, body)

    # -- issues ----------------------------------------------------------------------------

    def _list(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        query = request.query
        state = query.get("state", "open")
        wanted = {n.strip().lower() for n in query.get("labels", "").split(",") if n.strip()}
        assignee = query.get("assignee")
        since = query.get("since")
        items = [
            issue
            for issue in repo.issues.values()
            if state in ("all", issue.state)
            and wanted <= {n.lower() for n in issue.labels}
            and query.get("creator") in (None, issue.author)
            and _assignee_matches(assignee, issue)
            and (since is None or (iso(issue.updated_at) or "") >= since)
        ]
        key = {"updated": "updated_at", "comments": "comments"}.get(
            query.get("sort", ""), "created_at"
        )
        items.sort(
            key=lambda i: (len(i.comments) if key == "comments" else getattr(i, key), i.number),
            reverse=query.get("direction", "desc") == "desc",
        )
        url = f"{self.api.site_for(request).repo(repo.full_name)}/issues"
        page, headers = paginate(items, request, url)
        body = [self.api.issue_json(request, repo, issue.number) for issue in page]
        return json_response(200, body, headers)

    def _create(self, request: Request, params: dict[str, str]) -> Response:
        repo, token = self.api.writable(request, params)
        body = body_object(request)
        title = body.get("title")
        if not isinstance(title, (str, int)) or title == "":
            raise validation_failed("Issue", "title", "missing_field")
        labels = self._ensure_labels(repo, self._names(body.get("labels", []), "labels"))
        assignees = self._names(body.get("assignees", []), "assignees")
        if isinstance(body.get("assignee"), str):
            assignees.insert(0, body["assignee"])
        with self.state.lock:
            issue = self.state.add_issue(
                repo.full_name,
                repo.next_number(),
                str(title),
                str(body.get("body") or ""),
                labels=labels,
                author=token.login,
            )
            issue.assignees = list(dict.fromkeys(assignees))
        response = self._issue_response(request, repo, issue, 201)
        response.headers["location"] = (
            f"{self.api.site_for(request).repo(repo.full_name)}/issues/{issue.number}"
        )
        return response

    def _edit(self, request: Request, params: dict[str, str]) -> Response:
        repo, token = self.api.writable(request, params)
        issue = self._issue(repo, params)
        body = body_object(request)
        if isinstance(body.get("title"), str):
            issue.title = body["title"]
        if "body" in body:
            issue.body = str(body["body"] or "")
        if "labels" in body:
            issue.labels = self._ensure_labels(repo, self._names(body["labels"], "labels"))
        if "assignees" in body:
            issue.assignees = self._names(body["assignees"], "assignees")
        state = body.get("state")
        if state is not None and state != issue.state:
            self._change_state(repo, issue, str(state), body.get("state_reason"), token.login)
        self._touch(issue)
        return self._issue_response(request, repo, issue)

    def _change_state(
        self, repo: RepoState, issue: IssueState, state: str, reason: Any, actor: str
    ) -> None:
        pull = repo.pulls.get(issue.number)
        if state == "closed" and pull is not None:
            self.state.close_pull(repo.full_name, issue.number, actor)
        elif state == "closed":
            why = str(reason) if reason in ("completed", "not_planned") else "completed"
            self.state.close_issue(
                repo.full_name, issue.number, self.state.now_dt(), why, None, actor
            )
        elif state == "open" and (pull is None or pull.merged_at is None):
            issue.state, issue.state_reason = "open", "reopened" if pull is None else None
            issue.closed_at, issue.closed_by = None, None
        else:
            # Not a state, or reopening a merged pull request.
            raise validation_failed("Issue", "state")

    # -- comments --------------------------------------------------------------------------

    def _comments(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        issue = self._issue(repo, params)
        since = request.query.get("since")
        items = [c for c in issue.comments if since is None or (iso(c.updated_at) or "") >= since]
        url = f"{self.api.site_for(request).repo(repo.full_name)}/issues/{issue.number}/comments"
        page, headers = paginate(items, request, url)
        site = self.api.site_for(request)
        return json_response(200, [wshapes.issue_comment(site, repo, c) for c in page], headers)

    def _create_comment(self, request: Request, params: dict[str, str]) -> Response:
        repo, token = self.api.writable(request, params)
        issue = self._issue(repo, params)
        text = body_object(request).get("body")
        if not isinstance(text, str) or not text:
            raise validation_failed("IssueComment", "body", "missing_field")
        now = self.state.now_dt()
        comment = CommentState(self.state.next_id(), issue.number, text, token.login, now, now)
        issue.comments.append(comment)
        self._touch(issue)
        data = wshapes.issue_comment(self.api.site_for(request), repo, comment)
        return json_response(201, data, {"location": data["url"]})

    def _find_comment(self, repo: RepoState, params: dict[str, str]) -> CommentState:
        comment = repo.comment(int(params["id"]))
        if comment is None:
            raise HttpError(404)
        return comment

    def _comment(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        comment = self._find_comment(repo, params)
        return json_response(200, wshapes.issue_comment(self.api.site_for(request), repo, comment))

    def _edit_comment(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        comment = self._find_comment(repo, params)
        text = body_object(request).get("body")
        if not isinstance(text, str) or not text:
            raise validation_failed("IssueComment", "body", "missing_field")
        comment.body, comment.updated_at = text, self.state.now_dt()
        return json_response(200, wshapes.issue_comment(self.api.site_for(request), repo, comment))

    def _delete_comment(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        comment = self._find_comment(repo, params)
        issue = repo.issues[comment.issue_number]
        issue.comments = [c for c in issue.comments if c.id != comment.id]
        return Response(204)

    # -- labels and assignees --------------------------------------------------------------

    def _requested_labels(self, request: Request) -> list[str]:
        # GitHub takes a bare list of names or {"labels": [...]}.
        data = json_body(request)
        if isinstance(data, dict):
            data = data.get("labels", [])
        return self._names(data if data is not None else [], "labels")

    def _add_labels(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        issue = self._issue(repo, params)
        for name in self._ensure_labels(repo, self._requested_labels(request)):
            if name.lower() not in {n.lower() for n in issue.labels}:
                issue.labels.append(name)
        self._touch(issue)
        return self._labels_response(request, repo, issue)

    def _set_labels(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        issue = self._issue(repo, params)
        issue.labels = self._ensure_labels(repo, self._requested_labels(request))
        self._touch(issue)
        return self._labels_response(request, repo, issue)

    def _remove_label(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        issue = self._issue(repo, params)
        kept = [n for n in issue.labels if n.lower() != params["name"].lower()]
        if len(kept) == len(issue.labels):
            raise HttpError(404, "Label does not exist")
        issue.labels = kept
        self._touch(issue)
        return self._labels_response(request, repo, issue)

    def _add_assignees(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        issue = self._issue(repo, params)
        for login in self._names(body_object(request).get("assignees", []), "assignees"):
            if login not in issue.assignees:
                issue.assignees.append(login)
        self._touch(issue)
        return self._issue_response(request, repo, issue, 201)

    def _labels(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        site = self.api.site_for(request)
        items = sorted(repo.labels.values(), key=lambda label: label.name.lower())
        page, headers = paginate(items, request, f"{site.repo(repo.full_name)}/labels")
        return json_response(200, [wshapes.full_label(site, repo, item) for item in page], headers)

    def _label(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.api.repo(params)
        item = repo.labels.get(params["name"].lower())
        if item is None:
            raise HttpError(404)
        return json_response(200, wshapes.full_label(self.api.site_for(request), repo, item))

    def _create_label(self, request: Request, params: dict[str, str]) -> Response:
        repo, _ = self.api.writable(request, params)
        body = body_object(request)
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise validation_failed("Label", "name", "missing_field")
        if name.lower() in repo.labels:
            raise validation_failed("Label", "name", "already_exists")
        color = body.get("color")
        description = body.get("description")
        item = LabelState(
            name,
            str(color).lstrip("#") if color else None,
            str(description) if description is not None else None,
        )
        repo.labels[name.lower()] = item
        data = wshapes.full_label(self.api.site_for(request), repo, item)
        return json_response(201, data, {"location": data["url"]})


def _assignee_matches(wanted: str | None, issue: IssueState) -> bool:
    """GitHub's ``assignee`` filter: a login, ``*`` (anyone) or ``none``."""
    if wanted is None:
        return True
    if wanted == "*":
        return bool(issue.assignees)
    if wanted == "none":
        return not issue.assignees
    return wanted in issue.assignees
