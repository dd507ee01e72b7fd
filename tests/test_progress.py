"""Progress on a terminal only: tarball scans show bytes and rate, backtests their steps.

Unit tests drive watcher.core.progress (the hook the work calls) drawn by
watcher.cli.progress_line with a fake terminal and a fake clock; the end-to-end
test runs the real `watcher backtest` on a pseudo-terminal against the stand-in, and
the same command through a pipe, where not a byte of progress may appear.
"""

from __future__ import annotations

import io
import itertools
import os
import pty
import re
import select
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.headscale import load_headscale
from watcher.cli import progress_line
from watcher.core import progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def no_progress_left_on() -> Iterator[None]:
    yield
    progress_line.disable()


def ticking(step: float) -> Callable[[], float]:
    now = [0.0]

    def clock() -> float:
        now[0] += step
        return now[0]

    return clock


@given(st.lists(st.binary(max_size=300), max_size=30), st.floats(0.01, 1.0))
def test_metered_chunks_pass_unchanged_and_the_line_ends_erased(
    chunks: list[bytes], step: float
) -> None:
    screen = FakeTerminal()
    assert progress_line.enable(screen, clock=ticking(step))
    assert list(progress.metered(iter(chunks), "scanning o/r@v1")) == chunks
    shown = screen.getvalue()
    if chunks:
        total = sum(map(len, chunks))
        assert "scanning o/r@v1: " in shown
        # The last line drawn counts no more than what flowed; erased at the end.
        drawn = re.findall(r"scanning o/r@v1: ([0-9.]+) MB", shown)
        assert drawn and float(drawn[-1]) <= total / 1_000_000 + 0.05
        assert shown.endswith("\r")
        assert shown.rsplit("\r", 2)[-2].strip() == ""
    progress_line.disable()


class Recorder:
    """A progress sink that keeps what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def step(self, text: str) -> None:
        self.events.append(("step", text))

    def flowed(self, label: str, total: int) -> None:
        self.events.append(("flowed", label, str(total)))

    def clear(self) -> None:
        self.events.append(("clear",))


@given(st.lists(st.binary(max_size=300), max_size=30), st.text(max_size=20))
def test_the_core_hook_reports_running_totals_to_the_sink_only(
    chunks: list[bytes], text: str
) -> None:
    sink = Recorder()
    progress.register(sink)
    progress.step(text)
    assert list(progress.metered(iter(chunks), "scan")) == chunks
    sums = itertools.accumulate(map(len, chunks), initial=0)
    assert sink.events == [
        ("step", text),
        *(("flowed", "scan", str(total)) for total in sums),
        ("clear",),
    ]
    progress.register(None)
    progress.step(text)
    assert list(progress.metered(iter(chunks), "scan")) == chunks
    assert len(sink.events) == len(chunks) + 3  # nothing more once unregistered


def test_bytes_line_has_size_and_rate() -> None:
    assert progress_line.bytes_line("scanning x", 12_345_678, 2.0) == (
        "scanning x: 12.3 MB, 6.2 MB/s"
    )
    assert progress_line.bytes_line("scanning x", 0, 0.0) == "scanning x: 0.0 MB"


@given(st.lists(st.binary(max_size=50), max_size=10), st.text(max_size=20))
def test_nothing_is_written_off_a_terminal(chunks: list[bytes], text: str) -> None:
    pipe = io.StringIO()
    assert not progress_line.enable(pipe)
    assert list(progress.metered(chunks, "scanning")) == chunks
    progress.step(text)
    progress.clear()
    assert pipe.getvalue() == ""


def test_a_shorter_step_overwrites_a_longer_one() -> None:
    screen = FakeTerminal()
    progress_line.enable(screen)
    progress.step("a long first step")
    progress.step("short")
    padding = " " * (len("a long first step") - len("short"))
    assert screen.getvalue().endswith("\rshort" + padding)


def run_on(terminal: bool, args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal (or a pipe); its exit code and stderr."""
    command = [sys.executable, "-m", "watcher", *args]
    if not terminal:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        return done.returncode, done.stderr
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=follower, stdin=subprocess.DEVNULL
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        seen += data
    os.close(leader)
    return process.wait(timeout=120), seen.decode(errors="replace")


def test_backtest_shows_its_steps_on_a_terminal_only(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "ready")
    args = ["backtest", "--config", str(watcher.config_path), "--db", watcher.db_url]
    env = {"PATH": os.environ["PATH"], "HOME": str(watcher.tmp_path)}
    code, shown = run_on(True, args, env)
    assert code == 0, shown
    assert "backtest headscale-peer-relay: reading the history of juanfont/headscale" in shown
    assert "scanning juanfont/headscale@v0.29.0: " in shown
    assert re.search(r"replaying \d+ release\(s\)", shown)
    code, piped = run_on(False, [*args, "--scan-all"], env)
    assert code == 0 and piped == ""
