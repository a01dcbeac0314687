"""``?peer`` on the catalog's node reads: the nodes a peer exported, never the local ones.

Consul's ``Catalog.ListNodes`` and ``Catalog.NodeServices`` hand the request's ``PeerName`` to
the state store (``agent/consul/catalog_endpoint.go``; ``Nodes``/``NodeServices`` in
``agent/consul/state/catalog.go`` take ``peerName``), so ``/v1/catalog/nodes?peer=cluster-01``
lists what was imported from ``cluster-01`` with its ``PeerName``.
"""

from __future__ import annotations

import pytest

from consul_sim.testing.helpers import export, peer
from consul_sim.world import Cluster, World


@pytest.fixture
def importer(world: World) -> Cluster:
    """cluster-02 importing ``web`` (on node ``web-node``) from its peer cluster-01."""
    one, two = world.add_cluster("cluster-01"), world.add_cluster("cluster-02")
    r = one.client.put(
        "/v1/catalog/register",
        json={
            "Node": "web-node",
            "Address": "10.0.0.7",
            "Service": {"Service": "web", "Port": 80},
        },
    )
    assert r.status_code == 200, r.text
    peer(one, two)
    export(one, {"web": ["cluster-02"]})
    world.settle()
    return two


def test_catalog_nodes_with_peer_lists_only_the_peers_nodes(importer: Cluster) -> None:
    local = importer.client.get("/v1/catalog/nodes").json()
    assert [n["Node"] for n in local] == ["cluster-02-server"]
    r = importer.client.get("/v1/catalog/nodes?peer=cluster-01")
    assert r.status_code == 200
    [node] = r.json()
    assert (node["Node"], node["Address"], node["PeerName"]) == (
        "web-node",
        "10.0.0.7",
        "cluster-01",
    )


def test_catalog_nodes_with_an_unknown_peer_is_empty(importer: Cluster) -> None:
    r = importer.client.get("/v1/catalog/nodes?peer=nobody")
    assert (r.status_code, r.text) == (200, "[]")


def test_catalog_node_with_peer_reads_the_imported_node(importer: Cluster) -> None:
    r = importer.client.get("/v1/catalog/node/web-node?peer=cluster-01")
    assert r.status_code == 200
    body = r.json()
    assert body["Node"]["PeerName"] == "cluster-01"
    assert [(s["Service"], s["Port"], s["PeerName"]) for s in body["Services"].values()] == [
        ("web", 80, "cluster-01")
    ]
    # Without ?peer the same name is a local node, and there is none.
    assert importer.client.get("/v1/catalog/node/web-node").text == "null"
