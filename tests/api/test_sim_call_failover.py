"""POST /_sim/call follows the discovery chain: redirects, and failover to a cluster peer.

Three clusters. cluster-01 exports ``web`` to cluster-03 (cluster-02 is peered with cluster-01
too, and is not a consumer). cluster-03 has its own ``web``, a ``service-resolver`` that fails
over to the peer ``cluster-01`` (``Failover: {"*": {Targets: [{Peer: "cluster-01"}]}}``, as in
Consul's ``agent/structs/config_entry_discoverychain.go``), and a ``frontend`` calling ``web``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from consul_sim.testing import peer
from consul_sim.world import Cluster, World

FAILOVER_TO_PEER = {
    "Kind": "service-resolver",
    "Name": "web",
    "Failover": {"*": {"Targets": [{"Peer": "cluster-01"}]}},
}
EXPORT_WEB = {
    "Kind": "exported-services",
    "Name": "default",
    "Services": [{"Name": "web", "Consumers": [{"Peer": "cluster-03"}]}],
}
LOCAL_DOWN = '"web" on cluster-03 has no passing instance (2 instances, none passing)'
PEER_REASONS = [
    'cluster-03\'s peering "cluster-01" is ACTIVE',
    'cluster-01 exports "web" to its peer "cluster-03"',
    '"web" has 1 passing instance on cluster-01',
    'cluster-01\'s intentions allow "frontend" from its peer "cluster-03" to call "web": '
    "Default behavior configured by ACLs",
]


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=31)
    try:
        yield w
    finally:
        w.close()


def register(cluster: Cluster, service: str, instance: int, status: str) -> None:
    r = cluster.client.put(
        "/v1/catalog/register",
        json={
            "Node": f"n{instance}",
            "Address": f"10.0.0.{instance}",
            "Service": {"ID": f"{service}-{instance}", "Service": service},
            "Check": {
                "CheckID": f"{service}-{instance}-check",
                "Status": status,
                "ServiceID": f"{service}-{instance}",
            },
        },
    )
    assert (r.status_code, r.text) == (200, "true")


def write(cluster: Cluster, entry: dict[str, Any]) -> None:
    r = cluster.client.put("/v1/config", json=entry)
    assert (r.status_code, r.text) == (200, "true")


def call(cluster: Cluster, source: str, service: str) -> dict[str, Any]:
    r = cluster.client.post(
        "/_sim/call",
        json={
            "Source": {"Cluster": "cluster-03", "Service": source},
            "Destination": {"Service": service},
        },
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
def clusters(world: World) -> tuple[Cluster, Cluster, Cluster]:
    c1, c2, c3 = (world.add_cluster(f"cluster-0{i}") for i in (1, 2, 3))
    peer(c1, c2)
    peer(c1, c3)
    register(c1, "web", 1, "passing")
    write(c1, EXPORT_WEB)
    register(c3, "web", 1, "critical")
    register(c3, "web", 2, "critical")
    register(c3, "frontend", 3, "passing")
    write(c3, FAILOVER_TO_PEER)
    world.settle()
    return c1, c2, c3


def test_call_fails_over_to_the_peer_while_local_web_is_critical(
    world: World, clusters: tuple[Cluster, Cluster, Cluster]
) -> None:
    c1, _, c3 = clusters
    assert call(c3, "frontend", "web") == {
        "Allowed": True,
        "Reasons": [
            LOCAL_DOWN,
            'cluster-03\'s service-resolver for "web" fails over to target '
            'web.default.default.external.cluster-01, since no instance of "web" on cluster-03 '
            'passes: "web" imported from peer "cluster-01" on cluster-03 has 1 passing instance',
            *PEER_REASONS,
        ],
    }
    assert world.call(("cluster-03", "frontend"), "web").allowed is True

    register(c1, "web", 1, "critical")
    world.settle()
    assert call(c3, "frontend", "web") == {
        "Allowed": False,
        "Reasons": [
            LOCAL_DOWN,
            'cluster-03\'s service-resolver for "web" has no failover target to take the call: '
            'web.default.default.external.cluster-01 ("web" imported from peer "cluster-01" on '
            "cluster-03 has no passing instance (1 instance, none passing))",
        ],
    }


def test_the_peers_intentions_decide_the_failed_over_call(
    world: World, clusters: tuple[Cluster, Cluster, Cluster]
) -> None:
    c1, _, c3 = clusters
    deny = {
        "Kind": "service-intentions",
        "Name": "web",
        "Sources": [{"Name": "frontend", "Peer": "cluster-03", "Action": "deny"}],
    }
    write(c1, deny)
    result = call(c3, "frontend", "web")
    assert result["Allowed"] is False
    assert result["Reasons"][-1] == (
        'cluster-01\'s intentions deny "frontend" from its peer "cluster-03" to call "web": '
        "Matched L4 intention: peer(cluster-03)/frontend => web (Precedence: 9, Action: DENY)"
    )


def test_a_passing_local_instance_keeps_the_call_local(
    world: World, clusters: tuple[Cluster, Cluster, Cluster]
) -> None:
    _, _, c3 = clusters
    register(c3, "web", 2, "passing")
    assert call(c3, "frontend", "web") == {
        "Allowed": True,
        "Reasons": [
            '"web" on cluster-03 has 1 passing instance',
            'cluster-03\'s intentions allow "frontend" to call "web": '
            "Default behavior configured by ACLs",
        ],
    }


def test_no_failover_when_the_peer_does_not_export_to_us(world: World) -> None:
    c1, c2 = world.add_cluster("cluster-01"), world.add_cluster("cluster-02")
    c3 = world.add_cluster("cluster-03")
    peer(c1, c2)
    peer(c1, c3)
    register(c1, "web", 1, "passing")
    write(c1, {**EXPORT_WEB, "Services": [{"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}]})
    register(c3, "web", 1, "critical")
    write(c3, FAILOVER_TO_PEER)
    world.settle()
    assert call(c3, "frontend", "web") == {
        "Allowed": False,
        "Reasons": [
            '"web" on cluster-03 has no passing instance (1 instance, none passing)',
            'cluster-03\'s service-resolver for "web" has no failover target to take the call: '
            'web.default.default.external.cluster-01 ("web" imported from peer "cluster-01" on '
            "cluster-03 has no instance registered)",
        ],
    }


def test_redirect_to_a_peer_sends_every_call_there(
    world: World, clusters: tuple[Cluster, Cluster, Cluster]
) -> None:
    _, _, c3 = clusters
    r = c3.client.delete("/v1/config/service-resolver/web")
    assert r.status_code == 200
    write(
        c3,
        {
            "Kind": "service-resolver",
            "Name": "web",
            "Redirect": {"Service": "web", "Peer": "cluster-01"},
        },
    )
    assert call(c3, "frontend", "web") == {
        "Allowed": True,
        "Reasons": [
            'the discovery chain of "web" resolves to "web" imported from peer "cluster-01" on '
            "cluster-03 (target web.default.default.external.cluster-01)",
            '"web" imported from peer "cluster-01" on cluster-03 has 1 passing instance',
            *PEER_REASONS,
        ],
    }


def test_explain_still_answers_for_the_imported_service(
    world: World, clusters: tuple[Cluster, Cluster, Cluster]
) -> None:
    explanation = world.explain(service="web", source="cluster-01", consumer="cluster-03")
    assert explanation.visible is True


def test_router_and_splitter_send_a_plain_call_down_the_heaviest_leg(world: World) -> None:
    c3 = world.add_cluster("cluster-03")
    for name in ("web", "web-v2"):
        write(c3, {"Kind": "service-defaults", "Name": name, "Protocol": "http"})
    write(
        c3,
        {
            "Kind": "service-splitter",
            "Name": "web",
            "Splits": [{"Weight": 10}, {"Weight": 90, "Service": "web-v2"}],
        },
    )
    write(
        c3,
        {
            "Kind": "service-router",
            "Name": "web",
            "Routes": [{"Match": {"HTTP": {"PathPrefix": "/admin"}}}],
        },
    )
    register(c3, "web-v2", 1, "passing")
    assert call(c3, "frontend", "web") == {
        "Allowed": True,
        "Reasons": [
            'cluster-03\'s service-router for "web" matches no HTTP route for a plain call: it '
            "takes the default route",
            'cluster-03\'s service-splitter for "web" sends 90% to "web-v2": the call follows '
            "that leg",
            'the discovery chain of "web" resolves to "web-v2" on cluster-03 (target '
            "web-v2.default.default.cluster-03)",
            '"web-v2" on cluster-03 has 1 passing instance',
            'cluster-03\'s intentions allow "frontend" to call "web-v2": '
            "Default behavior configured by ACLs",
        ],
    }
