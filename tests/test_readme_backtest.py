"""The README's backtest example is what `make demo` prints: every line of it, verbatim.

The demo ends with the stand-in's headscale-like history at its last stage (``patch``)
and runs `watcher backtest`; so does this test, and each line of the README's example
block (an abridged copy) must be a line of that output.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import WatcherRun
from tests.standin.headscale import load_headscale

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def example_lines() -> list[str]:
    start = README.index("Example: the end of what `make demo` prints")
    match = re.compile(r"^```\n(.*?)^```", re.MULTILINE | re.DOTALL).search(README, start)
    assert match
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_every_line_of_the_readme_example_is_printed(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "patch")
    result = watcher("backtest")
    assert result.exit_code == 0, result.output
    printed = set(result.stdout.splitlines())
    lines = example_lines()
    assert len(lines) > 10
    assert [line for line in lines if line not in printed] == []
