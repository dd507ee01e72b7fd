"""A randomized fault simulation of watcher against the stand-in (issue 10, "never blind,
never twice").

Two worlds see the same upstream history (the headscale-like stages of
:mod:`tests.standin.headscale`, with enough old releases that ``/releases`` has two pages)
and the same maintainer actions. The *faulty* world's runs meet injected faults at any
request, SIGKILLs after any write and concurrent processes; the *reference* world runs
cleanly. After every run the safety invariants must hold in the faulty world; once the
faults stop, one clean cycle must bring it to what the reference world shows.

The Hypothesis state machine in ``tests/test_fault_simulation.py`` and the long-running
``python -m benchmarks.fault_sim`` both drive this module.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import WatcherRun
from tests.prs import BRANCH, CHART
from tests.standin.chart import CHART_TOKEN, load_chart
from tests.standin.faults import FaultRule, Faults
from tests.standin.headscale import REPO, STAGES, load_headscale
from tests.standin.history import at
from tests.standin.server import StandIn
from watcher.config.model import default_config_text

ROOT = Path(__file__).resolve().parent.parent
# Old prereleases that push the list of releases past one page of 100: new releases land
# on page 1 while the old ones are on page 2, as on headscale's real 145 releases.
PADDING_RELEASES = 100
DASHBOARD_MARK = "<!-- watcher:dashboard -->"
OUTBOX_MARK = re.compile(r"<!-- watcher:outbox=\d+ [^>]*-->\n?")
RUN_DEADLINE = 90.0
# Read-only (no chart): the constant alone, so its feature scan is a download of its own.
SECOND_WATCH = f"""
[[watch]]
id = "headscale-relay-constant"
repo = "{REPO}"
[watch.feature]
markers = ["tailcfg.PeerCapabilityRelay"]
paths = ["hscontrol/**/*.go"]
[watch.image]
references = ["docker.io/headscale/headscale:{{tag}}"]
"""


# -- faults ------------------------------------------------------------------------------

# Each class names what can go wrong with one request, as github.com and registries do.
# The read caps of both worlds ([github.body_caps]): far above any answer the stand-in
# gives, far below the defaults, so an oversized body stays cheap to send.
BODY_CAP = 512 * 1024
# How long after its request an "applied-late" write takes effect.
LATE_SECONDS = 6.0
# GitHub's clock against the watcher's, in days, for the clock rule (0: agreeing).
SKEW_DAYS = (-3.0, 0.0, 3.0)
DAY = 86400.0
FAULT_KINDS: dict[str, dict[str, Any]] = {
    "5xx": {"status": 502},
    "429": {"status": 429, "headers": {"retry-after": "1"}},
    "secondary-403": {
        "status": 403,
        "body": b'{"message": "You have exceeded a secondary rate limit."}',
    },
    "timeout": {"delay": 3.0},
    "drop": {"drop_connection": True},
    "truncated": {"truncate_after": 10},
    # One byte a second: only a total deadline per request ends it.
    "drip": {"drip": 1.0},
    # The request takes effect, then its answer is lost (a proxy's 502, a dropped line).
    "lost-502": {"status": 502, "applied": True},
    "lost-drop": {"drop_connection": True, "applied": True},
    # A captive portal or misrouted proxy: 200 text/html to whatever was asked.
    "html-200": {
        "status": 200,
        "headers": {"content-type": "text/html; charset=utf-8"},
        "body": b"<html><body>Please accept the terms of use.</body></html>",
    },
    # A body over every read cap of the worlds' config (BODY_CAP), streamed without a length.
    "oversized": {"status": 200, "body": b"[" + b" " * (BODY_CAP + 1) + b"]", "chunked": True},
    # GitHub applies the write seconds after a gateway answered 504: after the client's
    # deadline, its retry's lookups and their pause (the worlds' timeout is 2 s).
    "applied-late": {"status": 504, "applied_after": LATE_SECONDS},
    # Headers no clock can honour: NaN, a reset beyond any date, a digit int() refuses.
    "absurd-headers": {
        "status": 429,
        "headers": {
            "retry-after": "nan",
            "x-ratelimit-remaining": "²",
            "x-ratelimit-reset": "1e400",
        },
    },
}


class NthRequestFaults(Faults):
    """Fault rules, plus one fault that hits the n-th request of the next run, whatever it is.

    "A fault at any request" is then one integer, which Hypothesis shrinks like any other.
    """

    def __init__(self) -> None:
        """No fault armed."""
        super().__init__()
        self._countdown: int | None = None
        self._armed: FaultRule | None = None
        self._writes_only = False
        self.fired: list[str] = []

    def arm(self, nth: int, kind: str, *, writes: bool = False) -> None:
        """Make request number ``nth`` (0-based, counted from now; with ``writes``, write
        number ``nth``) meet fault ``kind``."""
        with self._lock:
            self._countdown, self._writes_only = nth, writes
            self._armed = FaultRule(times=None, **FAULT_KINDS[kind])

    def disarm(self) -> None:
        """Forget an armed fault that has not fired."""
        with self._lock:
            self._countdown = self._armed = None

    def take(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> FaultRule | None:
        """The armed fault when its request has come, else the ordinary rules."""
        with self._lock:
            if self._countdown is not None and not (
                self._writes_only and method in ("GET", "HEAD")
            ):
                if self._countdown == 0 and self._armed is not None:
                    rule, self._countdown, self._armed = self._armed, None, None
                    self.fired.append(f"{method} {path}")
                    return rule
                self._countdown -= 1
        return super().take(method, path, headers, query)


# -- one world ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """One `watcher` invocation: how it ended and what it printed."""

    args: tuple[str, ...]
    code: int
    output: str


@dataclass(frozen=True)
class Snapshot:
    """What a maintainer sees of watcher's work in one world, comparable across worlds."""

    state: str | None
    target: str | None
    others: tuple[tuple[str | None, str | None], ...]
    pulls: tuple[tuple[str, str, bool], ...]
    branch_values: str | None
    dashboards: int
    transitions: tuple[str, ...]
    pr_comments: int


