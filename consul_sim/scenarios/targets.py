"""What a scenario runs against: a fresh in-process world, or clusters served over HTTP.

Both give the runner the same four things: an HTTP client per cluster, a way to run a
``consul-sim`` command line against a cluster, the address a person would type, and how to wait
for replication. In process the world is on the virtual clock and ``settle()`` delivers every
message now, so a run is deterministic from its seed and takes no wall time; served (by
``scenario run -serve`` or anyone's ``consul-sim serve`` reached with ``-http-addr``) the
servers' own ticker replicates, and the runner asks again until a fact holds or ``wait`` runs
out; in process it lets virtual time pass instead, a second at a time, so timers fire.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import httpx

from consul_sim.cli.command import ClientFactory
from consul_sim.cli.main import main

if TYPE_CHECKING:
    from consul_sim.world import World

FIRST_PORT = 8500
TICK = 1.0
"""Virtual seconds an in-process run lets pass while it waits for a fact."""
POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class CommandRun:
    code: int
    stdout: str
    stderr: str


class Target(Protocol):
    def address(self, cluster: str) -> str: ...

    def client(self, cluster: str) -> httpx.Client: ...

    def command(self, cluster: str, argv: list[str]) -> CommandRun: ...

    def settle(self) -> None: ...

    def tick(self) -> float:
        """Let some time pass before a fact is asked for again; how many seconds it was."""
        ...

    def close(self) -> None: ...


class InProcessTarget:
    """A world of our own (virtual clock unless given one): no socket, no waiting."""

    def __init__(self, world: World, clusters: tuple[str, ...]) -> None:
        self.world = world
        self.clusters = clusters
        for name in clusters:
            if name not in world.clusters:
                world.add_cluster(name)

    def address(self, cluster: str) -> str:
        """The address ``scenario run -serve`` would give it, so printed lines stay copyable."""
        return f"127.0.0.1:{FIRST_PORT + self.clusters.index(cluster)}"

    def client(self, cluster: str) -> httpx.Client:
        return self.world[cluster].client

    def command(self, cluster: str, argv: list[str]) -> CommandRun:
        client = self.world[cluster].client
        return _run_command(argv, {}, lambda _url: client)

    def settle(self) -> None:
        self.world.settle()

    def tick(self) -> float:
        """One virtual second: timers due in it fire (a deletion's cleanup, a redial)."""
        self.world.advance(TICK)
        return TICK

    def close(self) -> None:
        """The world belongs to whoever made it; nothing of ours to close."""


class HTTPTarget:
    """Clusters that are served already: each reached at its ``host:port``."""

    def __init__(self, addresses: Mapping[str, str], timeout: float = 10.0) -> None:
        self.addresses = dict(addresses)
        self._clients = {
            name: httpx.Client(base_url=f"http://{address}", timeout=timeout)
            for name, address in self.addresses.items()
        }

    @classmethod
    def discover(cls, address: str) -> HTTPTarget:
        """Ask the cluster at ``address`` for its world (``GET /_sim/world``): every cluster it
        serves, at the address it serves it on."""
        address = address.removeprefix("http://").rstrip("/")
        with httpx.Client(base_url=f"http://{address}", timeout=10) as http:
            answer = http.get("/_sim/world")
        if answer.status_code != 200:
            raise ValueError(f"{address} answered /_sim/world with {answer.status_code}")
        found = {
            c["Name"]: c["HTTPAddress"].removeprefix("http://")
            for c in answer.json()["Clusters"]
            if c.get("HTTPAddress")
        }
        if not found:
            raise ValueError(f"{address} serves no cluster with an HTTP address")
        return cls(found)

    def address(self, cluster: str) -> str:
        return self.addresses[cluster]

    def client(self, cluster: str) -> httpx.Client:
        return self._clients[cluster]

    def command(self, cluster: str, argv: list[str]) -> CommandRun:
        return _run_command(argv, {"CONSUL_HTTP_ADDR": self.addresses[cluster]}, None)

    def settle(self) -> None:
        """Served clusters replicate on their own ticker: the runner polls instead."""

    def tick(self) -> float:
        time.sleep(POLL_INTERVAL)
        return POLL_INTERVAL

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


def _run_command(argv: list[str], env: dict[str, str], factory: ClientFactory | None) -> CommandRun:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        argv,
        client_factory=factory,
        env=env,
        stdout=out,
        stderr=err,
        stdin=io.BytesIO(),
    )
    return CommandRun(code, out.getvalue(), err.getvalue())
