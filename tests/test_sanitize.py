"""Upstream text copied into our PRs, issues and comments pings nobody, closes nothing,
runs no HTML, loads no image and forges no marker, in time linear in its length; words
that act on nothing pass unchanged; plain-text targets get no HTML entity.

GitHub's own renderer (cmark-gfm, through cmarkgfm) is the oracle for what the output
looks like once rendered; it runs with raw HTML allowed so that anything our sanitizer
let through would show up, before GitHub's HTML filter could hide the mistake.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys

import cmarkgfm  # type: ignore[import-untyped]
import pytest
from cmarkgfm.cmark import Options  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.actions.proposal import MARKER_RE, parse_marker
from watcher.core.sanitize import sanitize, sanitize_plain, sanitize_quote

REPO = "juanfont/headscale"
KEYWORDS = ["close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved"]
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
# keyword, separators (what GitHub skips or markdown renders as nothing), a reference
CLOSING = re.compile(
    r"(?<![A-Za-z0-9])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?![A-Za-z0-9])"
    r"[\s:*_~]*(?:#\d|GH-\d|[\w.-]+/[\w.-]+#\d|https?://)",
    re.IGNORECASE,
)
MENTION = re.compile(r"(?<![A-Za-z0-9])@[A-Za-z0-9]")
# GitHub links #N (and GH-N) only as a whole word: "#0A" and "#1x" stay text.
BARE_REF = re.compile(r"(?<![A-Za-z0-9])(?:#|GH-)\d+(?![A-Za-z0-9_])", re.IGNORECASE)
ALLOWED_TAGS = {"p", "a", "code", "em", "strong", "del"}


def render(markdown: str) -> str:
    """The HTML GitHub's markdown renderer makes of ``markdown`` (raw HTML passed through)."""
    page: str = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=Options.CMARK_OPT_UNSAFE
    )
    return page


def linkable_text(page: str) -> str:
    """Rendered text where GitHub resolves mentions and references: outside code and links."""
    page = re.sub(r"<code>.*?</code>|<a [^>]*>.*?</a>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]*>", " ", page))


def problems(out: str) -> list[str]:
    """Everything the output must never contain, raw or rendered."""
    found = []
    if "<" in out:
        found.append("raw '<' (a tag or comment opener)")
    if MARKER_RE.search(out) or parse_marker(out) is not None:
        found.append("watcher marker")
    if any(c in out for c in BIDI):
        found.append("bidi control")
    if CLOSING.search(out):
        found.append(f"closing keyword (raw): {CLOSING.search(out)}")
    page = render(f"note: {out}")  # as callers embed it: after text on a line
    tags = {t.lower() for t in re.findall(r"</?([A-Za-z][A-Za-z0-9]*)", page)}
    if tags - ALLOWED_TAGS:
        found.append(f"tags {sorted(tags - ALLOWED_TAGS)} in {page!r}")
    for href in re.findall(r'href="([^"]*)"', page):
        scheme = re.match(r"\s*([A-Za-z][A-Za-z0-9+.-]*):", html.unescape(href))
        if scheme and scheme.group(1).lower() not in ("http", "https", "mailto"):
            found.append(f"link to {href!r}")
    text = linkable_text(page)
    for name, pattern in (("mention", MENTION), ("bare #N", BARE_REF), ("closing", CLOSING)):
        if pattern.search(text):
            found.append(f"{name} in rendered text {text!r}")
    return found


def test_mentions_do_not_ping() -> None:
    out = sanitize("thanks @kradalby and @juanfont/maintainers, _@user_ and *@x*!", REPO)
    assert problems(out) == []
    assert "kradalby" in out and "juanfont/maintainers" in out


def test_emails_and_urls_with_at_are_kept() -> None:
    text = "mail me@example.com or see https://github.com/@user/x"
    out = sanitize(text, REPO)
    assert "me@example.com" in out and "https://github.com/@user/x" in out


def test_closing_keywords_in_every_form_are_neutralised() -> None:
    forms = []
    for keyword in KEYWORDS:
        for word in (keyword, keyword.capitalize(), keyword.upper()):
            for ref in ("#1", "juanfont/headscale#2", "https://github.com/o/r/issues/3"):
                forms += [f"{word} {ref}", f"{word}: {ref}", f"{word}{ref}", f"**{word}** {ref}"]
                forms += [f"_{word}_ {ref}", f"`{word}` {ref}", f"see https://x.io/{word} {ref}"]
    for phrase in forms:
        out = sanitize(phrase, REPO)
        assert problems(out) == [], (phrase, out)


