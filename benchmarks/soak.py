"""Soak: the daemon against the stand-in for a simulated day, memory and traffic per cycle.

``watcher run`` runs as a subprocess (the installed console script, JSON logs, a token
that may push to the chart; after ``watcher db upgrade``, as in the container) against
the stand-in loaded with the headscale-like history at stage ``waiting`` plus the
kapernikov chart. The interval is :data:`INTERVAL` seconds without jitter, so
:data:`CYCLES` cycles (a day at the default two-minute interval) take about four
minutes. Along the way upstream moves on (``pending``, ``ready`` with the chart-bump
pull request, ``patch``), and ``retention_days`` is set to :data:`RETENTION_SECONDS` so
that pruning runs many times.

Why a subprocess rather than :func:`watcher.service.daemon.serve` in this process: the stand-in
(git subprocesses, its request log of every request of the run) and this harness live
in the benchmark's process, so their memory would be mixed into any in-process RSS
figure. A separate process is also what production runs: the RSS read from
``/proc/PID/status`` is the daemon's alone, and its stderr is the JSON log a collector
would see. Prometheus is played by a thread that scrapes ``/metrics`` and ``/healthz``
once per interval, so the HTTP side is soaked too.

Reported: RSS at start-up (read when the daemon logs ``daemon starting``, just before its
first cycle), after warm-up, at the end and its maximum, with the growth from warm-up to
the end (goal: steady RSS < :data:`STEADY_GOAL_MIB` and growth < :data:`RSS_GOAL_MIB`),
also over the final idle stretch alone; the end figure split into anonymous memory (the
heap: Python objects, malloc arenas) and file-backed pages (mapped shared libraries);
what each package of the daemon's import set costs on its own (``python -c "import X"``
minus a bare interpreter) and in the order the daemon imports them; database size;
requests per cycle counted by the stand-in (mean over all cycles, and over idle
cycles), the 304 share of idle cycles (goal: 100 %); rows written and kept in ``runs``
and ``observations``, events kept; wall time.

The run is split at the upstream changes into stretches. In each, the first cycles
*settle* (new bodies, a tarball scan, the pull request and its comments) until the
first *quiet* cycle, at most :data:`SETTLE_MAX` of them; every later cycle is *idle*:
nothing upstream changes for it, so every request it sends should be a 304. The one
exception is a watch that is not ready because its image is not pushed yet: asking the
registry for that image is the point of the poll and cannot be answered 304 (a 404 has
no validator); those requests are counted apart. Any other idle request that is not a
304 is listed.

Usage: ``python -m benchmarks.soak`` from the repository root; exit 1 when a goal is
missed or the daemon misbehaves. ``python -m benchmarks.soak --imports`` prints only the
import breakdown (a few seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

import httpx

from benchmarks import storage_year
from tests.standin.chart import CHART_TOKEN, load_chart
from tests.standin.headscale import IMAGES, load_headscale
from tests.standin.reqlog import RequestRecord
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config

CYCLES = 730  # a day at 120 s is 720 cycles
INTERVAL = 0.05
RETENTION_SECONDS = 20.0
# Upstream changes: after this many finished cycles, load that stage.
CHANGES = ((150, "pending"), (330, "ready"), (540, "patch"))
# The RSS baseline is taken after the cold start (tarball scans, imports) has settled.
WARMUP = 50
SAMPLE_EVERY = 10
RSS_GOAL_MIB = 5.0
# The daemon's resident set once warm (issue 13: it was 107-110 MiB).
STEADY_GOAL_MIB = 80.0
MiB = 1024 * 1024
CYCLE_TIMEOUT = 60.0
# A change is absorbed within a few cycles (scan, pull request, comments); a stretch
# still not quiet after this many cycles counts its later cycles as idle all the same.
SETTLE_MAX = 5
NOT_READY = 1
# The daemon's third-party import set, roughly in the order `watcher run` imports it
# (configuration, readers, state, writer, service); alembic only migrates a new database,
# apprise only loads when a notification URL is configured.
IMPORT_SET = (
    "click",
    "pydantic",
    "ruamel.yaml",
    "httpx",
    "tenacity",
    "wcmatch.glob",
    "sqlalchemy.orm",
    "alembic.command",
    "github",
    "structlog",
    "prometheus_client",
    "apscheduler.schedulers.blocking",
    "apprise",
)
# watcher's own modules that a soak loads (beyond those the packages above pull in).
WATCHER_MODULES = (
    "watcher.cli.main",
    "watcher.service.daemon",
    "watcher.runner.cycle",
    "watcher.state.store",
    "watcher.state.migrate",
    "watcher.actions.pull_request",
    "watcher.notify.dashboard",
    "watcher.notify.outbox",
    "watcher.sources.tarscan",
)
# Printed by a child interpreter after its imports: its own VmRSS in KiB.
_PRINT_RSS = (
    "\nfor _l in open('/proc/self/status'):\n    if _l.startswith('VmRSS:'): print(_l.split()[1])"
)
# The images the default watch waits for (IMAGES of the headscale history).
WATCHED_IMAGES = frozenset(name for _host, name in IMAGES)


@dataclass
class Cycle:
    """One finished cycle, from the daemon's ``cycle finished`` log line."""

    index: int
    start: float
    end: float
    code: int
    requests: int | None
    not_modified: int | None
    seen: list[RequestRecord] = field(default_factory=list)

    @property
    def all_304(self) -> bool:
        """Every request the stand-in saw during this cycle was answered 304."""
        return all(r.status == 304 for r in self.seen)


