"""Writes to GitHub through PyGithub: auth, pacing, and our retry policy around each call.

PyGithub paces writes itself (``seconds_between_writes``, >= 1 s by default as GitHub's
content-creation guidance asks:
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#pause-between-mutative-requests).
Its own retry is switched off so that the one policy in :mod:`watcher.net.ratelimit`
decides, run by the same loop as every read (:mod:`watcher.net.retry`; docs/architecture.md,
«Talking to GitHub»); PyGithub exceptions are translated into WatcherErrors at this boundary.

Exactly once in effect: a write whose answer was lost (a 5xx, a timeout, a dropped
connection: GitHub may have applied it) is never simply sent again. The caller passes a
``lookup``, a read that finds what the write would have made (a comment by its hidden
marker, a pull request by its head branch, a ref by its name...), and the writer asks it
before every retry; what it finds is the write's result. Only writes that cannot create
anything twice (``idempotent``: git objects, addressed by their content) are repeated
without asking. ``retry=None`` leaves PyGithub's urllib3 with ``Retry(0, read=False)``
(requests' ``DEFAULT_RETRIES``), so nothing below this class repeats a request either.

Every call is under a total deadline and the daemon's stop, like every read
(:mod:`watcher.net.deadline`): PyGithub's requests only bound each socket read, so a
GitHub that trickles or stalls a write held a SIGTERM for up to a minute. requests has no
hook to interrupt a call in flight, so the call runs in a worker thread of its own (a
daemon thread) that the calling thread waits for in short slices; past the deadline, or
on :func:`~watcher.net.deadline.interrupt_all`, it is abandoned. An abandoned write may
still be applied, so it counts as an answer lost: its lookup finds it before any retry
(and, after a stop, on the next start). Threads rather than a requests adapter with a
deadline: PyGithub builds its session privately, and a worker thread bounds every call
whatever it does (pacing sleeps, the App token's refresh, DNS).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import github
from github import Auth, GithubException
from requests.exceptions import ConnectTimeout, RequestException

from watcher.core.errors import (
    ActionError,
    AuthError,
    NotFoundError,
    RateLimitedError,
    WatcherError,
)
from watcher.net import deadline
from watcher.net.credentials import Credentials
from watcher.net.http import USER_AGENT
from watcher.net.ratelimit import Action, Decision
from watcher.net.retry import Retry, judge, run

T = TypeVar("T")


class GitHubWriter:
    """A PyGithub client on our base URL with paced writes and translated errors."""

    def __init__(
        self,
        api_url: str,
        auth: Auth.Auth,
        *,
        app: Auth.AppAuth | None = None,
        write_interval: float = 1.0,
        retries: int = 3,
        max_wait: float = 30.0,
        timeout: float = 20.0,
        sleep: Callable[[float], None] | None = None,
        settle: float | None = None,
    ) -> None:
        self.api_url = api_url
        self.auth = auth
        # A write cut off at our deadline may still be applied for as long again: the
        # pause before a lost write's second lookup (net/retry.py).
        self.settle = timeout if settle is None else settle
        # An App's own (JWT) auth, beside the installation's in ``auth``: kept here, since
        # PyGithub's AppInstallationAuth has no public accessor for it.
        self.app_auth = app
        self._identity: str | None = None
        self.gh = github.Github(
            base_url=api_url,
            auth=auth,
            retry=None,
            timeout=int(max(timeout, 1)),
            user_agent=USER_AGENT,
            per_page=100,
            seconds_between_requests=None,
            seconds_between_writes=write_interval or None,
            lazy=False,
        )
        self.retries = retries
        self.max_wait = max_wait
        self.writes = 0
        self.reads = 0
        # Writes found already applied by their lookup after a lost answer.
        self.recovered = 0
        #: The total deadline of one call (PyGithub's ``timeout`` bounds each read only).
        self.deadline = float(max(timeout, 1))
        # Set by deadline.interrupt_all(): running calls are abandoned, none starts.
        self._interrupt = threading.Event()
        self._sleep = sleep or self._interruptible_sleep
        deadline.register(self)

    @classmethod
    def for_credentials(
        cls, api_url: str, credentials: Credentials, **options: Any
    ) -> GitHubWriter:
        """A writer with :func:`watcher.net.credentials.read_credentials`' answer."""
        if credentials.app_id is not None:
            assert credentials.installation_id is not None and credentials.private_key is not None
            app = Auth.AppAuth(credentials.app_id, credentials.private_key)
            installation = app.get_installation_auth(credentials.installation_id)
            return cls(api_url, installation, app=app, **options)
        assert credentials.token is not None
        return cls(api_url, Auth.Token(credentials.token), **options)

    @property
    def app(self) -> bool:
        """Whether it writes as a GitHub App installation (whose API commits GitHub signs)."""
        return isinstance(self.auth, Auth.AppInstallationAuth)

    def close(self) -> None:
        """Close PyGithub's session."""
        deadline.unregister(self)
        self.gh.close()

    def interrupt(self) -> None:
        """Abandon the running call and refuse new ones (shutdown)."""
        self._interrupt.set()

    def _interruptible_sleep(self, seconds: float) -> None:
        if self._interrupt.wait(seconds):
            raise deadline.interrupted("waiting to retry a GitHub call")

    def identity(self) -> str:
        """The login watcher writes as: the token's user, or ``<app slug>[bot]`` for an App.

        Read once (``GET /user``; for an App, ``GET /app/installations/{id}`` with its
        JWT, since an installation token may not read ``/user``) and then remembered.
        """
        if self._identity is None:
            auth = self.auth
            if isinstance(auth, Auth.AppInstallationAuth) and self.app_auth is not None:
                integration = github.GithubIntegration(
                    base_url=self.api_url, auth=self.app_auth, user_agent=USER_AGENT
                )
                installation = self.call(
                    "read the App installation",
                    lambda: integration.get_app_installation(auth.installation_id),
                    write=False,
                )
                self._identity = f"{installation.app_slug}[bot]"
            else:
                self._identity = self.call(
                    "read the token's user", lambda: self.gh.get_user().login, write=False
                )
        return self._identity

    def call(
        self,
        what: str,
        operation: Callable[[], T],
        *,
        write: bool = True,
        passthrough: tuple[int, ...] = (),
        lookup: Callable[[], T | None] | None = None,
        idempotent: bool = False,
    ) -> T:
        """Run one PyGithub call under the retry policy; ``what`` names it in errors.

        Statuses in ``passthrough`` (e.g. 422 "Reference already exists") re-raise the
        GithubException for the caller, which knows how to recover from them. For a
        write that may have taken effect, ``lookup`` is asked before each retry (see the
        module docstring); a write with neither ``lookup`` nor ``idempotent`` is then not
        retried at all: the error goes up and the next cycle re-derives what to do.
        """

        def attempt(number: int) -> T:
            try:
                result = self._bounded(what, operation, number, write=write)
            except GithubException as exc:
                if exc.status in passthrough:
                    raise
                raise _failure(what, exc, number, applied=write and exc.status >= 500) from exc
            except RequestException as exc:
                # A connect timeout never reached GitHub; anything later may have.
                unreachable = ActionError(
                    f"{what}: could not reach {self.api_url} ({type(exc).__name__})",
                    hint="the machine may be offline; the next cycle retries",
                )
                applied = write and not isinstance(exc, ConnectTimeout)
                decision = judge(None, {}, number, time.time())
                raise Retry(decision, unreachable, applied=applied) from exc
            if write:
                self.writes += 1
            else:
                self.reads += 1
            return result

        return run(
            attempt,
            retries=self.retries,
            max_wait=self.max_wait,
            sleep=self._sleep,
            lookup=None if lookup is None else self._recovery(what, lookup),
            idempotent=idempotent,
            settle=self.settle,
        )

    def _bounded(self, what: str, operation: Callable[[], T], number: int, *, write: bool) -> T:
        """``operation()`` in a worker thread, abandoned past the deadline or on a stop.

        Abandoned past the deadline, it is a lost answer (a write may have been applied:
        the :class:`Retry` is marked so); on a stop, an error that ends the cycle's calls.
        """
        if self._interrupt.is_set():
            raise deadline.interrupted(what)
        outcome: list[T] = []
        failure: list[Exception] = []

        def work() -> None:
            try:
                outcome.append(operation())
            except Exception as exc:  # noqa: BLE001 - handed to the waiting thread
                failure.append(exc)

        worker = threading.Thread(target=work, name="watcher-github-call", daemon=True)
        worker.start()
        ends = time.monotonic() + self.deadline
        while worker.is_alive():
            if self._interrupt.is_set():
                raise deadline.interrupted(what)
            left = ends - time.monotonic()
            if left <= 0:
                late = ActionError(
                    f"{what}: no answer from {self.api_url} within {self.deadline:g} s",
                    hint="GitHub is slow or unreachable; the next cycle retries",
                )
                raise Retry(judge(None, {}, number, time.time()), late, applied=write)
            worker.join(min(left, deadline.POLL_SECONDS))
        if failure:
            raise failure[0]
        return outcome[0]

    def _recovery(self, what: str, lookup: Callable[[], T | None]) -> Callable[[], T | None]:
        """``lookup`` as a read under the policy; what it finds counts in ``recovered``."""

        def look() -> T | None:
            found = self.call(f"{what} (looking for an earlier attempt)", lookup, write=False)
            if found is not None:
                self.recovered += 1
            return found

        return look


