"""/v1/catalog/connect/:service and /v1/health/connect/:service, local and with ``?peer=``.

Consul answers a connect read from its ``connect`` index, which keys a proxy by its
``Proxy.DestinationServiceName`` and a native service by its name (agent/consul/state/catalog.go);
with ``?peer=`` it reads the instances imported from that peer.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from consul_sim.models.catalog import HealthCheck, Node, NodeService
from consul_sim.peering.replication import ExportedInstance, ExportedServicePayload, apply_service
from consul_sim.world import Cluster, World


@pytest.fixture
def importer() -> Iterator[Cluster]:
    world = World(clock="virtual", seed=7)
    try:
        yield world.add_cluster("cluster-02")
    finally:
        world.close()


def import_sidecar(cluster: Cluster, peer: str, destination: str) -> None:
    """Put an imported connect proxy into ``cluster``'s table for ``peer``, as replication does."""
    sid = f"{destination}-1-sidecar-proxy"
    instance = ExportedInstance(
        Node(node="node-a", address="10.0.0.1", datacenter=peer),
        NodeService(
            kind="connect-proxy",
            id=sid,
            service=f"{destination}-sidecar-proxy",
            port=21000,
            proxy={"DestinationServiceName": destination, "DestinationServiceID": "web-1"},
        ),
        (
            HealthCheck(
                node="node-a",
                check_id=f"{sid}:overall-check",
                name="overall-check",
                status="passing",
                service_id=sid,
                service_name=f"{destination}-sidecar-proxy",
            ),
        ),
    )
    payload = ExportedServicePayload((instance,))
    apply_service(cluster.store, peer, f"{destination}-sidecar-proxy", payload)


def test_local_sidecar_answers_both_connect_reads(client: httpx.Client) -> None:
    r = client.put(
        "/v1/agent/service/register",
        json={"Name": "web", "ID": "web-1", "Port": 8080, "Connect": {"SidecarService": {}}},
    )
    assert r.status_code == 200

    [entry] = client.get("/v1/catalog/connect/web").json()
    assert (entry["ServiceKind"], entry["ServiceID"], entry["ServicePort"]) == (
        "connect-proxy",
        "web-1-sidecar-proxy",
        21000,
    )
    [csn] = client.get("/v1/health/connect/web").json()
    assert csn["Service"]["Proxy"]["DestinationServiceName"] == "web"
    assert sorted(c["Name"] for c in csn["Checks"]) == [
        "Connect Sidecar Aliasing web-1",
        "Connect Sidecar Listening",
        "Serf Health Status",
    ]
    assert client.get("/v1/health/connect/web-sidecar-proxy").json() == []


def test_imported_proxy_is_found_only_with_its_peer(importer: Cluster) -> None:
    import_sidecar(importer, "cluster-01", "web")
    client = importer.client

    [csn] = client.get("/v1/health/connect/web?peer=cluster-01").json()
    assert (csn["Service"]["ID"], csn["Service"]["PeerName"], csn["Node"]["PeerName"]) == (
        "web-1-sidecar-proxy",
        "cluster-01",
        "cluster-01",
    )
    assert [c["Status"] for c in csn["Checks"]] == ["passing"]
    [entry] = client.get("/v1/catalog/connect/web?peer=cluster-01").json()
    assert (entry["ServiceKind"], entry["PeerName"]) == ("connect-proxy", "cluster-01")
    assert client.get("/v1/health/connect/web").json() == []
    assert client.get("/v1/health/connect/web?peer=other").json() == []


def test_removing_the_last_proxy_moves_the_connect_index(client: httpx.Client) -> None:
    client.put(
        "/v1/agent/service/register",
        json={"Name": "web", "ID": "web-1", "Port": 8080, "Connect": {"SidecarService": {}}},
    )
    before = int(client.get("/v1/health/connect/web").headers["X-Consul-Index"])

    client.put("/v1/agent/service/deregister/web-1-sidecar-proxy")

    r = client.get("/v1/health/connect/web")
    assert r.json() == []
    assert int(r.headers["X-Consul-Index"]) > before
