"""Mesh export over peering, as Consul's peerstream does it, driven over HTTP.

cluster-01 exports (it generates the token), cluster-02 imports (it establishes). Facts:
``peerstream/subscription_manager.go`` (synthetic sidecars, ``PeerMeta``, server addresses),
``consul/peering_backend.go`` (token addresses, dial addresses through local gateways),
``proto/pbpeering/peering.go`` (``GetAddressesToDial``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from consul_sim.testing import export, peer
from consul_sim.world import Cluster, World

GW_WAN = "198.51.100.1"


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=11)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def a(world: World) -> Cluster:
    return world.add_cluster("cluster-01")


@pytest.fixture
def b(world: World, a: Cluster) -> Cluster:
    return world.add_cluster("cluster-02")


def register(cluster: Cluster, body: dict[str, Any]) -> None:
    r = cluster.client.put("/v1/catalog/register", json=body)
    assert (r.status_code, r.text) == (200, "true")


def web_with_sidecar(cluster: Cluster) -> None:
    node = {"Node": "node-a", "Address": "10.0.0.1"}
    register(cluster, {**node, "Service": {"ID": "web-1", "Service": "web", "Port": 8080}})
    register(
        cluster,
        {
            **node,
            "Service": {
                "Kind": "connect-proxy",
                "ID": "web-1-sidecar-proxy",
                "Service": "web-sidecar-proxy",
                "Port": 21000,
                "Proxy": {"DestinationServiceName": "web", "DestinationServiceID": "web-1"},
            },
        },
    )


def mesh_gateway(cluster: Cluster, n: int = 1, status: str = "passing") -> None:
    """A gateway on its own node: LAN 10.0.<n>.9:8443, WAN 198.51.100.<n>:443."""
    register(
        cluster,
        {
            "Node": "gw-node",
            "Address": f"10.0.{n}.9",
            "Service": {
                "Kind": "mesh-gateway",
                "ID": "mesh-gateway",
                "Service": "mesh-gateway",
                "Port": 8443,
                "TaggedAddresses": {
                    "lan": {"Address": f"10.0.{n}.9", "Port": 8443},
                    "wan": {"Address": f"198.51.100.{n}", "Port": 443},
                },
            },
            "Checks": [
                {
                    "CheckID": "gw-alive",
                    "Name": "alive",
                    "Status": status,
                    "ServiceID": "mesh-gateway",
                }
            ],
        },
    )


def peer_through_gateways(cluster: Cluster) -> None:
    r = cluster.client.put(
        "/v1/config", json={"Kind": "mesh", "Peering": {"PeerThroughMeshGateways": True}}
    )
    assert (r.status_code, r.text) == (200, "true")


def imported(cluster: Cluster, service: str) -> list[dict[str, Any]]:
    r = cluster.client.get(f"/v1/health/service/{service}?peer=cluster-01")
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


def token_body(cluster: Cluster, **extra: object) -> dict[str, Any]:
    r = cluster.client.post("/v1/peering/token", json={"PeerName": "cluster-02", **extra})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = json.loads(base64.b64decode(r.json()["PeeringToken"]))
    return body


def establish(cluster: Cluster, token: str) -> tuple[int, str]:
    r = cluster.client.post(
        "/v1/peering/establish", json={"PeerName": "cluster-01", "PeeringToken": token}
    )
    return r.status_code, r.text


# -- synthetic sidecars -------------------------------------------------------------------------
def test_a_connect_service_is_imported_with_a_sidecar_standing_at_the_exporters_gateway(
    world: World, a: Cluster, b: Cluster
) -> None:
    web_with_sidecar(a)
    mesh_gateway(a)
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    td = a.ca.trust_domain
    [entry] = imported(b, "web-sidecar-proxy")
    index = entry["Service"]["CreateIndex"]
    assert entry == {
        "Node": {
            "ID": "",
            "Node": "gw-node",
            "Address": "10.0.1.9",
            "Datacenter": "cluster-01",
            "PeerName": "cluster-01",
            "TaggedAddresses": {},
            "Meta": {},
            "CreateIndex": index,
            "ModifyIndex": index,
        },
        "Service": {
            "Kind": "connect-proxy",
            "ID": "web-sidecar-proxy-instance-0",
            "Service": "web-sidecar-proxy",
            "Tags": [],
            "Address": "",
            "TaggedAddresses": {
                "lan": {"Address": "10.0.1.9", "Port": 8443},
                "wan": {"Address": GW_WAN, "Port": 443},
            },
            "Meta": {},
            "Port": 8443,
            "Weights": {"Passing": 1, "Warning": 1},
            "EnableTagOverride": False,
            "Proxy": {
                "Mode": "",
                "MeshGateway": {},
                "Expose": {},
                "DestinationServiceName": "web",
                "DestinationServiceID": "web-instance-0",
            },
            "Connect": {
                "PeerMeta": {
                    "SNI": [f"web.default.default.cluster-02.external.{td}"],
                    "SpiffeID": [
                        f"spiffe://{td}/ns/default/dc/cluster-01/svc/web",
                        f"spiffe://{td}/gateway/mesh/dc/cluster-01",
                    ],
                    "Protocol": "tcp",
                }
            },
            "PeerName": "cluster-01",
            "CreateIndex": index,
            "ModifyIndex": index,
        },
        "Checks": [
            {
                "Node": "gw-node",
                "CheckID": "web-sidecar-proxy-instance-0:overall-check",
                "Name": "overall-check",
                "Status": "passing",
                "Notes": "",
                "Output": "",
                "ServiceID": "web-sidecar-proxy-instance-0",
                "ServiceName": "web-sidecar-proxy",
                "ServiceTags": [],
                "Type": "",
                "Interval": "",
                "Timeout": "",
                "ExposedPort": 0,
                "PeerName": "cluster-01",
                "Definition": {},
                "CreateIndex": index,
                "ModifyIndex": index,
            }
        ],
    }
    # The service's own instance keeps its address, scrubbed of Connect; the list names only it.
    [web] = imported(b, "web")
    assert (web["Service"]["Port"], web["Service"]["Connect"]) == (8080, {})
    r = b.client.get("/v1/peering/cluster-01")
    assert r.json()["StreamStatus"]["ImportedServices"] == ["web"]


def test_no_mesh_gateway_means_no_synthetic_sidecar_until_one_registers(
    world: World, a: Cluster, b: Cluster
) -> None:
    web_with_sidecar(a)
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    assert imported(b, "web-sidecar-proxy") == []
    assert len(imported(b, "web")) == 1
    mesh_gateway(a, status="critical")
    world.settle()
    [entry] = imported(b, "web-sidecar-proxy")
    assert [c["Status"] for c in entry["Checks"]] == ["critical"]
    r = a.client.put("/v1/catalog/deregister", json={"Node": "gw-node"})
    assert (r.status_code, r.text) == (200, "true")
    world.settle()
    assert imported(b, "web-sidecar-proxy") == []
    assert [e["Node"]["Node"] for e in imported(b, "web")] == ["node-a"]


def test_native_services_get_sidecars_with_their_protocol_and_plain_ones_none(
    world: World, a: Cluster, b: Cluster
) -> None:
    node = {"Node": "node-a", "Address": "10.0.0.1"}
    register(a, {**node, "Service": {"Service": "api", "Port": 9090, "Connect": {"Native": True}}})
    register(a, {**node, "Service": {"Service": "db", "Port": 5432}})
    r = a.client.put(
        "/v1/config", json={"Kind": "service-defaults", "Name": "api", "Protocol": "http"}
    )
    assert (r.status_code, r.text) == (200, "true")
    mesh_gateway(a)
    peer(a, b)
    export(a, {"api": ["cluster-02"], "db": ["cluster-02"]})
    world.settle()
    [entry] = imported(b, "api-sidecar-proxy")
    assert entry["Service"]["Connect"]["PeerMeta"]["Protocol"] == "http"
    assert imported(b, "db-sidecar-proxy") == []
    # Unexporting the service withdraws its synthetic sidecar with it.
    export(a, {"db": ["cluster-02"]})
    world.settle()
    assert (imported(b, "api"), imported(b, "api-sidecar-proxy")) == ([], [])


# -- addresses ----------------------------------------------------------------------------------
def test_the_token_advertises_gateway_wan_addresses_when_peering_through_them(
    a: Cluster,
) -> None:
    peer_through_gateways(a)
    r = a.client.post("/v1/peering/token", json={"PeerName": "cluster-02"})
    assert (r.status_code, r.text) == (
        500,
        "rpc error: code = Unknown desc = servers are configured to PeerThroughMeshGateways, "
        "but no mesh gateway instances are registered",
    )
    mesh_gateway(a)
    assert token_body(a)["ServerAddresses"] == [f"{GW_WAN}:443"]
    assert token_body(a, ServerExternalAddresses=["203.0.113.5:8503"])["ManualServerAddresses"] == [
        "203.0.113.5:8503"
    ]


def test_manual_server_addresses_are_dialed_exclusively(a: Cluster, b: Cluster) -> None:
    r = a.client.post(
        "/v1/peering/token",
        json={"PeerName": "cluster-02", "ServerExternalAddresses": ["127.0.0.1:9999"]},
    )
    assert r.status_code == 200, r.text
    assert establish(b, r.json()["PeeringToken"]) == (
        500,
        "rpc error: code = Unknown desc = 1 error occurred:\n"
        '\t* failed to exchange peering secret through address "127.0.0.1:9999": '
        "rpc error: code = Unavailable desc = connection error: desc = "
        '"transport: Error while dialing: dial tcp 127.0.0.1:9999: connect: connection '
        'refused"\n\n',
    )
    assert b.client.get("/v1/peering/cluster-01").json()["State"] == "PENDING"


def test_the_dialer_follows_the_server_addresses_the_acceptor_replicates(
    world: World, a: Cluster, b: Cluster
) -> None:
    peer(a, b)
    world.settle()
    assert b.client.get("/v1/peering/cluster-01").json()["PeerServerAddresses"] == [
        a.peering_address
    ]
    mesh_gateway(a)
    peer_through_gateways(a)
    world.settle()
    body = b.client.get("/v1/peering/cluster-01").json()
    assert (body["State"], body["PeerServerAddresses"]) == ("ACTIVE", [f"{GW_WAN}:443"])


# -- the dial path ------------------------------------------------------------------------------
def journal(world: World, kind: str) -> list[str]:
    return [
        f"{e.outcome} {e.summary}".strip()
        for e in world.network.journal.last(500)
        if e.kind == kind
    ]


def test_peering_through_gateways_goes_gateway_to_gateway_and_breaks_with_that_link(
    world: World, a: Cluster, b: Cluster
) -> None:
    for n, cluster in ((1, a), (2, b)):
        mesh_gateway(cluster, n)
        peer_through_gateways(cluster)
    peer(a, b)
    world.settle()
    route = "via cluster-02/mesh-gateway > cluster-01/mesh-gateway"
    assert journal(world, "ExchangeSecret") == [f"ok {route}"]
    assert journal(world, "OpenStream") == [f"ok {route}"]
    # The clusters' own link no longer matters: the stream rides the gateways.
    world.partition("cluster-01", "cluster-02")
    world.advance(130)
    assert b.client.get("/v1/peering/cluster-01").json()["State"] == "ACTIVE"
    world.network.partition("cluster-02/mesh-gateway", "cluster-01/mesh-gateway")
    world.advance(121)
    cut = "partitioned between cluster-02/mesh-gateway and cluster-01/mesh-gateway"
    assert f"dropped: {cut} {route}" in journal(world, "Heartbeat")
    # The heartbeat timeout broke the stream; the redial tries the local gateway, then
    # (Consul's fallback) the peer's gateway directly.
    assert journal(world, "OpenStream")[-2:] == [
        f"unreachable: {cut} {route}",
        "ok via cluster-01/mesh-gateway",
    ]
    assert b.client.get("/v1/peering/cluster-01").json()["State"] == "ACTIVE"


def test_with_no_local_gateway_the_dialer_dials_the_peer_directly(
    world: World, a: Cluster, b: Cluster
) -> None:
    mesh_gateway(a)
    peer_through_gateways(a)
    peer_through_gateways(b)
    token = a.client.post("/v1/peering/token", json={"PeerName": "cluster-02"}).json()
    world.network.partition("cluster-02", "cluster-01/mesh-gateway")
    address = f"{GW_WAN}:443"
    assert establish(b, token["PeeringToken"]) == (
        500,
        "rpc error: code = Unknown desc = 1 error occurred:\n"
        f'\t* failed to exchange peering secret through address "{address}": '
        "rpc error: code = Unavailable desc = connection error: desc = "
        f'"transport: Error while dialing: dial tcp {address}: i/o timeout"\n\n',
    )
    world.network.heal()
    token = a.client.post("/v1/peering/token", json={"PeerName": "cluster-02"}).json()
    assert establish(b, token["PeeringToken"]) == (200, "{}")
    world.settle()
    assert b.client.get("/v1/peering/cluster-01").json()["State"] == "ACTIVE"
    assert journal(world, "OpenStream") == ["ok via cluster-01/mesh-gateway"]