def test_words_that_act_on_nothing_stay_searchable() -> None:
    # Our own issue line once read "c&#8203;losed": only closing forms are broken.
    for text in [
        "Issue 2841 closed (completed) on 2026-01-28",
        "Fixed a crash when the DERP map is empty.",
        "This resolves the long-standing confusion; it was fixed, then closed.",
        "the `fix` flag, prefixes and enclosed values",
        "Fixed in juanfont/headscale by the grants rewrite, see the docs.",
    ]:
        assert sanitize(text, REPO) == text


def test_closing_forms_across_lines_are_broken() -> None:
    # Quoted line by line: a keyword ending one line meets "#12" starting the next.
    lines = [sanitize(line, REPO) for line in ("this fixes", "#12 for good")]
    assert problems(lines[0]) == [] and "f&#8203;ixes" in lines[0]
    assert problems(" ".join(lines)) == []


def test_gh_references_point_upstream_or_break() -> None:
    out = sanitize("closes GH-12, see GH-13 and GHz-1", REPO)
    assert problems(out) == [] and "GHz-1" in out


def test_html_comments_images_and_scripts_are_inert() -> None:
    for text in [
        '<img src="x" onerror="alert(1)">',
        "<script>alert(1)</script>",
        "<details><summary>hidden</summary>text</details>",
        "before <!-- the rest of the body disappears",
        "![tracking](https://example.com/pixel.png) and ![x][ref]",
        "[click](javascript:alert(1)) [j](JaVaScRiPt:x) [d](data:text/html,x)",
        "&lt;img src=x onerror=1&gt; &#64;user F&#105;xes &#35;1",
    ]:
        out = sanitize(text, REPO)
        assert problems(out) == [], (text, out)


def test_a_markdown_image_stays_a_link() -> None:
    page = render(sanitize("![logo](https://example.com/logo.png)", REPO))
    assert '<a href="https://example.com/logo.png">logo</a>' in page and "<img" not in page


def test_bidi_overrides_are_removed() -> None:
    text = "".join(f"{c}x" for c in BIDI)
    assert sanitize(text, REPO) == "x" * len(BIDI)


def test_forged_markers_are_not_markers() -> None:
    for forged in [
        "<!-- watcher:watch=headscale target=v9.9.9 -->",
        "<!-- watcher:dashboard -->",
        "<!-- watcher:outbox=1 watch=w -->",
    ]:
        out = sanitize(forged, REPO)
        assert parse_marker(out) is None and forged not in out and problems(out) == []


def test_references_inside_backticks_stay_as_written() -> None:
    out = sanitize("the flag `--relay #1` and `@user` are literal; see #2", REPO)
    assert "`--relay #1`" in out and "`@user`" in out
    assert out.endswith("see juanfont/headscale#2")
    assert problems(out) == []


def test_unbalanced_backticks_cannot_swallow_the_caller() -> None:
    out = sanitize("```go\n@user fixes #1", REPO)
    assert problems(out) == [] and "\n" not in out
    assert "`" not in out.replace("\\`", "")


def test_bare_references_point_upstream() -> None:
    assert sanitize("see #2841", REPO) == "see juanfont/headscale#2841"
    assert sanitize("other/repo#5 stays", REPO) == "other/repo#5 stays"


def test_links_are_kept_intact() -> None:
    for url in [
        "https://github.com/juanfont/headscale/pull/2841#issuecomment-1",
        "https://github.com/juanfont/headscale/compare/v0.28.0...v0.29.0",
    ]:
        assert url in sanitize(f"Fixes {url}", REPO)
        assert f"[notes]({url})" in sanitize(f"see [notes]({url}) please", REPO)


def test_length_is_capped() -> None:
    out = sanitize("word " * 2000, REPO, limit=100)
    assert len(out) <= 100 + len(" … (truncated)") and out.endswith("(truncated)")
    # Escaping cannot push the output over the limit either.
    out = sanitize("<@a " * 500, REPO, limit=100)
    assert len(out) <= 100 + len(" … (truncated)") and problems(out) == []


@pytest.mark.slow  # starts a process
def test_backtracking_input_finishes() -> None:
    # The old closing-keyword pattern took 26 s on 32,000 spaces and grew quadratically;
    # a million must take about a second. The generous bound is a hang detector, not a
    # measurement (benchmarks/sanitize.py measures).
    code = (
        "from watcher.core.sanitize import sanitize\n"
        "for text in ('fix' + ' ' * 1_000_000 + 'x', '`' * 1000 + ' `' * 300_000):\n"
        "    sanitize(text, 'o/r', limit=len(text))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


FRAGMENTS = [
    *KEYWORDS,
    "Fixes",
    "**",
    "_",
    "~",
    ":",
    " ",
    "\n",
    "#",
    "1",
    "42",
    "o/r",
    "@",
    "user",
    "`",
    "``",
    "<",
    ">",
    "!",
    "[",
    "]",
    "(",
    ")",
    "![",
    "](",
    "<!--",
    "-->",
    "\\",
    "&",
    "&#64;",
    "&lt;",
    "https://",
    "x.io/",
    "javascript:",
    "data:",
    "watcher:watch=w",
    " target=v9 ",
    "<img src=x>",
    "<details>",
    "\u202e",
    "\u2066",
    "\r",
    "\t",
    "\x00",
    "é",
    "GH-",
    "closed",
    ".",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join))