@dataclass
class World:
    """A stand-in with the headscale history and the chart, and watcher's database for it."""

    root: Path
    name: str
    standin: StandIn = field(init=False)
    faults: NthRequestFaults = field(init=False)
    cli: WatcherRun = field(init=False)
    stage: int = 0

    def __post_init__(self) -> None:
        """Start the stand-in at the first stage with the chart and the client images."""
        self.standin = StandIn().start()
        self.faults = NthRequestFaults()
        self.standin.faults = self.faults
        load_headscale(self.standin, STAGES[0])
        _pad_releases(self.standin)
        load_chart(self.standin)
        self.standin.registry.push("docker.io", "tailscale/tailscale", "stable")
        self.standin.registry.push("docker.io", "tailscale/tailscale", "v1.90.1")
        home = self.root / self.name
        home.mkdir(parents=True)
        caps = ", ".join(f"{kind}_bytes = {BODY_CAP}" for kind in ("api_json", "file", "changelog"))
        self.cli = WatcherRun(
            self.standin,
            home,
            token=CHART_TOKEN,
            github={"write_interval_seconds": "0"},
            edits={"retries = 1\n": f"retries = 1\nbody_caps = {{ {caps} }}\n"},
        )
        # A second watch of the same upstream, observed concurrently with the first:
        # faults then meet a run with several watches in flight.
        self.cli.config_text = default_config_text() + SECOND_WATCH

    def close(self) -> None:
        """Stop the stand-in."""
        self.standin.stop()

    # -- upstream and maintainer ---------------------------------------------------------

    def advance(self) -> bool:
        """Upstream moves to its next stage; False when it is at the last one."""
        if self.stage + 1 >= len(STAGES):
            return False
        self.stage += 1
        load_headscale(self.standin, STAGES[self.stage])
        return True

    def open_pull(self) -> dict[str, Any] | None:
        """watcher's open pull request, if any."""
        return next((p for p in self._pulls() if p["state"] == "open"), None)

    def maintainer(self, action: str) -> None:
        """Merge or close the open PR, or push a commit of one's own to its branch."""
        pull = self.open_pull()
        assert pull is not None, "a maintainer action needs an open PR"
        github = self.standin.github
        if action == "merge":
            github.merge_pull(CHART, pull["number"])
        elif action == "close":
            github.close_pull(CHART, pull["number"])
        else:
            github.push_commit(CHART, BRANCH, {"headscale/NOTES.md": "a maintainer's note\n"})

    # -- running watcher -------------------------------------------------------------------

    def run_once(self) -> RunResult:
        """`watcher run --once` in this process."""
        result = self.cli("run", "--once")
        return RunResult(("run", "--once"), result.exit_code, result.output)

    def spawn(self) -> subprocess.Popen[bytes]:
        """`watcher run --once` as a separate process on the same database."""
        env = {**os.environ, "GITHUB_TOKEN": CHART_TOKEN, "GITHUB_TOKEN_FILE": ""}
        command = [sys.executable, "-m", "watcher", "run", "--once"]
        command += ["--config", str(self.cli.config_path), "--db", self.cli.db_url]
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    def killed_after_write(self, writes: int) -> RunResult:
        """A separate `run --once`, SIGKILLed once ``writes`` more writes have reached GitHub.

        The write counted last has been applied; its answer may never have been read.
        A run that finishes before that many writes simply finishes.
        """
        before = self._write_count()
        process = self.spawn()
        deadline = time.monotonic() + RUN_DEADLINE
        while process.poll() is None and time.monotonic() < deadline:
            if self._write_count() - before >= writes:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        output, _ = process.communicate(timeout=RUN_DEADLINE)
        return RunResult(("run", "--once", "[SIGKILL]"), process.returncode, output.decode())

    def concurrent(self, processes: int) -> list[RunResult]:
        """``processes`` `run --once` started together on this world's one database."""
        started = [self.spawn() for _ in range(processes)]
        results = []
        for process in started:
            output, _ = process.communicate(timeout=RUN_DEADLINE)
            results.append(
                RunResult(("run", "--once", "[concurrent]"), process.returncode, output.decode())
            )
        return results

    # -- observing -------------------------------------------------------------------------

    def verdict(self) -> tuple[str | None, str | None]:
        """The first watch's recorded state and target tag (`watcher status --json`)."""
        return self.verdicts()[0]

    def verdicts(self) -> list[tuple[str | None, str | None]]:
        """Every watch's recorded state and target tag, in config order."""
        status = self.cli("status", "--json")
        watches = json.loads(status.stdout)["watches"] if status.exit_code == 0 else []
        found = [(w.get("state"), (w.get("target") or {}).get("tag")) for w in watches]
        return found or [(None, None)]

    def snapshot(self) -> Snapshot:
        """The verdicts, the PRs, the branch content, the dashboards and their comments."""
        (state, target), *others = self.verdicts()
        pulls = tuple(
            sorted((p["title"], p["state"], bool(p.get("merged_at"))) for p in self._pulls())
        )
        pull = self.open_pull()
        values = self._file("headscale/values.yaml", BRANCH) if pull else None
        dashboards = self._dashboards()
        transitions: tuple[str, ...] = ()
        if dashboards:
            bodies = self._comments(dashboards[0]["number"])
            # Each world's stand-in has its own port: links differ only by it.
            lines = [
                OUTBOX_MARK.sub("", b).replace(self.standin.url, "STANDIN").splitlines()[0]
                for b in bodies
            ]
            # Each watch's own transitions in order; between watches the order may differ,
            # as a fault can hold back one watch's run while the other moves on.
            transitions = tuple(sorted(lines, key=lambda line: line.split(":", 1)[0]))
        pr_comments = sum(len(self._comments(p["number"])) for p in self._pulls())
        return Snapshot(
            state, target, tuple(others), pulls, values, len(dashboards), transitions, pr_comments
        )

    def skew_clock(self, days: float) -> None:
        """GitHub's clock moves ``days`` away from the watcher's (negative: ours is ahead)."""
        self.standin.clock_skew = days * DAY

    def violations(self, *, late: bool = False) -> list[str]:
        """Safety invariants that must hold after every run, faults or not.

        ``late``: a write GitHub applied after every lookup may have left a second
        dashboard or comment; only the next clean cycle must remove it (issue 20).
        """
        found = []
        pulls = self._pulls()
        if sum(p["state"] == "open" for p in pulls) > 1:
            found.append(f"{sum(p['state'] == 'open' for p in pulls)} open PRs")
        dashboards = self._dashboards()
        if late:
            return found + self._upstream_writes()
        if len(dashboards) > 1:
            found.append(f"{len(dashboards)} open dashboard issues")
        bodies = [b for d in dashboards for b in self._comments(d["number"])]
        bodies += [b for p in pulls for b in self._comments(p["number"])]
        twice = [body for body, count in Counter(bodies).items() if count > 1]
        if twice:
            found.append(f"comment posted {Counter(bodies)[twice[0]]} times: {twice[0][:120]!r}")
        return found + self._upstream_writes()

    def _upstream_writes(self) -> list[str]:
        upstream = [r for r in self.standin.log.records() if r.is_write and REPO in r.path]
        return [f"wrote to upstream: {upstream[0].method} {upstream[0].path}"] if upstream else []

    # -- GitHub reads through the stand-in ---------------------------------------------------

    def _api(self, path: str) -> Any:
        # The stand-in's own client; its requests do not go through the fault rules' count
        # because faults are disarmed whenever the simulation observes.
        reply = httpx.get(
            f"{self.standin.api_url}{path}", headers={"Authorization": f"Bearer {CHART_TOKEN}"}
        )
        reply.raise_for_status()
        return reply.json()

    def _pulls(self) -> list[dict[str, Any]]:
        return list(self._api(f"/repos/{CHART}/pulls?state=all&per_page=100"))

    def _dashboards(self) -> list[dict[str, Any]]:
        issues = self._api(f"/repos/{CHART}/issues?state=all&per_page=100")
        # A duplicate dashboard is closed with a pointer to the kept one: open ones count.
        return [
            i
            for i in issues
            if "pull_request" not in i
            and i["state"] == "open"
            and DASHBOARD_MARK in (i["body"] or "")
        ]

    def _comments(self, number: int) -> list[str]:
        comments = self._api(f"/repos/{CHART}/issues/{number}/comments?per_page=100")
        return [c["body"] for c in comments]

    def _file(self, path: str, ref: str) -> str | None:
        try:
            data = self._api(f"/repos/{CHART}/contents/{path}?ref={ref}")
        except httpx.HTTPStatusError:
            return None
        return base64.b64decode(data["content"]).decode()

    def _write_count(self) -> int:
        return sum(1 for r in self.standin.log.records() if r.is_write)


