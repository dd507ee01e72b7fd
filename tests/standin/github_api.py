"""The GitHub REST stand-in: authentication, quota, conditional GETs, and the read endpoints.

Every response passes through :meth:`GitHubApi.handle`, which applies GitHub's rules in
GitHub's order: bad credentials (401), exhausted quota (403), the endpoint itself,
validators and 304s, then quota accounting (an authenticated 304 is free; an anonymous
one is not) and the ``x-ratelimit-*`` headers.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import quote

from tests.standin import github_shapes as shapes
from tests.standin.conditional import ConditionalCache
from tests.standin.github_shapes import API_VERSIONS, DEFAULT_API_VERSION, Site
from tests.standin.github_state import GitHubState, ReleaseState, RepoState, TokenInfo
from tests.standin.pagination import paginate
from tests.standin.quota import rate_headers
from tests.standin.routing import Router
from tests.standin.wire import Request, Response, json_response

RAW_MEDIA_TYPES = ("application/vnd.github.raw", "application/vnd.github.v3.raw")
REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"


class HttpError(Exception):
    """Raised by an endpoint to answer with a GitHub error body."""

    def __init__(self, status: int, message: str = "Not Found") -> None:
        """Remember the status and message."""
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> Response:
        """The JSON error response."""
        body = (
            shapes.not_found() if self.status == 404 else shapes.message(self.message, self.status)
        )
        return json_response(self.status, body)


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


class GitHubApi:
    """Serves requests whose path starts with the API root (``/api``)."""

    def __init__(self, state: GitHubState, site: Site, conditional: ConditionalCache) -> None:
        """Serve ``state``, building URLs from ``site``."""
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
        token = bearer_token(request)
        info = self.state.tokens.get(token) if token is not None else None
        identity = token if info is not None else None
        version = request.header("x-github-api-version") or DEFAULT_API_VERSION
        response, counted = self._answer(request, subpath.rstrip("/"), token, info, version)
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

    def _answer(
        self,
        request: Request,
        subpath: str,
        token: str | None,
        info: TokenInfo | None,
        version: str,
    ) -> tuple[Response, bool]:
        """The response before rate-limit headers, and whether it counts against quota."""
        if token is not None and info is None:
            return HttpError(401, "Bad credentials").response(), False
        if version not in API_VERSIONS:
            return HttpError(400, f"API version '{version}' is not supported.").response(), False
        identity = token if info is not None else None
        bucket = self.state.quota.peek(identity, self.state.limit_for(identity))
        if subpath == "/rate_limit":
            # GitHub documents that /rate_limit does not count against the quota.
            return json_response(200, shapes.rate_limit(self._site(request), bucket)), False
        if bucket.remaining == 0:
            who = "user" if info is not None else "127.0.0.1"
            return HttpError(403, f"API rate limit exceeded for {who}.").response(), False
        try:
            with self.state.lock:
                response = self.router.dispatch(request, subpath)
        except HttpError as error:
            response = error.response()
        if response is None:
            response = HttpError(404).response()
        response = self.conditional.apply(request, response)
        # GitHub: a 304 is free only for authenticated requests.
        return response, not (info is not None and response.status == 304)

    # -- helpers ------------------------------------------------------------------------

    def _site(self, request: Request) -> Site:
        """URL roots plus the API version this request asked for."""
        version = request.header("x-github-api-version") or DEFAULT_API_VERSION
        return replace(self.site, api_version=version)

    def _repo(self, params: dict[str, str]) -> RepoState:
        repo = self.state.find_repo(params["owner"], params["repo"])
        if repo is None:
            raise HttpError(404)
        return repo

    def _token(self, request: Request) -> TokenInfo | None:
        token = bearer_token(request)
        return self.state.tokens.get(token) if token else None

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

    def _pushed_at(self, repo: RepoState) -> datetime:
        sha = repo.git.resolve(repo.default_branch)
        if sha is None:
            return repo.created_at
        return datetime.fromisoformat(repo.git.commit_info(sha).committer_date).astimezone(UTC)

    # -- endpoints ----------------------------------------------------------------------

    def _repository(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        return json_response(
            200, shapes.repository(self._site(request), repo, self._pushed_at(repo))
        )

    def _releases(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        page, headers = paginate(
            self._visible_releases(request, repo),
            request,
            f"{self._site(request).repo(repo.full_name)}/releases",
        )
        body = [shapes.release(self._site(request), repo, r) for r in page]
        return json_response(200, body, headers)

    def _latest_release(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        # GitHub: newest non-draft, non-prerelease release by created_at (not by version).
        stable = [r for r in self._visible_releases(request, repo) if r.stable_published]
        if not stable:
            raise HttpError(404)
        return json_response(200, shapes.release(self._site(request), repo, stable[0]))

    def _release_by_tag(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        for rel in self._visible_releases(request, repo):
            if rel.tag_name == params["tag"]:
                return json_response(200, shapes.release(self._site(request), repo, rel))
        raise HttpError(404)

    def _release_by_id(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        for rel in self._visible_releases(request, repo):
            if rel.id == int(params["id"]):
                return json_response(200, shapes.release(self._site(request), repo, rel))
        raise HttpError(404)

    def _tags(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        page, headers = paginate(
            repo.git.tags(), request, f"{self._site(request).repo(repo.full_name)}/tags"
        )
        return json_response(200, [shapes.tag(self._site(request), repo, t) for t in page], headers)

    def _git_ref(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        full_ref = f"refs/{params['ref']}"
        target = repo.git.ref_target(full_ref)
        if target is None:
            raise HttpError(404)
        return json_response(200, shapes.git_ref(self._site(request), repo, full_ref, *target))

    def _git_tag(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        obj = repo.git.tag_object(params["sha"])
        if obj is None:
            raise HttpError(404)
        return json_response(200, shapes.git_tag(self._site(request), repo, obj))

    def _commit(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        sha = repo.git.resolve(params["ref"])
        if sha is None:
            raise HttpError(422, f"No commit found for SHA: {params['ref']}")
        return json_response(
            200, shapes.commit(self._site(request), repo, repo.git.commit_info(sha))
        )

    def _contents(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        ref = request.query.get("ref") or repo.default_branch
        sha = self._commit_sha(repo, ref)
        path = (params.get("path") or "").strip("/")
        if not path:
            entries = repo.git.list_dir(sha, "")
            return json_response(
                200, [shapes.content_entry(self._site(request), repo, e, ref) for e in entries]
            )
        found = repo.git.read(sha, path)
        if found is None:
            raise HttpError(404)
        kind, object_sha, data = found
        if kind == "tree":
            entries = repo.git.list_dir(sha, path)
            return json_response(
                200, [shapes.content_entry(self._site(request), repo, e, ref) for e in entries]
            )
        accept = request.header("accept") or ""
        if any(media in accept for media in RAW_MEDIA_TYPES):
            return Response(200, {"content-type": "application/vnd.github.raw"}, data)
        return json_response(
            200, shapes.content_file(self._site(request), repo, path, object_sha, data, ref)
        )

    def _tarball(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        ref = params.get("ref") or repo.default_branch
        self._commit_sha(repo, ref)
        location = f"{self._site(request).web}/codeload/{repo.full_name}/legacy.tar.gz/{quote(ref)}"
        return Response(302, {"location": location})

    def _issue(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        item = repo.issues.get(int(params["number"]))
        if item is None:
            raise HttpError(404)
        return json_response(200, shapes.issue(self._site(request), repo.full_name, item))

    def _timeline(self, request: Request, params: dict[str, str]) -> Response:
        repo = self._repo(params)
        number = int(params["number"])
        item = repo.issues.get(number)
        if item is None:
            raise HttpError(404)
        url = f"{self._site(request).repo(repo.full_name)}/issues/{number}/timeline"
        page, headers = paginate(item.timeline, request, url)
        body = [shapes.timeline_event(self._site(request), repo, number, e) for e in page]
        return json_response(200, body, headers)
