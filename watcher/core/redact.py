"""Redaction of secrets from text and structured values: pure string work, no I/O.

Used by the logging set-up (every field of every log line) and by the runner's crash
reports (a traceback's text), so a token never reaches a log or a file even when it
sneaks into an error message or a URL (docs/architecture.md, «Invariants»).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
    (re.compile(r"(://[^/\s:@]+:)[^/\s@]+@"), rf"\1{REDACTED}@"),
)


def redact_text(text: str) -> str:
    """``text`` with every token-like substring replaced by ``[REDACTED]``."""
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
