"""Server mode: every cluster of a world on its own loopback port, in one process.

All uvicorn servers run on the world's single event-loop thread (the same loop in-process clients
use), beside a ticker that fires due timers and steps the world (delivers due messages, lets
clusters push their changes), so TTL checks expire and replication moves even when no request
arrives. ``ServedWorld`` is used both by ``consul-sim serve`` (which waits for Ctrl-C in the
foreground) and by tests that need a real socket (which stop it when done).

Its life has one way through: ``start()`` serves (a second call, or ``with`` after an explicit
start, finds it serving and does nothing), ``stop()`` ends it (again: nothing) and a stopped one
cannot start again. Stopping answers the blocking queries still waiting - with what they have,
as Consul's ``blockingQuery`` does when its state store is abandoned - so uvicorn's graceful
shutdown finds every connection finished within a few of its 0.1 s polls instead of waiting out
the query's ``wait`` or having its tasks destroyed with the loop.

Served, a cluster's peering address is its HTTP address, so a token it generates names where a
cluster in another process can reach it, and traffic for addresses no local cluster owns goes
over HTTP (``consul_sim.api.peerstream``). The listening sockets are bound before anything is
served, so the address is in place before the first request can ask for a token.

A cluster may also be given a peering port (``consul-sim agent`` gives its ``ports.grpc_tls``,
else ``ports.grpc``): Consul's servers take peer streams on their gRPC port and put that address,
not the HTTP one, in the tokens they generate (``agent/consul/peering_backend.go``,
``GetLocalServerAddresses``: the gRPC TLS port when set, else the plaintext gRPC port). The
simulator serves the same app there, so the token's ``ServerAddresses`` are what a Consul user
would read and a peer in another process still reaches the stream endpoint through them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import socket
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import uvicorn
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from consul_sim.api.http import closing_on
from consul_sim.api.http11 import MAX_REQUEST_HEAD, GoLimitsH11Protocol
from consul_sim.api.inprocess import front_door
from consul_sim.api.peerstream import HTTPTransport
from consul_sim.ports import listen_tcp
from consul_sim.world import World

DEFAULT_CLUSTERS = (("cluster-01", 8500), ("cluster-02", 8501))
TICK_MAX = 0.25
REPLY_POLL = 0.02
"""Seconds between steps while a call to another process is out, so its answer (applied on
a world step) is acted on promptly rather than on the next quarter-second tick."""


SIM_TOKEN_HEADER = "X-Sim-Token"
SIM_TOKEN_DENIED = "Permission denied: /_sim/ endpoints need the X-Sim-Token this server was given"
PEER_KEY = "peering:"
"""Prefix of a cluster's peering listener among the served sockets (cluster names have no colon)."""
UNGATED = ("/_sim/peerstream",)
"""Peer traffic between processes, which has its own authentication, not the sim token."""


