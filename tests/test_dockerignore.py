""".dockerignore: every file the Dockerfile COPYs is in the build context, the rest is not.

Docker's rules, as far as this file uses them: patterns apply in order and the last
match wins; a pattern matches a path or any of its parent directories; ``!`` lets a
path back in; ``**`` matches any number of directories.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.test_container_steps import DOCKERFILE, dockerfile_stages, without_flags

ROOT = Path(__file__).resolve().parent.parent
PATTERNS = [
    line.strip()
    for line in (ROOT / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def _regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore glob as a regular expression (``*`` and ``?`` stop at ``/``)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            char = pattern[i]
            out += {"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char))
            i += 1
    return re.compile(out)


def _matches(pattern: str, path: str) -> bool:
    """Whether a .dockerignore pattern matches ``path`` or one of its parents."""
    regex = _regex(pattern.rstrip("/"))
    parts = PurePosixPath(path).parts
    return any(regex.fullmatch("/".join(parts[:n])) for n in range(1, len(parts) + 1))


def in_context(path: str) -> bool:
    """Whether ``path`` (relative to the repository) is sent to the builder."""
    included = True
    for pattern in PATTERNS:
        negated = pattern.startswith("!")
        if _matches(pattern.lstrip("!"), path):
            included = negated
    return included


def tracked_files() -> list[str]:
    return subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()


def copy_sources() -> list[str]:
    sources = []
    for stage in dockerfile_stages(DOCKERFILE.read_text()):
        for args in stage.all("COPY"):
            if "--from=" not in args:
                sources.extend(without_flags(args).split(" ")[:-1])
    return sources


@pytest.mark.parametrize("source", copy_sources())
def test_every_copy_source_is_in_the_context(source: str) -> None:
    files = [f for f in tracked_files() if f == source or f.startswith(source.rstrip("/") + "/")]
    assert files, f"COPY {source}: no such tracked file"
    assert [f for f in files if not in_context(f)] == []


@pytest.mark.parametrize(
    "path", [".venv/bin/python", ".git/HEAD", "tests/conftest.py", "watcher.db", ".venv-lock/x"]
)
def test_local_state_stays_out(path: str) -> None:
    assert not in_context(path)


def test_compiled_files_stay_out() -> None:
    assert not in_context("watcher/__pycache__/cli.cpython-311.pyc")


@given(st.sampled_from(tracked_files()))
def test_a_tracked_file_is_sent_only_when_a_copy_needs_it(path: str) -> None:
    needed = any(path == s or path.startswith(s.rstrip("/") + "/") for s in copy_sources())
    assert in_context(path) == needed