def _pad_releases(standin: StandIn) -> None:
    """Old prereleases (no tag needed: never candidates) filling page 2 of ``/releases``."""
    for number in range(PADDING_RELEASES):
        when = at(f"2020-01-{1 + number % 28:02d}T{number % 24:02d}:00:00Z")
        standin.github.add_release(
            REPO,
            f"v0.0.{number}-alpha.1",
            None,
            "",
            prerelease=True,
            created_at=when,
            published_at=when,
        )


# -- what a run may print -----------------------------------------------------------------


def output_violations(result: RunResult, faulted: bool) -> list[str]:
    """A run never shows a traceback; an error exits 2 with one `error:` line."""
    found = []
    if "Traceback" in result.output:
        found.append(f"{' '.join(result.args)}: traceback:\n{result.output[-2000:]}")
    killed = result.code == -signal.SIGKILL
    if not killed and result.code not in (0, 1, 2):
        found.append(f"{' '.join(result.args)}: exit {result.code}:\n{result.output[-800:]}")
    if result.code == 2:
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        if not errors:
            found.append(f"{' '.join(result.args)}: exit 2 without an error line")
    if not faulted and result.code == 2:
        found.append(f"{' '.join(result.args)}: a clean run failed:\n{result.output[-800:]}")
    return found


@dataclass
class Tally:
    """Figures of a simulation: runs, faults fired by class, kills, violations."""

    schedules: int = 0
    runs: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    concurrent: int = 0
    convergences: int = 0
    violations: list[str] = field(default_factory=list)

    def report(self) -> str:
        """A few lines for a benchmark or a test log."""
        faults = ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults.items()))
        return (
            f"schedules {self.schedules}, runs {self.runs}, convergence checks "
            f"{self.convergences}\nfaults fired: {faults or 'none'}\n"
            f"SIGKILLs {self.kills}, concurrent groups {self.concurrent}, "
            f"violations {len(self.violations)}"
        )


def new_root() -> Path:
    """A temporary folder for one schedule's databases and configs."""
    return Path(tempfile.mkdtemp(prefix="fault-sim-"))
