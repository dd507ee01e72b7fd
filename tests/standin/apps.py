"""GitHub Apps: registered public keys, RS256 JWT checks, and installation tokens.

A test registers an app with the public half of a key it generated (never a committed
key); PyGithub's ``Auth.AppAuth`` signs a JWT with the private half, the stand-in checks
it like GitHub (RS256, ``iss`` = app id, ``exp`` at most ten minutes after ``iat``) and
trades it for an installation token (``ghs_...``, one hour) that works as a push token
for the installation's repositories.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import jwt

# GitHub refuses JWTs that live longer than ten minutes; a minute of clock drift is allowed.
MAX_JWT_LIFETIME = 600
CLOCK_DRIFT = 60
INSTALLATION_TOKEN_SECONDS = 3600
PERMISSIONS = {"contents": "write", "issues": "write", "metadata": "read", "pull_requests": "write"}


class AppAuthError(Exception):
    """A JWT GitHub would answer with 401; the message is GitHub's."""


@dataclass
class AppState:
    """One registered GitHub App and its installation."""

    app_id: int
    public_key_pem: str
    installation_id: int
    repos: frozenset[str]
    slug: str
    owner: str
    created_at: datetime
    tokens: list[str] = field(default_factory=list)

    @property
    def bot_login(self) -> str:
        """The login the app's installation acts as, e.g. ``watcher-app[bot]``."""
        return f"{self.slug}[bot]"


class AppRegistry:
    """Every app the stand-in knows, by app id and by installation id."""

    def __init__(self) -> None:
        """Start with no apps."""
        self._apps: dict[int, AppState] = {}
        self._lock = threading.Lock()

    def add(
        self,
        app_id: int,
        public_key_pem: str | bytes,
        installation_id: int,
        repos: Iterable[str],
        created_at: datetime,
        slug: str | None = None,
    ) -> AppState:
        """Register an app installed on ``repos`` (``owner/name``; the first names the owner)."""
        names = [r.lower() for r in repos]
        pem = public_key_pem.decode() if isinstance(public_key_pem, bytes) else public_key_pem
        app = AppState(
            app_id=int(app_id),
            public_key_pem=pem,
            installation_id=int(installation_id),
            repos=frozenset(names),
            slug=slug or f"stand-in-app-{app_id}",
            owner=names[0].split("/")[0] if names else "stand-in",
            created_at=created_at,
        )
        with self._lock:
            self._apps[app.app_id] = app
        return app

    def by_installation(self, installation_id: int) -> AppState | None:
        """The app owning installation ``installation_id``, or None."""
        with self._lock:
            return next(
                (a for a in self._apps.values() if a.installation_id == installation_id), None
            )

    def verify(self, token: str, now: float) -> AppState:
        """The app whose key signed JWT ``token``; AppAuthError with GitHub's message if not."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
            app_id = int(claims["iss"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
            raise AppAuthError("A JSON web token could not be decoded") from exc
        with self._lock:
            app = self._apps.get(app_id)
        if app is None:
            raise AppAuthError("Integration not found")
        try:
            # Times are checked below against the stand-in's clock, not the host's.
            jwt.decode(
                token,
                app.public_key_pem,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError as exc:
            raise AppAuthError("A JSON web token could not be decoded") from exc
        issued, expires = claims.get("iat"), claims.get("exp")
        if not isinstance(issued, int) or not isinstance(expires, int):
            raise AppAuthError("'Issued at' and 'Expiration time' claims must be numbers")
        if issued > now + CLOCK_DRIFT:
            raise AppAuthError("'Issued at' claim ('iat') must be an Integer in the past")
        if expires <= now or expires - issued > MAX_JWT_LIFETIME + CLOCK_DRIFT:
            raise AppAuthError(
                "'Expiration time' claim ('exp') is too far in the future or in the past"
            )
        return app

    @staticmethod
    def new_token() -> str:
        """A fresh installation token in GitHub's format."""
        return "ghs_" + secrets.token_urlsafe(27).replace("-", "A").replace("_", "B")[:36]