@dataclass
class Sample:
    """Memory and row counts at one moment of the run."""

    cycle: int
    rss_kib: int
    runs: int
    observations: int
    anon_kib: int = 0  # RssAnon: heap, Python objects, thread stacks
    file_kib: int = 0  # RssFile: pages of mapped files (the interpreter, extensions)


@dataclass
class Change:
    """An upstream change: which stage, when it started and finished (epoch seconds)."""

    stage: str
    after_cycle: int
    began: float
    ended: float


class LogReader(threading.Thread):
    """Reads the daemon's JSON log lines; collects cycles, counts levels."""

    def __init__(self, stream: IO[str], pid: int) -> None:
        super().__init__(name="soak-log-reader", daemon=True)
        self.stream = stream
        self.pid = pid
        # RSS when the daemon logs that it starts serving: imports done, database open
        # and migrated, first cycle not begun (it starts right after this line).
        self.startup_kib: int | None = None
        self.cycles: list[Cycle] = []
        self.levels: Counter[str] = Counter()
        self.problems: list[str] = []  # warnings, errors, and lines that are not JSON
        self.changed = threading.Condition()

    def run(self) -> None:
        """Parse until the daemon closes stderr."""
        for line in self.stream:
            try:
                event = json.loads(line)
            except ValueError:
                self.problems.append(line.rstrip())
                continue
            level = str(event.get("level", "?"))
            self.levels[level] += 1
            if level in ("warning", "error", "critical"):
                self.problems.append(line.rstrip())
            if event.get("event") == "daemon starting" and self.startup_kib is None:
                self.startup_kib = rss_kib(self.pid)
            if event.get("event") == "cycle finished":
                end = datetime.fromisoformat(event["timestamp"]).timestamp()
                cycle = Cycle(
                    index=len(self.cycles) + 1,
                    start=end - float(event["duration"]),
                    end=end,
                    code=int(event["code"]),
                    requests=event.get("requests"),
                    not_modified=event.get("not_modified"),
                )
                with self.changed:
                    self.cycles.append(cycle)
                    self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, count: int, process: subprocess.Popen[str]) -> None:
        """Block until ``count`` cycles have finished; raise if the daemon dies or hangs."""
        deadline = time.monotonic() + CYCLE_TIMEOUT
        with self.changed:
            while len(self.cycles) < count:
                if process.poll() is not None:
                    raise RuntimeError(f"daemon exited with {process.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no cycle {count} within {CYCLE_TIMEOUT:.0f} s")
                self.changed.wait(timeout=0.5)


class Scraper(threading.Thread):
    """Plays Prometheus and a liveness probe: /metrics and /healthz once per interval."""

    def __init__(self, port: int) -> None:
        super().__init__(name="soak-scraper", daemon=True)
        self.base = f"http://127.0.0.1:{port}"
        self.stop = threading.Event()
        self.scrapes = 0
        self.failures = 0

    def run(self) -> None:
        """Scrape until stopped; connection errors before start-up are not failures."""
        while not self.stop.wait(INTERVAL):
            try:
                metrics = httpx.get(f"{self.base}/metrics", timeout=5)
                httpx.get(f"{self.base}/healthz", timeout=5)
            except httpx.TransportError:
                if self.scrapes:
                    self.failures += 1
                continue
            self.scrapes += 1
            if metrics.status_code != 200:
                self.failures += 1


