"""SIGTERM/SIGINT handling of the daemon, in a child process (signals need a main thread).

The child (this module run with ``python -m``) serves a :class:`Daemon` whose fake
cycle appends ``start N`` to an events file, waits until the test creates a ``release``
file, then appends ``end N``. So the test controls exactly when a cycle is in flight,
and waits for the child's "stopping" log line rather than sleeping.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 10.0


@dataclass
class Child:
    """A daemon child process and the files it talks through."""

    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def events(self) -> list[str]:
        """The ``start N`` / ``end N`` lines the fake cycle wrote so far."""
        path = self.workdir / "events"
        return path.read_text().splitlines() if path.exists() else []

    @property
    def log(self) -> str:
        """Everything the child logged (JSON lines on stderr)."""
        return (self.workdir / "stderr").read_text()

    def release(self) -> None:
        """Let the cycle in flight (and every later one) finish."""
        (self.workdir / "release").touch()

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        """Poll until ``condition`` holds; fail if the child dies or the deadline passes."""
        deadline = time.monotonic() + DEADLINE
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"child exited ({self.process.returncode}) before {what}:\n{self.log}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}:\n{self.log}")
            time.sleep(0.01)

    def exit_code(self) -> int:
        """Wait (bounded) for the child to exit."""
        try:
            return self.process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"child still running {DEADLINE} s after the signal:\n{self.log}")


@pytest.fixture
def child(tmp_path: Path) -> Iterator[Child]:
    """A started child daemon (interval one hour: only the first cycle runs by itself)."""
    with (tmp_path / "stderr").open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.test_daemon_signals", str(tmp_path)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    spawned = Child(process, tmp_path)
    try:
        yield spawned
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_during_a_cycle_lets_it_finish(child: Child, signum: int) -> None:
    child.wait_for(lambda: child.events == ["start 1"], "the first cycle")
    os.kill(child.process.pid, signum)
    child.wait_for(lambda: "stopping after the current cycle" in child.log, "the stop notice")
    assert child.process.poll() is None, "the cycle was cut short"
    child.release()
    assert child.exit_code() == 0
    assert child.events == ["start 1", "end 1"]
    assert "daemon stopped" in child.log


def test_signal_between_cycles_stops_at_once(child: Child) -> None:
    child.release()
    child.wait_for(lambda: child.events == ["start 1", "end 1"], "the first cycle")
    began = time.monotonic()
    os.kill(child.process.pid, signal.SIGTERM)
    assert child.exit_code() == 0
    assert time.monotonic() - began < DEADLINE
    assert child.events == ["start 1", "end 1"]


def test_second_signal_exits_immediately(child: Child) -> None:
    child.wait_for(lambda: child.events == ["start 1"], "the first cycle")
    os.kill(child.process.pid, signal.SIGTERM)
    child.wait_for(lambda: "stopping after the current cycle" in child.log, "the stop notice")
    os.kill(child.process.pid, signal.SIGTERM)
    assert child.exit_code() == 128 + signal.SIGTERM
    assert child.events == ["start 1"]


def _child_main(workdir: Path) -> int:
    """Serve a Daemon with the file-driven fake cycle (runs in the child process)."""
    from watcher.config.model import DaemonConfig
    from watcher.service.daemon import CycleResult, Daemon
    from watcher.service.logconfig import configure

    configure(json=True)
    calls = 0

    def cycle() -> CycleResult:
        nonlocal calls
        calls += 1
        with (workdir / "events").open("a") as events:
            events.write(f"start {calls}\n")
        deadline = time.monotonic() + 2 * DEADLINE  # never outlive a failed test for long
        while not (workdir / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        with (workdir / "events").open("a") as events:
            events.write(f"end {calls}\n")
        return CycleResult(1)

    settings = DaemonConfig(interval_seconds=3600, jitter_seconds=0)
    return Daemon(cycle, settings).run()


if __name__ == "__main__":
    sys.exit(_child_main(Path(sys.argv[1])))