def _failure(what: str, exc: GithubException, attempt: int, *, applied: bool) -> Exception:
    """The error to raise for ``exc``, wrapped in a Retry when the policy says to retry."""
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    body = str(exc.data)[:300] if exc.data else ""
    decision = judge(exc.status, headers, attempt, time.time(), body_hint=body)
    error = _error(what, exc, decision)
    if decision.action is Action.RETRY:
        return Retry(decision, error, applied=applied)
    return error


def _error(what: str, exc: GithubException, decision: Decision) -> WatcherError:
    """The WatcherError telling the user about a failed call."""
    message = error_text(exc)
    if decision.rate_limited:
        return RateLimitedError(
            f"{what}: rate limited by GitHub ({message})", reset_at=decision.reset_at
        )
    if exc.status == 401:
        return AuthError(f"{what}: 401 ({message})")
    if exc.status == 404:
        return NotFoundError(
            f"{what}: 404 ({message})",
            hint="check the chart repository name and the token's access to it",
        )
    if exc.status == 403:
        return AuthError(
            f"{what}: 403 ({message})",
            hint="the token needs contents, pull requests and issues write access",
        )
    return ActionError(f"{what}: HTTP {exc.status} ({message})")


def error_text(exc: GithubException) -> str:
    """GitHub's message and error details of a failed call (for matching known 422s)."""
    data: Any = exc.data
    if isinstance(data, dict):
        parts = [str(data.get("message", ""))]
        parts += [
            str(e.get("message", "")) for e in data.get("errors") or [] if isinstance(e, dict)
        ]
        return "; ".join(p for p in parts if p)[:300]
    return str(data)[:300]