def free_port() -> int:
    """A port nobody listens on right now (the daemon binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def watcher_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m watcher`."""
    script = Path(sys.executable).with_name("watcher")
    return [str(script)] if script.exists() else [sys.executable, "-m", "watcher"]


def soak_config(standin: StandIn) -> str:
    """The stand-in config with a fast, jitter-free schedule and a retention of seconds."""
    text = standin_config(standin, {"write_interval_seconds": "0"})
    edits = {
        "interval_seconds = 120": f"interval_seconds = {INTERVAL}",
        "jitter_seconds = 15": "jitter_seconds = 0",
        "# retention_days = 90": f"retention_days = {RETENTION_SECONDS / 86400!r}",
    }
    for old, new in edits.items():
        assert old in text, f"{old!r} not in the default config"
        text = text.replace(old, new, 1)
    return text


def memory_kib(pid: int) -> dict[str, int]:
    """The ``Vm*``/``Rss*`` lines of /proc/PID/status, in KiB, by name."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name.startswith(("Vm", "Rss")) and value.strip().endswith("kB"):
            fields[name] = int(value.split()[0])
    return fields


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` of /proc/PID/status)."""
    rss = memory_kib(pid).get("VmRSS")
    if rss is None:
        raise RuntimeError(f"no VmRSS for pid {pid}")
    return rss


def child_rss_kib(imports: list[str]) -> int:
    """VmRSS of a fresh interpreter (this one's) after ``import`` of each module given."""
    source = "".join(f"import {name}\n" for name in imports) + _PRINT_RSS
    done = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[-1])


def import_breakdown() -> list[tuple[str, float, float]]:
    """What the daemon's RSS is made of: per package, MiB alone and MiB added in order.

    "Alone" is ``python -c "import X"`` minus a bare interpreter (shared dependencies
    counted in each); "in order" is what X adds to everything imported before it, so
    the column sums to the whole import set. The first row is the bare interpreter, the
    last watcher's own modules.
    """
    bare = child_rss_kib([])
    rows = [("(bare interpreter)", bare / 1024, bare / 1024)]
    before = bare
    for n, name in enumerate([*IMPORT_SET, "watcher"]):
        modules = list(WATCHER_MODULES) if name == "watcher" else [name]
        alone = child_rss_kib(modules)
        together = child_rss_kib([*IMPORT_SET[:n], *modules])
        rows.append((name, (alone - bare) / 1024, (together - before) / 1024))
        before = together
    return rows


def print_breakdown() -> None:
    """Print :func:`import_breakdown` as a table with the total."""
    rows = import_breakdown()
    print("  import set (MiB):  alone over bare / added in order")
    for name, alone, added in rows:
        print(f"    {name:<34} {alone:6.1f} {added:6.1f}")
    print(f"    {'total':<34} {'':>6} {sum(added for _, _, added in rows):6.1f}")


def count_rows(db: Path, table: str) -> int:
    """Rows in ``table`` now (a read-only connection; the daemon keeps writing)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def max_id(db: Path, table: str) -> int:
    """Highest id ever given in ``table``: the newest row is never pruned, so rows written."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])


def assign(records: list[RequestRecord], cycles: list[Cycle]) -> list[RequestRecord]:
    """Put each request into the cycle whose window holds it; return the strays."""
    strays: list[RequestRecord] = []
    ordered = sorted(records, key=lambda r: r.time)
    i = 0
    # Log timestamps and arrival times come from the same host clock; the slack covers
    # rounding of the logged duration.
    slack = 0.002
    for record in ordered:
        while i < len(cycles) and cycles[i].end + slack < record.time:
            i += 1
        if i < len(cycles) and cycles[i].start - slack <= record.time:
            cycles[i].seen.append(record)
        else:
            strays.append(record)
    return strays


