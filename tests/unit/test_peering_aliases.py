"""One acceptor peering, two dialer peerings: a second name for the same peer (an alias).

Consul's acceptor keeps one stream per peering: its stream tracker refuses a second while the
first is connected (``there is an active stream for the given PeerID``, stream_tracker.go), so
the dialer that came first keeps the stream, and when the acceptor deletes the peering that
stream carries the ``Terminated`` to it (stream_resources.go). Driven through the Python API.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consul_sim.world import Cluster, World


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=11)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def pair(world: World) -> tuple[Cluster, Cluster]:
    return world.add_cluster("cluster-01"), world.add_cluster("cluster-02")


def states(cluster: Cluster) -> dict[str, str]:
    return {p["Name"]: p["State"] for p in cluster.peering.list()}


def test_a_second_dialer_name_for_the_same_acceptor_peering_does_not_take_its_stream(
    world: World, pair: tuple[Cluster, Cluster]
) -> None:
    acceptor, dialer = pair
    dialer.peering.establish(peer="first", token=acceptor.peering.generate_token(peer="cluster-02"))
    world.settle()
    dialer.peering.establish(peer="alias", token=acceptor.peering.generate_token(peer="cluster-02"))
    world.settle()
    assert states(dialer) == {"alias": "ESTABLISHING", "first": "ACTIVE"}
    assert states(acceptor) == {"cluster-02": "ACTIVE"}
    first = dialer.peering.tracker.get(dialer.peering.read("first")["ID"])
    assert first is not None and first.connected
    acceptor_id = acceptor.peering.read("cluster-02")["ID"]
    refusals = [e.outcome for e in world.network.journal if e.kind == "OpenStream"]
    assert refusals[-1] == (
        "error: rpc error: code = Unknown desc = failed to register stream: "
        f'there is an active stream for the given PeerID "{acceptor_id}"'
    )


def test_deleting_the_acceptor_peering_terminates_every_dialer_name_of_it(
    world: World, pair: tuple[Cluster, Cluster]
) -> None:
    acceptor, dialer = pair
    dialer.peering.establish(peer="first", token=acceptor.peering.generate_token(peer="cluster-02"))
    world.settle()
    dialer.peering.establish(peer="alias", token=acceptor.peering.generate_token(peer="cluster-02"))
    world.settle()
    acceptor.peering.delete("cluster-02")
    world.settle()
    shown = states(dialer)
    assert shown["first"] == "TERMINATED"
    assert shown["alias"] != "ACTIVE"
    world.advance(600)
    assert states(dialer)["first"] == "TERMINATED"
    assert states(dialer)["alias"] != "ACTIVE"
    assert states(acceptor) == {}
