"""The GitHub REST stand-in: authentication, quota, conditional GETs, and the endpoints.

Every response passes through :meth:`GitHubApi.handle`, which applies GitHub's rules in
GitHub's order: bad credentials (401), exhausted quota (403), the secondary limit on
content creation (403 with ``retry-after``), the endpoint itself, validators and 304s,
then quota accounting (an authenticated 304 is free; an anonymous one is not) and the
``x-ratelimit-*`` headers. The read endpoints live here; the write side is registered
from :mod:`tests.standin.git_api`, :mod:`tests.standin.pulls_api`,
:mod:`tests.standin.issues_api` and :mod:`tests.standin.apps_api`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from tests.standin import github_shapes as shapes
from tests.standin.apps import AppAuthError, AppState
from tests.standin.conditional import ConditionalCache
from tests.standin.github_shapes import API_VERSIONS, DEFAULT_API_VERSION, Site
from tests.standin.github_state import (
    APP_IDENTITY,
    GitHubState,
    ReleaseState,
    RepoState,
    TokenInfo,
)
from tests.standin.pagination import paginate
from tests.standin.quota import rate_headers
from tests.standin.routing import Router
from tests.standin.wire import Request, Response, json_response

RAW_MEDIA_TYPES = ("application/vnd.github.raw", "application/vnd.github.v3.raw")
REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
    "again. If you reach out to GitHub Support for help, please include the request ID {}."
)


class HttpError(Exception):
    """Raised by an endpoint to answer with a GitHub error body (``errors`` for 422s)."""

    def __init__(
        self,
        status: int,
        message: str = "Not Found",
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Remember the status, message, validation errors and extra headers."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def response(self) -> Response:
        """The JSON error response."""
        if self.status == 404 and self.message == "Not Found":
            body = shapes.not_found()
        else:
            body = shapes.message(self.message, self.status)
        if self.errors is not None:
            body["errors"] = self.errors
        return json_response(self.status, body, self.headers)


def validation_failed(resource: str, field: str, code: str = "invalid") -> HttpError:
    """GitHub's 422 ``Validation Failed`` for one field."""
    return HttpError(
        422, "Validation Failed", [{"resource": resource, "field": field, "code": code}]
    )


def custom_error(resource: str, message: str) -> HttpError:
    """GitHub's 422 ``Validation Failed`` with a ``custom`` error message."""
    return HttpError(
        422, "Validation Failed", [{"resource": resource, "code": "custom", "message": message}]
    )


def json_body(request: Request) -> Any:
    """The request's JSON body (None when empty); 400 like GitHub when it does not parse."""
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except ValueError as exc:
        raise HttpError(400, "Problems parsing JSON") from exc


