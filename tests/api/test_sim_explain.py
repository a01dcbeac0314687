"""GET /_sim/explain and world.explain: every reason a service can be invisible, reached the way
a user gets there (the HTTP API, the world's fault controls), with its exact sentence.

cluster-01 registers and exports ``web``; cluster-02 establishes and imports.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from consul_sim.errors import ConsulError
from consul_sim.explain import Explanation
from consul_sim.testing import export, peer
from consul_sim.world import Cluster, World

A, B = "cluster-01", "cluster-02"
URL = f"/_sim/explain?service=web&source={A}&consumer={B}"


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=5)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def c1(world: World) -> Cluster:
    return world.add_cluster(A)


@pytest.fixture
def c2(world: World) -> Cluster:
    return world.add_cluster(B)


def register(cluster: Cluster, status: str = "passing", service: str = "web") -> None:
    r = cluster.client.put(
        "/v1/catalog/register",
        json={
            "Node": "node-1",
            "Address": "10.0.0.1",
            "Service": {"ID": f"{service}-1", "Service": service},
            "Check": {"CheckID": f"{service}-check", "Status": status, "ServiceID": f"{service}-1"},
        },
    )
    assert (r.status_code, r.text) == (200, "true")


def why(world: World, **kw: Any) -> Explanation:
    return world.explain(
        service=kw.get("service", "web"), source=A, consumer=B, token=kw.get("token", "")
    )


def failing(answer: Explanation) -> list[tuple[str, str]]:
    return [(r.code, r.text) for r in answer.failing]


@pytest.fixture
def visible(world: World, c1: Cluster, c2: Cluster) -> World:
    register(c1)
    peer(c1, c2)
    export(c1, {"web": [B]})
    world.assert_converged()
    return world


def test_visible_service_lists_every_link_holding(visible: World, c2: Cluster) -> None:
    r = c2.client.get(URL)
    assert r.status_code == 200
    assert r.json()["Visible"] is True
    assert [(x["Code"], x["Holds"], x["Text"]) for x in r.json()["Reasons"]] == [
        ("registered", True, '"web" has 1 passing instance on cluster-01'),
        ("peered", True, 'cluster-02 peers with cluster-01 as "cluster-01"'),
        ("active", True, 'cluster-02\'s peering "cluster-01" is ACTIVE'),
        ("exported", True, 'cluster-01 exports "web" to its peer "cluster-02"'),
        ("link", True, "the link between cluster-01 and cluster-02 carries messages"),
        (
            "imported",
            True,
            'cluster-02 holds 1 passing instance of "web" imported from "cluster-01"',
        ),
    ]


def test_unregistered_unpeered_unexported(world: World, c1: Cluster, c2: Cluster) -> None:
    answer = why(world)
    assert not answer.visible
    assert failing(answer) == [
        ("not-registered", '"web" has no instance registered on cluster-01'),
        ("no-peering", "cluster-02 has no peering with cluster-01"),
        ("not-exported", 'cluster-01 does not export "web" to its peer "cluster-02"'),
    ]


def test_token_never_established_is_named(world: World, c1: Cluster, c2: Cluster) -> None:
    r = c1.client.post("/v1/peering/token", json={"PeerName": B})
    assert r.status_code == 200
    assert (
        "no-peering",
        "cluster-02 has no peering with cluster-01 (cluster-01 generated a token for "
        "'cluster-02' that was never established)",
    ) in failing(why(world))


def test_no_passing_instance(world: World, c1: Cluster, c2: Cluster) -> None:
    register(c1, "critical")
    peer(c1, c2)
    export(c1, {"web": [B]})
    world.assert_converged()
    answer = why(world)
    assert not answer.visible
    assert failing(answer) == [
        (
            "no-passing-instance",
            '"web" has no passing instance on cluster-01 (1 instance, none passing)',
        )
    ]


def test_misspelled_consumer_suggests_the_peering(world: World, c1: Cluster, c2: Cluster) -> None:
    register(c1)
    peer(c1, c2)
    export(c1, {"web": ["cluster-2"]})
    world.assert_converged()
    assert failing(why(world)) == [
        (
            "consumer-misspelled",
            'cluster-01 exports "web" to "cluster-2", which names none of its peerings; '
            'did you mean "cluster-02"?',
        )
    ]


def test_not_exported(world: World, c1: Cluster, c2: Cluster) -> None:
    register(c1)
    register(c1, service="api")
    peer(c1, c2)
    export(c1, {"api": [B]})
    world.assert_converged()
    assert failing(why(world)) == [
        ("not-exported", 'cluster-01 does not export "web" to its peer "cluster-02"')
    ]


def test_partitioned_keeps_stale_data_visible(visible: World) -> None:
    visible.partition(A, B)
    answer = why(visible)
    assert answer.visible
    assert failing(answer) == [
        ("partitioned", "the link between cluster-01 and cluster-02 is partitioned")
    ]


def test_crashed_source_turns_the_peering_failing(visible: World) -> None:
    visible.crash(A)
    visible.advance(visible.heartbeat_timeout + 1)
    codes = why(visible).codes
    assert codes == ("not-active", "crashed")
    assert failing(why(visible))[0][1].startswith('cluster-02\'s peering "cluster-01" is FAILING')


def test_held_message_is_counted(visible: World, c1: Cluster) -> None:
    visible.hold(A, B)
    register(c1, service="api")
    export(c1, {"web": [B], "api": [B]})
    visible.settle()
    answer = visible.explain(service="api", source=A, consumer=B)
    assert not answer.visible
    (held,) = [r for r in answer.failing if r.code == "held"]
    assert held.text.startswith("the link between cluster-01 and cluster-02 is held: ")
    assert held.text.endswith(" wait for release")


def test_lost_message_is_named(visible: World, c1: Cluster) -> None:
    visible.set_link(A, B, loss=1.0)
    register(c1, service="api")
    export(c1, {"web": [B], "api": [B]})
    visible.settle()
    (lost,) = [r for r in visible.explain(service="api", source=A, consumer=B).failing]
    assert lost.code == "lost"
    assert lost.text.startswith("the last message between cluster-01 and cluster-02 was lost")


def test_not_yet_replicated(visible: World, c1: Cluster) -> None:
    visible.set_link(A, B, latency=5.0)
    register(c1, service="api")
    export(c1, {"web": [B], "api": [B]})
    assert visible.explain(service="api", source=A, consumer=B).codes == ("not-replicated",)
    visible.settle()
    assert visible.explain(service="api", source=A, consumer=B).visible


def test_acl_token_must_read_the_service(world: World) -> None:
    c1 = world.add_cluster(A, acl_default_policy="deny")
    c2 = world.add_cluster(B, acl_default_policy="deny")
    r = c1.client.put(
        "/v1/catalog/register",
        json={
            "Node": "node-1",
            "Address": "10.0.0.1",
            "Service": {"ID": "web-1", "Service": "web"},
        },
        headers={"X-Consul-Token": c1.acl.management_token},
    )
    assert r.status_code == 200, r.text
    with pytest.raises(ConsulError) as refused:
        peer(c1, c2)
    assert refused.value.status_code == 403
    peer(c1, c2, token=c1.acl.management_token, dialer_token=c2.acl.management_token)
    export(c1, {"web": [B]}, token=c1.acl.management_token)
    world.assert_converged()
    assert failing(why(world)) == [
        ("acl", 'the token may not read "web" on cluster-02 (it needs service:read)')
    ]
    assert not why(world).visible
    _, reader = c2.acl.create_token({"service:web": "read"})
    assert why(world, token=reader).visible
    r = c2.client.get(URL, headers={"X-Consul-Token": "nope"})
    assert r.json()["Visible"] is False
    assert [x for x in r.json()["Reasons"] if x["Code"] == "acl"] == [
        {
            "Code": "acl",
            "Holds": False,
            "Text": "cluster-02 refuses the token: ACL system must be bootstrapped before "
            "making any requests that require authorization: ACL not found",
        }
    ]


USAGE = "/_sim/explain?service=web&source=cluster-01&consumer=cluster-02"


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("source=cluster-01&consumer=cluster-02", f"Missing service: {USAGE}"),
        ("service=web&consumer=cluster-02", f"Missing source: {USAGE}"),
        ("service=web&source=cluster-01&consumer=", f"Missing consumer: {USAGE}"),
        (
            "service=web&source=dc9&consumer=cluster-02",
            'Unknown source cluster "dc9" (known: cluster-01, cluster-02)',
        ),
        (
            "service=web&source=cluster-01&consumer=cluster-01",
            "source and consumer must be two different clusters",
        ),
    ],
)
def test_bad_parameters_are_plain_400s(c1: Cluster, c2: Cluster, query: str, text: str) -> None:
    r = c2.client.get(f"/_sim/explain?{query}")
    assert (r.status_code, r.text) == (400, text)
    assert r.headers["content-type"].startswith("text/plain")


def test_a_lossy_link_is_named_before_anything_is_lost(visible: World) -> None:
    visible.set_link(A, B, loss=0.25)
    answer = why(visible)
    assert answer.visible
    assert failing(answer) == [
        ("lost", "the link between cluster-01 and cluster-02 loses 25% of messages")
    ]
