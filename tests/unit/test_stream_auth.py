"""In one process, stream traffic is let in only with its stream's secret.

The attacks replayed over HTTP in ``tests/integration/test_peerstream_auth.py`` are replayed
here as message objects on the simulated network: the receiving stream end applies the same
rule, so a forged message is refused with Consul's ``PermissionDenied`` and changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from consul_sim.errors import RPCError
from consul_sim.models.catalog import Node, NodeService
from consul_sim.models.peering import Remote
from consul_sim.peering.replication import (
    EXPORTED_SERVICE_URL,
    TRUST_BUNDLE_URL,
    ExportedInstance,
    ExportedServicePayload,
    Heartbeat,
    ReplicationResponse,
    TrustBundlePayload,
)
from consul_sim.peering.service import OpenStream, Terminated
from consul_sim.peering.streamauth import mac_matches, stream_mac
from consul_sim.testing import export, peer
from consul_sim.world import Cluster, World

DENIED = "rpc error: code = PermissionDenied desc = invalid peering stream secret"


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=3)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def peered(world: World) -> tuple[Cluster, Cluster]:
    """cluster-01 exports web to cluster-02, replicated and ACTIVE on both sides."""
    a, b = world.add_cluster("cluster-01"), world.add_cluster("cluster-02")
    r = a.client.put("/v1/agent/service/register", json={"Name": "web", "Port": 80})
    assert r.status_code == 200, r.text
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    return a, b


def reads(a: Cluster, b: Cluster) -> list[str]:
    out = []
    for cluster, peer_name in ((a, "cluster-02"), (b, "cluster-01")):
        for path in (
            f"/v1/peering/{peer_name}",
            "/v1/peerings",
            f"/v1/health/service/web?peer={peer_name}",
        ):
            r = cluster.client.get(path)
            out.append(f"{r.status_code} {r.text}")
    return out


def forged_instance() -> ExportedServicePayload:
    node = Node(node="attacker", address="6.6.6.6")
    service = NodeService(id="web", service="web", address="6.6.6.6", port=9090)
    return ExportedServicePayload((ExportedInstance(node, service, ()),))


def journal_outcomes(world: World, kind: str) -> list[str]:
    return [e.outcome for e in world.network.journal if e.kind == kind]


@pytest.mark.parametrize("secret", ["", "not-the-secret"])
def test_a_forged_replication_response_is_refused_and_changes_nothing(
    world: World, peered: tuple[Cluster, Cluster], secret: str
) -> None:
    a, b = peered
    before = reads(a, b)
    b_id = b.peering.table.get("cluster-01").id  # type: ignore[union-attr]
    end = b.peering.streams.ends[b_id]
    forged: list[Any] = [
        ReplicationResponse(
            b_id, end.stream_id, nonce="ffffff", resource_url=EXPORTED_SERVICE_URL,
            resource_id="web", resource=forged_instance(), stream_secret=secret,
        ),
        ReplicationResponse(
            b_id, end.stream_id, nonce="fffffe", resource_url=TRUST_BUNDLE_URL,
            resource_id="roots", resource=TrustBundlePayload("evil", ("FORGED",)),
            stream_secret=secret,
        ),
    ]  # fmt: skip
    for message in forged:
        world.network.send(a.peering_address, b.peering_address, message)
    world.settle()
    assert (
        journal_outcomes(world, "ReplicationResponse")[-4:]
        == [
            "delivered",
            f"error: {DENIED}",
        ]
        * 2
    )
    assert reads(a, b) == before


def test_a_forged_terminated_is_refused_and_both_sides_stay_active(
    world: World, peered: tuple[Cluster, Cluster]
) -> None:
    a, b = peered
    before = reads(a, b)
    a_id = a.peering.table.get("cluster-02").id  # type: ignore[union-attr]
    end = a.peering.streams.ends[a_id]
    with pytest.raises(RPCError) as refused:
        world.network.call(
            b.peering_address,
            a.peering_address,
            Terminated(a_id, end.stream_id, stream_secret="guess"),
        )
    assert str(refused.value) == DENIED
    world.settle()
    assert reads(a, b) == before
    assert a.peering.read("cluster-02")["State"] == "ACTIVE"


def test_the_real_stream_secret_is_accepted(world: World, peered: tuple[Cluster, Cluster]) -> None:
    """The check is no wall: with its stream's secret a heartbeat lands."""
    a, b = peered
    b_id = b.peering.table.get("cluster-01").id  # type: ignore[union-attr]
    end = b.peering.streams.ends[b_id]
    heartbeat = Heartbeat(b_id, end.stream_id, stream_secret=end.secret)
    world.network.send(a.peering_address, b.peering_address, heartbeat)
    world.settle()
    assert journal_outcomes(world, "Heartbeat")[-1] == "delivered"
    assert "secret" not in repr(heartbeat)
    wrong = dataclasses.replace(heartbeat, stream_secret=end.secret + "x")
    world.network.send(a.peering_address, b.peering_address, wrong)
    world.settle()
    assert journal_outcomes(world, "Heartbeat")[-1] == f"error: {DENIED}"


def test_an_empty_stream_secret_never_opens_a_stream(
    world: World, peered: tuple[Cluster, Cluster]
) -> None:
    """Once the pending secret is promoted it is empty; an empty secret must not match it."""
    a, b = peered
    a_id = a.peering.table.get("cluster-02").id  # type: ignore[union-attr]
    stream = a.peering.streams.ends[a_id]
    with pytest.raises(RPCError) as refused:
        world.network.call(
            "127.0.0.1:1",
            a.peering_address,
            OpenStream(a_id, "", Remote(datacenter="mallory"), "x", 99),
        )
    assert str(refused.value) == DENIED
    assert a.peering.streams.ends[a_id] is stream


def test_a_reestablish_retires_the_old_stream_secret(
    world: World, peered: tuple[Cluster, Cluster]
) -> None:
    a, b = peered
    a_id = a.peering.table.get("cluster-02").id  # type: ignore[union-attr]
    old = a.peering.streams.ends[a_id].secret
    peer(a, b)
    world.crash("cluster-02")  # a new leader on the dialer: it redials with the new secret
    world.restart("cluster-02")
    world.advance(1)
    end = a.peering.streams.ends[a_id]
    assert end.secret != old
    before = reads(a, b)
    world.network.send(
        b.peering_address, a.peering_address, Heartbeat(a_id, end.stream_id, stream_secret=old)
    )
    world.settle()
    assert journal_outcomes(world, "Heartbeat")[-1] == f"error: {DENIED}"
    with pytest.raises(RPCError) as refused:
        world.network.call(
            b.peering_address, a.peering_address, OpenStream(a_id, old, Remote(), "x", 99)
        )
    assert str(refused.value) == DENIED
    assert reads(a, b) == before


def test_the_mac_binds_every_byte_of_the_post() -> None:
    mac = stream_mac("s3cret", b'{"a":1}')
    assert mac_matches("s3cret", b'{"a":1}', mac)
    assert not mac_matches("s3cret", b'{"a":2}', mac)
    assert not mac_matches("other", b'{"a":1}', mac)
    assert not mac_matches("", b'{"a":1}', stream_mac("", b'{"a":1}'))
