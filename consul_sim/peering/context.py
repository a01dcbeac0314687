"""What one cluster's peering code may use of its cluster and its world, and nothing more.

Consul's peering backend (``agent/consul/peering_backend.go``) is handed the few things it needs
(the state store, the CA, the leader's address, the RPC plumbing) rather than the whole server.
The same seam here keeps :mod:`consul_sim.peering` below :mod:`consul_sim.world`: the service and
its streams see a store, a CA, the shared clock, scheduler, network and lock, the cluster's
identity and the heartbeat settings, and never reach back into ``Cluster`` or ``World``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from consul_sim.clock import Clock
from consul_sim.connect.ca import ConnectCA
from consul_sim.net import Network
from consul_sim.rand import SimRandom
from consul_sim.scheduler import Scheduler
from consul_sim.store import Store

HEARTBEAT_INTERVAL = 15.0
"""Consul's peering heartbeat period, in seconds (``peerstream/stream_resources.go``)."""
HEARTBEAT_TIMEOUT = 120.0
"""A stream with no heartbeat for this long is closed with ``heartbeat timeout``."""


@dataclass(frozen=True)
class Heartbeats:
    """How often a stream end sends a heartbeat, and how long it waits for one."""

    interval: float = HEARTBEAT_INTERVAL
    timeout: float = HEARTBEAT_TIMEOUT

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.timeout <= 0:
            raise ValueError("heartbeat interval and timeout must be positive")


@dataclass(frozen=True)
class PeeringContext:
    """One cluster's identity and the world's shared machinery, as peering sees them."""

    name: str
    """The cluster's name: its node name on the simulated network."""
    datacenter: str
    server_name: str
    """``server.<dc>.peering.<trust domain>``: what a token names as the acceptor's servers."""
    store: Store
    ca: ConnectCA
    clock: Clock
    scheduler: Scheduler
    network: Network
    lock: threading.RLock
    rand: SimRandom
    """The seeded stream for this cluster's peering secrets and IDs."""
    heartbeats: Heartbeats

    def now(self) -> float:
        return self.clock.now()

    @property
    def crashed(self) -> bool:
        """A crashed cluster's servers neither send nor receive; its timers do nothing."""
        return self.name in self.network.crashed
