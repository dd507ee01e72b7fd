"""Tell code from comments in a source file, by the comment syntax of its language. Pure.

A feature marker found only in a comment is weak evidence: headscale's source names
``tailscale.com/cap/relay`` only in comments while the code uses the constant
``tailcfg.PeerCapabilityRelay``, and a refactor that drops the comment would flip the
verdict. :func:`code_part` blanks comments out (keeping every newline, so line numbers
stay) and leaves string literals alone: a marker inside a string is code, and ``//``
inside ``"https://..."`` starts no comment.

This is a lexer for evidence ranking, not a parser: it knows line and block comments
and single-line strings (plus Go/JS raw strings and Python triple quotes), which is
what decides whether a line's marker sits in code. A file type it does not know has no
comments: every hit in it counts as code, as before ranking existed.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import PurePosixPath

# The lexer takes whichever token starts first; at one position a comment opener and a
# quote never both start, so only Python's triple quotes must come before single ones.
_DOUBLE = r'"(?:\\.|[^"\\\n])*"'
_SINGLE = r"'(?:\\.|[^'\\\n])*'"
_SLASH_LINE = r"//[^\n]*"
_SLASH_BLOCK = r"/\*[\s\S]*?(?:\*/|\Z)"
# A shell/YAML/TOML "#" starts a comment only at the start of a word (`a#b` is a word).
_HASH_LINE = r"(?<![^\s])#[^\n]*"
_DASH_LINE = r"--[^\n]*"
_XML_BLOCK = r"<!--[\s\S]*?(?:-->|\Z)"

_C_LIKE = (
    (_SLASH_LINE, _SLASH_BLOCK),
    (_DOUBLE, _SINGLE, r"`[^`]*`"),
)
_HASH = ((_HASH_LINE,), (r'"""[\s\S]*?(?:"""|\Z)', r"'''[\s\S]*?(?:'''|\Z)", _DOUBLE, _SINGLE))
_DASH = ((_DASH_LINE,), (_DOUBLE, _SINGLE))
_MARKUP = ((_XML_BLOCK,), ())

_BY_SUFFIX = {
    **dict.fromkeys(
        [
            ".go",
            ".c",
            ".h",
            ".cc",
            ".cpp",
            ".cxx",
            ".hpp",
            ".hh",
            ".java",
            ".js",
            ".jsx",
            ".mjs",
            ".cjs",
            ".ts",
            ".tsx",
            ".rs",
            ".swift",
            ".kt",
            ".kts",
            ".scala",
            ".cs",
            ".proto",
            ".php",
            ".dart",
            ".zig",
            ".groovy",
            ".gradle",
            ".m",
            ".mm",
            ".css",
            ".scss",
            ".less",
            ".jsonc",
            ".hujson",
        ],
        _C_LIKE,
    ),
    **dict.fromkeys(
        [
            ".py",
            ".pyi",
            ".sh",
            ".bash",
            ".zsh",
            ".fish",
            ".yaml",
            ".yml",
            ".toml",
            ".rb",
            ".pl",
            ".pm",
            ".r",
            ".tf",
            ".hcl",
            ".nix",
            ".cmake",
            ".mk",
            ".conf",
            ".cfg",
            ".ini",
            ".properties",
            ".ps1",
            ".dockerfile",
            ".bzl",
            ".star",
        ],
        _HASH,
    ),
    **dict.fromkeys([".sql", ".lua", ".hs", ".elm", ".ada", ".adb", ".ads"], _DASH),
    **dict.fromkeys([".md", ".markdown", ".html", ".htm", ".xml", ".svg", ".vue"], _MARKUP),
}
_BY_NAME = {
    **dict.fromkeys(("Makefile", "GNUmakefile", "Dockerfile", "Containerfile"), _HASH),
    **dict.fromkeys(("BUILD", "WORKSPACE", "Vagrantfile", "Gemfile", "Rakefile"), _HASH),
}


def code_part(text: str, path: str) -> str:
    """``text`` (a file of ``path``'s type, or one line of it) with comments blanked out.

    Every character of a comment becomes a space except newlines, so the result has
    the same lines, at the same positions, as ``text``.
    """
    lexer = _lexer(_syntax_key(path))
    if lexer is None:
        return text
    return lexer.sub(_blank_comment, text)


def _syntax_key(path: str) -> str | None:
    name = PurePosixPath(path).name
    if name in _BY_NAME:
        return name
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _BY_SUFFIX:
        return suffix
    if name.startswith("Dockerfile"):  # Dockerfile.alpine
        return "Dockerfile"
    return None


@cache
def _lexer(key: str | None) -> re.Pattern[str] | None:
    if key is None:
        return None
    comments, strings = _BY_NAME.get(key) or _BY_SUFFIX[key]
    alternatives = [f"(?P<c{i}>{p})" for i, p in enumerate(comments)]
    alternatives += [f"(?:{p})" for p in strings]
    return re.compile("|".join(alternatives))


def _blank_comment(match: re.Match[str]) -> str:
    if not any(name.startswith("c") and value for name, value in match.groupdict().items()):
        return match.group(0)  # a string literal: code, kept as is
    return re.sub(r"[^\n]", " ", match.group(0))
