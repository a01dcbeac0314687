"""World and Cluster: the Python API that creates simulated clusters and drives their time.

A ``World`` owns the clock, the seeded random source, the timer scheduler and one lock that every
cluster's store shares (in-process clients run each app on its own thread). A ``Cluster`` is one
Consul datacenter: a dev-mode agent node, a store, and a FastAPI app reachable through
``cluster.client`` (an ``httpx.Client`` over ASGI, no socket) or on a port via
``consul_sim.server``.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from consul_sim.catalog.agent import LocalAgent
from consul_sim.clock import Clock, VirtualClock, WallClock
from consul_sim.config.service import ConfigEntries
from consul_sim.connect.ca import ConnectCA
from consul_sim.models.catalog import (
    PASSING,
    SERF_ALIVE_OUTPUT,
    SERF_CHECK_ID,
    SERF_CHECK_NAME,
    HealthCheck,
    Node,
    NodeService,
)
from consul_sim.net import Network
from consul_sim.peering.service import PeeringService
from consul_sim.rand import SimRandom
from consul_sim.scheduler import Scheduler
from consul_sim.store import Store
from consul_sim.version import CONSUL_VERSION

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI

    from consul_sim.api.inprocess import LoopThread

ClockChoice = Literal["wall", "virtual"] | Clock

AGENT_ADDRESS = "127.0.0.1"
SERVER_RPC_PORT = 8300
SERF_LAN_PORT = 8301


class Cluster:
    """One simulated Consul datacenter with a single dev-mode server agent."""

    def __init__(self, world: World, name: str, *, node_name: str | None = None) -> None:
        self.world = world
        self.name = name
        self.datacenter = name
        self.rand = world.rand.derive(f"cluster/{name}")
        self.node_name = node_name or f"{name}-server"
        self.node_id = self.rand.uuid()
        self.address = AGENT_ADDRESS
        self.started_at = world.clock.now()
        self.store = Store(world.lock)
        self.agent = LocalAgent(self.store, world.scheduler, self.datacenter, self.node_name)
        self.config = ConfigEntries(self.store)
        """Config entries: ``write(entry | dict | hcl_text)``, ``read``, ``list``, ``delete``."""
        self.http_address: str | None = None
        # Peering identity: no Connect CA yet, so the trust domain is a seeded UUID of its own.
        self.trust_domain = f"{world.rand.derive(f'cluster/{name}/peering').uuid()}.consul"
        self.ca = ConnectCA(
            self.store,
            world.clock,
            world.rand.derive(f"cluster/{name}/connect-ca"),
            self.trust_domain,
        )
        self.peering_server_name = f"server.{self.datacenter}.peering.{self.trust_domain}"
        self.peering = PeeringService(self)
        self.peering_address = world.network.attach(name, self.peering)
        self._app: FastAPI | None = None
        self._client: httpx.Client | None = None
        self._bootstrap()

    def _bootstrap(self) -> None:
        """What `consul agent -dev` has in its catalog the moment it is leader."""
        with self.store.txn() as txn:
            cat = self.store.catalog
            cat.ensure_node(
                txn,
                Node(
                    id=self.node_id,
                    node=self.node_name,
                    address=self.address,
                    datacenter=self.datacenter,
                    tagged_addresses={
                        "lan": self.address,
                        "lan_ipv4": self.address,
                        "wan": self.address,
                        "wan_ipv4": self.address,
                    },
                    meta={"consul-network-segment": "", "consul-version": CONSUL_VERSION},
                ),
            )
            cat.ensure_service(
                txn,
                self.node_name,
                NodeService(
                    id="consul",
                    service="consul",
                    port=SERVER_RPC_PORT,
                    meta={
                        "grpc_port": "8502",
                        "grpc_tls_port": "8503",
                        "non_voter": "false",
                        "raft_version": "3",
                        "read_replica": "false",
                        "serf_protocol_current": "2",
                        "serf_protocol_max": "5",
                        "serf_protocol_min": "1",
                        "version": CONSUL_VERSION,
                    },
                ),
            )
            cat.ensure_check(
                txn,
                HealthCheck(
                    node=self.node_name,
                    check_id=SERF_CHECK_ID,
                    name=SERF_CHECK_NAME,
                    status=PASSING,
                    output=SERF_ALIVE_OUTPUT,
                ),
            )

    @property
    def leader_address(self) -> str:
        return f"{self.address}:{SERVER_RPC_PORT}"

    @property
    def app(self) -> FastAPI:
        if self._app is None:
            from consul_sim.api.app import create_app

            self._app = create_app(self)
        return self._app

    @property
    def client(self) -> httpx.Client:
        """An httpx.Client that calls this cluster's API in-process, with no socket."""
        if self._client is None:
            from consul_sim.api.inprocess import in_process_client

            self._client = in_process_client(self.app, self.world.loop, "http://127.0.0.1:8500")
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __repr__(self) -> str:
        return f"<Cluster {self.name!r} node={self.node_name!r}>"


class World:
    """Every simulated cluster, and the time they share."""

    def __init__(self, *, clock: ClockChoice = "wall", seed: int | str | None = None) -> None:
        if clock == "wall":
            self.clock: Clock = WallClock()
        elif clock == "virtual":
            self.clock = VirtualClock()
        else:
            self.clock = clock
        self.rand = SimRandom(seed, "world")
        self.seed = self.rand.seed
        self.lock = threading.RLock()
        self.scheduler = Scheduler(self.clock)
        self.clusters: dict[str, Cluster] = {}
        self.network = Network(self.clock)
        self._loop: LoopThread | None = None

    @property
    def loop(self) -> LoopThread:
        """The event-loop thread in-process clients run the apps on (started on first use)."""
        if self._loop is None:
            from consul_sim.api.inprocess import LoopThread

            self._loop = LoopThread()
        return self._loop

    # -- clusters -----------------------------------------------------------------------------
    def add_cluster(self, name: str, *, node_name: str | None = None) -> Cluster:
        with self.lock:
            if name in self.clusters:
                raise ValueError(f"cluster {name!r} already exists")
            cluster = Cluster(self, name, node_name=node_name)
            self.clusters[name] = cluster
            return cluster

    def cluster(self, name: str) -> Cluster:
        try:
            return self.clusters[name]
        except KeyError:
            raise KeyError(f"no cluster named {name!r}") from None

    def __getitem__(self, name: str) -> Cluster:
        return self.cluster(name)

    # -- time ---------------------------------------------------------------------------------
    def run_due(self) -> int:
        """Fire every timer that is due on the world's clock."""
        with self.lock:
            return self.scheduler.run_due()

    def advance(self, seconds: float) -> None:
        """Move virtual time forward, firing each timer at its own moment, in order."""
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise RuntimeError("advance() needs a world with clock='virtual'")
        if seconds < 0:
            raise ValueError("time never goes backwards")
        with self.lock:
            target = clock.now() + seconds
            while (timer := self.scheduler.pop_due(target)) is not None:
                clock.set(max(timer.when, clock.now()))
                timer.callback()
            clock.set(target)
        self._wake_watchers()

    def _wake_watchers(self) -> None:
        """Blocking queries re-check their deadlines when virtual time moves."""
        for cluster in list(self.clusters.values()):
            cluster.store.watches.notify()

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        for cluster in self.clusters.values():
            cluster.close()
        if self._loop is not None:
            self._loop.stop()
            self._loop = None

    def __enter__(self) -> World:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
