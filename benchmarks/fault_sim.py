"""The randomized fault simulation, run long: `python -m benchmarks.fault_sim --schedules N`.

The same state machine as tests/test_fault_simulation.py (tests/fault_machine.py), with a
seed of your choice (default: a new one, printed, so any run can be replayed with
``--seed``). Prints schedules run, faults injected by class, SIGKILLs, concurrent groups
and violations; a violation is shrunk to a minimal schedule and printed, and the exit
code is 1.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from hypothesis import HealthCheck, settings
from hypothesis import seed as hypothesis_seed

from tests.fault_machine import TALLY, FaultSimulation


def main(argv: list[str] | None = None) -> int:
    """Run ``--schedules`` schedules of ``--steps`` steps and print the tally."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=20)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    chosen = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed {chosen} (replay: --seed {chosen})")
    FaultSimulation.TestCase.settings = settings(
        max_examples=args.schedules,
        stateful_step_count=args.steps,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    test = hypothesis_seed(chosen)(FaultSimulation.TestCase)
    started = time.monotonic()
    failed = False
    try:
        test("runTest").runTest()
    except AssertionError as exc:
        failed = True
        print(exc, file=sys.stderr)
    elapsed = time.monotonic() - started
    print(TALLY.report())
    print(f"wall {elapsed:.0f} s, {elapsed / max(TALLY.runs, 1):.2f} s per run")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
