"""Cluster peering: tokens, the state machine, and the per-cluster peering service."""

from consul_sim.models.peering_state import PeeringState, StreamStatus
from consul_sim.peering.service import PeeringService

__all__ = ["PeeringService", "PeeringState", "StreamStatus"]
