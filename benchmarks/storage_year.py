"""Storage over a simulated year: how large the database of an idle fleet grows.

The store is driven through its public API with a simulated clock, exactly as a cycle
drives it: a run row, one verdict per watch (the same signals every poll, as while
waiting), the run finished; every simulated hour the retention prune the daemon runs. A
year at the default two-minute interval is 262,800 cycles, which at a few milliseconds
each would take too long for a benchmark, so the run is scaled: it simulates enough
cycles to pass a retention window several times over (the retention shrunk by the same
factor as the year), checks that the live size then stays flat, and scales the size of
one kept cycle up to the real window (every idle cycle writes the same rows, so the live
size is linear in the cycles kept). Printed: live bytes (pages in use, free pages left
out) at the start, at the plateau and at the end of the simulated stretch, rows kept per
table, bytes per kept cycle, and the projected size after a year at the default interval
and retention. Exit 1 when the live size grew after the plateau (retention not bounding).

Usage: ``python -m benchmarks.storage_year [--watches N] [--cycles N]`` (about a minute).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watcher.config.model import DaemonConfig
from watcher.core.models import Signal, SignalName, SignalStatus, Verdict, VerdictState
from watcher.state.store import RunStats, Store

YEAR = timedelta(days=365)
MiB = 1024 * 1024


class SimulatedClock:
    """The store's clock, moved by the benchmark one interval per cycle."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def waiting_verdict(watch_id: str) -> Verdict:
    """What a watch waiting for its feature records on every poll."""
    signals = (
        Signal(SignalName.RELEASE, SignalStatus.HOLDS, "newest stable v0.28.0", ("v0.28.0",)),
        Signal(SignalName.FEATURE, SignalStatus.MISSING, "marker not in v0.28.0", ()),
    )
    return Verdict(watch_id, VerdictState.WAITING, None, signals, ("no release has it",))


def live_bytes(db: Path) -> int:
    """Bytes of the pages in use (the file keeps freed pages for reuse)."""
    with sqlite3.connect(db) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * size)


def rows(db: Path) -> dict[str, int]:
    """Rows per table that grows with time."""
    with sqlite3.connect(db) as conn:
        return {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("runs", "observations", "events", "verdicts")
        }


def main(argv: list[str] | None = None) -> int:
    """Simulate, print the figures, exit 1 when the retention does not bound the size."""
    defaults = DaemonConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watches", type=int, default=10, help="watches per cycle (10)")
    parser.add_argument(
        "--cycles", type=int, default=2000, help="simulated cycles, four retention windows (2000)"
    )
    args = parser.parse_args(argv)
    interval = timedelta(seconds=defaults.interval_seconds)
    retention = timedelta(days=defaults.retention_days)
    window = args.cycles // 4  # cycles inside the shrunk retention window
    scale = (retention / interval) / window
    shrunk = interval * window
    clock = SimulatedClock()
    verdicts = [waiting_verdict(f"watch-{i}") for i in range(args.watches)]
    with tempfile.TemporaryDirectory(prefix="watcher-year-") as tmp:
        db = Path(tmp) / "watcher.db"
        with Store.open(f"sqlite:///{db}", clock=clock) as store:
            start = live_bytes(db)
            last_prune, sizes = clock.now, []
            for cycle in range(args.cycles):
                run_id = store.start_run()
                for verdict in verdicts:
                    store.record_verdict(run_id, verdict)
                store.finish_run(run_id, "ok", RunStats(args.watches, args.watches, 0))
                clock.now += interval
                # The daemon prunes hourly, and never less often than a quarter window.
                if clock.now - last_prune >= min(timedelta(hours=1), shrunk / 4):
                    store.prune(shrunk)
                    last_prune = clock.now
                if cycle >= 2 * window:
                    sizes.append(live_bytes(db))
            kept = rows(db)
        end = live_bytes(db)
    plateau = sizes[0]
    per_cycle = (plateau - start) / max(kept["runs"], 1)
    year_cycles = YEAR / interval
    kept_cycles = min(year_cycles, retention / interval)
    projected = start + per_cycle * kept_cycles
    unbounded = start + per_cycle * year_cycles
    print(f"storage_year: {args.watches} watches, {args.cycles} idle cycles every {interval}")
    print(
        f"  retention shrunk {scale:.0f}x to {shrunk} "
        f"(the default: {retention.days} days), pruned hourly"
    )
    print(f"  live bytes: start {start / 1024:.0f} KiB, plateau {plateau / 1024:.0f} KiB, ", end="")
    print(f"end {end / 1024:.0f} KiB, most after the plateau {max(sizes) / 1024:.0f} KiB")
    print(f"  rows kept: {', '.join(f'{t} {n}' for t, n in kept.items())}")
    print(f"  bytes per kept cycle: {per_cycle:.0f}")
    print(
        f"  after a simulated year at the defaults: {projected / MiB:.1f} MiB "
        f"({kept_cycles:.0f} cycles kept of {year_cycles:.0f}); "
        f"without retention {unbounded / MiB:.1f} MiB"
    )
    growth = max(sizes) - plateau
    if growth > 0.05 * plateau:
        print(f"FAIL: the live size grew by {growth} bytes after the plateau", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
