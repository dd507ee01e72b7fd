"""Changelog sections: dated, for the version, mentioning the marker; placeholders don't count."""

from __future__ import annotations

import pytest

from watcher.core.models import Release, SignalStatus
from watcher.sources.changelog import changelog_signal, find_section

MARKER = "tailscale.com/cap/relay"
CHANGELOG = f"""# CHANGELOG

## 0.30.0 (202x-xx-xx)

- Support {MARKER} grants (placeholder for the next version)

## 0.29.0 (2026-01-28)

### Changes

- Peer relays: grant `{MARKER}` to let nodes act as relays [#2841](https://github.com/juanfont/headscale/pull/2841)

## 0.28.0 (2025-12-01)

- Improve DERP relay selection (relay here means DERP)

## v0.27.0 - 2025-09-01

- Fixes
"""


def rel(version: str) -> Release:
    return Release(f"v{version}", version, False, False, "", None)


def test_dated_section_mentioning_marker_holds() -> None:
    signal = changelog_signal(CHANGELOG, rel("0.29.0"), MARKER, "CHANGELOG.md")
    assert signal.status is SignalStatus.HOLDS
    assert "2026-01-28" in signal.summary and MARKER in signal.evidence[0]


def test_placeholder_heading_does_not_count() -> None:
    signal = changelog_signal(CHANGELOG, rel("0.30.0"), MARKER, "CHANGELOG.md")
    assert signal.status is SignalStatus.MISSING and "placeholder" in signal.summary


def test_relay_meaning_derp_is_not_the_marker() -> None:
    assert (
        changelog_signal(CHANGELOG, rel("0.28.0"), MARKER, "CHANGELOG.md").status
        is SignalStatus.MISSING
    )


def test_marker_in_another_section_does_not_leak() -> None:
    section = find_section(CHANGELOG, "0.28.0")
    assert section is not None and MARKER not in section.text and section.date == "2025-12-01"


@pytest.mark.parametrize(("version", "date"), [("0.27.0", "2025-09-01"), ("0.29.0", "2026-01-28")])
def test_heading_styles(version: str, date: str) -> None:
    section = find_section(CHANGELOG, version)
    assert section is not None and section.date == date


def test_missing_file_and_missing_section() -> None:
    assert (
        changelog_signal(None, rel("0.29.0"), MARKER, "CHANGELOG.md").status is SignalStatus.MISSING
    )
    assert (
        "no section" in changelog_signal(CHANGELOG, rel("0.31.0"), MARKER, "CHANGELOG.md").summary
    )