def body_object(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object (400 otherwise)."""
    data = json_body(request)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HttpError(400, "Problems parsing JSON")
    return data


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: token X`` / ``Bearer X`` header, or None."""
    value = request.header("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() in ("token", "bearer") and token.strip():
        return token.strip()
    # Basic or garbage: GitHub treats it as bad credentials, so keep it as a token.
    return value


@dataclass(frozen=True)
class Caller:
    """Who sent a request: anonymous, a token (``info``), or an app's JWT (``app``)."""

    token: str | None
    info: TokenInfo | None = None
    app: AppState | None = None
    error: str = "Bad credentials"

    @property
    def identity(self) -> str | None:
        """The quota bucket: the token, ``app:ID`` for a JWT, None when anonymous."""
        if self.info is not None:
            return self.info.token
        if self.app is not None:
            return f"{APP_IDENTITY}{self.app.app_id}"
        return None

    @property
    def rejected(self) -> bool:
        """Credentials were sent but are not valid (401)."""
        return self.token is not None and self.identity is None


class GitHubApi:
    """Serves requests whose path starts with the API root (``/api``)."""

    def __init__(self, state: GitHubState, site: Site, conditional: ConditionalCache) -> None:
        """Serve ``state``, building URLs from ``site`` (write routes are added by the server)."""
        self.state = state
        self.site = site
        self.conditional = conditional
        self.router = Router()
        routes = [
            ("", self._repository),
            ("/releases", self._releases),
            ("/releases/latest", self._latest_release),
            (r"/releases/tags/(?P<tag>.+)", self._release_by_tag),
            (r"/releases/(?P<id>\d+)", self._release_by_id),
            ("/tags", self._tags),
            (r"/git/ref/(?P<ref>.+)", self._git_ref),
            (r"/git/tags/(?P<sha>[0-9a-f]{40})", self._git_tag),
            (r"/commits/(?P<ref>.+)", self._commit),
            (r"/contents(?:/(?P<path>.*))?", self._contents),
            (r"/tarball(?:/(?P<ref>.+))?", self._tarball),
            (r"/issues/(?P<number>\d+)", self._issue),
            (r"/issues/(?P<number>\d+)/timeline", self._timeline),
        ]
        for suffix, handler in routes:
            self.router.add("GET HEAD", REPO + suffix, handler)

    # -- pipeline -----------------------------------------------------------------------

    def handle(self, request: Request, subpath: str) -> Response:
        """Answer one API request (``subpath`` is the path below the API root)."""
        caller = self.caller(request)
        version = request.header("x-github-api-version") or DEFAULT_API_VERSION
        response, counted = self._answer(request, subpath.rstrip("/"), caller, version)
        identity = caller.identity
        limit = self.state.limit_for(identity)
        bucket = self.state.quota.spend(identity, limit) if counted else None
        response.quota_counted = bucket is not None
        bucket = bucket or self.state.quota.peek(identity, limit)
        response.authenticated = identity is not None
        response.headers.update(rate_headers(bucket))
        response.headers.update(
            {
                "x-github-api-version-selected": version,
                "x-github-media-type": "github.v3; format=json",
                "x-github-request-id": uuid.uuid4().hex[:16].upper(),
            }
        )
        return response

    def caller(self, request: Request) -> Caller:
        """Resolve the request's credentials: a known token, an app's JWT, or nothing."""
        token = bearer_token(request)
        if token is None:
            return Caller(None)
        info = self.state.token_info(token)
        if info is not None:
            return Caller(token, info)
        if token.count(".") != 2:
            return Caller(token)
        try:
            return Caller(token, app=self.state.apps.verify(token, self.state.now()))
        except AppAuthError as exc:
            return Caller(token, error=str(exc))

    def _answer(
        self, request: Request, subpath: str, caller: Caller, version: str
    ) -> tuple[Response, bool]:
        """The response before rate-limit headers, and whether it counts against quota."""
        if caller.rejected:
            return HttpError(401, caller.error).response(), False
        if version not in API_VERSIONS:
            return HttpError(400, f"API version '{version}' is not supported.").response(), False
        identity = caller.identity
        bucket = self.state.quota.peek(identity, self.state.limit_for(identity))
        if subpath == "/rate_limit":
            # GitHub documents that /rate_limit does not count against the quota.
            return json_response(200, shapes.rate_limit(self.site_for(request), bucket)), False
        if bucket.remaining == 0:
            who = "user" if identity is not None else "127.0.0.1"
            return HttpError(403, f"API rate limit exceeded for {who}.").response(), False
        if caller.app is not None and not _app_path(subpath):
            # A JWT only opens the /app endpoints; repository work needs an installation token.
            message = "A JSON web token can only call the /app endpoints"
            return HttpError(401, message).response(), False
        if request.method in WRITE_METHODS and not subpath.startswith("/app/"):
            wait = self.state.take_content_slot()
            if wait is not None:
                text = SECONDARY_LIMIT_MESSAGE.format(uuid.uuid4().hex[:16].upper())
                retry = {"retry-after": str(max(int(wait + 0.999), 1))}
                return HttpError(403, text, headers=retry).response(), False
        try:
            with self.state.lock:
                response = self.router.dispatch(request, subpath)
        except HttpError as error:
            response = error.response()
        if response is None:
            response = HttpError(404).response()
        response = self.conditional.apply(request, response)
        # GitHub: a 304 is free only for authenticated requests.
        return response, not (identity is not None and response.status == 304)

    # -- helpers ------------------------------------------------------------------------

    def site_for(self, request: Request) -> Site:
        """URL roots plus the API version this request asked for."""
        version = request.header("x-github-api-version") or DEFAULT_API_VERSION
        return replace(self.site, api_version=version)

    def repo(self, params: dict[str, str]) -> RepoState:
        """The repository named by the route's ``owner``/``repo`` (404 when unknown)."""
        repo = self.state.find_repo(params["owner"], params["repo"])
        if repo is None:
            raise HttpError(404)
        return repo

    def _token(self, request: Request) -> TokenInfo | None:
        return self.caller(request).info

    def writable(self, request: Request, params: dict[str, str]) -> tuple[RepoState, TokenInfo]:
        """The repository and the token writing to it; 401/403 like GitHub without push access."""
        repo = self.repo(params)
        info = self.caller(request).info
        if info is None:
            raise HttpError(401, "Requires authentication")
        if not self.state.can_push(info, repo):
            kind = "integration" if info.kind == "installation" else "personal access token"
            raise HttpError(403, f"Resource not accessible by {kind}")
        return repo, info

    def _visible_releases(self, request: Request, repo: RepoState) -> list[ReleaseState]:
        """Releases newest first by ``created_at``; drafts only for push access."""
        pusher = self.state.can_push(self._token(request), repo)
        visible = [r for r in repo.releases if pusher or not r.draft]
        return sorted(visible, key=lambda r: (r.created_at, r.id), reverse=True)

    def _commit_sha(self, repo: RepoState, ref: str | None) -> str:
        sha = repo.git.resolve(ref or repo.default_branch)
        if sha is None:
            raise HttpError(404, f"No commit found for the ref {ref}")
        return sha

    def pushed_at(self, repo: RepoState) -> datetime:
        """When the default branch last moved (its head's committer date)."""
        sha = repo.git.resolve(repo.default_branch)
        if sha is None:
            return repo.created_at
        return datetime.fromisoformat(repo.git.commit_info(sha).committer_date).astimezone(UTC)

    # -- endpoints ----------------------------------------------------------------------

    def _repository(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        return json_response(
            200, shapes.repository(self.site_for(request), repo, self.pushed_at(repo))
        )

    def _releases(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        page, headers = paginate(
            self._visible_releases(request, repo),
            request,
            f"{self.site_for(request).repo(repo.full_name)}/releases",
        )
        body = [shapes.release(self.site_for(request), repo, r) for r in page]
        return json_response(200, body, headers)

    def _latest_release(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        # GitHub: newest non-draft, non-prerelease release by created_at (not by version).
        stable = [r for r in self._visible_releases(request, repo) if r.stable_published]
        if not stable:
            raise HttpError(404)
        return json_response(200, shapes.release(self.site_for(request), repo, stable[0]))

    def _release_by_tag(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        for rel in self._visible_releases(request, repo):
            if rel.tag_name == params["tag"]:
                return json_response(200, shapes.release(self.site_for(request), repo, rel))
        raise HttpError(404)

    def _release_by_id(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        for rel in self._visible_releases(request, repo):
            if rel.id == int(params["id"]):
                return json_response(200, shapes.release(self.site_for(request), repo, rel))
        raise HttpError(404)

    def _tags(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        page, headers = paginate(
            repo.git.tags(), request, f"{self.site_for(request).repo(repo.full_name)}/tags"
        )
        return json_response(
            200, [shapes.tag(self.site_for(request), repo, t) for t in page], headers
        )

    def _git_ref(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        full_ref = f"refs/{params['ref']}"
        target = repo.git.ref_target(full_ref)
        if target is None:
            raise HttpError(404)
        return json_response(200, shapes.git_ref(self.site_for(request), repo, full_ref, *target))

    def _git_tag(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        obj = repo.git.tag_object(params["sha"])
        if obj is None:
            raise HttpError(404)
        return json_response(200, shapes.git_tag(self.site_for(request), repo, obj))

    def _commit(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        sha = repo.git.resolve(params["ref"])
        if sha is None:
            raise HttpError(422, f"No commit found for SHA: {params['ref']}")
        return json_response(
            200, shapes.commit(self.site_for(request), repo, repo.git.commit_info(sha))
        )

    def _contents(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        ref = request.query.get("ref") or repo.default_branch
        sha = self._commit_sha(repo, ref)
        path = (params.get("path") or "").strip("/")
        if not path:
            entries = repo.git.list_dir(sha, "")
            return json_response(
                200, [shapes.content_entry(self.site_for(request), repo, e, ref) for e in entries]
            )
        found = repo.git.read(sha, path)
        if found is None:
            raise HttpError(404)
        kind, object_sha, data = found
        if kind == "tree":
            entries = repo.git.list_dir(sha, path)
            return json_response(
                200, [shapes.content_entry(self.site_for(request), repo, e, ref) for e in entries]
            )
        accept = request.header("accept") or ""
        if any(media in accept for media in RAW_MEDIA_TYPES):
            return Response(200, {"content-type": "application/vnd.github.raw"}, data)
        return json_response(
            200, shapes.content_file(self.site_for(request), repo, path, object_sha, data, ref)
        )

    def _tarball(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        ref = params.get("ref") or repo.default_branch
        self._commit_sha(repo, ref)
        location = (
            f"{self.site_for(request).web}/codeload/{repo.full_name}/legacy.tar.gz/{quote(ref)}"
        )
        return Response(302, {"location": location})

    def _issue(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        item = repo.issues.get(int(params["number"]))
        if item is None:
            raise HttpError(404)
        return json_response(200, self.issue_json(request, repo, item.number))

    def issue_json(self, request: Request, repo: RepoState, number: int) -> shapes.Json:
        """Issue ``number`` shaped for this request (with its pull request's merge time)."""
        pull = repo.pulls.get(number)
        merged_at = pull.merged_at if pull is not None else None
        return shapes.issue(self.site_for(request), repo.full_name, repo.issues[number], merged_at)

    def _timeline(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.repo(params)
        number = int(params["number"])
        item = repo.issues.get(number)
        if item is None:
            raise HttpError(404)
        url = f"{self.site_for(request).repo(repo.full_name)}/issues/{number}/timeline"
        page, headers = paginate(item.timeline, request, url)
        body = [shapes.timeline_event(self.site_for(request), repo, number, e) for e in page]
        return json_response(200, body, headers)


def _app_path(subpath: str) -> bool:
    """Whether a JWT may call this path: the /app endpoints and a repository's installation."""
    return subpath == "/app" or subpath.startswith("/app/") or subpath.endswith("/installation")
