"""The `changelog` signal: a dated section for the version that mentions the feature.

Upstream changelogs keep a placeholder heading for the next version
(``## 0.30.0 (202x-xx-xx)``) long before it ships, so only a heading with a real date
counts. The mention must be inside that version's section, not anywhere in the file:
old sections use words like "relay" for unrelated things (DERP relays). Release notes
name a feature in words ("peer relay (`cap/relay`)"), rarely by the constant the code
uses, so the phrases that count are the watch's ``[watch.changelog].mentions``
(default: the feature markers), matched case-insensitively; the matching lines are the
evidence. The subsection holding the first mention (for headscale 0.29.0, ``### Grants``)
and an optional docs page are kept as excerpts for the pull request body: they say how
upstream expects the feature to be configured.

The same module finds, in a version's section or a release body, the passages a
maintainer must read before upgrading (:func:`breaking_passages`): generic across
upstreams, since each says it its own way (headscale's ``### BREAKING`` with
``#### Upgrade Path``, Keep a Changelog's ``### Removed``, Prometheus's ``* [CHANGE]``
items, a ``- Deprecate ...`` line among other changes).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

from packaging.version import InvalidVersion, Version

from watcher.config.model import WatchConfig
from watcher.core.models import Excerpt, Release, Signal, SignalName, SignalStatus
from watcher.core.sanitize import sanitize_plain
from watcher.net.github_read import GitHubReader

_HEADING = re.compile(r"^(?P<level>#{1,6})\s+\[?v?(?P<version>[0-9][^\s\]()]*)\]?(?P<rest>.*)$")
_ANY_HEADING = re.compile(r"^(?P<level>#{1,6})\s+(?P<title>.*?)\s*#*\s*$")
_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
# A heading that announces breaking changes or upgrade steps, in any upstream's words
# ("Dependency upgrades" is no upgrade step of ours).
_BREAKING_TITLE = re.compile(
    r"\b(?:breaking|upgrad(?:e|es|ing)\b|migrat\w*|remov\w*|deprecat\w*|incompatib\w*"
    r"|action required)",
    re.IGNORECASE,
)
# A list item marked as one: "- BREAKING: ...", "* [CHANGE] ..." (Prometheus: a change of
# behaviour), "- **Removed** ...", "- Deprecate `--key` ...", "- Drop support for ...".
_ITEM = re.compile(r"^(?P<indent>\s*)(?:[-*+]|\d{1,3}[.)])\s")
_BREAKING_ITEM = re.compile(
    r"(?:[-*+]|\d{1,3}[.)])\s+[*_`\[(]*"
    r"(?:breaking|change\]|remov(?:e[ds]?|al)|deprecat\w*|incompatib\w*"
    r"|drop(?:s|ped)?\s+support)(?![\w-])",  # a word of its own: not "Removal-free"
    re.IGNORECASE,
)
_SHOUTED = re.compile(r"\bBREAKING\b")
# Evidence: at most this many matching lines, each cut to this many characters.
MAX_LINES = 5
LINE_LIMIT = 200
# A quoted subsection or docs page is cut to this many characters; a breaking passage
# or a whole version's section (release notes) to these.
EXCERPT_LIMIT = 3000
BREAKING_LIMIT = 8000
NOTES_LIMIT = 12000


@dataclass(frozen=True)
class Section:
    """One version's section of a changelog (``line`` is its heading's 1-based line)."""

    version: str
    date: str | None
    line: int
    text: str
    level: int = 2


def fetch_changelog(
    reader: GitHubReader, repo: str, path: str, ref: str, immutable: bool
) -> str | None:
    """The changelog text at ``ref``; content at a commit SHA never changes, so not revalidated."""
    return reader.get_text(
        f"/repos/{repo}/contents/{path}?ref={ref}", revalidate=not immutable, body="changelog"
    )


def gather_changelog(
    reader: GitHubReader, watch: WatchConfig, release: Release, sha: str | None
) -> Signal:
    """Read the changelog (and the docs page, if the watch names one) at the release; judge it.

    Used by both ``check`` and ``backtest``, so they quote the same text.
    """
    ref, immutable = sha or release.tag, sha is not None
    settings = watch.changelog
    text = fetch_changelog(reader, watch.repo, settings.path, ref, immutable)
    signal = changelog_signal(text, release, mentions_of(watch), settings.path, repo=watch.repo)
    if settings.docs is None or not signal.holds:
        return signal  # the docs page is only quoted beside a changelog that holds
    path, _, anchor = settings.docs.partition("#")
    page = fetch_changelog(reader, watch.repo, path, ref, immutable)
    excerpt = docs_excerpt(page, release, path, anchor or None, watch.repo)
    if excerpt is None:
        return signal
    return Signal(
        signal.name,
        signal.status,
        signal.summary,
        signal.evidence,
        signal.release_tag,
        (*signal.excerpts, excerpt),
    )


def mentions_of(watch: WatchConfig) -> tuple[str, ...]:
    """The phrases that count in the changelog: ``mentions``, else the feature markers."""
    return watch.mentions


def find_section(text: str, version: str) -> Section | None:
    """The section whose heading names ``version`` (compared as PEP 440 versions).

    The first such heading outside fenced code counts (:func:`index_changelog`).
    """
    changelog = index_changelog(text)
    wanted = _version(version)
    found = changelog.sections.get(wanted) if wanted is not None else None
    match = _HEADING.match(changelog.lines[found[0]]) if found is not None else None
    if found is None or match is None:
        return None
    start, end, level = found
    date = _DATE.search(match["rest"])
    body = "\n".join(changelog.lines[start + 1 : end])
    return Section(match["version"], date.group(1) if date else None, start + 1, body, level)


def changelog_signal(
    text: str | None,
    release: Release,
    mentions: str | Sequence[str],
    path: str,
    *,
    repo: str = "",
) -> Signal:
    """HOLDS when ``path`` has a dated section for the release that mentions a phrase.

    A prerelease (``0.29.0-beta.1``) without a section of its own is judged on the
    section of the version it leads to (``0.29.0``), which then is usually still an
    undated placeholder. Evidence: the matching lines as plain text (one line each, capped);
    the PR, the dashboard and the terminal escape them once, for their medium.
    """
    phrases = (mentions,) if isinstance(mentions, str) else tuple(mentions)
    named = ", ".join(phrases)

    def signal(
        status: SignalStatus,
        summary: str,
        evidence: tuple[str, ...] = (),
        excerpts: tuple[Excerpt, ...] = (),
    ) -> Signal:
        return Signal(SignalName.CHANGELOG, status, summary, evidence, release.tag, excerpts)

    if text is None:
        return signal(SignalStatus.MISSING, f"no {path} at {release.tag}")
    section = find_section(text, release.version) or _base_section(text, release.version)
    if section is None:
        return signal(
            SignalStatus.MISSING, f"{path}@{release.tag} has no section for {release.version}"
        )
    hits = _matching_lines(section.text, phrases)
    # Plain text: each medium escapes it once when it renders it (PR, dashboard, terminal).
    evidence = tuple(sanitize_plain(line, LINE_LIMIT) for line in hits[:MAX_LINES])
    if section.date is None:
        also = f" (it mentions {named} already)" if hits else ""
        return signal(
            SignalStatus.MISSING,
            f"{path}@{release.tag}: section {section.version} is an undated placeholder{also}",
            evidence,
        )
    heading = f"section {section.version} ({section.date})"
    if not hits:
        return signal(
            SignalStatus.MISSING, f"{path}@{release.tag}: {heading} does not mention {named}"
        )
    found = ", ".join(p for p in phrases if any(p.casefold() in h.casefold() for h in hits))
    excerpt = _subsection_excerpt(text, section, phrases, release, path, repo)
    return signal(
        SignalStatus.HOLDS,
        f"{path}@{release.tag}: {heading} mentions {found}",
        evidence,
        (excerpt,) if excerpt else (),
    )


def breaking_passages(lines: Sequence[str], start: int, end: int) -> list[tuple[int | None, str]]:
    """The passages of ``lines[start:end]`` that announce a breaking change or upgrade step.

    Each is (index of the heading it belongs to, or None; its text): a subsection whose
    heading says so (its heading line left out, the index names it), and, elsewhere, the
    list items marked so (with their indented continuation), grouped under the heading
    they sit under. In order of appearance; fenced code is never read as structure.
    """
    found: dict[int | None, list[str]] = {}
    heading: int | None = None
    fenced, index = False, start
    while index < end:
        line = lines[index]
        if line.lstrip().startswith("```"):
            fenced = not fenced
        level = "" if fenced else _heading_level(line)
        if level:
            heading, index = index, index + 1
            title = _heading_title(line)
            if _BREAKING_TITLE.search(title) and "dependenc" not in title.lower():
                stop = min(_section_end(lines, heading, len(level)), end)
                found.setdefault(heading, []).extend(lines[index:stop])
                index = stop
            continue
        item = None if fenced else _ITEM.match(line)
        if item and (_BREAKING_ITEM.match(line.lstrip()) or _SHOUTED.search(line)):
            stop = _item_end(lines, index, end, len(item["indent"]))
            found.setdefault(heading, []).extend(lines[index:stop])
            index = stop
            continue
        index += 1
    passages = [(at, "\n".join(body).strip("\n")) for at, body in found.items()]
    return [(at, text) for at, text in passages if text.strip()]


@dataclass(frozen=True)
class Changelog:
    """A changelog (or a release body) split once, for quoting many of its versions.

    ``sections`` maps each version to its first section: (heading's line index, end
    index, heading level). Built in one pass, so a long changelog read for every release
    since the chart's version costs one walk, not one per release.
    """

    lines: Sequence[str]
    slugs: Mapping[int, str]
    sections: Mapping[Version, tuple[int, int, int]]


def index_changelog(text: str) -> Changelog:
    """Split ``text`` into lines, heading anchors and version sections (outside fences)."""
    lines = text.splitlines()
    sections: dict[Version, tuple[int, int, int]] = {}
    open_: list[tuple[Version, int, int]] = []  # levels strictly increasing upwards
    seen: set[Version] = set()
    fenced = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        level = "" if fenced else _heading_level(line)
        if not level:
            continue
        while open_ and open_[-1][2] >= len(level):
            closed, start, depth = open_.pop()
            sections[closed] = (start, index, depth)
        match = _HEADING.match(line)
        version = _version(match["version"]) if match else None
        if version is not None and version not in seen:  # a version's first section counts
            seen.add(version)
            open_.append((version, index, len(level)))
    for closed, start, depth in open_:
        sections[closed] = (start, len(lines), depth)
    return Changelog(lines, _heading_slugs(lines), sections)


def breaking_excerpts(
    changelog: Changelog, version: str | None, path: str, page: str
) -> tuple[Excerpt, ...]:
    """The breaking passages of ``version``'s section (of all of it: None), as excerpts.

    ``page`` is the web page of the text; each excerpt links the heading it sits under
    and is titled ``path > version > heading``.
    """
    lines = changelog.lines
    start, end = 0, len(lines)
    if version is not None:
        found = _section_bounds(changelog, version)
        if found is None:
            return ()
        start, end = found
    name = f"{path} > {version}" if version is not None else path
    excerpts = []
    for heading, body in breaking_passages(lines, start, end):
        text = _absolute_links(_cut(body, BREAKING_LIMIT), page)
        if heading is None or heading < start:
            excerpts.append(Excerpt(name, page, text))
            continue
        title = f"{name} > {_heading_title(lines[heading])}"
        excerpts.append(Excerpt(title, f"{page}#{changelog.slugs.get(heading, '')}", text))
    return tuple(excerpts)


def section_excerpt(changelog: Changelog, version: str, path: str, page: str) -> Excerpt | None:
    """``version``'s whole section of the changelog (cut), linked at its heading."""
    found = _section_bounds(changelog, version)
    if found is None:
        return None
    start, end = found
    body = "\n".join(changelog.lines[start:end]).strip()
    if not body:
        return None
    anchor = changelog.slugs.get(start - 1, "")
    text = _absolute_links(_cut(body, NOTES_LIMIT), page)
    return Excerpt(f"{path} > {version}", f"{page}#{anchor}", text)