def stages(cycles: list[Cycle], changes: list[Change]) -> list[Stretch]:
    """Split the run at the upstream changes; find where each stretch turns idle."""
    stretches: list[Stretch] = []
    # Start-up counts as a change that ended before the first cycle.
    bounds = [("waiting", -1.0), *((c.stage, c.ended) for c in changes)]
    for n, (stage, ended) in enumerate(bounds):
        until = bounds[n + 1][1] if n + 1 < len(bounds) else float("inf")
        # A cycle still running when the next change began saw part of it: not idle.
        span = [c for c in cycles if c.start > ended and c.end <= until]
        head = span[:SETTLE_MAX]
        quiet = next((k for k, c in enumerate(head) if c.seen and quiet_cycle(c)), None)
        # A stretch that never turns quiet must not hide its noise in "settling".
        settle = quiet if quiet is not None else SETTLE_MAX
        idle = span[quiet + 1 :] if quiet is not None else span[SETTLE_MAX:]
        stretches.append(Stretch(stage, span, settle, idle, quiet is not None))
    return stretches


def repository(record: RequestRecord) -> str | None:
    """The image repository a registry request is about (path, or a token's scope)."""
    if record.service != "registry":
        return None
    if "/v2/" in record.path:
        rest = record.path.split("/v2/", 1)[1]
        for marker in ("/manifests/", "/tags/", "/blobs/"):
            if marker in rest:
                return rest.split(marker, 1)[0]
        return None
    scope = record.query.get("scope", "")
    return scope.split(":")[1] if scope.count(":") == 2 else None


def waiting_for_image(record: RequestRecord, cycle: Cycle) -> bool:
    """A not-ready watch asking the registry for the image it waits for (cannot be 304)."""
    return cycle.code == NOT_READY and repository(record) in WATCHED_IMAGES


def quiet_cycle(cycle: Cycle) -> bool:
    """Every request a 304, except the registry checks of an image still awaited."""
    return all(r.status == 304 or waiting_for_image(r, cycle) for r in cycle.seen)


@dataclass
class Stretch:
    """The cycles between two upstream changes: the settling ones, then the idle ones."""

    stage: str
    cycles: list[Cycle]
    settle: int
    idle: list[Cycle]
    settled: bool

    def idle_requests(self, service: str | None = None) -> list[RequestRecord]:
        """Requests of the idle cycles (of one stand-in service, or all)."""
        return [r for c in self.idle for r in c.seen if service in (None, r.service)]

    def noisy(self) -> list[RequestRecord]:
        """Idle requests that should have been 304s but were not."""
        return [
            r for c in self.idle for r in c.seen if r.status != 304 and not waiting_for_image(r, c)
        ]


