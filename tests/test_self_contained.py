"""The repository stands alone: no file reads outside its own tree or names a path of one
particular machine, so a fresh clone with nothing beside it passes its own README."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A path that only exists on the machine the code was written on, or a reach out of the
# checkout into the sibling reference folder next to it.
MACHINE_PATH = re.compile(r"(^|[^A-Za-z0-9_.])/(work|farm|home/[a-z]+)/")
OUTSIDE_TREE = re.compile(r"\.\./shared|parents\[\d\]\s*/\s*[\"']shared|\.parent\s*/\s*[\"']shared")


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = []
    for name in listed:
        path = ROOT / name
        if path.is_file() and "fixtures" not in path.parts and path.suffix != ".diff":
            files.append(path)
    return files


def offending_lines(pattern: re.Pattern[str]) -> list[str]:
    hits = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line) and path != Path(__file__):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return hits


def test_no_file_names_a_path_of_a_particular_machine() -> None:
    assert offending_lines(MACHINE_PATH) == []


def test_no_file_reads_outside_the_repository() -> None:
    assert offending_lines(OUTSIDE_TREE) == []


def test_patterns_catch_what_they_are_for() -> None:
    # The guards above must be able to fail: each pattern matches the lines it forbids.
    # The examples are assembled from pieces so that this file does not itself hold the
    # lines it forbids (other tools scan the tree for them too).
    sibling, machine = "sha" + "red", "/wo" + "rk/"
    assert MACHINE_PATH.search(f'DATA = "{machine}{sibling}/data/chart"')
    assert OUTSIDE_TREE.search(f'Path(__file__).parents[3] / "{sibling}" / "data"')
    assert OUTSIDE_TREE.search(f"open('../{sibling}/x')")
    assert OUTSIDE_TREE.search(f'ROOT.parent / "{sibling}" / "data"')
    assert not OUTSIDE_TREE.search(f"a {sibling} number space")
    # A folder of its own inside a test's temporary directory is not outside the tree.
    assert not OUTSIDE_TREE.search(f"tmp_path / '{sibling}' / 'watcher.db'")
