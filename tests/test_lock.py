"""The lock files (requirements/*.txt, `make lock`) pin everything pyproject.toml asks for.

make, .ci/run (through make) and the Dockerfile install from these files with
``--no-deps``, so a dependency added to pyproject.toml without `make lock` would be
missing: this test names it before a fresh clone finds out. The three files also agree
on every version they share, so the image runs what the tests ran.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# lock file -> the extras of watcher it holds
LOCKS = {"runtime.txt": (), "container.txt": ("postgres",), "dev.txt": ("postgres", "test")}
PIN = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==([^\s;]+)\s*(?:;\s*([^#]+?))?\s*(?:#.*)?$")


def pins(name: str) -> dict[str, tuple[str, str | None]]:
    """``{canonical name: (version, marker)}`` of one lock file."""
    found: dict[str, tuple[str, str | None]] = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PIN.match(line.strip())
        assert match, f"requirements/{name}: not a pin: {line!r}"
        package = canonicalize_name(match.group(1).split("[")[0])
        found[package] = (match.group(2), match.group(3))
    return found


def wanted(extras: tuple[str, ...]) -> list[Requirement]:
    requirements = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        requirements += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return requirements


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_the_lock_pins_every_requirement_of_pyproject(lock: str, extras: tuple[str, ...]) -> None:
    pinned = pins(lock)
    for requirement in wanted(extras):
        if requirement.marker and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} is not in requirements/{lock}: run `make lock`"
        version, _ = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements/{lock} pins {name}=={version}, pyproject wants {requirement}: "
            "run `make lock`"
        )


def test_the_locks_agree_and_nest() -> None:
    # Versions, not markers: uv may word a marker differently in each file.
    runtime, container, dev = ({k: v for k, (v, _) in pins(name).items()} for name in LOCKS)
    assert runtime.items() <= container.items() <= dev.items()
    # The runtime lock is the runtime: no test tool and no PostgreSQL driver in it.
    for tool in ("pytest", "mypy", "ruff", "psycopg", "hypothesis"):
        assert tool not in runtime
    assert "psycopg" in container and "pytest" not in container


def test_no_lock_names_a_local_index() -> None:
    for name in LOCKS:
        text = (ROOT / "requirements" / name).read_text()
        assert "--index-url" not in text and "--find-links" not in text and "file:" not in text
