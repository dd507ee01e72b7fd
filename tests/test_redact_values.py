"""Secrets by value (watcher.core.redact): any configured value, anywhere in any text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core import redact
from watcher.core.errors import SourceError
from watcher.core.redact import (
    MIN_SECRET_LENGTH,
    REDACTED,
    redact_text,
    remember_secret,
    url_pieces,
)

# Sharing no character with the marker, so the marker cannot spell the secret again.
SECRET = st.text(
    st.characters(exclude_characters=REDACTED), min_size=MIN_SECRET_LENGTH, max_size=40
).filter(lambda s: len(s.strip()) >= MIN_SECRET_LENGTH)


@pytest.fixture(autouse=True)
def no_secrets_known(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no registered secret and leaves none behind."""
    monkeypatch.setattr(redact, "_secrets", ())
    yield


@settings(max_examples=200, deadline=None)
@given(secret=SECRET, before=st.text(max_size=30), after=st.text(max_size=30))
def test_a_remembered_secret_never_survives(secret: str, before: str, after: str) -> None:
    redact._secrets = ()
    remember_secret(secret)
    scrubbed = redact_text(before + secret.strip() + after)
    assert secret.strip() not in scrubbed
    error = SourceError(f"{before}{secret.strip()}{after}", hint=secret.strip())
    assert secret.strip() not in error.message and secret.strip() not in error.hint


@settings(max_examples=200, deadline=None)
@given(
    # Apprise URLs are split on whitespace: no piece holds any.
    password=st.text(
        st.characters(codec="ascii", exclude_characters="@/ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"),
        min_size=8,
    ),
    segment=st.text(
        st.characters(codec="ascii", exclude_characters="/?# \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"),
        min_size=8,
    ),
)
def test_url_pieces_cover_password_and_path(password: str, segment: str) -> None:
    redact._secrets = ()
    url = f"json://user:{password}@hooks.example.com/{segment}"
    remember_secret(*url_pieces(url, host=False))
    text = redact_text(f"sent to {url}; password {password}; path /{segment}")
    assert password not in text and segment not in text


def test_short_values_and_the_host_are_left_alone() -> None:
    remember_secret("abc", *url_pieces("json://hooks.example.com/very-secret-path", host=False))
    text = redact_text("abc at hooks.example.com/very-secret-path")
    assert text == f"abc at hooks.example.com/{REDACTED}"
