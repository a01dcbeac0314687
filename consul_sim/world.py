"""World and Cluster: the Python API that creates simulated clusters and drives their time.

A ``World`` owns the clock, the seeded random source, the timer scheduler, the network and one
lock that every cluster's store shares. A ``Cluster`` is one Consul datacenter: a dev-mode agent
node, a store, its Connect CA, its peering service, and ``cluster.client``, an ``httpx.Client``
that calls the cluster's HTTP API in-process (no socket), or a port via ``consul_sim.server``.

The world builds no HTTP app and no client itself: that is :mod:`consul_sim.api`'s job. The
world only knows a :class:`~consul_sim.frontdoor.FrontDoor` and finds the installed one through
the ``consul_sim.front_door`` entry point the first time a client is asked for, so the domain
stays importable, and fast to import, without FastAPI, Starlette or httpx.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable, Mapping
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from consul_sim.acl import ACLResolver
from consul_sim.catalog.agent import LocalAgent
from consul_sim.clock import Clock, VirtualClock, WallClock
from consul_sim.connect.ca import ConnectCA
from consul_sim.faults import WorldFaults
from consul_sim.frontdoor import FRONT_DOOR_GROUP as FRONT_DOOR_GROUP  # re-exported
from consul_sim.frontdoor import FRONT_DOOR_NAME as FRONT_DOOR_NAME  # re-exported
from consul_sim.frontdoor import FrontDoor as FrontDoor  # re-exported
from consul_sim.frontdoor import installed_front_door as installed_front_door  # re-exported
from consul_sim.journal import DEFAULT_JOURNAL_SIZE
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
from consul_sim.peering.context import (
    HEARTBEAT_INTERVAL,
    HEARTBEAT_TIMEOUT,
    Heartbeats,
    PeeringContext,
)
from consul_sim.peering.service import PeeringService
from consul_sim.ports import SERVER_RPC_PORT
from consul_sim.rand import SimRandom
from consul_sim.scheduler import Scheduler
from consul_sim.store import Store
from consul_sim.version import CONSUL_VERSION

if TYPE_CHECKING:
    import httpx  # noqa: TID251 (a type only: the world never imports httpx at run time)

    from consul_sim.calls import CallResult
    from consul_sim.config.service import ConfigEntries
    from consul_sim.coordinates import Coordinates
    from consul_sim.events import UserEvents
    from consul_sim.explain import Explanation
    from consul_sim.operator import Operator
    from consul_sim.oracles import IndexMarks

ClockChoice = Literal["wall", "virtual"] | Clock

MAX_EVENTS_PER_ADVANCE = 1_000_000


class NotSettled(RuntimeError):
    """The world kept having work to do; the message ends with the journal's tail."""


AGENT_ADDRESS = "127.0.0.1"


