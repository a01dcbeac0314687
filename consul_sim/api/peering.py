"""/v1/peering (being written)."""

from __future__ import annotations

from consul_sim.api.http import ConsulRouter

router = ConsulRouter()
