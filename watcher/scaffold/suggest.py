"""What `watcher init` proposes from what it read: pure functions, no I/O.

- :func:`parse_reference`: ``owner/repo#N`` or a GitHub URL of a pull request or issue;
- :func:`tag_pattern`: the upstream's release tags' own form (``v1.2.3``, ``1.2.3``,
  ``app-v1.2.3`` in a monorepo) as a ``tag_pattern`` with a ``version`` group;
- :func:`marker_candidates`: text the pull request adds to code and did not have
  before (a flag, a capability string, an exported constant), ranked: the marker must
  be something only the feature's code contains, so a word it merely moved is no proof;
- :func:`pick_images`: the values keys of the chart's images that run the upstream.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from watcher.config.model import FeatureConfig
from watcher.core.errors import ConfigError

VERSION = r"\d+\.\d+\.\d+(?:[-.]?(?:alpha|beta|rc)\.?\d+)?"
_SHORT = re.compile(r"^(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)#(?P<number>\d+)$")
_URL = re.compile(
    r"^https?://[^/\s]+/(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/"
    r"(?:pull|pulls|issues)/(?P<number>\d+)(?:[/?#].*)?$"
)
# Besides what a feature scan already leaves out: tests, docs and lock files of any language.
SKIPPED = (
    *FeatureConfig.model_fields["exclude"].default,
    "**/test/**",
    "**/tests/**",
    "test/**",
    "tests/**",
    "**/*_test.*",
    "**/test_*",
    "**/*.test.*",
    "**/*.spec.*",
    "**/*.md",
    "*.md",
    "**/*.lock",
    "**/CHANGELOG*",
    "CHANGELOG*",
)
_STRING = re.compile(r"\"([^\"\\\s]{3,80})\"|'([^'\\\s]{3,80})'|`([^`\\\s]{3,80})`")
_DEFINITION = re.compile(
    r"\b(?:const|var|func|type|def|class|fn|struct|enum|interface)\s+"
    r"(?:\([^)]*\)\s*)?([A-Za-z_]\w{2,})"
)
_ASSIGNED = re.compile(r"^\s*([A-Z][A-Za-z0-9_]{2,})\s*(?:[\w.\[\]*]+\s*)?=[^=]")
# A package's exported name used in code (Go's ``tailcfg.PeerCapabilityRelay``).
_QUALIFIED = re.compile(r"\b([a-z]\w*\.[A-Z]\w{2,})\b")
MAX_CANDIDATES = 5


@dataclass(frozen=True)
class Reference:
    """An upstream pull request or issue: ``repo`` (owner/name) and ``number``."""

    repo: str
    number: int

    def __str__(self) -> str:
        return f"{self.repo}#{self.number}"


@dataclass(frozen=True)
class Candidate:
    """A marker suggestion and the file of the pull request that adds it."""

    text: str
    path: str


def parse_reference(text: str) -> Reference:
    """``owner/repo#N`` or a github.com (or Enterprise) URL of a PR or issue."""
    text = text.strip()
    found = _SHORT.match(text) or _URL.match(text)
    if found is None:
        raise ConfigError(
            f"{text!r} is not a pull request or issue reference",
            hint="give owner/repo#N, e.g. juanfont/headscale#3102, or its URL",
        )
    return Reference(found["repo"], int(found["number"]))


def tag_pattern(tags: Iterable[str]) -> str | None:
    """A tag pattern for the most common form of the version tags, or None if none is."""
    forms: Counter[str] = Counter()
    for tag in tags:
        found = re.fullmatch(rf"(?P<prefix>.*?)(?P<version>{VERSION})", tag)
        if found is not None:
            forms[found["prefix"]] += 1
    if not forms:
        return None
    prefix = forms.most_common(1)[0][0]
    return rf"^{re.escape(prefix)}(?P<version>{VERSION})$"


def marker_candidates(files: Sequence[tuple[str, str]]) -> list[Candidate]:
    """Ranked texts the patches add, from ``(path, unified patch)`` pairs.

    A text counts when an added line of a code file has it and the file's old lines
    in the patch (removed and context lines) do not.
    Flags, capability strings and dotted keys (quoted, with ``-``, ``/``, ``.`` or
    ``:``) come first, then exported names a definition adds or a package's exported
    names the code starts using, then other quoted words, then other definitions.
    """
    counted = [(p, patch.splitlines()) for p, patch in files if not _skipped(p)]
    # What each file had before: removed lines and the unchanged context around them
    # (one file may be in several pull requests' patches).
    before: dict[str, str] = {}
    for path, lines in counted:
        old = "\n".join(ln[1:] for ln in lines if ln.startswith(("-", " ")))
        before[path] = before.get(path, "") + "\n" + old
    ranked: list[tuple[int, int, Candidate]] = []
    seen: set[str] = set()
    for path, lines in counted:
        for line in (ln[1:] for ln in lines if ln.startswith("+")):
            for tier, text in _tokens(line):
                if text in seen or text in before[path]:
                    continue
                seen.add(text)
                ranked.append((tier, len(ranked), Candidate(text, path)))
    return [c for _, _, c in sorted(ranked, key=lambda r: r[:2])][:MAX_CANDIDATES]


def _skipped(path: str) -> bool:
    return any(fnmatchcase(path, glob) for glob in SKIPPED)


def _tokens(line: str) -> Iterable[tuple[int, str]]:
    for found in _STRING.finditer(line):
        text = next(g for g in found.groups() if g)
        yield (0 if re.search(r"[-/.:]", text) else 2), text
    for found in (*_DEFINITION.finditer(line), *_ASSIGNED.finditer(line)):
        name = found[1]
        yield (1 if name[0].isupper() else 3), name
    for found in _QUALIFIED.finditer(line):
        yield 1, found[1]


def pick_images(
    keys: Sequence[str], repositories: Sequence[str | None], upstream: str
) -> list[str]:
    """The image keys whose repository is the upstream's name; else ``image``, else none.

    ``keys`` and ``repositories`` are the chart's image sites in values order.
    """
    name = upstream.rsplit("/", maxsplit=1)[-1].lower()
    matching = [
        key
        for key, repo in zip(keys, repositories, strict=True)
        if repo and repo.lower().rstrip("/").split("/")[-1] == name
    ]
    if matching:
        return matching
    return ["image"] if "image" in keys else []
