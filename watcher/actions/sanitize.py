"""Make upstream text safe to copy into our pull requests and comments. Pure.

Release notes and issue titles are written for the upstream repository. Copied verbatim
into the chart repository they would ping people (``@user``), link ``#123`` to the
*chart's* issue 123, or even close issues through closing keywords
(https://docs.github.com/en/issues/tracking-your-work-with-issues/using-issues/linking-a-pull-request-to-an-issue).
Links are kept.
"""

from __future__ import annotations

import re

# Renovate's trick: a zero-width space entity after "@" keeps the text readable but
# stops GitHub from resolving a mention.
_ZWSP = "&#8203;"
_URL = re.compile(r"https?://[^\s)>\]]+")
_MENTION = re.compile(r"(?<![\w/.`@-])@(?=[A-Za-z0-9][A-Za-z0-9-]*)")
_CLOSING = re.compile(
    r"\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(\s*:?\s+)(?=(?:[\w.-]+/[\w.-]+)?#\d+|https?://)",
    re.IGNORECASE,
)
_BARE_REF = re.compile(r"(?<![\w/&#])#(\d+)\b")
DEFAULT_LIMIT = 4000


def sanitize(text: str, upstream_repo: str, limit: int = DEFAULT_LIMIT) -> str:
    """Neutralise mentions and closing keywords, qualify ``#N`` upstream, cap the length."""
    # Closing keywords may precede a URL, so they are neutralised on the whole text.
    text = _CLOSING.sub(lambda m: m.group(1)[0] + _ZWSP + m.group(1)[1:] + m.group(2), text)
    parts: list[str] = []
    last = 0
    for url in _URL.finditer(text):
        parts.append(_clean(text[last : url.start()], upstream_repo))
        parts.append(url.group(0))
        last = url.end()
    parts.append(_clean(text[last:], upstream_repo))
    return _cap("".join(parts), limit)


def _clean(chunk: str, repo: str) -> str:
    chunk = _MENTION.sub("@" + _ZWSP, chunk)
    return _BARE_REF.sub(lambda m: f"{repo}#{m.group(1)}", chunk)


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    # Never cut inside a URL: back up to the last whitespace before the limit.
    cut = cut if cut > limit // 2 else limit
    return text[:cut].rstrip() + " … (truncated)"
