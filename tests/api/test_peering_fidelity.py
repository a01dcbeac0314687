"""Peering answers checked against Consul's source (issue 12's fidelity fixes), over HTTP.

Each test names the Consul file whose behaviour it asserts: peer names are labels, not checks
(``peerstream/server.go``'s ``ExchangeSecret``); a peering read's index is its own
``ModifyIndex`` (``state/peering.go``); the dialer's backoff and send errors
(``leader_peering.go``); emptied service lists and partition consumers as the HTTP answer
shows them (``rpc/peering/service.go``, ``state/config_entry_exported_services_ce.go``).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from consul_sim.world import Cluster, World
from tests.blocking import blocked_get, wait_until_blocked

STRICT_REFUSAL = (
    "rpc error: code = PermissionDenied desc = a new peering token must be generated: "
    'invalid peering establishment secret: the token was generated for peer "west-peer", '
    'but cluster "cluster-02" presented it'
)


@pytest.fixture
def acceptor(world: World) -> Cluster:
    return world.add_cluster("cluster-01")


@pytest.fixture
def dialer(world: World, acceptor: Cluster) -> Cluster:
    return world.add_cluster("cluster-02")


def token_for(cluster: Cluster, peer: str) -> str:
    r = cluster.client.post("/v1/peering/token", json={"PeerName": peer})
    assert r.status_code == 200, r.text
    token: str = r.json()["PeeringToken"]
    return token


def establish(cluster: Cluster, peer: str, token: str) -> httpx.Response:
    return cluster.client.post(
        "/v1/peering/establish", json={"PeerName": peer, "PeeringToken": token}
    )


def read(cluster: Cluster, name: str) -> dict[str, Any]:
    r = cluster.client.get(f"/v1/peering/{name}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def events(cluster: Cluster, since: int = 0) -> list[dict[str, Any]]:
    r = cluster.client.get(f"/_sim/events?since={since}")
    assert r.status_code == 200, r.text
    lines: list[dict[str, Any]] = r.json()
    return lines


def peered(world: World, acceptor: Cluster, dialer: Cluster) -> None:
    r = establish(dialer, acceptor.name, token_for(acceptor, dialer.name))
    assert (r.status_code, r.text) == (200, "{}")
    world.settle()


def put(cluster: Cluster, path: str, body: object) -> None:
    r = cluster.client.put(path, json=body)
    assert r.status_code == 200, r.text


def export(cluster: Cluster, services: list[dict[str, Any]]) -> None:
    put(
        cluster,
        "/v1/config",
        {"Kind": "exported-services", "Name": "default", "Services": services},
    )


# -- 1. peer names are labels ----------------------------------------------------------------
def test_a_token_for_another_peer_name_establishes_and_the_journal_warns(
    world: World, acceptor: Cluster, dialer: Cluster
) -> None:
    token = token_for(acceptor, "west-peer")
    r = establish(dialer, "east", token)
    assert (r.status_code, r.text) == (200, "{}")
    world.settle()
    assert read(acceptor, "west-peer")["State"] == read(dialer, "east")["State"] == "ACTIVE"
    warnings = [e for e in events(acceptor) if e["Kind"] == "PeerNameMismatch"]
    assert [(w["Source"], w["Destination"], w["Outcome"]) for w in warnings] == [
        (
            "cluster-01",
            "cluster-02",
            'warning: the token was generated for peer "west-peer", but cluster "cluster-02" '
            "presented it (accepted: Consul does not check it)",
        )
    ]


def test_a_token_used_by_the_cluster_it_names_leaves_no_warning(
    world: World, acceptor: Cluster, dialer: Cluster
) -> None:
    peered(world, acceptor, dialer)
    assert [e for e in events(acceptor) if e["Kind"] == "PeerNameMismatch"] == []


def test_strict_peer_names_refuse_the_other_name_and_still_journal_it(dialer: Cluster) -> None:
    with World(clock="virtual", seed=7, strict_peer_names=True) as strict:
        acceptor, other = strict.add_cluster("cluster-01"), strict.add_cluster("cluster-02")
        token = token_for(acceptor, "west-peer")
        before = acceptor.client.get("/v1/peering/west-peer").text
        r = establish(other, "east", token)
        assert (r.status_code, r.text) == (500, STRICT_REFUSAL)
        assert acceptor.client.get("/v1/peering/west-peer").text == before
        warnings = [e["Outcome"] for e in events(acceptor) if e["Kind"] == "PeerNameMismatch"]
        assert warnings == [
            'warning: the token was generated for peer "west-peer", but cluster "cluster-02" '
            "presented it (refused: strict peer names)"
        ]
        # The rule is about the name only: the cluster it names may still use a fresh token.
        good = token_for(acceptor, "cluster-02")
        assert establish(other, "cluster-01", good).status_code == 200


def test_strict_peer_names_can_be_turned_on_for_a_running_world(
    world: World, acceptor: Cluster, dialer: Cluster
) -> None:
    world.set_strict_peer_names(True)
    third = world.add_cluster("cluster-03")
    assert third.peering.verify_peer_name and acceptor.peering.verify_peer_name
    r = establish(dialer, "east", token_for(acceptor, "west-peer"))
    assert (r.status_code, r.text) == (500, STRICT_REFUSAL)


# -- 2. GET /v1/peering/:name: its own index, its own watch -----------------------------------
def test_peering_read_index_is_its_modify_index_not_the_tables(
    world: World, acceptor: Cluster, dialer: Cluster
) -> None:
    peered(world, acceptor, dialer)
    token_for(acceptor, "later")  # a newer write to the peering table
    r = acceptor.client.get("/v1/peering/cluster-02")
    later = acceptor.client.get("/v1/peering/later")
    assert int(r.headers["X-Consul-Index"]) == r.json()["ModifyIndex"]
    assert int(later.headers["X-Consul-Index"]) == later.json()["ModifyIndex"]
    assert r.json()["ModifyIndex"] < later.json()["ModifyIndex"]
    # Consul's handler answers a missing peering before it sets the query meta.
    missing = acceptor.client.get("/v1/peering/nobody")
    assert (missing.status_code, missing.text) == (404, 'Peering not found for "nobody"')
    assert "X-Consul-Index" not in missing.headers


@pytest.mark.slow
def test_blocking_peering_read_sleeps_through_another_peerings_writes(
    world: World, acceptor: Cluster, dialer: Cluster
) -> None:
    peered(world, acceptor, dialer)
    index = int(acceptor.client.get("/v1/peering/cluster-02").headers["X-Consul-Index"])
    client = acceptor.client
    url = f"/v1/peering/cluster-02?index={index}&wait=60s"
    with blocked_get(world, client, url) as results:
        token_for(acceptor, "unrelated")  # another peering's write
        wait_until_blocked(world)
        assert not results, "another peering's write woke the read"
        assert client.delete("/v1/peering/cluster-02").status_code == 200
    assert len(results) == 1
    body = results[0].json()
    assert (results[0].status_code, body["State"]) == (200, "DELETING")
    assert int(results[0].headers["X-Consul-Index"]) == body["ModifyIndex"] > index


# -- 3 and 4. the dialer's backoff, and LastSend on failures -----------------------------------
def test_redials_back_off_2_4_8_up_to_64_seconds_and_move_last_send(
    world: World, acceptor: Cluster, dialer: Cluster
) -> None:
    peered(world, acceptor, dialer)
    since = world.network.journal.last_seq
    world.partition("cluster-01", "cluster-02")
    world.advance(120 + 2 + 4 + 8 + 16 + 32 + 64 + 64 + 1)
    opens = [e["At"] for e in events(dialer, since) if e["Kind"] == "OpenStream"]
    # The stream times out at 2m0s (no heartbeat), then one failed dial per backoff.
    assert opens == [
        "2026-01-01T00:02:02Z",
        "2026-01-01T00:02:06Z",
        "2026-01-01T00:02:14Z",
        "2026-01-01T00:02:30Z",
        "2026-01-01T00:03:02Z",
        "2026-01-01T00:04:06Z",
        "2026-01-01T00:05:10Z",
    ]
    mine = read(dialer, "cluster-01")
    assert mine["State"] == "FAILING"
    assert mine["StreamStatus"] == {
        "ImportedServices": None,
        "ExportedServices": None,
        "LastHeartbeat": None,
        "LastReceive": "2026-01-01T00:00:00Z",
        "LastSend": "2026-01-01T00:05:10Z",
    }
    status = dialer.peering.tracker.get(mine["ID"])
    assert status is not None
    assert status.last_send_error_message == (
        "rpc error: code = Unavailable desc = connection error: desc = "
        '"transport: Error while dialing: dial tcp 127.0.0.1:8503: i/o timeout"'
    )
    # The acceptor does not dial: its LastSend stays at its last successful send.
    assert read(acceptor, "cluster-02")["StreamStatus"]["LastSend"] == "2026-01-01T00:00:00Z"
    world.heal()
    world.advance(64)
    assert read(dialer, "cluster-01")["State"] == "ACTIVE"


def test_a_dialer_that_has_not_connected_since_its_restart_shows_its_failed_dials(
    world: World, acceptor: Cluster, dialer: Cluster
) -> None:
    """Consul registers the tracker entry before the first dial and records each failure,
    so the dialer's status is not the all-null one of a peering the tracker never saw."""
    peered(world, acceptor, dialer)
    world.crash("cluster-01")
    world.crash("cluster-02")
    world.advance(10)
    world.restart("cluster-02")  # a new leader: empty tracker, redial at once
    world.advance(1)
    mine = read(dialer, "cluster-01")
    assert (mine["State"], mine["StreamStatus"]) == (
        "ESTABLISHING",
        {
            "ImportedServices": None,
            "ExportedServices": None,
            "LastHeartbeat": None,
            "LastReceive": "0001-01-01T00:00:00Z",
            "LastSend": "2026-01-01T00:00:10Z",
        },
    )