class Cluster:
    """One simulated Consul datacenter with a single dev-mode server agent."""

    def __init__(
        self,
        world: World,
        name: str,
        *,
        node_name: str | None = None,
        acl_default_policy: str | None = None,
        node_id: str | None = None,
        node_meta: Mapping[str, str] | None = None,
        ca_cluster_id: str | None = None,
        acl_initial_management: str | None = None,
        connect_enabled: bool = True,
    ) -> None:
        """``connect_enabled`` is the agent's ``connect.enabled``: off, the Connect CA endpoints
        answer Consul's ``ErrConnectNotEnabled`` (``agent/consul/connect_ca_endpoint.go``).
        ``ca_cluster_id`` is ``connect.ca_config.cluster_id``: the CA's trust domain becomes
        ``<cluster_id>.consul`` (``agent/connect/ca``'s SpiffeIDSigning); ``node_id`` and
        ``node_meta`` are the agent's ``node_id`` and ``node_meta`` keys."""
        self.world = world
        self.name = name
        self.datacenter = name
        self.rand = world.rand.derive(f"cluster/{name}")
        self.node_name = node_name or f"{name}-server"
        self.node_id = self.rand.uuid()
        if node_id is not None:
            self.node_id = node_id
        self.node_meta = dict(node_meta or {})
        self.address = AGENT_ADDRESS
        self.started_at = world.clock.now()
        self.store = Store(world.lock)
        self.agent = LocalAgent(self.store, world.scheduler, self.datacenter, self.node_name)
        self.http_address: str | None = None
        self.connect_enabled = connect_enabled
        # Peering identity: no Connect CA yet, so the trust domain is a seeded UUID of its own.
        self.trust_domain = f"{world.rand.derive(f'cluster/{name}/peering').uuid()}.consul"
        if ca_cluster_id is not None:
            self.trust_domain = f"{ca_cluster_id}.consul"
        self.ca = ConnectCA(
            self.store,
            world.clock,
            world.rand.derive(f"cluster/{name}/connect-ca"),
            self.trust_domain,
            datacenter=self.datacenter,
        )
        """The Connect CA: ``roots()``, ``configuration()``, ``update_configuration(...)``,
        ``rotate()``, ``leaf(service)``."""
        self.peering_server_name = f"server.{self.datacenter}.peering.{self.trust_domain}"
        self.peering = PeeringService(
            PeeringContext(
                name=name,
                datacenter=self.datacenter,
                server_name=self.peering_server_name,
                store=self.store,
                ca=self.ca,
                clock=world.clock,
                scheduler=world.scheduler,
                network=world.network,
                lock=world.lock,
                rand=world.rand.derive(f"cluster/{name}/peering/secrets"),
                heartbeats=world.heartbeats,
            )
        )
        self.peering.address = world.network.attach(name, self.peering)
        self.peering.verify_peer_name = world.strict_peer_names
        self.acl = ACLResolver(
            world.rand.derive(f"cluster/{name}/acl"),
            enabled=acl_default_policy is not None,
            default_policy=acl_default_policy or "allow",
            store=self.store,
            clock=world.clock,
            datacenter=self.datacenter,
            initial_management=acl_initial_management,
        )
        """ACLs: disabled unless ``add_cluster(acl_default_policy=...)``; ``management_token``,
        ``create_token(rules)`` (Consul's rule language or a grant map)."""
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
                    meta={
                        **self.node_meta,
                        "consul-network-segment": "",
                        "consul-version": CONSUL_VERSION,
                    },
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

    def trust_bundle(self, peer: str) -> dict[str, Any] | None:
        """The trust bundle this cluster holds for ``peer`` (``TrustDomain``, ``PeerName``,
        ``RootPEMs``): what Consul serves only over gRPC (``consul_sim.connect.bundle``)."""
        from consul_sim.connect.bundle import trust_bundle

        _, record = self.peering.read_record(peer)
        return None if record is None else trust_bundle(record)

    @cached_property
    def config(self) -> ConfigEntries:
        """Config entries: ``write(entry | dict | hcl_text)``, ``read``, ``list``, ``delete``.
        Decoding and validation load on first use: replication reads the stored entries
        without them."""
        from consul_sim.config.service import ConfigEntries

        return ConfigEntries(self.store)

    @cached_property
    def events(self) -> UserEvents:
        """User events (``/v1/event/fire``, ``/v1/event/list``): this agent's recent ones."""
        from consul_sim.events import UserEvents

        return UserEvents(self.agent, self.rand.derive("events"), self.store.watches)

    @cached_property
    def coordinates(self) -> Coordinates:
        """Network coordinates (``/v1/coordinate/*``): batched LAN updates, the WAN view."""
        from consul_sim.coordinates import Coordinates

        return Coordinates(
            self.store,
            self.world.scheduler,
            self.world.clock,
            datacenter=self.datacenter,
            agent_node=self.node_name,
            started_at=self.started_at,
        )

    @cached_property
    def operator(self) -> Operator:
        """``/v1/operator/*``: the one server's Raft view, autopilot, keyring errors, usage."""
        from consul_sim.operator import Operator

        return Operator(
            self.store,
            node_id=self.node_id,
            node_name=self.node_name,
            datacenter=self.datacenter,
            raft_address=self.leader_address,
            version=CONSUL_VERSION,
            started_at=self.started_at,
        )

    @property
    def peering_address(self) -> str:
        """Where peers reach this cluster's peering service (the network address)."""
        return self.peering.address

    @property
    def client(self) -> httpx.Client:
        """An httpx.Client that calls this cluster's API in-process, with no socket."""
        if self._client is None:
            self._client = self.world.front_door.client(self)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __getstate__(self) -> dict[str, object]:
        """A snapshot keeps the cluster, not its HTTP client or the config view (both are
        made again on first use)."""
        state = self.__dict__.copy()
        state["_client"] = None
        state.pop("config", None)
        return state

    def __repr__(self) -> str:
        return f"<Cluster {self.name!r} node={self.node_name!r}>"


