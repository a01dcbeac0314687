"""consul-sim: HashiCorp Consul clusters and cluster peering, simulated in one Python process.

The public entry point is :class:`consul_sim.world.World`; each cluster it holds speaks Consul's
HTTP API through an in-process client or on a real loopback port.

The names below load on first use (PEP 562), so importing a submodule (the CLI, the Go
conventions in :mod:`consul_sim.gostd`) does not build the world's whole domain first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consul_sim.errors import ConsulError
    from consul_sim.world import Cluster, World

__all__ = ["Cluster", "ConsulError", "World"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("Cluster", "World"):
        from consul_sim import world

        return getattr(world, name)
    if name == "ConsulError":
        from consul_sim.errors import ConsulError

        return ConsulError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
