"""Test support for projects that use consul-sim: a pytest plugin, peering set-up helpers and
the oracles' exception."""

from consul_sim.oracles import InvariantViolation, Problem
from consul_sim.testing.helpers import export, peer

__all__ = ["InvariantViolation", "Problem", "export", "peer"]
