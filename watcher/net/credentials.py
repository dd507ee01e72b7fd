"""GitHub write credentials read from the environment, checked without loading PyGithub.

``watcher run`` checks them at start-up, so a missing token or an unreadable App key is
one error line before anything runs; the PyGithub client they end up in is built only
at the first write (:class:`watcher.runner.act.Actor`). Secrets never come from the
config file, and :class:`Credentials` never shows them in its ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from watcher.core.errors import ConfigError
from watcher.core.redact import remember_secret

# PKCS#1 (GitHub's download: "RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY").
_PEM_KEY = re.compile(
    r"-----BEGIN (?P<kind>(?:RSA |EC )?PRIVATE KEY)-----(?P<body>[^-]*)-----END (?P=kind)-----"
)
_KEY_HINT = "point it at the App's private key (.pem) exactly as downloaded from GitHub"


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
    from watcher.config.model import github_token

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