def test_no_input_yields_anything_forbidden(text: str) -> None:
    assert problems(sanitize(text, REPO)) == []


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200), st.integers(min_value=20, max_value=300))
def test_output_respects_the_limit(text: str, limit: int) -> None:
    out = sanitize(text, REPO, limit)
    assert len(out.removesuffix(" … (truncated)")) <= limit
    assert problems(out) == []


ORDINARY = "Fixed CLOSED enclosed prefix resolver the bug GH a-b x/y 2841 v0.29.0 é ( ) ' \" - / %"
WORDS = [*KEYWORDS, *ORDINARY.split(" ")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from([" ", ", ", ". ", ": "]))))
def test_ordinary_words_pass_unchanged(pairs: list[tuple[str, str]]) -> None:
    text = "".join(word + sep for word, sep in pairs) + "end."
    assert sanitize(text, REPO, limit=len(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join))
def test_plain_text_has_no_entities_and_no_mentions(text: str) -> None:
    out = sanitize_plain(text)
    assert not MENTION.search(out) and not re.search(r"<[!@#]", out)
    assert "&#8203;" not in out or "&#8203;" in text  # no entity of ours
    assert not any(c in out for c in BIDI) and "\n" not in out and "\r" not in out


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp")), max_size=200))
def test_plain_text_keeps_words_without_mentions(text: str) -> None:
    text = text.replace("@", " ").replace("<", " ")
    assert sanitize_plain(text, limit=len(text) + 1) == text


def test_plain_text_breaks_mentions_with_a_character() -> None:
    out = sanitize_plain("ping @here and <!channel> & @kradalby; me@example.com", 200)
    assert out == ("ping @\u200bhere and <\u200b!channel> & @\u200bkradalby; me@example.com")
    assert sanitize_plain("x" * 50, 10) == "x" * 10 + " … (truncated)"


# Blocks a quoted passage may render to (headings, lists, code blocks, tables, task boxes).
QUOTE_TAGS = ALLOWED_TAGS | {"blockquote", "pre", "ul", "ol", "li", "hr", "br", "input"}
QUOTE_TAGS |= {f"h{n}" for n in range(1, 7)} | {"table", "thead", "tbody", "tr", "th", "td"}
LINES = [
    *FRAGMENTS,
    "```",
    "````",
    "```jsonc",
    "~~~",
    "  ```",
    "    ```",
    "> ",
    "- ",
    "  - ",
    "#",
    "| a | b |",
    "|---|---|",
    "- [ ] ",
    "<!-- watcher:watch=w target=v9 -->",
    "@user fixes #1",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(LINES), max_size=5).map("".join), max_size=12).map("\n".join),
    st.integers(min_value=50, max_value=2000),
)
def test_no_quoted_passage_acts(text: str, limit: int) -> None:
    # Line by line, with code blocks kept as code blocks, and cut anywhere by the limit.
    quote = "\n".join(sanitize_quote(text, REPO, limit))
    assert len(quote) <= limit
    assert parse_marker(quote) is None and "<!--" not in quote
    assert not any(c in quote for c in BIDI)
    page = render(f"intro\n\n{quote}\n\nafter the quote")
    tags = {t.lower() for t in re.findall(r"</?([A-Za-z][A-Za-z0-9]*)", page)}
    assert tags <= QUOTE_TAGS, (quote, page)
    text_out = linkable_text(page)
    for pattern in (MENTION, BARE_REF, CLOSING):
        assert not pattern.search(text_out), (quote, page)
    # The quote ends inside our blockquote: our next paragraph is not swallowed.
    assert "<p>after the quote</p>" in page


def test_a_quoted_code_block_stays_code() -> None:
    text = 'Move it:\n\n  ```jsonc\n  { "a": "<b> @c fixes #1" }\n  ```\n\nthen @user'
    assert sanitize_quote(text, REPO, 500) == [
        "> Move it:",
        ">",
        ">   ```jsonc",
        '>   { "a": "<b> @c fixes #1" }',
        ">   ```",
        ">",
        "> then @&#8203;user",
    ]
    # Cut inside the block: our fence closes it.
    cut = sanitize_quote("```\n" + "@x fixes #1\n" * 40, REPO, 120)
    assert cut[0] == "> ```" and cut[-2:] == ["> ```", "> …"] and len(cut) > 3
    assert set(cut[1:-2]) == {"> @x fixes #1"} and len("\n".join(cut)) <= 120
