"""GitHub write credentials read from the environment, checked without loading PyGithub.

``watcher run`` checks them at start-up, so a missing token or an unreadable App key is
one error line before anything runs; the PyGithub client they end up in is built only
at the first write (:class:`watcher.runner.act.Actor`). Secrets never come from the
config file, and :class:`Credentials` never shows them in its ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from watcher.core.errors import ConfigError


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
        return Credentials(app_id=app_id, installation_id=int(installation), private_key=key)
    token = github_token(environ)
    return Credentials(token=token) if token else None
