"""Peering calls to another process wait off the world's thread and land on a later step.

Two in-process worlds stand for two ``consul-sim serve`` processes: each network's remote
transport is a :class:`Bridge` into the other world, as ``/_sim/peerstream`` would be, except
that calls handed over with ``begin`` wait until the test lets them run. That makes the
in-between states a slow peer produces observable without a socket or a wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from consul_sim.errors import ConsulError
from consul_sim.net import Outcome, RemoteCall, Unreachable
from consul_sim.world import Cluster, World

Done = Callable[[RemoteCall], None]


class Bridge:
    """A remote transport into ``other``; calls from ``begin`` are held until released."""

    def __init__(self, other: World) -> None:
        self.other = other
        self.held: list[tuple[RemoteCall, Done]] = []

    def call(
        self, source: str, destination: str, message: object, timeout: float | None = None
    ) -> object:
        with self.other.lock:
            return self.other.network.call(source, destination, message)

    def send(self, source: str, destination: str, message: object, done: Outcome) -> None:
        try:
            self.call(source, destination, message)
        except Unreachable as exc:
            done(f"dropped: unreachable: {exc.reason}")
        except ConsulError as exc:
            done(f"error: {exc}")
        else:
            done("")

    def begin(self, call: RemoteCall, done: Done) -> None:
        self.held.append((call, done))

    def answer(self) -> None:
        """Let the oldest held call reach the other world and report back."""
        call, done = self.held.pop(0)
        done(call.run())

    def fail(self) -> None:
        """The oldest held call times out."""
        call, done = self.held.pop(0)
        done(call.fail("i/o timeout"))

    def close(self) -> None:
        pass


def own_address(cluster: Cluster, address: str) -> None:
    """Move the cluster to an address of its own, as serving it does (each world would
    otherwise give its first cluster the same one)."""
    network = cluster.world.network
    network.detach(cluster.peering.address)
    cluster.peering.address = network.attach(cluster.name, cluster.peering, address)


@pytest.fixture
def worlds() -> Iterator[tuple[World, World, Bridge]]:
    """(acceptor world, dialer world, the dialer's bridge to the acceptor)."""
    acceptor = World(clock="virtual", seed=31)
    dialer = World(clock="virtual", seed=32)
    own_address(acceptor.add_cluster("cluster-01"), "127.0.0.1:9501")
    own_address(dialer.add_cluster("cluster-02"), "127.0.0.1:9502")
    to_acceptor = Bridge(acceptor)
    dialer.network.remote = to_acceptor
    acceptor.network.remote = Bridge(dialer)
    try:
        yield acceptor, dialer, to_acceptor
    finally:
        acceptor.close()
        dialer.close()


def state(cluster: Cluster, peer: str) -> str:
    return str(cluster.peering.read(peer)["State"])


def imported(cluster: Cluster, peer: str) -> int:
    r = cluster.client.get("/v1/health/service/web", params={"peer": peer})
    assert r.status_code == 200, r.text
    return len(r.json())


def outcomes(world: World, kind: str) -> list[str]:
    return [e.outcome for e in world.network.journal if e.kind == kind]


def establish(acceptor: World, dialer: World) -> None:
    one = acceptor.cluster("cluster-01")
    r = one.client.put("/v1/agent/service/register", json={"Name": "web", "Port": 80})
    assert r.status_code == 200, r.text
    r = one.client.put(
        "/v1/config",
        json={
            "Kind": "exported-services",
            "Name": "default",
            "Services": [{"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}],
        },
    )
    assert r.status_code == 200, r.text
    token = one.peering.generate_token(peer="cluster-02")
    dialer.cluster("cluster-02").peering.establish("cluster-01", token)


def test_the_dialer_is_establishing_until_the_open_is_answered(
    worlds: tuple[World, World, Bridge],
) -> None:
    acceptor, dialer, bridge = worlds
    establish(acceptor, dialer)
    two = dialer.cluster("cluster-02")
    assert state(two, "cluster-01") == "ESTABLISHING"
    assert dialer.network.awaiting_replies() == 1
    # The acceptor takes the open and pushes its exports before the dialer hears back.
    bridge.answer()
    acceptor.settle()
    assert state(acceptor.cluster("cluster-01"), "cluster-02") == "ACTIVE"
    assert (state(two, "cluster-01"), imported(two, "cluster-01")) == ("ESTABLISHING", 0)
    dialer.step()
    assert dialer.network.awaiting_replies() == 0
    assert (state(two, "cluster-01"), imported(two, "cluster-01")) == ("ACTIVE", 1)
    assert outcomes(dialer, "OpenStream") == ["ok"]


def test_an_open_that_times_out_redials_after_the_backoff(
    worlds: tuple[World, World, Bridge],
) -> None:
    acceptor, dialer, bridge = worlds
    establish(acceptor, dialer)
    two = dialer.cluster("cluster-02")
    bridge.fail()
    dialer.step()
    assert state(two, "cluster-01") == "ESTABLISHING"
    assert bridge.held == []
    dialer.advance(1.9)
    assert bridge.held == []
    dialer.advance(0.1)  # Consul's first backoff: 2 s (1 << failedAttempts, from 1)
    assert len(bridge.held) == 1
    bridge.answer()
    acceptor.settle()
    dialer.step()
    assert (state(two, "cluster-01"), imported(two, "cluster-01")) == ("ACTIVE", 1)
    assert outcomes(dialer, "OpenStream") == [
        "unreachable: i/o timeout",
        "ok",
    ]


def test_a_delete_is_deleting_at_once_and_terminates_the_peer_when_it_lands(
    worlds: tuple[World, World, Bridge],
) -> None:
    acceptor, dialer, bridge = worlds
    establish(acceptor, dialer)
    bridge.answer()
    acceptor.settle()
    dialer.step()
    two, one = dialer.cluster("cluster-02"), acceptor.cluster("cluster-01")
    two.peering.deletion_delay = 10.0
    two.peering.delete("cluster-01")
    assert state(two, "cluster-01") == "DELETING"
    assert len(bridge.held) == 1
    assert state(one, "cluster-02") == "ACTIVE"
    bridge.answer()
    assert state(one, "cluster-02") == "TERMINATED"
    dialer.step()
    assert outcomes(dialer, "Terminated") == ["ok"]


def test_an_open_answered_after_a_delete_changes_nothing(
    worlds: tuple[World, World, Bridge],
) -> None:
    acceptor, dialer, bridge = worlds
    establish(acceptor, dialer)
    two = dialer.cluster("cluster-02")
    two.peering.deletion_delay = 10.0
    two.peering.delete("cluster-01")
    bridge.answer()
    dialer.step()
    assert state(two, "cluster-01") == "DELETING"
    assert two.peering.streams.ends == {}
    dialer.advance(64.0)
    assert bridge.held == []
