"""Redaction of secrets from text and structured values: pure string work, no I/O.

Used by the logging set-up (every field of every log line), by every
:class:`~watcher.core.errors.WatcherError` (its message and hint, which reach the
terminal and the database) and by the runner's crash reports (a traceback's text), so a
token never reaches a log or a file even when it sneaks into an error message or a URL
(docs/architecture.md, «Invariants»).

Two rules: by *value*, every configured secret is replaced wherever it appears (the
module that reads a secret from the environment registers it with
:func:`remember_secret`, so an unprefixed token echoed by a proxy is caught too); by
*pattern*, anything that looks like a credential.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"
# Keys whose values are secrets whatever they look like (headers dicts, config dumps).
SECRET_KEY_PARTS = ("authorization", "token", "password", "secret", "private_key", "cookie")
# (pattern, replacement) applied in order to every string.
SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A header written out ("Authorization: Bearer ..."): the whole value goes.
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+"), rf"\1{REDACTED}"),
    # GitHub's prefixed tokens: personal (ghp_), OAuth (gho_), user-to-server (ghu_),
    # installation (ghs_), refresh (ghr_) and fine-grained personal (github_pat_).
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,})"), REDACTED),
    # Scheme + credential ("Bearer <jwt>", "token <40 hex>"). Real credentials are long;
    # the length floor keeps prose such as "token expired" readable.
    (re.compile(r"(?i)\b(bearer|token|basic)(\s+)[A-Za-z0-9._~+/=-]{16,}"), rf"\1\2{REDACTED}"),
    # Passwords in URLs (postgresql://user:secret@host/db).
    # A password already masked as *** (SQLAlchemy's rendering) stays as it is.
    (re.compile(r"(://[^/\s:@]+:)(?!\*\*\*@)[^/\s@]+@"), rf"\1{REDACTED}@"),
)


# A registered value shorter than this is no credential (and scrubbing it would maim text).
MIN_SECRET_LENGTH = 8
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")
_URL_SEPARATORS = re.compile(r"[/:@?&=#,;+\s]+")
# The configured secrets, longest first (so a secret containing another goes whole).
_secrets: tuple[str, ...] = ()


def remember_secret(*values: str) -> None:
    """Scrub each of ``values`` by value from now on (those of MIN_SECRET_LENGTH or more)."""
    global _secrets  # noqa: PLW0603 - the process's set of configured secrets
    known = set(_secrets)
    known.update(v for value in values if len(v := value.strip()) >= MIN_SECRET_LENGTH)
    # One tuple assigned at once: a thread redacting meanwhile sees the old or the new set.
    _secrets = tuple(sorted(known, key=len, reverse=True))


def url_pieces(url: str, shortest: int = MIN_SECRET_LENGTH, *, host: bool = True) -> set[str]:
    """The URL and every piece of it of at least ``shortest`` characters (without the
    host's pieces unless ``host``: scrubbed everywhere, a host would maim other URLs).

    Piece by piece because a message may quote a part of the URL (a host, a token in a
    path, a password) rather than the whole of it: the whole parts (user info, user,
    password, host, each path segment, query key and value; whole, because a password
    may hold characters that separate parts elsewhere) and what separators split,
    each also percent-decoded (a service may quote ``p%40ss`` as ``p@ss``).
    """
    rest = url.split("://", 1)[-1]
    host_part = rest.split("/", 1)[0]
    userinfo, _, name = host_part.rpartition("@")
    parts = [url, userinfo, *userinfo.split(":", 1)]
    path, _, query = rest[len(host_part) :].partition("?")
    parts += path.split("/")
    for pair in query.split("&"):
        parts += [pair, *pair.split("=", 1)]
    parts += _URL_SEPARATORS.split(rest if host else rest[len(host_part) :])
    if host:
        parts += [name, *name.rsplit(":", 1)]
    return {p for piece in parts for p in (piece, _unquote(piece)) if len(p) >= shortest}


def _unquote(text: str) -> str:
    """Percent-decoding as urllib.parse.unquote does it (the core imports no urllib)."""
    raw = _PERCENT.sub(lambda m: bytes([int(m[1], 16)]), text.encode())
    return raw.decode("utf-8", errors="replace")


def replace_all(text: str, secrets: Iterable[str], replacement: str = "[REDACTED]") -> str:
    """``text`` with each of ``secrets`` replaced, longest first."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, replacement)
    return text


def redact_text(text: str) -> str:
    """``text`` with every configured secret and token-like substring as ``[REDACTED]``."""
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """``value`` with secrets redacted: strings scrubbed, containers walked, a mapping's
    secret-named keys blanked, anything else turned into scrubbed text."""
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {k: redact_field(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v) for v in value]
    # Anything else is rendered through str()/repr() later; scrub that text now, since
    # objects such as httpx.Headers or exceptions can carry a credential.
    return redact_text(str(value))


def redact_field(key: str, value: Any) -> Any:
    """The value of field ``key``: ``[REDACTED]`` whole when the key names a secret."""
    lowered = key.lower().replace("-", "_")
    if value is not None and any(part in lowered for part in SECRET_KEY_PARTS):
        return REDACTED
    return redact_value(value)
