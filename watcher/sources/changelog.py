"""The `changelog` signal: a dated section for the version that mentions the marker.

Upstream changelogs keep a placeholder heading for the next version
(``## 0.30.0 (202x-xx-xx)``) long before it ships, so only a heading with a real date
counts. The marker must appear inside that version's section, not anywhere in the file:
old sections use words like "relay" for unrelated things (DERP relays).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from watcher.github.client import GitHubReader
from watcher.models import Release, Signal, SignalName, SignalStatus

_HEADING = re.compile(r"^(?P<level>#{1,6})\s+\[?v?(?P<version>[0-9][^\s\]()]*)\]?(?P<rest>.*)$")
_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


@dataclass(frozen=True)
class Section:
    """One version's section of a changelog."""

    version: str
    date: str | None
    line: int
    text: str


def fetch_changelog(
    reader: GitHubReader, repo: str, path: str, ref: str, immutable: bool
) -> str | None:
    """The changelog text at ``ref``; content at a commit SHA never changes, so not revalidated."""
    return reader.get_text(f"/repos/{repo}/contents/{path}?ref={ref}", revalidate=not immutable)


def find_section(text: str, version: str) -> Section | None:
    """The section whose heading names ``version`` (compared as PEP 440 versions)."""
    wanted = _version(version)
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = _HEADING.match(line)
        if not match or wanted is None or _version(match["version"]) != wanted:
            continue
        level = len(match["level"])
        end = len(lines)
        for later in range(index + 1, len(lines)):
            other = _HEADING.match(lines[later])
            if other and len(other["level"]) <= level:
                end = later
                break
        date = _DATE.search(match["rest"])
        body = "\n".join(lines[index + 1 : end])
        return Section(match["version"], date.group(1) if date else None, index + 1, body)
    return None


def changelog_signal(text: str | None, release: Release, marker: str, path: str) -> Signal:
    """HOLDS when ``path`` has a dated section for the release that mentions ``marker``."""

    def signal(status: SignalStatus, summary: str, evidence: tuple[str, ...] = ()) -> Signal:
        return Signal(SignalName.CHANGELOG, status, summary, evidence, release.tag)

    if text is None:
        return signal(SignalStatus.MISSING, f"no {path} at {release.tag}")
    section = find_section(text, release.version)
    if section is None:
        return signal(
            SignalStatus.MISSING, f"{path}@{release.tag} has no section for {release.version}"
        )
    if section.date is None:
        return signal(
            SignalStatus.MISSING,
            f"{path}@{release.tag}: section {release.version} is an undated placeholder",
        )
    hits = [ln.strip()[:200] for ln in section.text.splitlines() if marker in ln]
    if not hits:
        return signal(
            SignalStatus.MISSING,
            f"{path}@{release.tag}: section {release.version} ({section.date}) "
            f"does not mention {marker}",
        )
    return signal(
        SignalStatus.HOLDS,
        f"{path}@{release.tag}: section {release.version} ({section.date}) mentions {marker}",
        tuple(hits[:5]),
    )


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None