class World(WorldFaults):
    """Every simulated cluster, and the time they share."""

    strict_peer_names = False
    """See ``__init__``; a class default too, so a snapshot saved before the option reads
    as Consul's behaviour."""

    def __init__(
        self,
        *,
        clock: ClockChoice = "wall",
        seed: int | str | None = None,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        heartbeat_timeout: float = HEARTBEAT_TIMEOUT,
        journal_size: int = DEFAULT_JOURNAL_SIZE,
        strict_peer_names: bool = False,
    ) -> None:
        """``journal_size``: how many lines the network journal keeps (a ring; the oldest
        fall off and ``/_sim/events`` says how many). ``strict_peer_names``: every cluster
        refuses a peering token presented by a cluster whose name is not the peer name the
        token was generated for (the seed page's "exact name" rule). Consul does not check
        it (``peerstream/server.go``'s ``ExchangeSecret`` compares only the secret), so by
        default any cluster may use a valid token; either way the mismatch is journalled."""
        self.strict_peer_names = strict_peer_names
        self.heartbeats = Heartbeats(heartbeat_interval, heartbeat_timeout)
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
        self.network = Network(self.clock, self.rand.derive("net"), journal_size=journal_size)
        self._front_door: FrontDoor | None = None
        self._index_marks: IndexMarks | None = None
        self._replaced: list[Callable[[], None]] = []
        self._baseline: bytes | None = None
        try:
            self._baseline = self.snapshot()
        except (TypeError, AttributeError, pickle.PicklingError):
            # A clock of the caller's own that pickle cannot copy: the world works, it just
            # cannot be snapshotted, forked or reset (those say so when asked).
            pass

    @property
    def heartbeat_interval(self) -> float:
        return self.heartbeats.interval

    @property
    def heartbeat_timeout(self) -> float:
        return self.heartbeats.timeout

    @property
    def front_door(self) -> FrontDoor:
        """What ``cluster.client`` goes through: the installed in-process front door unless
        one was given with :meth:`use_front_door` (the server shares the one it serves with)."""
        if self._front_door is None:
            self._front_door = installed_front_door(self)
        return self._front_door

    def use_front_door(self, door: FrontDoor) -> None:
        """Install ``door`` before any client is made; it is closed with the world."""
        if self._front_door is not None and self._front_door is not door:
            raise RuntimeError("this world already has a front door")
        self._front_door = door

    def set_strict_peer_names(self, strict: bool) -> None:
        """Turn the strict peer-name rule on or off for every cluster, present and future
        (``serve -snapshot ... -strict-peer-names`` on a saved world)."""
        with self.lock:
            self.strict_peer_names = strict
            for cluster in self.clusters.values():
                cluster.peering.verify_peer_name = strict

    # -- clusters -----------------------------------------------------------------------------
    def add_cluster(
        self,
        name: str,
        *,
        node_name: str | None = None,
        acl_default_policy: str | None = None,
        node_id: str | None = None,
        node_meta: Mapping[str, str] | None = None,
        ca_cluster_id: str | None = None,
        acl_initial_management: str | None = None,
        connect_enabled: bool = True,
    ) -> Cluster:
        """``acl_default_policy`` ``"allow"`` or ``"deny"`` turns ACLs on; None leaves them off.
        ``acl_initial_management`` is the management token's SecretID
        (``acl.tokens.initial_management``); ``ca_cluster_id`` makes the trust domain
        ``<cluster_id>.consul``; ``connect_enabled=False`` is ``connect { enabled = false }``."""
        with self.lock:
            if name in self.clusters:
                raise ValueError(f"cluster {name!r} already exists")
            cluster = Cluster(
                self,
                name,
                node_name=node_name,
                acl_default_policy=acl_default_policy,
                node_id=node_id,
                node_meta=node_meta,
                ca_cluster_id=ca_cluster_id,
                acl_initial_management=acl_initial_management,
                connect_enabled=connect_enabled,
            )
            self.clusters[name] = cluster
            return cluster

    def cluster(self, name: str) -> Cluster:
        try:
            return self.clusters[name]
        except KeyError:
            raise KeyError(f"no cluster named {name!r}") from None

    def __getitem__(self, name: str) -> Cluster:
        return self.cluster(name)

    def call(
        self, source: tuple[str, str], destination: tuple[str | None, str] | str
    ) -> CallResult:
        """Would ``source`` (cluster, service) reach ``destination`` (the source's peer name
        or None for local, service)? ``.allowed`` and ``.reasons`` say, as ``/_sim/call``."""
        from consul_sim.calls import call_between  # a question few worlds ask

        with self.lock:
            return call_between(self.clusters, source, destination)

    # -- time ---------------------------------------------------------------------------------
    def run_due(self) -> int:
        """Fire every timer that is due on the world's clock."""
        with self.lock:
            return self.scheduler.run_due()

    def step(self) -> int:
        """One round: deliver every message due now, in ``(deliver_at, seq)`` order (answers
        they provoke wait for the next round), then let each live cluster, in name order,
        push what changed to its peers. Returns how many messages were delivered."""
        with self.lock:
            network = self.network
            delivered = network.deliver_due(self.clock.now(), upto_seq=network.last_message_seq)
            for name in sorted(self.clusters):
                if name not in network.crashed:
                    self.clusters[name].peering.reconcile()
        return delivered

    def _has_unsent(self) -> bool:
        return any(
            c.peering.has_unsent()
            for name, c in sorted(self.clusters.items())
            if name not in self.network.crashed
        )

    def pending(self) -> bool:
        """Messages still in flight (not held), or changes a cluster has yet to send."""
        with self.lock:
            return self.network.in_flight() > 0 or self._has_unsent()

    def settle(self, max_steps: int = 10_000) -> int:
        """Step until nothing is pending. Under the virtual clock, time moves to the next
        delivery when messages are in flight with latency (firing timers met on the way).
        Held messages do not count: they wait for ``release``. Lost ones are resent on the
        next heartbeat, which only time passing brings. Returns the number of rounds."""
        steps = 0
        while True:
            with self.lock:
                if not self.pending():
                    return steps
                if steps >= max_steps:
                    raise NotSettled(
                        f"world did not settle within {max_steps} steps; last messages:\n"
                        + self.network.tail()
                    )
                now = self.clock.now()
                if self.network.due(now) or self._has_unsent():
                    self.step()
                else:
                    upcoming = self.network.next_delivery()
                    assert upcoming is not None
                    if not isinstance(self.clock, VirtualClock):
                        raise NotSettled(
                            "messages are in flight with latency and the wall clock cannot be "
                            "moved; settle() them on a virtual clock or wait\n"
                            + self.network.tail()
                        )
                    self._advance_to(upcoming)
            steps += 1

    def advance(self, seconds: float) -> None:
        """Move virtual time forward, firing each timer and delivering each message at its
        own moment, in order, and letting clusters reconcile after each."""
        clock = self.clock
        if not isinstance(clock, VirtualClock):
            raise RuntimeError("advance() needs a world with clock='virtual'")
        if seconds < 0:
            raise ValueError("time never goes backwards")
        with self.lock:
            self._advance_to(clock.now() + seconds)
        self._wake_watchers()

    def _advance_to(self, target: float) -> None:
        clock = self.clock
        assert isinstance(clock, VirtualClock)
        for _ in range(MAX_EVENTS_PER_ADVANCE):
            times = [
                t
                for t in (self.scheduler.next_deadline(), self.network.next_delivery())
                if t is not None and t <= target
            ]
            if not times:
                break
            clock.set(max(min(times), clock.now()))
            self.scheduler.run_due()
            self.step()
        else:
            raise NotSettled(
                "too many events at one moment; last messages:\n" + self.network.tail()
            )
        clock.set(max(target, clock.now()))
        self.step()

    # -- oracles ------------------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Raise ``InvariantViolation`` (a readable diff) if the world breaks an invariant of
        :mod:`consul_sim.oracles`. Indexes are compared with what earlier calls saw."""
        from consul_sim.oracles import IndexMarks, check_invariants

        if self._index_marks is None:
            self._index_marks = IndexMarks()
        check_invariants(self, self._index_marks)

    def assert_converged(self, max_steps: int = 10_000) -> None:
        """Settle, then :meth:`check_invariants`."""
        self.settle(max_steps)
        self.check_invariants()

    def explain(self, *, service: str, source: str, consumer: str, token: str = "") -> Explanation:
        """Why ``service`` of cluster ``source`` is or is not visible in cluster ``consumer``
        (``.visible``, ``.reasons``), as ``GET /_sim/explain`` answers; ``token`` is the
        consumer-side ACL token a reader would use."""
        from consul_sim.explain import explain

        with self.lock:
            return explain(self, service=service, source=source, consumer=consumer, token=token)

    def _wake_watchers(self) -> None:
        """Blocking queries re-check their deadlines when virtual time moves."""
        for cluster in list(self.clusters.values()):
            cluster.store.watches.notify()

    # -- snapshots ----------------------------------------------------------------------------
    _PROCESS_BOUND = ("lock", "_front_door", "_replaced", "_baseline", "_index_marks")
    """What belongs to the process, not the world: never in a snapshot, kept by :meth:`load`."""

    def snapshot(self) -> bytes:
        """The whole world as bytes (see :mod:`consul_sim.snapshot`): :meth:`restore` makes
        a world that answers every read as this one does and continues identically."""
        from consul_sim import snapshot

        with self.lock:
            state = {k: v for k, v in self.__dict__.items() if k not in self._PROCESS_BOUND}
            return snapshot.dump(self, state)

    @classmethod
    def restore(cls, data: bytes) -> World:
        """A new world from :meth:`snapshot`'s bytes, with a lock and (on first use) a front
        door of its own; :meth:`reset` brings it back to this state. Raises ValueError for
        bytes that are not a snapshot of this consul-sim version. Runs pickle: restore only
        snapshots from a trusted source."""
        from consul_sim import snapshot

        world = cls.__new__(cls)
        lock = threading.RLock()
        world.__dict__ = snapshot.load(data, world, lock)  # as loaded: see snapshot._set_dict
        world.lock = lock
        world._front_door = None
        world._replaced = []
        world._index_marks = None
        world._baseline = bytes(data)
        return world

    def fork(self) -> World:
        """An independent copy of the world as it stands (same seed, same next steps)."""
        return World.restore(self.snapshot())

    def reset(self) -> None:
        """Back, in place, to the state the world was created (or restored) in, or the one
        :meth:`set_baseline` marked."""
        self.load(self.baseline)

    @property
    def baseline(self) -> bytes:
        """The snapshot :meth:`reset` returns to."""
        if self._baseline is None:
            raise RuntimeError(
                "this world has no state to reset to: its clock could not be snapshotted"
            )
        return self._baseline

    def set_baseline(self) -> None:
        """Make the state as it stands what :meth:`reset` returns to (``consul-sim serve``
        marks the world once its clusters are up)."""
        self._baseline = self.snapshot()

    def load(self, data: bytes) -> None:
        """Become, in place, the world in ``data``: the lock, the front door and whoever
        follows :meth:`on_replaced` stay, every cluster object is new. Nothing changes when
        the snapshot is refused (ValueError). Runs pickle: trusted snapshots only."""
        from consul_sim import snapshot

        with self.lock:
            state = snapshot.load(data, self, self.lock)
            old = list(self.clusters.values())
            self.__dict__.update(state)
            self._index_marks = None  # a loaded world's indexes may be lower: marks start over
            for cluster in old:
                # Blocked readers wake and answer; a client held from before keeps working,
                # its app now answering for the cluster of its name.
                cluster.store.watches.notify()
            for callback in list(self._replaced):
                callback()

    def on_replaced(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (under the world lock) after :meth:`load` or :meth:`reset`
        replaced the clusters: how a front door or a server follows them."""
        self._replaced.append(callback)

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        for cluster in self.clusters.values():
            cluster.close()
        if self._front_door is not None:
            self._front_door.close()
            self._front_door = None

    def __enter__(self) -> World:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
