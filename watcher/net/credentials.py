"""GitHub credentials: read from the environment in this one place, for reads and writes.

A token (``GITHUB_TOKEN`` or ``GITHUB_TOKEN_FILE``) or a GitHub App (id, installation,
private key). Every command reads them at start-up, so a bad token or an unreadable App
key is one error line before anything runs. Reads send them through
:class:`ReadAuthorization`: the token, or the App's installation token, minted at the
first read and renewed before it expires (an anonymous read has 60 requests an hour).
Writes get them in the PyGithub client built at the first write
(:class:`watcher.runner.act.Actor`). Secrets never come from the config file, and
:class:`Credentials` never shows them in its ``repr`` (docs/architecture.md, «Talking
to GitHub»).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from watcher.core.errors import ConfigError, PayloadError
from watcher.core.redact import remember_secret
from watcher.net.http import HttpClient, decode_json

# PKCS#1 (GitHub's download: "RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY").
_PEM_KEY = re.compile(
    r"-----BEGIN (?P<kind>(?:RSA |EC )?PRIVATE KEY)-----(?P<body>[^-]*)-----END (?P=kind)-----"
)
_KEY_HINT = "point it at the App's private key (.pem) exactly as downloaded from GitHub"
#: An installation token is renewed this long before GitHub's expiry (one hour after minting).
RENEW_BEFORE_SECONDS = 300
# GitHub refuses an App JWT that lives over ten minutes; its clocks may run a minute apart.
_JWT_SECONDS, _CLOCK_DRIFT = 540, 60


@dataclass(frozen=True)
class Credentials:
    """A token, or a GitHub App (id, installation id and PEM private key)."""

    token: str | None = field(default=None, repr=False)
    app_id: str | None = None
    installation_id: int | None = None
    private_key: str | None = field(default=None, repr=False)


def read_credentials(environ: Mapping[str, str]) -> Credentials | None:
    """A token (``GITHUB_TOKEN``/``_FILE``) or GitHub App credentials; None if neither.

    The App needs ``WATCHER_APP_ID``, ``WATCHER_APP_INSTALLATION_ID`` and
    ``WATCHER_APP_PRIVATE_KEY_FILE`` (a PEM file).
    """
    app_id = environ.get("WATCHER_APP_ID", "").strip()
    if app_id:
        installation = environ.get("WATCHER_APP_INSTALLATION_ID", "").strip()
        key_file = environ.get("WATCHER_APP_PRIVATE_KEY_FILE", "").strip()
        if not installation.isdigit() or not key_file:
            raise ConfigError(
                "WATCHER_APP_ID is set but WATCHER_APP_INSTALLATION_ID (a number) or "
                "WATCHER_APP_PRIVATE_KEY_FILE is missing",
                hint="set all three for GitHub App auth, or use GITHUB_TOKEN instead",
            )
        try:
            key = Path(key_file).read_text("utf-8")
        except OSError as exc:
            raise ConfigError(
                f"WATCHER_APP_PRIVATE_KEY_FILE={key_file}: cannot read it ({exc.strerror})"
            ) from exc
        except UnicodeDecodeError as exc:
            # The message names the position only, never the key's bytes.
            raise ConfigError(
                f"WATCHER_APP_PRIVATE_KEY_FILE={key_file}: not a PEM text file",
                hint="point it at the App's private key (.pem) as downloaded from GitHub",
            ) from exc
        key = _checked_key(key, f"WATCHER_APP_PRIVATE_KEY_FILE={key_file}")
        return Credentials(app_id=app_id, installation_id=int(installation), private_key=key)
    token = github_token(environ)
    return Credentials(token=token) if token else None


def _checked_key(text: str, where: str) -> str:
    """``text`` if it is a whole PEM private key, else a ConfigError naming ``where``.

    Checked without cryptography (which loads only at the first write, ~20 MiB): the
    PEM armour, its base64 and the DER structure's outer length, which together catch
    the wrong file, a public key or certificate, and a truncated or damaged copy. The key
    is scrubbed by value (whole and line by line) from every output from now on. The
    messages never quote the key.
    """
    remember_secret(text, *text.splitlines())
    match = _PEM_KEY.search(text)
    if match is None:
        raise ConfigError(
            f"{where}: not a PEM private key (no BEGIN/END PRIVATE KEY block)", _KEY_HINT
        )
    try:
        der = base64.b64decode("".join(match["body"].split()), validate=True)
    except binascii.Error as exc:
        raise ConfigError(f"{where}: the private key is not valid base64", _KEY_HINT) from exc
    if not _whole_der(der):
        raise ConfigError(f"{where}: the private key is truncated or damaged", _KEY_HINT)
    return text


def _whole_der(der: bytes) -> bool:
    """Whether ``der`` is one DER SEQUENCE whose declared length is exactly its size."""
    if len(der) < 2 or der[0] != 0x30:
        return False
    if der[1] < 0x80:
        return 2 + der[1] == len(der)
    count = der[1] & 0x7F
    if not 1 <= count <= 4 or len(der) < 2 + count:
        return False
    return 2 + count + int.from_bytes(der[2 : 2 + count], "big") == len(der)


def github_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The GitHub token from ``GITHUB_TOKEN`` or ``GITHUB_TOKEN_FILE``; None for anonymous.

    The token is checked here, where it is read: one line of printable ASCII without
    spaces (surrounding whitespace, like a file's final newline, is dropped). Anything
    else would fail later inside the HTTP library, in an error message that quotes the
    header (token included) and after network retries; this error never shows the value.
    """
    env = os.environ if environ is None else environ
    token = env.get("GITHUB_TOKEN", "").strip()
    if token:
        return _checked_token(token, "GITHUB_TOKEN")
    token_file = env.get("GITHUB_TOKEN_FILE", "").strip()
    if not token_file:
        return None
    where = f"GITHUB_TOKEN_FILE={token_file}"
    try:
        with Path(token_file).open("rb") as handle:
            # A token is a few dozen characters; a bound keeps /dev/zero from hanging us.
            raw = handle.read(TOKEN_MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot read it ({exc.strerror})",
            hint="point GITHUB_TOKEN_FILE at a readable file holding the token",
        ) from exc
    if len(raw) > TOKEN_MAX_BYTES:
        raise ConfigError(
            f"{where}: the file is larger than {TOKEN_MAX_BYTES} bytes, not a token",
            hint=_BAD_CREDENTIAL_HINT,
        )
    token = raw.decode("latin-1").strip()
    if not token:
        raise ConfigError(f"{where}: the file is empty", hint=_BAD_CREDENTIAL_HINT)
    return _checked_token(token, where)