def _section_bounds(changelog: Changelog, version: str) -> tuple[int, int] | None:
    """The lines after ``version``'s heading up to the end of its section."""
    parsed = _version(version)
    found = changelog.sections.get(parsed) if parsed is not None else None
    return None if found is None else (found[0] + 1, found[1])


def _item_end(lines: Sequence[str], index: int, end: int, indent: int) -> int:
    """Where the list item at ``index`` ends: the first line not indented past its bullet
    (blank lines belong to it when a line indented past the bullet follows them)."""
    stop = index + 1
    while stop < end:
        line = lines[stop]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        stop += 1
    while stop > index + 1 and not lines[stop - 1].strip():
        stop -= 1
    return stop


def docs_excerpt(
    text: str | None, release: Release, path: str, anchor: str | None, repo: str
) -> Excerpt | None:
    """The docs page's section whose heading slug is ``anchor`` (else its opening part)."""
    if text is None:
        return None
    lines = text.splitlines()
    slugs = _heading_slugs(lines)
    url = blob_url(release, repo, path)
    if anchor is None:
        later = sorted(slugs)[1:2]  # the page up to its second heading: title and intro
        body = lines[: later[0] if later else len(lines)]
        return Excerpt(path, url, _absolute_links(_cut("\n".join(body).strip()), url))
    index = next((i for i, slug in slugs.items() if slug == anchor), None)
    if index is None:
        return None
    body = lines[index : _section_end(lines, index, len(_heading_level(lines[index])))]
    title = f"{path} > {_heading_title(lines[index])}"
    return Excerpt(title, f"{url}#{anchor}", _absolute_links(_cut("\n".join(body).strip()), url))