def test_a_redial_to_a_deleted_acceptor_peering_gets_consuls_refusal(
    world: World, acceptor: Cluster, dialer: Cluster
) -> None:
    peered(world, acceptor, dialer)
    gone = read(acceptor, "cluster-02")["ID"]
    world.partition("cluster-01", "cluster-02")
    assert acceptor.client.delete("/v1/peering/cluster-02").status_code == 200
    world.advance(1)
    assert acceptor.client.get("/v1/peering/cluster-02").status_code == 404
    since = world.network.journal.last_seq
    world.heal()
    world.advance(130)  # the dialer's stream times out, then it redials
    outcomes = {e["Outcome"] for e in events(dialer, since) if e["Kind"] == "OpenStream"}
    assert outcomes == {
        "error: rpc error: code = InvalidArgument desc = initial subscription for unknown "
        f"PeerID: {gone}"
    }
    status = dialer.peering.tracker.get(read(dialer, "cluster-01")["ID"])
    assert status is not None
    assert status.last_send_error_message == (
        f"rpc error: code = InvalidArgument desc = initial subscription for unknown PeerID: {gone}"
    )


# -- 5. emptied service lists read null ---------------------------------------------------------
def test_emptied_imported_and_exported_services_read_null(
    world: World, acceptor: Cluster, dialer: Cluster
) -> None:
    peered(world, acceptor, dialer)
    put(acceptor, "/v1/agent/service/register", {"Name": "web", "Port": 80})
    export(acceptor, [{"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}])
    world.settle()
    assert read(acceptor, "cluster-02")["StreamStatus"]["ExportedServices"] == ["web"]
    assert read(dialer, "cluster-01")["StreamStatus"]["ImportedServices"] == ["web"]
    export(acceptor, [{"Name": "web", "Consumers": [{"Peer": "someone-else"}]}])
    world.settle()
    assert read(acceptor, "cluster-02")["StreamStatus"]["ExportedServices"] is None
    assert read(dialer, "cluster-01")["StreamStatus"]["ImportedServices"] is None
    r = dialer.client.get("/v1/peerings")
    assert r.json()[0]["StreamStatus"]["ImportedServices"] is None
    assert '"ImportedServices":null' in r.text


# -- 6. /v1/exported-services lists partition-only consumers ----------------------------------
def test_exported_services_lists_a_service_whose_consumers_are_all_partitions(
    acceptor: Cluster,
) -> None:
    put(acceptor, "/v1/agent/service/register", {"Name": "web", "Port": 80})
    export(
        acceptor,
        [
            {"Name": "web", "Consumers": [{"Partition": "team-a"}]},
            {"Name": "db", "Consumers": [{"Peer": "cluster-02"}, {"Partition": "team-b"}]},
        ],
    )
    r = acceptor.client.get("/v1/exported-services")
    assert r.status_code == 200
    assert r.json() == [
        {"Service": "db", "Consumers": {"Peers": ["cluster-02"]}},
        {"Service": "web", "Consumers": {}},
    ]
