"""consul-sim: HashiCorp Consul clusters and cluster peering, simulated in one Python process.

The public entry point is :class:`consul_sim.world.World`; each cluster it holds speaks Consul's
HTTP API through an in-process client or on a real loopback port.
"""

from consul_sim.errors import ConsulError
from consul_sim.world import Cluster, World

__all__ = ["Cluster", "ConsulError", "World"]
__version__ = "0.1.0"