def blob_url(release: Release, repo: str, path: str) -> str:
    """The web page of ``path`` at the release's tag, on the host the release lives on."""
    marker = f"/releases/tag/{release.tag}"
    if release.url.endswith(marker):
        return f"{release.url.removesuffix(marker)}/blob/{release.tag}/{path}"
    return f"https://github.com/{repo}/blob/{release.tag}/{path}"


def github_slug(title: str) -> str:
    """The anchor GitHub gives a Markdown heading (before de-duplication)."""
    title = title.strip().lower()
    kept = "".join(c for c in title if c in " -_" or unicodedata.category(c)[0] in ("L", "N"))
    return kept.replace(" ", "-")


def _matching_lines(text: str, phrases: Sequence[str]) -> list[str]:
    wanted = [p.casefold() for p in phrases]
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and any(p in line.casefold() for p in wanted)
    ]


def _base_section(text: str, version: str) -> Section | None:
    parsed = _version(version)
    if parsed is None or not parsed.is_prerelease:
        return None
    return find_section(text, parsed.base_version)


def _subsection_excerpt(
    text: str,
    section: Section,
    phrases: Sequence[str],
    release: Release,
    path: str,
    repo: str,
) -> Excerpt | None:
    """The first subsection of ``section`` (one heading level down) with a mention."""
    lines = text.splitlines()
    slugs = _heading_slugs(lines)
    start = section.line  # 0-based index of the first line after the heading
    end = _section_end(lines, section.line - 1, section.level)
    wanted = [p.casefold() for p in phrases]
    blocks: list[tuple[int | None, int, int]] = []  # (heading index, start, end)
    block_start, heading = start, None
    for index in range(start, end):
        level = _heading_level(lines[index])
        if level and len(level) == section.level + 1:
            blocks.append((heading, block_start, index))
            block_start, heading = index, index
    blocks.append((heading, block_start, end))
    for heading, first, last in blocks:
        body = "\n".join(lines[first:last]).strip()
        if not any(p in body.casefold() for p in wanted):
            continue
        where = f"#{slugs[heading]}" if heading is not None else f"#{slugs[section.line - 1]}"
        name = _heading_title(lines[heading]) if heading is not None else section.version
        page = blob_url(release, repo, path)
        return Excerpt(
            f"{path} > {section.version} > {name}" if heading is not None else f"{path} > {name}",
            page + where,
            _absolute_links(_cut(body), page),
        )
    return None