class _Closable:
    """The served face of a cluster's app: its requests see the server's closing event, and
    with a sim token the simulator's control endpoints (``/_sim/``, not the peer stream)
    answer 403 to a request without it. Only served ports are gated: in-process clients
    belong to whoever holds the world already."""

    def __init__(self, app: ASGIApp, closing: threading.Event, sim_token: str = "") -> None:
        self.app = app
        self.closing = closing
        self.sim_token = sim_token.encode()

    def _denied(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if not self.sim_token or not path.startswith("/_sim/") or path in UNGATED:
            return False
        given = dict(scope.get("headers", ())).get(SIM_TOKEN_HEADER.lower().encode(), b"")
        return not hmac.compare_digest(given, self.sim_token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._denied(scope):
            await PlainTextResponse(SIM_TOKEN_DENIED, status_code=403)(scope, receive, send)
            return
        with closing_on(self.closing):
            await self.app(scope, receive, send)


class ServedWorld:
    """Serve ``{cluster name: port}`` on ``host``; port 0 picks a free port."""

    def __init__(
        self,
        world: World,
        ports: dict[str, int],
        host: str = "127.0.0.1",
        *,
        sim_token: str = "",
        listening: Mapping[str, socket.socket] | None = None,
        peer_ports: Mapping[str, int] | None = None,
    ) -> None:
        """``sim_token``, when not empty, is what ``/_sim/`` requests must carry in
        ``X-Sim-Token`` (``consul-sim serve -sim-token``). ``listening`` holds sockets already
        listening (from ``consul_sim.ports.listen_tcp``) for some of the clusters; the served
        world owns and closes them. ``peer_ports`` gives some clusters a second listener whose
        address becomes their peering address; one that cannot be bound is left out (the
        cluster then peers through its HTTP address) and named in ``peer_port_errors``."""
        self.world = world
        self.requested_peer_ports = dict(peer_ports or {})
        self.peer_ports: dict[str, int] = {}
        self.peer_port_errors: dict[str, str] = {}
        self.sim_token = sim_token
        self.host = host
        self.requested = dict(ports)
        self.ports: dict[str, int] = {}
        self._servers: dict[str, uvicorn.Server] = {}
        self._futures: list[concurrent.futures.Future[None]] = []
        self._ticker: concurrent.futures.Future[None] | None = None
        self._sockets: list[socket.socket] = []
        self._listening = dict(listening or {})
        self._transport: HTTPTransport | None = None
        self._stopping = False
        self._started = False
        self._closing = threading.Event()
        self._lifecycle = threading.Lock()
        self._following = False

    def _bind(self) -> dict[str, socket.socket]:
        """Listen on every port first, so the ports are known before serving starts; nothing is
        left open when one fails. A socket the caller already listens on (``listening``) is
        used as it is (``consul-sim agent`` listens before it imports the web stack)."""
        bound: dict[str, socket.socket] = {}
        try:
            for name, port in self.requested.items():
                sock = self._listening.pop(name, None) or listen_tcp(self.host, port)
                self._sockets.append(sock)
                sock.setblocking(False)
                bound[name] = sock
        except OSError:
            self._close_sockets()
            raise
        for name, port in self.requested_peer_ports.items():
            try:
                sock = listen_tcp(self.host, port)
            except OSError as exc:
                self.peer_port_errors[name] = str(exc)
                continue
            self._sockets.append(sock)
            sock.setblocking(False)
            bound[PEER_KEY + name] = sock
        return bound

    def _close_sockets(self) -> None:
        for sock in [*self._sockets, *self._listening.values()]:
            sock.close()
        self._sockets.clear()
        self._listening.clear()

    def _publish_addresses(self) -> None:
        """Each served cluster's HTTP address becomes its peering address (the old one keeps
        working for peerings made before), and remote addresses go over HTTP."""
        world = self.world
        with world.lock:
            network = world.network
            for name, port in self.ports.items():
                cluster = world.cluster(name)
                cluster.http_address = f"{self.host}:{port}"
                address = f"{self.host}:{self.peer_ports.get(name, port)}"
                cluster.peering.address = network.attach(name, cluster.peering, address)
            self._transport = HTTPTransport(network)
            network.remote = self._transport
            if not self._following:
                self._following = True
                world.on_replaced(self._follow)

    def _follow(self) -> None:
        """The world was reset or loaded in place (``/_sim/reset``, ``PUT /_sim/snapshot``):
        its new clusters are served where the old ones were."""
        if not self._started or self._stopping:
            return
        world = self.world
        for name, port in self.ports.items():
            cluster = world.clusters.get(name)
            if cluster is not None:
                cluster.http_address = f"{self.host}:{port}"
                address = f"{self.host}:{self.peer_ports.get(name, port)}"
                cluster.peering.address = world.network.attach(name, cluster.peering, address)
        world.network.remote = self._transport

    def start(self, timeout: float = 10.0) -> ServedWorld:
        """Serve every cluster; a ServedWorld already serving is left as it is."""
        with self._lifecycle:
            if self._stopping:
                raise RuntimeError("this ServedWorld was stopped; serve the world with a new one")
            if not self._started:
                self._started = True
                self._start(timeout)
        return self

    def _start(self, timeout: float) -> None:
        door = front_door(self.world)
        loop = door.loop
        for name in self.requested:
            self.world.cluster(name)
        sockets = self._bind()
        ports = {key: int(sock.getsockname()[1]) for key, sock in sockets.items()}
        self.ports = {name: ports[name] for name in self.requested}
        self.peer_ports = {
            key.removeprefix(PEER_KEY): port
            for key, port in ports.items()
            if key.startswith(PEER_KEY)
        }
        self._publish_addresses()
        for key in sockets:
            cluster = self.world.cluster(key.removeprefix(PEER_KEY))
            app = _Closable(door.app(cluster), self._closing, self.sim_token)
            config = uvicorn.Config(
                app,
                host=self.host,
                port=ports[key],
                log_level="warning",
                lifespan="off",
                access_log=False,
                http=GoLimitsH11Protocol,
                h11_max_incomplete_event_size=MAX_REQUEST_HEAD,
            )
            server = uvicorn.Server(config)
            self._servers[key] = server
            serving = server.serve(sockets=[sockets[key]])
            self._futures.append(asyncio.run_coroutine_threadsafe(serving, loop.loop))
        self._ticker = asyncio.run_coroutine_threadsafe(self._tick(), loop.loop)
        self._futures.append(self._ticker)
        waited = 0.0
        while not all(s.started for s in self._servers.values()):
            for future in self._futures:
                if future.done() and future.exception() is not None:
                    self._stop(timeout)
                    raise RuntimeError(f"server failed to start: {future.exception()}")
                if future.done() and not self._stopping:
                    self._stop(timeout)
                    raise RuntimeError("server failed to start (is the port in use?)")
            if waited > timeout:
                self._stop(timeout)
                raise TimeoutError("servers did not start in time")
            concurrent.futures.wait(self._futures, timeout=0.02)
            waited += 0.02

    async def _tick(self) -> None:
        while not self._stopping:
            self.world.run_due()
            self.world.step()
            now = self.world.clock.now()
            upcoming = [
                t
                for t in (self.world.scheduler.next_deadline(), self.world.network.next_delivery())
                if t is not None
            ]
            delay = TICK_MAX
            if upcoming:
                delay = min(max(min(upcoming) - now, 0.001), TICK_MAX)
            if self.world.network.awaiting_replies():
                delay = min(delay, REPLY_POLL)
            await asyncio.sleep(delay)

    def accepted_sockets(self) -> list[Any]:
        """The server ends of the open client connections, for checking socket options."""
        out: list[Any] = []
        for server in self._servers.values():
            for connection in list(server.server_state.connections):
                transport = getattr(connection, "transport", None)
                sock = transport.get_extra_info("socket") if transport is not None else None
                if sock is not None:
                    out.append(sock)
        return out

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.ports[name]}"

    def address(self, name: str) -> str:
        """``host:port`` of a served cluster, as ``CONSUL_HTTP_ADDR`` takes it."""
        return f"{self.host}:{self.ports[name]}"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and give the clusters their in-process addresses back; a ServedWorld
        that is stopped already (or never started) is left as it is."""
        with self._lifecycle:
            if not self._stopping:
                self._stop(timeout)

    def _stop(self, timeout: float) -> None:
        """Answer the waiting blocking queries, let uvicorn close its connections, end the
        ticker, then release the sockets and the clusters' served addresses."""
        self._stopping = True
        self._closing.set()
        for cluster in list(self.world.clusters.values()):
            cluster.store.watches.notify()
        for server in self._servers.values():
            server.should_exit = True
        if self._ticker is not None:
            self._ticker.cancel()
        concurrent.futures.wait(self._futures, timeout=timeout)
        self._close_sockets()
        with self.world.lock:
            if self._transport is not None and self.world.network.remote is self._transport:
                self.world.network.remote = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        for name in self.ports:
            self.world.cluster(name).http_address = None

    def __enter__(self) -> ServedWorld:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_world(
    clusters: list[tuple[str, int]], *, clock: str = "wall", seed: int | None = None
) -> tuple[World, ServedWorld]:
    """Create a world with the named clusters and start serving them."""
    world = World(clock="virtual" if clock == "virtual" else "wall", seed=seed)
    for name, _ in clusters:
        world.add_cluster(name)
    served = ServedWorld(world, dict(clusters)).start()
    return world, served
