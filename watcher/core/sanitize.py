"""Make upstream text safe to copy into our pull requests, issues and comments. Pure.

Release notes, issue titles and error messages are written for the upstream repository
(or by anyone at all). Copied verbatim into the chart repository they would ping people
(``@user``), link ``#123`` to the *chart's* issue 123, close issues through closing
keywords
(https://docs.github.com/en/issues/tracking-your-work-with-issues/using-issues/linking-a-pull-request-to-an-issue),
load images, run raw HTML (``<details>``, an unterminated ``<!--`` that hides the rest of
the body), reorder text with bidi overrides, or forge the ``<!-- watcher:... -->`` markers
by which watcher recognises its own pull requests and comments.

Only what would act is defused, so upstream's words stay searchable in the PR: "closed",
"fixed" or "resolves" in a sentence are kept as written; a closing keyword is broken
only in a closing form, followed (across spaces and emphasis) by a reference (``#12``,
``owner/repo#3``, an URL) or by the end of the text (the caller may put a reference
after it, e.g. on the next quoted line).

:func:`sanitize` writes GitHub Markdown. The text is first cut to ``limit`` characters
(so the work is bounded whatever arrives), then rewritten in one left-to-right pass over
tokens matched by a regular expression whose alternatives are plain character-class runs
(no backtracking: time is linear in the input). The output never contains ``<``; ``&``
and ``\\`` are escaped; a closing keyword in a closing form gets a zero-width space after
its first letter, every ``@`` that could start a mention one after it; a bare ``#N`` is
qualified as ``owner/repo#N`` (upstream); ``![`` becomes a plain link; ``javascript:`` /
``vbscript:`` / ``data:`` are broken. A code span whose content is harmless is kept as
written (``#1`` in backticks stays ``#1``); any other backtick is escaped. Line breaks
become spaces, so nothing can start a block (a fence, a heading, a table) inside the
caller's line. Links are kept.

:func:`sanitize_quote` writes a passage as a Markdown quote, line by line, keeping its
fenced code blocks (whose lines go through :func:`sanitize_code`) under fences of ours.
:func:`sanitize_code` writes one line of a fenced code block, which GitHub shows
literally (no mention, reference, emphasis or HTML acts there): it only removes the same
controls, caps the length, and keeps the line from ending the block (a fence-like line
gets a zero-width space character before it) or forging a marker (``<!--`` and ``-->``
get one inside). The caller opens and closes the block.

:func:`sanitize_plain` writes plain text (Apprise: chat, e-mail), where an HTML entity
would show as ``&#8203;``: the same controls are removed and the same length cap holds,
and a mention (``@user``, ``@here``, Slack's ``<!channel>`` / ``<@U1>``) is broken by a
real zero-width space character instead of an entity. Nothing else changes.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict

# Renovate's trick: a zero-width space entity keeps the text readable but stops GitHub
# from resolving a mention or recognising a keyword. Plain text gets the character.
_ZWSP = "&#8203;"
_ZWSP_CHAR = "\u200b"
DEFAULT_LIMIT = 4000
TRUNCATED = " … (truncated)"

# Closing keywords as GitHub lists them (see the module docstring's link).
KEYWORDS = frozenset(
    {"close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved"}
)
_SCHEMES = frozenset({"javascript", "vbscript", "data"})

# Bidi embeddings/overrides/isolates (U+202A-202E, U+2066-2069) and marks, C0/C1
# controls: deleted. Every kind of line break and tab: a space.
_DELETE = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
_DELETE += [c for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c not in (9, 10, 11, 12, 13)]
_NORMALISE = {c: None for c in _DELETE} | dict.fromkeys(
    (9, 10, 11, 12, 13, 0x85, 0x2028, 0x2029), " "
)

# One token per match; each alternative is a single character-class run, so a match
# never backtracks. URLs stop at characters that end a markdown link or could carry
# markup (``<``, ``&``, quotes, backslash, backtick).
_TOKEN = re.compile(
    r"(?P<url>https?://[^\s<>`\"'\\)\]&]+)|(?P<ticks>`+)|(?P<word>[A-Za-z0-9]+)|(?P<char>.)",
    re.S,
)
_TICKS = re.compile(r"`+")
# A URL GitHub autolinks: a domain of segments with at least one period, no underscore
# in its last two (GitHub Flavored Markdown, «Autolinks (extension)»).
_AUTOLINK = re.compile(r"https?://(?:[\w-]+\.)*[A-Za-z0-9-]+\.[A-Za-z0-9-]+(?![\w-])")
_WORD = re.compile(r"[A-Za-z0-9]+")
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_UNSAFE_IN_CODE = frozenset("<&\\")
# What may follow a closing keyword for GitHub to read a closing form: separators
# (spaces, a colon, emphasis, backticks and brackets, broadly) then a reference, or the
# end of the text. Possessive and bounded quantifiers keep it linear (the separator run
# cannot give back what it took, and stops at an alphanumeric or ``#``).
_CLOSING_REF = r"[^A-Za-z0-9#.,;!?]*+(?:#\d|GH-\d|[A-Za-z0-9-]{1,39}+/[\w.-]{1,100}+#\d|https?://"
_CLOSING_AFTER = re.compile(_CLOSING_REF + "|$)")
# Inside a code span GitHub reads no keyword; only a reference in the span itself counts.
_CLOSING_IN_CODE = re.compile(_CLOSING_REF + ")")
# A keyword inside a kept URL, in a closing form (``…/fix #1`` once ``#1`` is
# qualified, ``…/fixes#1``): broken too.
_URL_CLOSING = re.compile(
    r"(?<![A-Za-z0-9])(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?![A-Za-z0-9])"
    r"(?=[:*_~]*+(?:#\d|[A-Za-z0-9-]{1,39}+/[\w.-]{1,100}+#\d|https?://)|$)",
    re.IGNORECASE,
)
_GH_REF = re.compile(r"-\d")
# In a code block: what could end the block, and the edges of an HTML comment (a marker).
_FENCE_LIKE = re.compile(r"^(\s*)([`~]{3})")
_COMMENT_EDGE = re.compile(r"<!|--(?=>)")
# A fenced code block's opening line, as GitHub opens one whatever the container (at most
# three spaces of indentation), with an info string we can copy safely.
_CLOSING_ROOM = 40  # a closing fence line and "> …", generously
_MIN_CUT = 200
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[\w+.-]*)\s*$")
# Plain text: an ``@`` that may start a mention, and Slack's ``<!here>``, ``<@U1>``,
# ``<#C1>`` special forms.
_PLAIN_MENTION = re.compile(r"(?<![A-Za-z0-9])@(?=[A-Za-z0-9])|<(?=[!@#])")


def sanitize(text: str, upstream_repo: str, limit: int = DEFAULT_LIMIT) -> str:
    """Neutralise ``text`` (see the module docstring); at most ``limit`` characters out.

    ``#N`` becomes ``upstream_repo#N``. Longer text is cut (at a space when there is
    one in the second half) and ends in " … (truncated)".
    """
    text, cut = _cap(text, limit)
    out = _Output(limit)
    _render(text.translate(_NORMALISE), upstream_repo, out)
    return "".join(out.pieces) + (TRUNCATED if cut or out.full else "")


def sanitize_quote(text: str, upstream_repo: str, limit: int) -> list[str]:
    """``text`` as the lines of a Markdown quote, at most ``limit`` characters ([]: none fit).

    sanitize() makes one line of its input, so the quote is sanitised line by line; a
    fenced code block stays one (its lines through sanitize_code, its fences ours), so a
    configuration snippet reads as upstream wrote it. A quote cut short ends in ``> …``.
    """
    budget = limit
    quoted: list[str] = []
    fence: re.Match[str] | None = None
    for line in text[: limit * 4].splitlines():
        # A long line is cut to what is left (with room for the closing lines).
        room = budget - 2 * _CLOSING_ROOM - len(TRUNCATED)
        if len(line) > room and room < _MIN_CUT:
            break  # a line cut to a few characters helps nobody: "> …" says there is more
        opener = None if fence else _FENCE.match(line)
        if opener:
            piece = f"> {opener['indent']}{opener['fence']}{opener['info']}"
        elif fence and _closes(line, fence):
            piece = f"> {fence['indent']}{fence['fence']}"
        elif fence:
            piece = f"> {sanitize_code(line, max(room, 1))}".rstrip()
        else:
            piece = f"> {sanitize(line, upstream_repo, max(room, 1))}".rstrip()
        block = fence or opener  # a block open after this line needs room to close
        closing = f"> {block['indent']}{block['fence']}" if block else ""
        if room < 1 or len(piece) + len(closing) + len("> …") + 3 > budget:
            break
        fence = opener or (None if fence and _closes(line, fence) else fence)
        quoted.append(piece)
        budget -= len(piece) + 1
    else:
        return [*quoted, f"> {fence['indent']}{fence['fence']}"] if fence else quoted
    if not quoted:
        return []
    return [*quoted, *([f"> {fence['indent']}{fence['fence']}"] if fence else []), "> …"]


def _closes(line: str, fence: re.Match[str]) -> bool:
    """Whether ``line`` is a closing fence for ``fence`` (same character, at least as long)."""
    stripped = line.strip()
    mark = fence["fence"]
    return stripped.startswith(mark) and not stripped.strip(mark[0])


def sanitize_plain(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` for a plain-text medium (see the module docstring); at most ``limit`` out.

    One line, as :func:`sanitize` makes it, and cut the same way.
    """
    text, cut = _cap(text, limit)
    text = _PLAIN_MENTION.sub(lambda m: m.group() + _ZWSP_CHAR, text.translate(_NORMALISE))
    if len(text) > limit:  # the inserted characters may not push it over
        text, cut = text[:limit], True
    return text + (TRUNCATED if cut else "")


