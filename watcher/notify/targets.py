"""Which Apprise URLs to notify, read from the environment (never from the config file).

An Apprise URL holds its secret (a Slack webhook token, a mail password), so the config
file only *names* environment variables, and the URLs never leave this process: not in
the database, not in a log line, not in an error. Sources, in this order:

- ``WATCHER_APPRISE_URLS``: URLs separated by whitespace, for every watch;
  ``WATCHER_APPRISE_URLS_FILE``: a file with one URL per line (``#`` comments);
- ``[notify].apprise_env = ["NAME", ...]``: each ``NAME`` (or ``NAME_FILE``), every watch;
- ``[watch.notify].apprise_env``: the same, for that watch only.

A target's identity is where it was configured (``NAME#2``: the second URL of NAME),
not the URL, so what is stored and shown names no secret. A URL listed in several
places is one target serving the union of their watches. This module does not import
Apprise (it is slow to import); :mod:`watcher.notify.apprise` does, when there are targets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from watcher.config.model import Config
from watcher.core.errors import ConfigError
from watcher.core.redact import remember_secret, replace_all, url_pieces
from watcher.state.deliveries import TargetSpec

GLOBAL_ENV = "WATCHER_APPRISE_URLS"
FILE_SUFFIX = "_FILE"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31})://")
# Pieces of a URL short enough to be ordinary words are left alone in messages.
_MIN_SECRET_PIECE = 4


@dataclass(frozen=True)
class AppriseTarget:
    """One Apprise URL to notify; ``url`` is a secret (kept out of repr)."""

    key: str
    url: str = field(repr=False)
    watches: frozenset[str] | None  # None: every watch

    @property
    def scheme(self) -> str:
        """The service scheme (``slack``, ``json``, ``mailto``...), which names no secret."""
        found = _SCHEME.match(self.url)
        return found.group(1).lower() if found else "?"

    @property
    def label(self) -> str:
        """What status, logs and the dashboard show: key and service, never the URL."""
        return f"{self.key} ({self.scheme})"

    def spec(self) -> TargetSpec:
        """The secret-free description the store keeps."""
        return TargetSpec(self.key, self.label, self.watches)

    def serves(self, watch_id: str) -> bool:
        """Whether this target is notified about ``watch_id``."""
        return self.watches is None or watch_id in self.watches


def apprise_targets(
    config: Config, environ: Mapping[str, str] | None = None
) -> list[AppriseTarget]:
    """Every configured target, or a ConfigError naming the variable to fix."""
    env = os.environ if environ is None else environ
    found: dict[str, AppriseTarget] = {}
    sources: list[tuple[str, frozenset[str] | None, bool]] = [(GLOBAL_ENV, None, False)]
    sources += [(name, None, True) for name in config.notify.apprise_env]
    for watch in config.watch:
        sources += [(name, frozenset({watch.id}), True) for name in watch.notify.apprise_env]
    for name, watches, required in sources:
        for index, url in enumerate(_urls(name, env, required), start=1):
            # Scrubbed by value from every log line, error and crash file from now on.
            remember_secret(*url_pieces(url, host=False))
            earlier = found.get(url)
            if earlier is None:
                found[url] = AppriseTarget(f"{name}#{index}", url, watches)
            elif earlier.watches is not None:
                union = None if watches is None else earlier.watches | watches
                found[url] = AppriseTarget(earlier.key, url, union)
    return list(found.values())


def _urls(name: str, env: Mapping[str, str], required: bool) -> list[str]:
    """The URLs in variable ``name`` or the file named by ``name_FILE``."""
    value = env.get(name, "").strip()
    if value:
        return value.split()
    path = env.get(name + FILE_SUFFIX, "").strip()
    if not path:
        if required:
            raise ConfigError(
                f"apprise_env names {name}, but neither {name} nor {name}{FILE_SUFFIX} is set",
                hint=f"export {name} with the Apprise URL(s), or remove it from apprise_env",
            )
        return []
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(
            f"{name}{FILE_SUFFIX}={path}: cannot read it ({reason})",
            hint=f"point {name}{FILE_SUFFIX} at a readable file with one Apprise URL per line",
        ) from exc
    urls = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not urls:
        raise ConfigError(f"{name}{FILE_SUFFIX}={path}: the file lists no URL")
    return urls


def mask(text: str, targets: Iterable[AppriseTarget]) -> str:
    """``text`` with every URL of ``targets``, and each longer piece of it, as ``***``.

    Pieces as short as a few characters go here (an Apprise error is about these URLs);
    the process-wide redaction only scrubs the longer ones everywhere.
    """
    pieces = {p for target in targets for p in url_pieces(target.url, _MIN_SECRET_PIECE)}
    return replace_all(text, pieces, "***")
