"""Upstream text copied into our PRs pings nobody and closes nothing."""

from __future__ import annotations

import re

from watcher.actions.sanitize import sanitize

REPO = "juanfont/headscale"


def test_mentions_do_not_ping() -> None:
    out = sanitize("thanks @kradalby and @juanfont/maintainers!", REPO)
    assert not re.search(r"@[A-Za-z]", out)
    assert "kradalby" in out and "juanfont/maintainers" in out


def test_emails_and_urls_with_at_are_kept() -> None:
    text = "mail me@example.com or see https://github.com/@user/x"
    out = sanitize(text, REPO)
    assert "me@example.com" in out and "https://github.com/@user/x" in out


def test_closing_keywords_are_neutralised() -> None:
    for phrase in [
        "Fixes #2841",
        "closes: #1",
        "Resolved juanfont/headscale#2180",
        "fix https://github.com/juanfont/headscale/issues/1",
    ]:
        out = sanitize(phrase, REPO)
        assert not re.search(
            r"\b(close[sd]?|fix(e[sd])?|resolve[sd]?)\s*:?\s+\S*#?\d", out, re.IGNORECASE
        ), out


def test_bare_references_point_upstream() -> None:
    assert sanitize("see #2841", REPO) == "see juanfont/headscale#2841"
    assert sanitize("other/repo#5 stays", REPO) == "other/repo#5 stays"


def test_links_are_kept_intact() -> None:
    url = "https://github.com/juanfont/headscale/pull/2841#issuecomment-1"
    assert url in sanitize(f"Fixes {url}", REPO)


def test_length_is_capped() -> None:
    out = sanitize("word " * 2000, REPO, limit=100)
    assert len(out) <= 100 + len(" … (truncated)") and out.endswith("(truncated)")
