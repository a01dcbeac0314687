"""The intention endpoints and agent authorize, over HTTP (reference §6 items 34-39)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consul_sim.world import Cluster, World

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=34)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def dc1(world: World) -> Cluster:
    return world.add_cluster("cluster-01")


def put(cluster: Cluster, body: dict[str, Any]) -> None:
    r = cluster.client.put("/v1/config", json=body)
    assert (r.status_code, r.text) == (200, "true")


def check(cluster: Cluster, source: str, destination: str) -> Any:
    r = cluster.client.get(
        "/v1/connect/intentions/check", params={"source": source, "destination": destination}
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_check_without_intentions_is_allowed(dc1: Cluster) -> None:
    assert check(dc1, "web", "db") == {"Allowed": True}


def test_exact_source_outranks_wildcard_deny(dc1: Cluster) -> None:
    put(
        dc1,
        {
            "Kind": "service-intentions",
            "Name": "db",
            "Sources": [{"Name": "*", "Action": "deny"}, {"Name": "web", "Action": "allow"}],
        },
    )
    assert check(dc1, "web", "db") == {"Allowed": True}
    assert check(dc1, "api", "db") == {"Allowed": False}


def test_peer_source_never_matches_local_caller(dc1: Cluster) -> None:
    put(
        dc1,
        {
            "Kind": "service-intentions",
            "Name": "db",
            "Sources": [
                {"Name": "*", "Action": "deny"},
                {"Name": "web", "Peer": "cluster-01", "Action": "allow"},
            ],
        },
    )
    assert check(dc1, "web", "db") == {"Allowed": False}


def test_check_refuses_peer_source(dc1: Cluster) -> None:
    r = dc1.client.get(
        "/v1/connect/intentions/check",
        params={"source": "peer:cluster-01/web", "destination": "db"},
    )
    assert (r.status_code, r.text) == (
        500,
        'source "peer:cluster-01/web" is invalid: cannot specify a peer here',
    )


def test_check_without_source_is_an_error(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/connect/intentions/check", params={"destination": "db"})
    assert (r.status_code, r.text) == (500, "required query parameter 'source' not set")


def test_exact_accepts_peer_source(dc1: Cluster) -> None:
    put(
        dc1,
        {
            "Kind": "service-intentions",
            "Name": "db",
            "Sources": [
                {"Name": "*", "Action": "deny"},
                {"Name": "web", "Peer": "cluster-01", "Action": "allow"},
            ],
        },
    )
    r = dc1.client.get(
        "/v1/connect/intentions/exact",
        params={"source": "peer:cluster-01/web", "destination": "db"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["SourcePeer"], body["SourceName"], body["Action"], body["Precedence"]) == (
        "cluster-01",
        "web",
        "allow",
        9,
    )
    entry = dc1.client.get("/v1/config/service-intentions/db").json()
    assert (body["CreateIndex"], body["ModifyIndex"]) == (
        entry["CreateIndex"],
        entry["ModifyIndex"],
    )
    r = dc1.client.get(
        "/v1/connect/intentions/exact",
        params={"source": "peer:cluster-09/web", "destination": "db"},
    )
    assert (r.status_code, r.text) == (404, "Intention not found")


def test_exact_peer_without_service_is_an_error(dc1: Cluster) -> None:
    r = dc1.client.get(
        "/v1/connect/intentions/exact", params={"source": "peer:cluster-01", "destination": "db"}
    )
    assert (r.status_code, r.text) == (
        500,
        'source "peer:cluster-01" is invalid: need to specify the service name as well',
    )


def test_deleting_last_source_deletes_the_entry(dc1: Cluster) -> None:
    put(
        dc1,
        {
            "Kind": "service-intentions",
            "Name": "db",
            "Sources": [{"Name": "web", "Action": "allow"}],
        },
    )
    r = dc1.client.delete(
        "/v1/connect/intentions/exact", params={"source": "web", "destination": "db"}
    )
    assert (r.status_code, r.text) == (200, "true")
    r = dc1.client.get("/v1/config/service-intentions/db")
    assert (r.status_code, r.text) == (
        404,
        'Config entry not found for "service-intentions" / "db"',
    )


def test_match_by_destination_sorts_by_precedence(dc1: Cluster) -> None:
    put(
        dc1,
        {
            "Kind": "service-intentions",
            "Name": "db",
            "Sources": [{"Name": "*", "Action": "deny"}, {"Name": "web", "Action": "allow"}],
        },
    )
    put(
        dc1,
        {
            "Kind": "service-intentions",
            "Name": "*",
            "Sources": [{"Name": "api", "Action": "allow"}],
        },
    )
    r = dc1.client.get(
        "/v1/connect/intentions/match",
        params=[("by", "destination"), ("name", "db"), ("name", "nothing")],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(i["SourceName"], i["DestinationName"], i["Precedence"]) for i in body["db"]] == [
        ("web", "db", 9),
        ("*", "db", 8),
        ("api", "*", 6),
    ]
    assert [i["SourceName"] for i in body["nothing"]] == ["api"]


def test_match_with_bad_by_is_an_error(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/connect/intentions/match", params={"by": "x", "name": "db"})
    assert (r.status_code, r.text) == (
        500,
        "'by' parameter must be one of 'source' or 'destination'",
    )


def authorize(cluster: Cluster, target: str, uri: str) -> Any:
    r = cluster.client.post(
        "/v1/agent/connect/authorize", json={"Target": target, "ClientCertURI": uri}
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_authorize_without_intentions_allows_by_default(dc1: Cluster) -> None:
    uri = f"spiffe://{dc1.trust_domain}/ns/default/dc/cluster-01/svc/web"
    assert authorize(dc1, "db", uri) == {
        "Authorized": True,
        "Reason": "Default behavior configured by ACLs",
    }


def test_authorize_refuses_a_non_spiffe_uri(dc1: Cluster) -> None:
    r = dc1.client.post(
        "/v1/agent/connect/authorize", json={"Target": "db", "ClientCertURI": "http://x"}
    )
    assert (r.status_code, r.text) == (400, "ClientCertURI not a valid Connect identifier")


def test_peering_intentions_file_lets_only_the_peer_frontend_in(world: World) -> None:
    dc1 = world.add_cluster("cluster-01")
    dc2 = world.add_cluster("cluster-02")
    token = dc1.client.post("/v1/peering/token", json={"PeerName": "cluster-02"}).json()
    r = dc2.client.post(
        "/v1/peering/establish",
        json={"PeerName": "cluster-01", "PeeringToken": token["PeeringToken"]},
    )
    assert r.status_code == 200, r.text
    dc1.client.put(
        "/v1/config",
        json={
            "Kind": "service-intentions",
            "Name": "*",
            "Sources": [{"Name": "*", "Peer": "cluster-02", "Action": "deny"}],
        },
    )
    peer_uri = f"spiffe://{dc2.trust_domain}/ap/default/ns/default/dc/cluster-02/svc/frontend"
    local_uri = f"spiffe://{dc1.trust_domain}/ns/default/dc/cluster-01/svc/frontend"
    assert authorize(dc1, "service-name", peer_uri) == {
        "Authorized": False,
        "Reason": "Matched L4 intention: peer(cluster-02)/* => * (Precedence: 5, Action: DENY)",
    }
    assert authorize(dc1, "service-name", local_uri)["Authorized"] is True

    assert dc1.config.write((SCENARIOS / "peering-intentions.hcl").read_text()) is True

    assert authorize(dc1, "service-name", peer_uri) == {
        "Authorized": True,
        "Reason": "Matched L4 intention: peer(cluster-02)/frontend => service-name "
        "(Precedence: 9, Action: ALLOW)",
    }
    local = authorize(dc1, "service-name", local_uri)
    assert local["Authorized"] is True
    assert local["Reason"] == "Default behavior configured by ACLs"
    assert check(dc1, "frontend", "service-name") == {"Allowed": True}
    r = dc1.client.get(
        "/v1/connect/intentions/exact",
        params={"source": "peer:cluster-02/frontend", "destination": "service-name"},
    )
    assert (r.status_code, r.json()["Action"]) == (200, "allow")
    other_uri = peer_uri.replace("/svc/frontend", "/svc/other")
    assert authorize(dc1, "service-name", other_uri)["Authorized"] is False
