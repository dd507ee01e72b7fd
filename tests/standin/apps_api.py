"""GitHub App endpoints (installation tokens for a JWT, installation lookups) and ``/user``.

``POST /app/installations/{id}/access_tokens`` is what PyGithub's
``Auth.AppAuth(...).get_installation_auth(id)`` calls; the token it returns is then a
push token for the installation's repositories until it expires.
"""

from __future__ import annotations

from tests.standin import github_shapes as shapes
from tests.standin import write_shapes as wshapes
from tests.standin.apps import AppState
from tests.standin.github_api import REPO, GitHubApi, HttpError
from tests.standin.routing import Router
from tests.standin.wire import Request, Response, json_response

JWT_REQUIRED = "A JSON web token is required to access this endpoint."


class AppsApi:
    """``/app/installations/{id}[/access_tokens]`` and ``/repos/{o}/{r}/installation``."""

    def __init__(self, api: GitHubApi) -> None:
        """Serve through ``api``."""
        self.api = api
        self.state = api.state

    def register(self, router: Router) -> None:
        """Add this group's routes."""
        installation = r"/app/installations/(?P<id>\d+)"
        router.add("POST", installation + "/access_tokens", self._access_token)
        router.add("GET HEAD", installation, self._installation)
        router.add("GET HEAD", REPO + "/installation", self._repo_installation)
        router.add("GET HEAD", "/user", self._user)

    def _user(self, request: Request, params: dict[str, str]) -> Response:
        """The token's user; GitHub refuses installation tokens and JWTs here."""
        caller = self.api.caller(request)
        if caller.info is None and caller.app is None:
            raise HttpError(401, "Requires authentication")
        if caller.info is None or caller.info.kind == "installation":
            raise HttpError(403, "Resource not accessible by integration")
        return json_response(200, shapes.user(self.api.site_for(request), caller.info.login))

    def _app(self, request: Request) -> AppState:
        app = self.api.caller(request).app
        if app is None:
            raise HttpError(401, JWT_REQUIRED)
        return app

    def _own_installation(self, request: Request, params: dict[str, str]) -> AppState:
        app = self._app(request)
        if app.installation_id != int(params["id"]):
            raise HttpError(404)
        return app

    def _access_token(self, request: Request, params: dict[str, str]) -> Response:
        app = self._own_installation(request, params)
        info = self.state.issue_installation_token(app)
        return json_response(201, wshapes.installation_token(info))

    def _installation(self, request: Request, params: dict[str, str]) -> Response:
        app = self._own_installation(request, params)
        return json_response(200, wshapes.installation(self.api.site_for(request), app))

    def _repo_installation(self, request: Request, params: dict[str, str]) -> Response:
        app = self._app(request)
        repo = self.api.repo(params)
        if repo.full_name.lower() not in app.repos:
            raise HttpError(404)
        return json_response(200, wshapes.installation(self.api.site_for(request), app))
