"""The OCI distribution stand-in: bearer challenge, token endpoint, manifests, tag lists.

Each registry host (``docker.io``, ``ghcr.io``, ...) lives under ``/registry/{host}``.
The flow is Docker Hub's and ghcr.io's anonymous pull: a request without a token gets
a 401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``; the realm hands
out a token for ``repository:NAME:pull``; manifests need that token.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

from tests.standin.registry_state import RegistryState
from tests.standin.routing import Router
from tests.standin.wire import Request, Response, json_response

NAME = (
    r"(?P<name>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
)
SCOPE = re.compile(r"^repository:(?P<name>[^:]+):(?P<actions>[a-z,*]+)$")
API_HEADERS = {"docker-distribution-api-version": "registry/2.0"}
TOKEN_SECONDS = 300


def service_for(host: str) -> str:
    """The ``service`` a host's challenge names (Docker Hub's differs from its host)."""
    return "registry.docker.io" if host == "docker.io" else host


def oci_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An OCI distribution error response."""
    body = {"errors": [{"code": code, "message": message, "detail": None}]}
    return json_response(status, body, {**API_HEADERS, **(headers or {})})


def _accepted(request: Request) -> set[str]:
    values = request.header("accept") or ""
    return {part.split(";")[0].strip() for part in values.split(",") if part.strip()}


class RegistryApi:
    """Serves every emulated registry host; tokens are bound to one host."""

    def __init__(self, state: RegistryState, base_url: Callable[[str], str]) -> None:
        """Serve ``state``; ``base_url(host)`` is the absolute URL of a host's root."""
        self.state = state
        self.base_url = base_url
        self._tokens: dict[str, tuple[str, frozenset[str]]] = {}
        self._lock = threading.Lock()
        self.router = Router()
        self.router.add("GET", r"/token", self._token)
        self.router.add("GET HEAD", r"/v2/?", self._base)
        self.router.add("GET HEAD", rf"/v2/{NAME}/manifests/(?P<ref>[^/]+)", self._manifest)
        self.router.add("GET", rf"/v2/{NAME}/tags/list", self._tags)

    def handle(self, request: Request, host: str, subpath: str) -> Response:
        """Answer one request for registry ``host`` (``subpath`` is below its root)."""
        response = self.router.dispatch(request, subpath, {"host": host})
        response = response or oci_error(404, "NOT_FOUND", "endpoint not found")
        response.authenticated = self._scopes(request, host) is not None
        return response

    # -- authentication -------------------------------------------------------------------

    def _challenge(self, host: str, name: str | None, error: str | None = None) -> Response:
        parts = [f'realm="{self.base_url(host)}/token"', f'service="{service_for(host)}"']
        if name is not None:
            parts.append(f'scope="repository:{name}:pull"')
        if error is not None:
            parts.append(f'error="{error}"')
        header = {"www-authenticate": "Bearer " + ",".join(parts)}
        return oci_error(401, "UNAUTHORIZED", "authentication required", header)

    def _scopes(self, request: Request, host: str) -> frozenset[str] | None:
        """The repositories the request's bearer token may pull, or None without one."""
        value = request.header("authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer":
            return None
        with self._lock:
            grant = self._tokens.get(token.strip())
        if grant is None or grant[0] != host:
            return None
        return grant[1]

    def _token(self, request: Request, params: dict[str, str]) -> Response:
        host = params["host"]
        if request.query.get("service") != service_for(host):
            return json_response(400, {"details": "invalid service"})
        names = []
        for scope in (request.query.get("scope") or "").split():
            match = SCOPE.match(scope)
            if match is None:
                return json_response(400, {"details": f"invalid scope {scope!r}"})
            if "pull" in match["actions"].split(","):
                names.append(match["name"])
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = (host, frozenset(names))
        issued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_SECONDS,
            "issued_at": issued,
        }
        return json_response(200, body)

    def _authorize(self, request: Request, params: dict[str, str]) -> Response | None:
        """None when the token may pull ``name``; the 401 challenge otherwise."""
        scopes = self._scopes(request, params["host"])
        if scopes is not None and params["name"] in scopes:
            return None
        error = "insufficient_scope" if scopes is not None else None
        return self._challenge(params["host"], params["name"], error)

    # -- endpoints ------------------------------------------------------------------------

    def _base(self, request: Request, params: dict[str, str]) -> Response:
        if self._scopes(request, params["host"]) is None:
            return self._challenge(params["host"], None)
        return json_response(200, {}, API_HEADERS)

    def _refuse(self, request: Request, params: dict[str, str]) -> Response | None:
        """The answer for a request without a valid token or to an unknown repository."""
        denied = self._authorize(request, params)
        if denied is not None:
            return denied
        if not self.state.exists(params["host"], params["name"]):
            name = params["name"]
            return oci_error(404, "NAME_UNKNOWN", f"repository {name} not known to registry")
        return None

    def _manifest(self, request: Request, params: dict[str, str]) -> Response:
        refused = self._refuse(request, params)
        if refused is not None:
            return refused
        host, name = params["host"], params["name"]
        manifest = self.state.resolve(host, name, params["ref"])
        if manifest is None:
            return oci_error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {params['ref']}")
        if manifest.media_type not in _accepted(request):
            # Docker Hub's answer when the Accept header rules out the stored index type.
            return oci_error(
                404,
                "MANIFEST_UNKNOWN",
                f"{manifest.media_type} found, but accept header does not support it",
            )
        headers = {
            **API_HEADERS,
            "content-type": manifest.media_type,
            "docker-content-digest": manifest.digest,
            "etag": f'"{manifest.digest}"',
        }
        return Response(200, headers, manifest.body)

    def _tags(self, request: Request, params: dict[str, str]) -> Response:
        refused = self._refuse(request, params)
        if refused is not None:
            return refused
        host, name = params["host"], params["name"]
        tags = self.state.tags(host, name)
        last = request.query.get("last")
        if last:
            tags = [t for t in tags if t > last]
        headers = dict(API_HEADERS)
        count = request.query.get("n")
        if count is not None and count.isdigit() and 0 < int(count) < len(tags):
            tags = tags[: int(count)]
            query = urlencode({"n": count, "last": tags[-1]})
            # A path-absolute link, so it resolves against the request URL (spec style);
            # the spec also allows an absolute URL, which some registries send.
            target = f"{request.path}?{query}"
            if self.state.absolute_links:
                target = f"{self.base_url(host)}/v2/{name}/tags/list?{query}"
            headers["link"] = f'<{target}>; rel="next"'
        return json_response(200, {"name": name, "tags": tags}, headers)
