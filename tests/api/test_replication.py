"""Peering replication over HTTP on virtual-clock worlds: exports, health, failure, deletion.

Numbers in docstrings refer to the conformance list of catalog-health-replication.md (§9).
cluster-01 exports (it generates the token), cluster-02 imports (it establishes); each names its
peering after the other cluster, so imported data on cluster-02 carries ``PeerName
"cluster-01"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consul_sim.journal import JournalEntry
from consul_sim.peering.replication import (
    EXPORTED_SERVICE_URL,
    ExportedServicePayload,
    ReplicationResponse,
)
from consul_sim.testing import export, peer
from consul_sim.world import Cluster, World

ROOT = Path(__file__).resolve().parents[2]
PAGE_EXPORT = (ROOT / "scenarios" / "peering-config.hcl").read_text()


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


# -- helpers ----------------------------------------------------------------------------------
def register(cluster: Cluster, body: dict[str, Any]) -> None:
    r = cluster.client.put("/v1/catalog/register", json=body)
    assert (r.status_code, r.text) == (200, "true")


def deregister(cluster: Cluster, body: dict[str, Any]) -> None:
    r = cluster.client.put("/v1/catalog/deregister", json=body)
    assert (r.status_code, r.text) == (200, "true")


def web_on_node_a(cluster: Cluster, service_id: str, *checks: tuple[str, str]) -> None:
    register(
        cluster,
        {
            "Node": "node-a",
            "ID": "11111111-2222-3333-4444-555555555555",
            "Address": "10.0.0.1",
            "NodeMeta": {"rack": "r1"},
            "Service": {"ID": service_id, "Service": "web", "Port": 8080, "Tags": ["v1"]},
            "Checks": [
                {"CheckID": cid, "Name": cid, "Status": status, "ServiceID": service_id}
                for cid, status in checks
            ],
        },
    )


def health(cluster: Cluster, service: str, query: str = "") -> list[dict[str, Any]]:
    r = cluster.client.get(f"/v1/health/service/{service}{query}")
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


def read(cluster: Cluster, name: str) -> dict[str, Any]:
    r = cluster.client.get(f"/v1/peering/{name}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def responses_since(world: World, start: int) -> list[JournalEntry]:
    return [
        e
        for e in world.network.journal.since(start)[1]
        if e.kind == "ReplicationResponse" and e.outcome == "sent"
    ]


# -- the page, end to end -----------------------------------------------------------------------
def test_the_page_end_to_end_over_http(world: World, a: Cluster, b: Cluster) -> None:
    r = a.client.put(
        "/v1/agent/service/register",
        json={"Name": "service-name", "ID": "service-name-1", "Port": 9090, "Check": {"TTL": "1h"}},
    )
    assert r.status_code == 200
    assert a.client.put("/v1/agent/check/pass/service:service-name-1").status_code == 200
    peer(a, b)
    a.config.write(PAGE_EXPORT)
    world.settle()

    [entry] = health(b, "service-name", "?peer=cluster-01")
    assert entry["Node"]["Node"] == "cluster-01-server"
    assert entry["Node"]["PeerName"] == "cluster-01"
    assert entry["Service"]["ID"] == "service-name-1"
    assert entry["Service"]["Port"] == 9090
    assert entry["Checks"] == [
        {
            "Node": "cluster-01-server",
            "CheckID": "service-name-1:overall-check",
            "Name": "overall-check",
            "Status": "passing",
            "Notes": "",
            "Output": "",
            "ServiceID": "service-name-1",
            "ServiceName": "service-name",
            "ServiceTags": [],
            "Type": "",
            "Interval": "",
            "Timeout": "",
            "ExposedPort": 0,
            "PeerName": "cluster-01",
            "Definition": {},
            "CreateIndex": entry["Checks"][0]["CreateIndex"],
            "ModifyIndex": entry["Checks"][0]["ModifyIndex"],
        }
    ]
    assert health(b, "service-name") == []
    for cluster, name in ((a, "cluster-02"), (b, "cluster-01")):
        body = read(cluster, name)
        assert (body["State"], body["connected"]) == ("ACTIVE", True)
    assert read(a, "cluster-02")["StreamStatus"]["ExportedServices"] == ["service-name"]
    assert read(b, "cluster-01")["StreamStatus"]["ImportedServices"] == ["service-name"]

    r = b.client.delete("/v1/peering/cluster-01")
    assert (r.status_code, r.text) == (200, "")
    world.settle()
    world.advance(1)
    assert health(b, "service-name", "?peer=cluster-01") == []
    assert b.client.get("/v1/peering/cluster-01").status_code == 404
    assert read(a, "cluster-02")["State"] == "TERMINATED"
    assert b.store.catalog.rows("cluster-01") == []
    assert a.store.catalog.rows("cluster-02") == []


# -- conformance 27-37 --------------------------------------------------------------------------
def test_imports_show_only_with_peer_and_carry_the_importers_peer_name(
    world: World, a: Cluster, b: Cluster
) -> None:
    """27"""
    web_on_node_a(a, "web-1", ("c1", "passing"))
    web_on_node_a(a, "web-2", ("c2", "passing"))
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    assert health(b, "web") == []
    imported = health(b, "web", "?peer=cluster-01")
    assert [e["Service"]["ID"] for e in imported] == ["web-1", "web-2"]
    for e in imported:
        assert e["Node"]["PeerName"] == e["Service"]["PeerName"] == "cluster-01"
        assert all(c["PeerName"] == "cluster-01" for c in e["Checks"])
        assert e["Node"]["Node"] == "node-a"
        assert e["Node"]["Datacenter"] == "cluster-01"
        assert e["Node"]["ID"] == "11111111-2222-3333-4444-555555555555"
        assert e["Node"]["Address"] == "10.0.0.1"
        assert e["Node"]["Meta"] == {"rack": "r1"}
        assert e["Service"]["Tags"] == ["v1"]
    catalog = b.client.get("/v1/catalog/service/web?peer=cluster-01").json()
    assert [(s["Node"], s["ServiceID"], s["PeerName"]) for s in catalog] == [
        ("node-a", "web-1", "cluster-01"),
        ("node-a", "web-2", "cluster-01"),
    ]
    assert b.client.get("/v1/catalog/service/web").json() == []


def test_imported_raft_indexes_are_the_importers_own(world: World, a: Cluster, b: Cluster) -> None:
    """27 (indexes)"""
    for i in range(5):
        register(a, {"Node": f"filler-{i}", "Address": "10.0.1.1"})
    web_on_node_a(a, "web-1")
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    [entry] = health(b, "web", "?peer=cluster-01")
    r = b.client.get("/v1/health/service/web?peer=cluster-01")
    assert entry["Service"]["ModifyIndex"] == int(r.headers["X-Consul-Index"])
    assert entry["Service"]["ModifyIndex"] <= b.store.index


def test_health_is_flattened_into_one_overall_check(world: World, a: Cluster, b: Cluster) -> None:
    """28"""
    r = a.client.put(
        "/v1/agent/service/register",
        json={"Name": "web", "ID": "web-1", "Checks": [{"TTL": "1h"}, {"TTL": "1h"}]},
    )
    assert r.status_code == 200
    a.client.put("/v1/agent/check/pass/service:web-1:1")
    a.client.put("/v1/agent/check/warn/service:web-1:2")
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    [entry] = health(b, "web", "?peer=cluster-01")
    assert [(c["CheckID"], c["Name"], c["Status"]) for c in entry["Checks"]] == [
        ("web-1:overall-check", "overall-check", "warning")
    ]
    assert a.client.put("/v1/agent/maintenance?enable=true&reason=x").status_code == 200
    world.settle()
    [entry] = health(b, "web", "?peer=cluster-01")
    assert entry["Checks"][0]["Status"] == "maintenance"
    assert health(b, "web", "?peer=cluster-01&passing") == []


def test_instance_without_checks_imports_without_checks(
    world: World, a: Cluster, b: Cluster
) -> None:
    register(a, {"Node": "bare", "Address": "10.0.0.9", "Service": {"Service": "web"}})
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    [entry] = health(b, "web", "?peer=cluster-01")
    assert entry["Checks"] == []


def test_instance_removal_propagates_and_empty_nodes_go(
    world: World, a: Cluster, b: Cluster
) -> None:
    """29"""
    web_on_node_a(a, "web-1")
    web_on_node_a(a, "web-2")
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    deregister(a, {"Node": "node-a", "ServiceID": "web-2"})
    world.settle()
    assert [e["Service"]["ID"] for e in health(b, "web", "?peer=cluster-01")] == ["web-1"]
    deregister(a, {"Node": "node-a", "ServiceID": "web-1"})
    world.settle()
    assert health(b, "web", "?peer=cluster-01") == []
    assert b.store.catalog.row("cluster-01", "node-a") is None
    assert read(b, "cluster-01")["StreamStatus"]["ImportedServices"] == ["web"]


def test_unexport_propagates(world: World, a: Cluster, b: Cluster) -> None:
    """30"""
    web_on_node_a(a, "web-1")
    register(a, {"Node": "node-a", "Address": "10.0.0.1", "Service": {"Service": "api"}})
    peer(a, b)
    export(a, {"web": ["cluster-02"], "api": ["cluster-02"]})
    world.settle()
    export(a, {"api": ["cluster-02"]})
    world.settle()
    assert health(b, "web", "?peer=cluster-01") == []
    assert len(health(b, "api", "?peer=cluster-01")) == 1
    assert read(b, "cluster-01")["StreamStatus"]["ImportedServices"] == ["api"]
    assert read(a, "cluster-02")["StreamStatus"]["ExportedServices"] == ["api"]
    a.client.delete("/v1/config/exported-services/default")
    world.settle()
    # Emptied lists cross Consul's gRPC as empty repeated fields: null over HTTP.
    assert read(b, "cluster-01")["StreamStatus"]["ImportedServices"] is None
    assert read(a, "cluster-02")["StreamStatus"]["ExportedServices"] is None
    assert b.store.catalog.rows("cluster-01") == []


def test_zero_instance_export_is_listed_but_empty(world: World, a: Cluster, b: Cluster) -> None:
    """31"""
    peer(a, b)
    export(a, {"db": ["cluster-02"]})
    world.settle()
    assert read(b, "cluster-01")["StreamStatus"]["ImportedServices"] == ["db"]
    assert health(b, "db", "?peer=cluster-01") == []


def test_wildcard_exports_every_typical_service_but_consul(
    world: World, a: Cluster, b: Cluster
) -> None:
    """32"""
    web_on_node_a(a, "web-1")
    register(a, {"Node": "node-a", "Address": "10.0.0.1", "Service": {"Service": "api"}})
    register(
        a,
        {
            "Node": "node-a",
            "Address": "10.0.0.1",
            "Service": {
                "Kind": "connect-proxy",
                "Service": "web-sidecar-proxy",
                "Port": 21000,
                "Proxy": {"DestinationServiceName": "web"},
            },
        },
    )
    peer(a, b)
    export(a, {"*": ["cluster-02"]})
    world.settle()
    assert read(b, "cluster-01")["StreamStatus"]["ImportedServices"] == ["api", "web"]
    assert health(b, "consul", "?peer=cluster-01") == []
    register(a, {"Node": "node-a", "Address": "10.0.0.1", "Service": {"Service": "late"}})
    world.settle()
    assert read(b, "cluster-01")["StreamStatus"]["ImportedServices"] == ["api", "late", "web"]
    assert len(health(b, "late", "?peer=cluster-01")) == 1
    deregister(a, {"Node": "node-a", "ServiceID": "late"})
    world.settle()
    assert read(b, "cluster-01")["StreamStatus"]["ImportedServices"] == ["api", "web"]


def test_partition_longer_than_the_timeout_fails_and_heals(
    world: World, a: Cluster, b: Cluster
) -> None:
    """34, 35"""
    web_on_node_a(a, "web-1")
    web_on_node_a(a, "web-2")
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    world.partition("cluster-01", "cluster-02")
    world.advance(119)
    assert read(b, "cluster-01")["State"] == "ACTIVE"
    world.advance(2)
    for cluster, name in ((a, "cluster-02"), (b, "cluster-01")):
        body = read(cluster, name)
        assert (body["State"], body["connected"]) == ("FAILING", False)
    assert b.peering.tracker.streams[read(b, "cluster-01")["ID"]].disconnect_error == (
        "heartbeat timeout"
    )
    assert len(health(b, "web", "?peer=cluster-01")) == 2
    deregister(a, {"Node": "node-a", "ServiceID": "web-1"})
    world.heal("cluster-01", "cluster-02")
    world.advance(65)
    for cluster, name in ((a, "cluster-02"), (b, "cluster-01")):
        assert read(cluster, name)["State"] == "ACTIVE"
    assert [e["Service"]["ID"] for e in health(b, "web", "?peer=cluster-01")] == ["web-2"]


def test_a_short_partition_keeps_the_stream_and_resends_what_was_lost(
    world: World, a: Cluster, b: Cluster
) -> None:
    web_on_node_a(a, "web-1", ("c1", "passing"))
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    world.partition("cluster-01", "cluster-02")
    web_on_node_a(a, "web-1", ("c1", "critical"))
    world.settle()
    assert health(b, "web", "?peer=cluster-01")[0]["Checks"][0]["Status"] == "passing"
    world.heal()
    world.advance(15)
    assert read(b, "cluster-01")["State"] == "ACTIVE"
    assert health(b, "web", "?peer=cluster-01")[0]["Checks"][0]["Status"] == "critical"


def test_delete_on_the_importer_terminates_the_exporter(
    world: World, a: Cluster, b: Cluster
) -> None:
    """36"""
    web_on_node_a(a, "web-1")
    register(b, {"Node": "node-b", "Address": "10.0.0.2", "Service": {"Service": "billing"}})
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    export(b, {"billing": ["cluster-01"]})
    world.settle()
    assert len(health(a, "billing", "?peer=cluster-02")) == 1
    assert b.client.delete("/v1/peering/cluster-01").status_code == 200
    assert b.store.catalog.rows("cluster-01") == []
    world.advance(1)
    r = b.client.get("/v1/peering/cluster-01")
    assert (r.status_code, r.text) == (404, 'Peering not found for "cluster-01"')
    body = read(a, "cluster-02")
    assert body["State"] == "TERMINATED"
    assert health(a, "billing", "?peer=cluster-02") == []
    assert a.store.catalog.rows("cluster-02") == []


def test_delete_on_the_exporter_clears_the_importer(world: World, a: Cluster, b: Cluster) -> None:
    web_on_node_a(a, "web-1")
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    a.client.delete("/v1/peering/cluster-02")
    world.advance(1)
    assert read(b, "cluster-01")["State"] == "TERMINATED"
    assert health(b, "web", "?peer=cluster-01") == []
    world.advance(300)
    assert read(b, "cluster-01")["State"] == "TERMINATED"


def test_states_before_and_after_connect(world: World, a: Cluster, b: Cluster) -> None:
    """37"""
    r = a.client.post("/v1/peering/token", json={"PeerName": "cluster-02"})
    token = r.json()["PeeringToken"]
    pending = read(a, "cluster-02")
    assert pending["State"] == "PENDING"
    assert set(pending["StreamStatus"].values()) == {None}
    b.client.post("/v1/peering/establish", json={"PeerName": "cluster-01", "PeeringToken": token})
    world.settle()
    mine, theirs = read(a, "cluster-02"), read(b, "cluster-01")
    assert mine["State"] == theirs["State"] == "ACTIVE"
    assert theirs["PeerID"] == mine["ID"]
    assert "PeerID" not in mine
    assert mine["Remote"]["Datacenter"] == "cluster-02"
    assert mine["StreamStatus"]["ExportedServices"] is None
    assert mine["StreamStatus"]["ImportedServices"] is None


# -- incremental replication, consumers, heartbeats ---------------------------------------------
def test_one_health_change_sends_one_message(world: World, a: Cluster, b: Cluster) -> None:
    for i in range(50):
        register(
            a,
            {
                "Node": "node-a",
                "Address": "10.0.0.1",
                "Service": {"ID": f"svc-{i}", "Service": f"svc-{i}"},
                "Check": {
                    "CheckID": f"c-{i}",
                    "Name": "c",
                    "Status": "passing",
                    "ServiceID": f"svc-{i}",
                },
            },
        )
    peer(a, b)
    export(a, {"*": ["cluster-02"]})
    world.settle()
    start = world.network.journal.last_seq
    register(
        a,
        {
            "Node": "node-a",
            "Address": "10.0.0.1",
            "Service": {"ID": "svc-7", "Service": "svc-7"},
            "Check": {"CheckID": "c-7", "Name": "c", "Status": "critical", "ServiceID": "svc-7"},
        },
    )
    world.settle()
    sent = responses_since(world, start)
    assert [(e.source_cluster, e.summary.split(" ")[0]) for e in sent] == [("cluster-01", "svc-7")]
    assert health(b, "svc-7", "?peer=cluster-01")[0]["Checks"][0]["Status"] == "critical"


def test_dropping_a_consumer_removes_the_service_from_that_peer_only(world: World) -> None:
    a = world.add_cluster("cluster-01")
    b = world.add_cluster("cluster-02")
    c = world.add_cluster("cluster-03")
    web_on_node_a(a, "web-1")
    peer(a, b)
    peer(a, c)
    export(a, {"web": ["cluster-02", "cluster-03"]})
    world.settle()
    assert len(health(c, "web", "?peer=cluster-01")) == 1
    export(a, {"web": ["cluster-02"]})
    world.settle()
    assert health(c, "web", "?peer=cluster-01") == []
    assert len(health(b, "web", "?peer=cluster-01")) == 1


def test_stream_status_follows_heartbeats_and_sends(world: World, a: Cluster, b: Cluster) -> None:
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    status = read(b, "cluster-01")["StreamStatus"]
    assert status["LastHeartbeat"] is None
    assert status["LastReceive"] == "2026-01-01T00:00:00Z"
    world.advance(15)
    status = read(b, "cluster-01")["StreamStatus"]
    assert status["LastHeartbeat"] == status["LastReceive"] == "2026-01-01T00:00:15Z"
    assert read(a, "cluster-02")["StreamStatus"]["LastSend"] == "2026-01-01T00:00:00Z"


def test_heartbeat_settings_are_per_world() -> None:
    with World(clock="virtual", seed=1, heartbeat_interval=1, heartbeat_timeout=4) as world:
        a, b = world.add_cluster("cluster-01"), world.add_cluster("cluster-02")
        peer(a, b)
        world.partition("cluster-01", "cluster-02")
        world.advance(3.5)
        assert read(b, "cluster-01")["State"] == "ACTIVE"
        world.advance(1)
        assert read(b, "cluster-01")["State"] == "FAILING"
        world.heal()
        world.advance(2)
        assert read(b, "cluster-01")["State"] == "ACTIVE"


def test_a_crashed_exporter_fails_on_the_importer_and_comes_back(
    world: World, a: Cluster, b: Cluster
) -> None:
    web_on_node_a(a, "web-1")
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.settle()
    world.crash("cluster-01")
    world.advance(121)
    assert read(b, "cluster-01")["State"] == "FAILING"
    assert len(health(b, "web", "?peer=cluster-01")) == 1
    world.restart("cluster-01")
    world.advance(65)
    assert read(b, "cluster-01")["State"] == "ACTIVE"
    assert read(a, "cluster-02")["State"] == "ACTIVE"


def test_a_restarted_dialer_redials_at_once(world: World, a: Cluster, b: Cluster) -> None:
    web_on_node_a(a, "web-1")
    peer(a, b)
    export(a, {"web": ["cluster-02"]})
    world.crash("cluster-02")
    world.settle()
    assert health(b, "web", "?peer=cluster-01") == []
    world.restart("cluster-02")
    world.advance(0)
    world.settle()
    assert read(b, "cluster-01")["State"] == read(a, "cluster-02")["State"] == "ACTIVE"
    assert len(health(b, "web", "?peer=cluster-01")) == 1


def test_a_lossy_duplicating_slow_link_still_converges(
    world: World, a: Cluster, b: Cluster
) -> None:
    for i in range(10):
        web_on_node_a(a, f"web-{i}", (f"c{i}", "passing"))
    peer(a, b)
    world.set_link("cluster-01", "cluster-02", latency=0.05, loss=0.3, duplicate=0.3)
    export(a, {"web": ["cluster-02"]})
    world.advance(100)
    world.set_link("cluster-01", "cluster-02", loss=0.0)
    world.advance(30)
    world.settle()
    assert len(health(b, "web", "?peer=cluster-01")) == 10
    outcomes = {e.outcome for e in world.network.journal}
    assert {"dropped: lost", "sent: duplicate"} <= outcomes


def test_held_messages_arrive_on_release(world: World, a: Cluster, b: Cluster) -> None:
    web_on_node_a(a, "web-1")
    peer(a, b)
    world.hold("cluster-01", "cluster-02")
    export(a, {"web": ["cluster-02"]})
    world.settle()
    assert health(b, "web", "?peer=cluster-01") == []
    world.release("cluster-01", "cluster-02")
    world.settle()
    assert len(health(b, "web", "?peer=cluster-01")) == 1


def test_a_malformed_response_is_nacked(world: World, a: Cluster, b: Cluster) -> None:
    peer(a, b)
    world.settle()
    b_id = read(b, "cluster-01")["ID"]
    a_id = read(a, "cluster-02")["ID"]
    end = b.peering.streams.ends[b_id]
    world.network.send(
        a.peering_address,
        b.peering_address,
        ReplicationResponse(
            b_id,
            end.stream_id,
            nonce="",
            resource_url=EXPORTED_SERVICE_URL,
            resource_id="web",
            resource=ExportedServicePayload(()),
            stream_secret=end.secret,
        ),
    )
    world.settle()
    nacks = [e for e in world.network.journal if e.kind == "Nack" and e.outcome == "delivered"]
    assert [e.summary for e in nacks] == ["nonce=: received response without a nonce"]
    assert a.peering.tracker.streams[a_id].last_nack_message == (
        "client peer was unable to apply resource: received response without a nonce"
    )


def test_same_seed_same_journal() -> None:
    def run() -> list[JournalEntry]:
        with World(clock="virtual", seed=5) as world:
            a, b = world.add_cluster("cluster-01"), world.add_cluster("cluster-02")
            for i in range(4):
                web_on_node_a(a, f"web-{i}", (f"c{i}", "passing"))
            peer(a, b)
            world.set_link("cluster-01", "cluster-02", latency=0.01, loss=0.2, duplicate=0.2)
            export(a, {"web": ["cluster-02"]})
            world.advance(40)
            world.partition("cluster-01", "cluster-02")
            world.advance(130)
            world.heal()
            world.advance(70)
            return list(world.network.journal)

    first, second = run(), run()
    assert len(first) > 50
    assert first == second


def test_exported_services_endpoint_expands_wildcards(world: World, a: Cluster, b: Cluster) -> None:
    web_on_node_a(a, "web-1")
    register(a, {"Node": "node-a", "Address": "10.0.0.1", "Service": {"Service": "api"}})
    r = a.client.get("/v1/exported-services")
    assert (r.status_code, r.text) == (200, "[]")
    export(a, {"*": ["cluster-03"], "web": ["cluster-02"], "db": ["cluster-02"]})
    r = a.client.get("/v1/exported-services")
    assert r.status_code == 200
    assert int(r.headers["X-Consul-Index"]) >= 1
    assert r.json() == [
        {"Service": "api", "Consumers": {"Peers": ["cluster-03"]}},
        {"Service": "db", "Consumers": {"Peers": ["cluster-02"]}},
        {"Service": "web", "Consumers": {"Peers": ["cluster-02", "cluster-03"]}},
    ]


def test_trust_bundles_flow_both_ways_and_follow_rotation(
    world: World, a: Cluster, b: Cluster
) -> None:
    """33"""
    peer(a, b)
    world.settle()
    roots = a.client.get("/v1/connect/ca/roots").json()["Roots"]
    expected = [
        r["RootCert"] if r["RootCert"].endswith("\n") else r["RootCert"] + "\n" for r in roots
    ]
    assert read(b, "cluster-01")["PeerCAPems"] == expected
    assert read(a, "cluster-02")["PeerCAPems"] == b.ca.root_pems()
    before = read(b, "cluster-01")["ModifyIndex"]
    a.ca.rotate()
    world.settle()
    pems = read(b, "cluster-01")["PeerCAPems"]
    assert len(pems) == 2 and expected[0] in pems
    assert pems == a.ca.root_pems()
    assert read(b, "cluster-01")["ModifyIndex"] > before
