"""``StandIn``: one loopback HTTP server hosting GitHub's API, codeload and OCI registries.

Layout of URLs below ``http://127.0.0.1:PORT``:

- ``/api/...``              GitHub REST (``api_url``), like ``https://HOST/api/v3`` on GHES
- ``/codeload/...``         tarball downloads the API redirects to
- ``/registry/{host}/...``  an OCI registry per host name (``registry_url(host)``)
- ``/{owner}/{repo}/...``   html_url links point here; nothing is served there

The dispatcher applies fault rules first, routes by prefix, and records every request.
``restart()`` stops and starts the server on the same port with all state kept.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from tests.standin.apps_api import AppsApi
from tests.standin.codeload import PREFIX as CODELOAD_PREFIX
from tests.standin.codeload import Codeload
from tests.standin.conditional import ConditionalCache
from tests.standin.faults import FaultRule, Faults
from tests.standin.git_api import GitDataApi
from tests.standin.github_api import GitHubApi
from tests.standin.github_shapes import Site
from tests.standin.github_state import GitHubState
from tests.standin.handler import Plan, StandInHTTPServer
from tests.standin.issues_api import IssuesApi
from tests.standin.pulls_api import PullsApi
from tests.standin.registry_api import RegistryApi
from tests.standin.registry_state import RegistryState
from tests.standin.reqlog import RequestLog, RequestRecord
from tests.standin.wire import JSON_TYPE, Request, Response

API_PREFIX = "/api"
REGISTRY_PREFIX = "/registry/"


class StandIn:
    """The stand-in server; use as a context manager (or ``start()``/``stop()``)."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        """Prepare state; ``now`` (epoch seconds) drives quota windows and Last-Modified."""
        self._tmp = tempfile.TemporaryDirectory(prefix="standin-")
        self.workdir = Path(self._tmp.name)
        self.now = now
        #: Seconds GitHub's clock is ahead of ``now`` (negative: behind): the stand-in's
        #: stamps, its ``Date`` header and its ``since`` filters all follow that clock.
        self.clock_skew = 0.0
        self.faults = Faults()
        self.log = RequestLog()
        #: Seconds added before every answer (a far-away server), on top of any fault delay.
        self.latency = 0.0
        #: Requests being answered now, and the most at once since the start (under _busy_lock).
        self.in_flight = 0
        self.most_in_flight = 0
        self._busy_lock = threading.Lock()
        self.github = GitHubState(self.workdir, self.github_now)
        self.registry = RegistryState()
        self._stopping = threading.Event()
        self._server: StandInHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._github_api: GitHubApi | None = None
        self._port = 0
        self._codeload = Codeload(self.github)
        self._registry_api = RegistryApi(self.registry, self.registry_url)

    def github_now(self) -> float:
        """The stand-in's clock: ``now`` moved by ``clock_skew`` (epoch seconds)."""
        return self.now() + self.clock_skew

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> StandIn:
        """Bind a free loopback port (or the previous one, on restart) and serve."""
        if self._server is not None:
            raise RuntimeError("the stand-in is already running")
        self._stopping.clear()
        self._server = StandInHTTPServer(self, self._port)
        self._port = self.port
        if self._github_api is None:
            self._github_api = github_api(self.github, self.site, ConditionalCache(self.github_now))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"standin-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def restart(self) -> StandIn:
        """Stop serving and serve again on the same port; every piece of state is kept.

        Open keep-alive connections are closed, as a real restart would close them.
        """
        self._shutdown()
        return self.start()

    def stop(self) -> None:
        """Stop serving, close open connections and delete the git repositories."""
        self._shutdown()
        self._tmp.cleanup()

    def _shutdown(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> StandIn:
        """Start and return the stand-in."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the stand-in."""
        self.stop()

    # -- addresses ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:PORT`` (also the html_url root)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """GitHub REST root; a client appends ``/repos/...``."""
        return self.url + API_PREFIX

    @property
    def site(self) -> Site:
        """The roots GitHub JSON is built from."""
        return Site(api=self.api_url, web=self.url)

    def registry_url(self, host: str) -> str:
        """Base URL of the emulated registry for ``host`` (append ``/v2/...``)."""
        return f"{self.url}{REGISTRY_PREFIX}{host}"

    # -- dispatching (called from server threads) -------------------------------------------

    def dispatch(self, request: Request) -> Plan:
        """Apply fault rules, route the request, and record it."""
        with self._busy_lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return self._dispatch(request)
        finally:
            with self._busy_lock:
                self.in_flight -= 1

    def _dispatch(self, request: Request) -> Plan:
        arrived = self.now()
        if self.latency:
            self._stopping.wait(self.latency)
        fault = self.faults.take(request.method, request.path, request.headers, request.query)
        if fault is not None and fault.delay and self._stopping.wait(fault.delay):
            # Interruptible, so stopping the server never waits for a long delay; a
            # stopped server answers (and applies) nothing, its state may be gone.
            return Plan(None)
        service = _service(request.path)
        if fault is not None and fault.applied:
            # The write happens; only its answer is lost on the way back.
            self._route_safely(request, service).close_stream()
        if fault is not None and fault.applied_after:
            self._apply_later(request, service, fault.applied_after)
        if fault is not None and fault.drop_connection:
            self._record(request, service, Response(0), fault, arrived)
            return Plan(None)
        if fault is not None and fault.status is not None:
            headers = {"content-type": JSON_TYPE, **fault.headers}
            response = Response(fault.status, headers, fault.canned_body())
        else:
            response = self._route_safely(request, service)
            if fault is not None:
                _damage(response, fault)
        if fault is not None and fault.chunked and response.stream is None:
            body, response.body = response.body, b""
            response.stream = iter([body[i : i + 65536] for i in range(0, len(body), 65536)])
        self._record(request, service, response, fault, arrived)
        if fault is None:
            return Plan(response)
        return Plan(response, fault.truncate_after, fault.drip)

    def _apply_later(self, request: Request, service: str, seconds: float) -> None:
        """Route ``request`` ``seconds`` from now, in the background (applied late)."""

        def apply() -> None:
            if not self._stopping.wait(seconds):
                self._route_safely(request, service).close_stream()

        threading.Thread(target=apply, name="standin-applied-late", daemon=True).start()

    def _route_safely(self, request: Request, service: str) -> Response:
        """Route; a bug in the stand-in becomes a visible 500, not a silent hang-up."""
        try:
            return self._route(request, service)
        except Exception as exc:
            traceback.print_exc()
            body = json.dumps({"message": f"stand-in error: {exc!r}"}).encode()
            return Response(500, {"content-type": JSON_TYPE}, body)

    def _route(self, request: Request, service: str) -> Response:
        path = request.decoded_path
        if service == "github" and self._github_api is not None:
            return self._github_api.handle(request, path[len(API_PREFIX) :])
        if service == "codeload":
            return self._codeload.handle(request, path[len(CODELOAD_PREFIX) :])
        if service == "registry":
            host, _, rest = path[len(REGISTRY_PREFIX) :].partition("/")
            return self._registry_api.handle(request, host, "/" + rest)
        body = json.dumps({"message": "Not Found"}).encode()
        return Response(404, {"content-type": JSON_TYPE}, body)

    def _record(
        self,
        request: Request,
        service: str,
        response: Response,
        fault: FaultRule | None,
        arrived: float,
    ) -> None:
        # Recorded before the body is written, so a test that just got its answer
        # always finds the record.
        self.log.append(
            RequestRecord(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                status=response.status,
                authenticated=response.authenticated,
                quota_counted=response.quota_counted,
                request_headers=dict(request.headers),
                service=service,
                fault=fault is not None,
                time=arrived,
            )
        )


def github_api(state: GitHubState, site: Site, conditional: ConditionalCache) -> GitHubApi:
    """The GitHub REST service: the read endpoints plus every write-side group."""
    api = GitHubApi(state, site, conditional)
    for group in (GitDataApi(api), PullsApi(api), IssuesApi(api), AppsApi(api)):
        group.register(api.router)
    return api


def _service(path: str) -> str:
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        return "github"
    if path.startswith(CODELOAD_PREFIX + "/"):
        return "codeload"
    if path.startswith(REGISTRY_PREFIX):
        return "registry"
    return "other"


def _damage(response: Response, fault: FaultRule) -> None:
    """Apply a fault that keeps the real status: extra headers, a replaced body."""
    response.headers.update(fault.headers)
    if fault.body is not None:
        response.close_stream()
        response.stream = None
        response.body = fault.body
