"""Randomized fault simulation, a fixed budget for every `make test` (issue 10).

Hypothesis generates schedules of upstream events, maintainer actions, faults at any
request, SIGKILLs after any write and concurrent runs (see tests/fault_machine.py); a
violation is shrunk to the shortest schedule that still shows it and printed as a
replayable program. ``python -m benchmarks.fault_sim --schedules N`` runs longer.
The seed is fixed so CI runs the same schedules every time; the benchmark varies it.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from tests.fault_machine import FaultSimulation

FaultSimulation.TestCase.settings = settings(
    max_examples=8,
    stateful_step_count=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
TestFaultSimulation = FaultSimulation.TestCase
