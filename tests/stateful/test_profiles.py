"""The Hypothesis profile, not the test, sets how many examples every Hypothesis test runs.

``make fuzz`` exports ``HYPOTHESIS_PROFILE=deep`` to dig deeper than CI. That only works if no
test pins its own ``max_examples``: each test here is imported afresh in a child interpreter
under each profile, exactly as pytest would import it, and the effective settings it would run
with (a ``@given`` function's, a state machine ``TestCase``'s) are read back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[2]

MACHINES_UNDER_CI = {
    "tests.stateful.test_peering_machine::TestPeeringMachine": (60, 30),
    "tests.stateful.test_replication_machine::TestReplicationMachine": (12, 20),
    "tests.stateful.test_no_leak::TestNoLeak": (15, 15),
}
"""(max_examples, stateful_step_count) each machine ran under ``ci`` before budgets scaled."""

READ_EFFECTIVE_SETTINGS = """
import importlib, json, pathlib, unittest
from hypothesis import settings
import tests.conftest  # loads HYPOTHESIS_PROFILE, as pytest does before any test module
found = {}
for path in sorted(pathlib.Path("tests").rglob("test_*.py")):
    name = ".".join(path.with_suffix("").parts)
    for attr, obj in vars(importlib.import_module(name)).items():
        if getattr(obj, "is_hypothesis_test", False):
            chosen = obj._hypothesis_internal_use_settings
        elif isinstance(obj, type) and issubclass(obj, unittest.TestCase) and isinstance(
            getattr(obj, "settings", None), settings
        ):
            chosen = obj.settings
        else:
            continue
        found[f"{name}::{attr}"] = [chosen.max_examples, chosen.stateful_step_count]
print(json.dumps(found))
"""


@cache
def effective(profile: str) -> dict[str, tuple[int, int]]:
    """Every Hypothesis test's (max_examples, stateful_step_count) under ``profile``."""
    done = subprocess.run(
        [sys.executable, "-c", READ_EFFECTIVE_SETTINGS],
        cwd=ROOT,
        env={**os.environ, "HYPOTHESIS_PROFILE": profile},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {test: (n, steps) for test, (n, steps) in json.loads(done.stdout).items()}


def test_ci_profile_runs_each_machine_with_its_ci_budget() -> None:
    ci = effective("ci")
    assert {test: ci.get(test) for test in MACHINES_UNDER_CI} == MACHINES_UNDER_CI


@pytest.mark.parametrize("profile", ["dev", "deep"])
def test_every_hypothesis_test_scales_with_the_profile(profile: str) -> None:
    ci, other = effective("ci"), effective(profile)
    ratio = settings.get_profile(profile).max_examples / settings.get_profile("ci").max_examples
    assert other.keys() == ci.keys()
    assert {test: n for test, (n, _) in other.items()} == {
        test: round(n * ratio) for test, (n, _) in ci.items()
    }


def test_deep_profile_runs_every_hypothesis_test_far_longer_than_ci() -> None:
    ci, deep = effective("ci"), effective("deep")
    assert set(MACHINES_UNDER_CI) < deep.keys(), "the scan missed the machines or every @given"
    shallow = {test: (ci[test][0], n) for test, (n, _) in deep.items() if n < 10 * ci[test][0]}
    assert not shallow, f"deep does not deepen these (ci, deep) example counts: {shallow}"


def test_profiles_keep_each_machines_step_count() -> None:
    for profile in ("dev", "deep"):
        steps = {test: effective(profile)[test][1] for test in MACHINES_UNDER_CI}
        assert steps == {test: s for test, (_, s) in MACHINES_UNDER_CI.items()}
