"""Test support for projects that use consul-sim: a pytest plugin and peering set-up helpers."""

from consul_sim.testing.helpers import export, peer

__all__ = ["export", "peer"]