def sanitize_code(line: str, limit: int = DEFAULT_LIMIT) -> str:
    """One line of a fenced code block (see the module docstring); at most ``limit`` out."""
    text, cut = _cap(line, limit)
    text = _FENCE_LIKE.sub(
        lambda m: m.group(1) + _ZWSP_CHAR + m.group(2), text.translate(_NORMALISE)
    )
    text = _COMMENT_EDGE.sub(lambda m: m.group()[0] + _ZWSP_CHAR + m.group()[1:], text)
    return text + (TRUNCATED if cut else "")


def _cap(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters before any other work; whether it was cut."""
    if len(text) <= limit:
        return text, False
    cut = text.rfind(" ", 0, limit)
    # Never cut inside a URL when it can be helped: back up to the last space.
    cut = cut if cut > limit // 2 else limit
    return text[:cut].rstrip(), True


class _Output:
    """Pieces of output with a length budget; a piece that does not fit ends the text."""

    def __init__(self, budget: int) -> None:
        self.pieces: list[str] = []
        self.left = budget
        self.full = False

    def add(self, piece: str) -> None:
        if self.full:
            return
        if len(piece) > self.left:
            self.full = True
            return
        self.pieces.append(piece)
        self.left -= len(piece)


def _render(text: str, repo: str, out: _Output) -> None:
    kept = _kept_code_spans(text)
    pos, end = 0, len(text)
    while pos < end and not out.full:
        if pos in kept:
            out.add(text[pos : kept[pos]])
            pos = kept[pos]
            continue
        match = _TOKEN.match(text, pos)
        assert match is not None  # the last alternative matches any character
        kind, token = match.lastgroup, match.group()
        if kind == "url" and not _AUTOLINK.match(token):
            # No domain GitHub would link ("https://@user"): the rest is ordinary text.
            scheme = _WORD.match(text, pos)
            assert scheme is not None  # the token starts with http(s)
            out.add(scheme.group())
            pos = scheme.end()
            continue
        if kind == "url":
            out.add(_URL_CLOSING.sub(lambda m: _break(m.group()), token))
        elif kind == "ticks":
            out.add("\\`" * len(token))
        elif kind == "word":
            out.add(_word(token, text, match.end()))
        else:
            out.add(_char(text, pos, repo))
        pos = match.end()


def _word(word: str, text: str, end: int) -> str:
    lower = word.lower()
    if lower in KEYWORDS and _CLOSING_AFTER.match(text, end):
        return _break(word)
    if lower in _SCHEMES and text[end : end + 1] == ":":
        return word + _ZWSP
    if word.upper() == "GH" and _GH_REF.match(text, end):
        return _break(word)  # GitHub links "GH-12" to the chart's own issue 12
    return word


def _break(word: str) -> str:
    return word[0] + _ZWSP + word[1:]


def _char(text: str, pos: int, repo: str) -> str:
    char = text[pos]
    before = text[pos - 1] if pos else " "
    after = text[pos + 1] if pos + 1 < len(text) else " "
    if char == "<":
        return "&lt;"
    if char == "&":
        return "&amp;"
    if char == "\\":
        return "\\\\"
    if char == "@" and after in _ALNUM and before not in _ALNUM:
        return "@" + _ZWSP
    if char == "!" and after == "[":
        return "\\!"  # an image becomes a link to the same URL
    if char == "#" and after.isascii() and after.isdigit() and before not in _ALNUM:
        number = _WORD.match(text, pos + 1)
        if number is not None and number.group().isdigit():
            return f"{repo}#"
    return char


def _kept_code_spans(text: str) -> dict[int, int]:
    """Start -> end of each code span (CommonMark pairing) whose content is harmless.

    A backtick run opens a span closed by the next run of the same length; the pairing
    walks the runs once, with one cursor per run length, so it stays linear.
    """
    runs = [(m.start(), m.end()) for m in _TICKS.finditer(text)]
    by_length: dict[int, list[int]] = defaultdict(list)
    for index, (start, stop) in enumerate(runs):
        by_length[stop - start].append(index)
    kept: dict[int, int] = {}
    i = 0
    while i < len(runs):
        start, stop = runs[i]
        same = by_length[stop - start]
        nxt = bisect_right(same, i)
        if nxt == len(same):
            i += 1  # no closer: literal backticks
            continue
        j = same[nxt]
        if _harmless_code(text[stop : runs[j][0]]):
            kept[start] = runs[j][1]
        i = j + 1
    return kept


def _harmless_code(content: str) -> bool:
    """Content GitHub shows literally in a code span and that says nothing we forbid."""
    if any(c in _UNSAFE_IN_CODE for c in content):
        return False
    return not any(
        w.group().lower() in KEYWORDS and _CLOSING_IN_CODE.match(content, w.end())
        for w in _WORD.finditer(content)
    )