TOKEN_MAX_BYTES = 4096
_BAD_CREDENTIAL_HINT = (
    "it must hold the token alone: one line of printable ASCII without spaces "
    "(a trailing newline is fine); the value is not shown here"
)


def _checked_token(token: str, where: str) -> str:
    """``token`` if it can go into an HTTP header as is, else a ConfigError naming ``where``.

    Valid or not, it is scrubbed by value from every output from now on.
    """
    remember_secret(token)
    problem = None
    if any(c in "\r\n" for c in token):
        problem = "it has more than one line"
    elif any(c in " \t" for c in token):
        problem = "it contains a space or tab"
    elif not all(" " < c < "\x7f" for c in token):
        problem = "it contains a character that is not printable ASCII"
    if problem:
        raise ConfigError(f"{where}: not a valid token: {problem}", hint=_BAD_CREDENTIAL_HINT)
    return token


class ReadAuthorization:
    """The ``Authorization`` header of GitHub reads: none, the token, or an App's
    installation token (minted at the first read, renewed before it expires)."""

    def __init__(
        self,
        credentials: Credentials | None,
        http: HttpClient,
        api_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Authorize reads to ``api_url`` (tokens are minted through ``http``)."""
        self.credentials = credentials
        self._http, self._api_url, self._clock = http, api_url.rstrip("/"), clock
        self._lock = threading.Lock()  # workers share one installation token
        self._minted: tuple[str, float] | None = None

    @property
    def authenticated(self) -> bool:
        """Whether reads carry credentials."""
        return self.credentials is not None

    def headers(self) -> dict[str, str]:
        """The header to send with the next read (empty: anonymous)."""
        credentials = self.credentials
        if credentials is None:
            return {}
        if credentials.token is not None:
            return {"Authorization": f"Bearer {credentials.token}"}
        with self._lock:
            if self._minted is None or self._minted[1] - RENEW_BEFORE_SECONDS < self._clock():
                self._minted = self._mint(credentials)
            return {"Authorization": f"Bearer {self._minted[0]}"}

    def _mint(self, credentials: Credentials) -> tuple[str, float]:
        """A new installation token and its expiry (epoch seconds)."""
        # PyJWT (with cryptography) loads only for App credentials.
        import jwt

        assert credentials.private_key is not None  # read_credentials sets it with app_id
        now = int(self._clock())
        claims = {"iat": now - _CLOCK_DRIFT, "exp": now + _JWT_SECONDS, "iss": credentials.app_id}
        signed = jwt.encode(claims, credentials.private_key, algorithm="RS256")
        url = f"{self._api_url}/app/installations/{credentials.installation_id}/access_tokens"
        headers = {"Authorization": f"Bearer {signed}", "Accept": "application/vnd.github+json"}
        reply = self._http.request("POST", url, headers=headers)
        data = decode_json(reply.content, url)
        try:
            expires = datetime.fromisoformat(str(data["expires_at"])).timestamp()
            return str(data["token"]), expires
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f"{url}: no token and expires_at in the answer") from exc