def _heading_slugs(lines: Sequence[str]) -> dict[int, str]:
    """Line index → anchor of every heading, numbered like GitHub (grants, grants-1)."""
    seen: dict[str, int] = {}
    out: dict[int, str] = {}
    fenced = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if fenced or not _heading_level(line):
            continue
        slug = github_slug(_heading_title(line))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out[index] = slug if count == 0 else f"{slug}-{count}"
    return out


def _heading_level(line: str) -> str:
    match = _ANY_HEADING.match(line)
    return match["level"] if match else ""


def _heading_title(line: str) -> str:
    match = _ANY_HEADING.match(line)
    return match["title"] if match else line


def _section_end(lines: Sequence[str], index: int, level: int) -> int:
    """Where the section headed at ``index`` ends: the next heading as high, outside fences."""
    fenced = False
    for later in range(index + 1, len(lines)):
        if lines[later].lstrip().startswith("```"):
            fenced = not fenced
        other = "" if fenced else _heading_level(lines[later])
        if other and len(other) <= level:
            return later
    return len(lines)


# A Markdown link or image target that is relative to the page: `](configuration.md)`,
# `](../ref/tags.md#x)`, `](#limitations)`. Absolute URLs and mailto: are left alone.
_RELATIVE_LINK = re.compile(r"\]\((?![a-zA-Z][a-zA-Z0-9+.-]*:|/)(?P<target>[^)\s]*)\)")


def _absolute_links(text: str, page: str) -> str:
    """Relative links of a quoted page made absolute at the tag, so they work in the PR."""
    return _RELATIVE_LINK.sub(lambda m: f"]({urljoin(page, m['target'])})", text)


def _cut(text: str, limit: int = EXCERPT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + "\n…"


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None