def main() -> int:
    """Run the soak, print the figures; exit 1 when a goal is missed."""
    workdir = Path(tempfile.mkdtemp(prefix="watcher-soak-"))
    began = time.monotonic()
    try:
        with StandIn() as standin:
            load_headscale(standin, "waiting")
            load_chart(standin)
            # The chart's extra image pins resolve against these.
            standin.registry.push("docker.io", "tailscale/tailscale", "stable")
            standin.registry.push("docker.io", "tailscale/tailscale", "v1.90.1")
            config = workdir / "watcher.toml"
            config.write_text(soak_config(standin))
            db = workdir / "watcher.db"
            port = free_port()
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(workdir),
                "GITHUB_TOKEN": CHART_TOKEN,
                # glibc tunables (the Dockerfile sets MALLOC_ARENA_MAX) reach the daemon,
                # so their effect on its RSS can be measured here.
                **{k: v for k, v in os.environ.items() if k.startswith(("MALLOC_", "GLIBC_"))},
            }
            command = [
                *watcher_command(),
                "run",
                "--config",
                str(config),
                "--db",
                f"sqlite:///{db}",
                "--health-port",
                str(port),
                "--log-format",
                "json",
            ]
            # As the container's entrypoint does: the daemon then finds its schema at the
            # head and never loads Alembic (what it costs is measured apart, not here).
            upgrade = [*watcher_command(), "db", "upgrade", "--db", f"sqlite:///{db}"]
            subprocess.run([*upgrade, "--config", str(config)], env=env, cwd=workdir, check=True)
            standin.log.clear()
            run_began = time.monotonic()
            daemon = subprocess.Popen(
                command,
                env=env,
                cwd=workdir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert daemon.stderr is not None
            reader = LogReader(daemon.stderr, daemon.pid)
            reader.start()
            scraper = Scraper(port)
            scraper.start()
            try:
                samples, changes, code = drive(daemon, reader, scraper, db, standin)
            finally:
                scraper.stop.set()
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait()
            wall = time.monotonic() - run_began
            reader.join(timeout=10)
            records = standin.log.records()
        soaked = report(reader, scraper, samples, changes, records, db, code, wall)
        # A simulated year would take days of soak: the store alone, on a simulated clock.
        return max(soaked, storage_year.main([]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"total wall time incl. set-up: {time.monotonic() - began:.1f} s")


def drive(
    daemon: subprocess.Popen[str],
    reader: LogReader,
    scraper: Scraper,
    db: Path,
    standin: StandIn,
) -> tuple[list[Sample], list[Change], int]:
    """Let the daemon run CYCLES cycles, changing upstream and sampling on the way."""
    samples: list[Sample] = []
    changes: list[Change] = []
    pending = list(CHANGES)
    for target in range(SAMPLE_EVERY, CYCLES + 1, SAMPLE_EVERY):
        while pending and pending[0][0] <= target:
            after, stage = pending.pop(0)
            reader.wait_for(after, daemon)
            t0 = time.time()
            load_headscale(standin, stage)
            changes.append(Change(stage, after, t0, time.time()))
        reader.wait_for(target, daemon)
        memory = memory_kib(daemon.pid)
        samples.append(
            Sample(
                target,
                memory["VmRSS"],
                count_rows(db, "runs"),
                count_rows(db, "observations"),
                anon_kib=memory.get("RssAnon", 0),
                file_kib=memory.get("RssFile", 0),
            )
        )
    # The probes stop first: a refused scrape after SIGTERM is the shutdown, not a fault.
    scraper.stop.set()
    scraper.join(timeout=10)
    daemon.send_signal(signal.SIGTERM)
    return samples, changes, daemon.wait(timeout=CYCLE_TIMEOUT)


def report(
    reader: LogReader,
    scraper: Scraper,
    samples: list[Sample],
    changes: list[Change],
    records: list[RequestRecord],
    db: Path,
    code: int,
    wall: float,
) -> int:
    """Print the tables; 0 when every goal is met and the daemon behaved."""
    cycles = reader.cycles
    strays = assign(records, cycles)
    stretches = stages(cycles, changes)
    idle = [c for s in stretches for c in s.idle]
    idle_requests = [r for s in stretches for r in s.idle_requests()]
    noisy = [r for s in stretches for r in s.noisy()]
    waiting = sum(1 for c in idle for r in c.seen if waiting_for_image(r, c))
    baseline = next(s for s in samples if s.cycle >= WARMUP)
    end = samples[-1]
    peak = max(samples, key=lambda s: s.rss_kib)
    growth = (end.rss_kib - baseline.rss_kib) / 1024
    tunables = " ".join(
        f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith(("MALLOC_", "GLIBC_"))
    )
    startup = "n/a" if reader.startup_kib is None else f"{reader.startup_kib / 1024:.1f} MiB"
    # The last stretch without any change: a leak per idle cycle shows here undiluted.
    last_change = changes[-1].after_cycle if changes else 0
    quiet = next((s for s in samples if s.cycle >= last_change + WARMUP), end)
    quiet_growth = (end.rss_kib - quiet.rss_kib) / 1024
    db_bytes = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
    codes = Counter(c.code for c in cycles)
    runs_kept, obs_kept = count_rows(db, "runs"), count_rows(db, "observations")
    runs_written, obs_written = max_id(db, "runs"), max_id(db, "observations")
    idle_github = [r for r in idle_requests if r.service != "registry"]
    github_304 = sum(1 for r in idle_github if r.status == 304)

    def share(count: int) -> str:
        return f"{count / max(len(idle_requests), 1):.1%}"

    rows = [
        ("cycles (by exit code)", f"{len(cycles)} ({dict(sorted(codes.items()))})"),
        ("wall time", f"{wall:.1f} s ({wall / len(cycles) * 1000:.0f} ms per cycle)"),
        ("allocator settings passed on", tunables or "none (glibc defaults)"),
        ("RSS at start-up", startup),
        (
            "RSS after warm-up",
            f"{baseline.rss_kib / 1024:.1f} MiB (cycle {baseline.cycle}; "
            f"goal < {STEADY_GOAL_MIB:.0f} MiB)",
        ),
        (
            "RSS at end",
            f"{end.rss_kib / 1024:.1f} MiB (cycle {end.cycle}): anonymous "
            f"{end.anon_kib / 1024:.1f}, file-backed {end.file_kib / 1024:.1f}",
        ),
        ("RSS max", f"{peak.rss_kib / 1024:.1f} MiB (cycle {peak.cycle})"),
        ("RSS growth", f"{growth:+.2f} MiB (goal < {RSS_GOAL_MIB:.0f} MiB)"),
        (
            "RSS growth, final stretch",
            f"{quiet_growth:+.2f} MiB (cycles {quiet.cycle}-{end.cycle})",
        ),
        ("database size at end", f"{db_bytes / MiB:.2f} MiB (with WAL)"),
        ("requests per cycle, all", f"{len(records) / len(cycles):.2f} ({len(records)} in all)"),
        (
            "requests per idle cycle",
            f"{len(idle_requests) / max(len(idle), 1):.2f} ({len(idle)} idle cycles; "
            f"{waiting} registry checks of an awaited image)",
        ),
        (
            "idle requests: 304 / awaited image / other",
            f"{share(len(idle_requests) - len(noisy) - waiting)} / {share(waiting)} / "
            f"{share(len(noisy))} (goal: other 0; GitHub alone "
            f"{github_304 / max(len(idle_github), 1):.1%} 304)",
        ),
        (
            "runs written / kept",
            f"{runs_written} / {runs_kept} (peak {max(s.runs for s in samples)})",
        ),
        (
            "observations written / kept",
            f"{obs_written} / {obs_kept} (peak {max(s.observations for s in samples)})",
        ),
        ("events kept / written", f"{count_rows(db, 'events')} / {max_id(db, 'events')}"),
        ("/metrics + /healthz scrapes", f"{scraper.scrapes} ({scraper.failures} failed)"),
        ("log lines by level", ", ".join(f"{k} {v}" for k, v in sorted(reader.levels.items()))),
        ("requests outside any cycle", str(len(strays))),
        ("exit code after SIGTERM", str(code)),
    ]
    print(
        f"soak: {CYCLES} cycles at {INTERVAL} s (jitter 0), retention {RETENTION_SECONDS:.0f} s; "
        f"upstream {' -> '.join(['waiting', *(f'{c.stage}@{c.after_cycle}' for c in changes)])}"
    )
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    print(
        "  RSS MiB by cycle: "
        + " ".join(f"{s.cycle}:{s.rss_kib / 1024:.1f}" for s in samples if s.cycle % 50 == 0)
    )
    print()
    header = ("stage", "cycles", "settle", "idle", "GitHub/idle", "GitHub 304", "registry/idle")
    print("  " + "  ".join(f"{h:>13}" for h in header))
    for s in stretches:
        github = [r for r in s.idle_requests() if r.service != "registry"]
        n = max(len(s.idle), 1)
        cells = (
            s.stage,
            str(len(s.cycles)),
            str(s.settle) if s.settled else f">{s.settle}",
            str(len(s.idle)),
            f"{len(github) / n:.2f}",
            f"{sum(1 for r in github if r.status == 304) / max(len(github), 1):.0%}",
            f"{len(s.idle_requests('registry')) / n:.2f}",
        )
        print("  " + "  ".join(f"{c:>13}" for c in cells))
    kinds = Counter((s.stage, r.method, r.path, r.status) for s in stretches for r in s.noisy())
    for (stage, method, path, status), count in sorted(kinds.items()):
        print(f"  idle, not 304 ({stage}): {count} x {method} {path} -> {status}")
    for record in strays[:10]:
        print(f"  outside a cycle: {record.method} {record.path} -> {record.status}")
    for line in reader.problems[:10]:
        print(f"  log: {line[:300]}")
    print()
    print_breakdown()

    ok = (
        code == 0
        and len(cycles) >= CYCLES
        and growth < RSS_GOAL_MIB
        and peak.rss_kib / 1024 < STEADY_GOAL_MIB
        and bool(idle)
        and not noisy
        and runs_kept < runs_written
        and scraper.failures == 0
    )
    print(
        f"goals (RSS < {STEADY_GOAL_MIB:.0f} MiB and growth < {RSS_GOAL_MIB:.0f} MiB, "
        "idle requests 304 but awaited-image "
        f"checks, pruning ran, clean exit): {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--imports", action="store_true", help="print the daemon's import breakdown instead"
    )
    if parser.parse_args().imports:
        print_breakdown()
        sys.exit(0)
    sys.exit(main())
