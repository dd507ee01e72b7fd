"""The fault simulation as a Hypothesis state machine: schedules that Hypothesis generates,
runs and, on a violation, shrinks to the shortest schedule that still shows it.

Rules mix upstream events, maintainer actions, runs with a fault at any request, runs
SIGKILLed after any write and concurrent runs. Invariants are checked after every rule;
:meth:`FaultSimulation.converge` ends each phase (before upstream or the maintainer acts
again, and at the end) by comparing the faulty world, after one clean cycle, with the
reference world that never saw a fault.
"""

from __future__ import annotations

import shutil
import time

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.simulation import (
    FAULT_KINDS,
    LATE_SECONDS,
    SKEW_DAYS,
    RunResult,
    Tally,
    World,
    new_root,
    output_violations,
)

# Requests in one cycle: 8 when idle, about 30 when a PR is opened; an index past the last request
# of a run does not fire, which is a fault-free run (also worth having).
MAX_FAULT_INDEX = 8
# Writes in one cycle that opens a PR: about 8 (blobs, tree, commit, ref, PR, dashboard, comments).
MAX_LATE_WRITE = 7
TALLY = Tally()


class FaultSimulation(RuleBasedStateMachine):
    """One schedule: a faulty and a reference world driven by the same events."""

    def __init__(self) -> None:
        """Two fresh worlds at the first upstream stage."""
        super().__init__()
        self.root = new_root()
        self.faulty = World(self.root, "faulty")
        self.reference = World(self.root, "reference")
        self.faulted_since_converge = False
        # A write applied late may leave a duplicate until the next clean cycle.
        self.late = False
        TALLY.schedules += 1

    def teardown(self) -> None:
        """Converge one last time, then stop both stand-ins."""
        try:
            self.converge()
        finally:
            self.faulty.close()
            self.reference.close()
            shutil.rmtree(self.root, ignore_errors=True)

    # -- helpers -----------------------------------------------------------------------

    def _check(self, results: list[RunResult], faulted: bool) -> None:
        TALLY.runs += len(results)
        found = [v for r in results for v in output_violations(r, faulted)]
        found += self.faulty.violations(late=self.late)
        TALLY.violations += found
        assert not found, "\n".join(found)

    # -- rules -------------------------------------------------------------------------

    @rule()
    def upstream_moves_on(self) -> None:
        """headscale's next stage: a release, its image, a patch release on page 1."""
        self.converge()
        if self.faulty.advance():
            self.reference.advance()

    @rule(nth=st.integers(0, MAX_FAULT_INDEX), kind=st.sampled_from(sorted(FAULT_KINDS)))
    def run_with_a_fault(self, nth: int, kind: str) -> None:
        """`run --once` whose request number ``nth`` meets fault ``kind``."""
        self._faulted_run(nth, kind)

    @rule(nth=st.integers(0, MAX_LATE_WRITE))
    def run_with_a_write_applied_late(self, nth: int) -> None:
        """`run --once` whose write number ``nth`` GitHub applies after every lookup."""
        self._faulted_run(nth, "applied-late", writes=True)

    def _faulted_run(self, nth: int, kind: str, *, writes: bool = False) -> None:
        before = self.faulty.verdict()
        self.faulty.faults.arm(nth, kind, writes=writes)
        try:
            result = self.faulty.run_once()
        finally:
            self.faulty.faults.disarm()
        fired = bool(self.faulty.faults.fired)
        if fired and kind == "applied-late":
            # The world settles (the late write lands) before anything else happens.
            time.sleep(LATE_SECONDS)
            self.late = True
        if fired:
            TALLY.faults[kind] += 1
            self.faulty.faults.fired.clear()
            self.faulted_since_converge = True
        self._check([result], faulted=fired)
        if result.code == 2 and before[0] is not None:
            # A failed poll changes nothing: the last good verdict stays
            # (docs/architecture.md, «What support landed means»).
            assert self.faulty.verdict()[0] is not None, "the last good verdict was lost"

    @rule(writes=st.integers(1, 8))
    def run_killed_after_a_write(self, writes: int) -> None:
        """A separate process SIGKILLed right after its ``writes``-th write was applied."""
        result = self.faulty.killed_after_write(writes)
        TALLY.kills += result.code < 0
        self.faulted_since_converge = True
        self._check([result], faulted=True)

    @rule(processes=st.integers(2, 3))
    def concurrent_runs(self, processes: int) -> None:
        """Two or three `run --once` started together on one database."""
        TALLY.concurrent += 1
        self._check(self.faulty.concurrent(processes), faulted=False)

    @precondition(lambda self: self.reference.open_pull() is not None)
    @rule(action=st.sampled_from(["merge", "close", "push"]))
    def maintainer_acts(self, action: str) -> None:
        """The maintainer merges or closes watcher's PR, or pushes to its branch."""
        self.converge()
        if self.faulty.open_pull() is not None:
            self.faulty.maintainer(action)
            self.reference.maintainer(action)

    @rule(days=st.sampled_from(SKEW_DAYS))
    def githubs_clock_moves(self, days: float) -> None:
        """GitHub's clock drifts days away from the watcher's (a VM after suspend)."""
        self.faulty.skew_clock(days)
        if days:
            TALLY.faults[f"clock {days:+.0f} d"] += 1

    @invariant()
    def nothing_doubled(self) -> None:
        """At most one open PR and one dashboard, no comment twice, no upstream write."""
        found = self.faulty.violations(late=self.late)
        assert not found, "\n".join(found)

    # -- convergence -------------------------------------------------------------------

    def converge(self) -> None:
        """One clean cycle in each world; the faulty one must now show what the other does."""
        TALLY.convergences += 1
        clean = self.faulty.run_once()
        self.late = False  # one clean cycle removed what a late write doubled
        self._check([clean, self.reference.run_once()], faulted=False)
        got, want = self.faulty.snapshot(), self.reference.snapshot()
        if got != want:
            diff = [
                f"  {name}: faulty {getattr(got, name)!r} != reference {getattr(want, name)!r}"
                for name in want.__dataclass_fields__
                if getattr(got, name) != getattr(want, name)
            ]
            message = "did not converge after one clean cycle:\n" + "\n".join(diff)
            TALLY.violations.append(message)
            raise AssertionError(message)
        self.faulted_since_converge = False
