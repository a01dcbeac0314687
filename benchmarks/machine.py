"""How fast ``PeeringMachine`` runs with every invariant on: steps per second.

A step is one rule (or the initial set-up) followed by every invariant: the oracles
(``world.check_invariants``) and the exports model. The count comes from one more invariant
that only counts, so it is exactly the number of times the oracles ran. Each run is a whole
Hypothesis session of ``examples`` examples of up to ``steps`` steps (three clusters, three
services, derandomized so every run explores the same sequences), timed end to end: world
creation, Hypothesis' own drawing and the oracles all count. The target is 300 steps/s; the
report gives the median of ``runs`` runs, since a shared machine drifts between runs.

``python benchmarks/machine.py`` prints the report.
"""

from __future__ import annotations

import statistics
import sys
import time

from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant, run_state_machine_as_test

from consul_sim.testing import PeeringMachine

TARGET_STEPS_PER_SECOND = 300.0
EXAMPLES = 20
STEPS = 50
RUNS = 3


def one_run(examples: int, steps: int) -> tuple[int, float]:
    counted = 0

    class Counted(PeeringMachine):
        @invariant()
        def count_step(self) -> None:
            nonlocal counted
            counted += 1

    started = time.perf_counter()
    run_state_machine_as_test(
        Counted,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    return counted, time.perf_counter() - started


def machine_report(
    examples: int = EXAMPLES, steps: int = STEPS, runs: int = RUNS
) -> tuple[str, bool]:
    results = [one_run(examples, steps) for _ in range(runs)]
    rates = [n / seconds for n, seconds in results]
    median = statistics.median(rates)
    passed = median >= TARGET_STEPS_PER_SECOND
    lines = [
        "machine: PeeringMachine, 3 clusters, every invariant on "
        f"({examples} examples x up to {steps} steps, {runs} runs)",
        *(
            f"  run {i + 1}: {n} steps in {seconds:.2f} s = {n / seconds:.0f} steps/s"
            for i, (n, seconds) in enumerate(results)
        ),
        f"  median {median:.0f} steps/s (target >= {TARGET_STEPS_PER_SECOND:.0f}): "
        + ("ok" if passed else "BELOW TARGET"),
    ]
    return "\n".join(lines) + "\n", passed


if __name__ == "__main__":
    report, passed = machine_report()
    print(report, end="")
    sys.exit(0 if passed else 1)
