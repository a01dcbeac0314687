"""Test support for projects that use consul-sim: a pytest plugin, peering set-up helpers, the
oracles' exception, and (with the ``testing`` extra, which brings Hypothesis) strategies and a
state machine to subclass.

``from consul_sim.testing import strategies as cst`` and ``PeeringMachine`` import Hypothesis;
everything else here, and ``import consul_sim``, does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consul_sim.oracles import InvariantViolation, Problem
from consul_sim.testing.helpers import export, peer

if TYPE_CHECKING:
    from consul_sim.testing.machine import PeeringMachine

__all__ = ["InvariantViolation", "PeeringMachine", "Problem", "export", "peer"]


def __getattr__(name: str) -> Any:
    """``PeeringMachine`` loads Hypothesis, so it loads on first use only."""
    if name == "PeeringMachine":
        from consul_sim.testing.machine import PeeringMachine

        return PeeringMachine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
