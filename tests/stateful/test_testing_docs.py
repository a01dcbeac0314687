"""docs/testing.md runs as written, and its subclassed machine finds the sample app's bug."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.fixture(scope="module")
def doc_namespace() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "testing_doc"}
    for block in BLOCK.findall(DOC.read_text()):
        exec(compile(block, str(DOC), "exec"), namespace)
    return namespace


def test_every_python_block_runs(doc_namespace: dict[str, Any]) -> None:
    assert "PickMachine" in doc_namespace
    assert "TestPickMachine" in doc_namespace


def test_the_machine_finds_and_shrinks_the_sample_bug(doc_namespace: dict[str, Any]) -> None:
    machine = doc_namespace["PickMachine"]
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=200,
                stateful_step_count=4,
                derandomize=True,
                database=None,
                print_blob=False,  # on under CI=true; the shrunk steps are what is compared
                deadline=None,
                phases=[Phase.generate, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    lines = notes.splitlines()
    start = lines.index("state = PickMachine()")
    invariant_call = re.compile(r"^state\.\w+\(\)$")
    moves = [line for line in lines[start + 1 :] if not invariant_call.match(line)]
    assert moves == [
        "clusters_0, clusters_1 = state.make_clusters()",
        "(services_0,) = state.name_services()",
        "state.register(cluster=clusters_0, instance=1, service=services_0, status='warning')",
    ], notes
    assert "state.picks_a_passing_instance_when_there_is_one()" in notes
    assert str(caught.value) == "web-1"
