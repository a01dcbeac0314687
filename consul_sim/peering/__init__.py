"""Cluster peering: tokens, the state machine, and the per-cluster peering service."""

from consul_sim.peering.service import PeeringService
from consul_sim.peering.states import PeeringState, StreamStatus

__all__ = ["PeeringService", "PeeringState", "StreamStatus"]
