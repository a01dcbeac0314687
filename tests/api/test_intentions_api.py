"""The intention write, list and legacy ID endpoints over HTTP (config-entry mode, Consul 1.9+)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from consul_sim.world import Cluster, World

EXACT = "/v1/connect/intentions/exact"
LEGACY_DENIED = (
    'cannot use legacy intention API to edit intentions with a destination of "db" after '
    "editing them via a service-intentions config entry"
)


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=41)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def dc1(world: World) -> Cluster:
    return world.add_cluster("dc1")


@pytest.fixture
def deny(world: World) -> Cluster:
    return world.add_cluster("dc1", acl_default_policy="deny")


def put_exact(cluster: Cluster, source: str, destination: str, body: Any, **kw: Any) -> Any:
    return cluster.client.put(
        EXACT, params={"source": source, "destination": destination}, json=body, **kw
    )


def entry(cluster: Cluster, name: str) -> Any:
    r = cluster.client.get(f"/v1/config/service-intentions/{name}")
    assert r.status_code == 200, r.text
    return r.json()


def create_legacy(cluster: Cluster, source: str, destination: str, **extra: Any) -> str:
    body = {"SourceName": source, "DestinationName": destination, "Action": "allow", **extra}
    r = cluster.client.post("/v1/connect/intentions", json=body)
    assert r.status_code == 200, r.text
    legacy_id: str = r.json()["ID"]
    return legacy_id


# -- PUT /exact -----------------------------------------------------------------------------------
def test_put_exact_creates_the_destination_entry(dc1: Cluster) -> None:
    r = put_exact(dc1, "web", "db", {"Action": "allow", "Description": "hi"})
    assert (r.status_code, r.text) == (200, "true")
    got = entry(dc1, "db")
    assert got["Sources"] == [
        {"Name": "web", "Action": "allow", "Precedence": 9, "Type": "consul", "Description": "hi"}
    ]


def test_put_exact_replaces_the_same_source_and_appends_others(dc1: Cluster) -> None:
    put_exact(dc1, "web", "db", {"Action": "allow"})
    put_exact(dc1, "*", "db", {"Action": "deny"})
    put_exact(dc1, "web", "db", {"Action": "deny"})
    sources = entry(dc1, "db")["Sources"]
    assert [(s["Name"], s["Action"]) for s in sources] == [("web", "deny"), ("*", "deny")]


def test_put_exact_ignores_names_in_the_body(dc1: Cluster) -> None:
    body = {"SourceName": "api", "DestinationName": "cache", "Action": "allow"}
    assert put_exact(dc1, "web", "db", body).text == "true"
    assert entry(dc1, "db")["Sources"][0]["Name"] == "web"


def test_put_exact_validates_like_a_config_entry(dc1: Cluster) -> None:
    r = put_exact(dc1, "web", "db", {"Action": "permit"})
    assert (r.status_code, r.text) == (500, "Sources[0].Action must be set to 'allow' or 'deny'")


def test_put_exact_refuses_a_source_peer(dc1: Cluster) -> None:
    r = put_exact(dc1, "web", "db", {"Action": "allow", "SourcePeer": "p1"})
    assert (r.status_code, r.text) == (
        500,
        "SourcePeer field is not supported on this endpoint. Use config entries instead",
    )


def test_put_exact_refuses_a_peer_name(dc1: Cluster) -> None:
    r = put_exact(dc1, "peer:p1/web", "db", {"Action": "allow"})
    assert (r.status_code, r.text) == (
        500,
        'source "peer:p1/web" is invalid: cannot specify a peer here',
    )


def test_put_exact_refuses_meta_on_a_new_entry(dc1: Cluster) -> None:
    r = put_exact(dc1, "web", "db", {"Action": "allow", "Meta": {"k": "v"}})
    assert (r.status_code, r.text) == (500, "Meta must not be specified")


def test_put_exact_accepts_the_entry_meta_unchanged(dc1: Cluster) -> None:
    put = dc1.client.put(
        "/v1/config",
        json={
            "Kind": "service-intentions",
            "Name": "db",
            "Meta": {"k": "v"},
            "Sources": [{"Name": "web", "Action": "allow"}],
        },
    )
    assert put.text == "true"
    assert put_exact(dc1, "api", "db", {"Action": "deny", "Meta": {"k": "v"}}).text == "true"
    r = put_exact(dc1, "api", "db", {"Action": "deny", "Meta": {"k": "other"}})
    assert (r.status_code, r.text) == (
        500,
        "Meta must not be specified, or should be unchanged during an update.",
    )
    assert entry(dc1, "db")["Meta"] == {"k": "v"}


def test_put_exact_with_a_bad_body_is_a_decode_error(dc1: Cluster) -> None:
    r = dc1.client.put(EXACT, params={"source": "web", "destination": "db"}, content=b"{")
    assert r.status_code == 400
    assert r.text.startswith("Request decode failed: ")
    r = put_exact(dc1, "web", "db", {"Action": 5})
    assert (r.status_code, r.text) == (
        400,
        "Request decode failed: json: cannot unmarshal number into Go struct field "
        "Intention.Action of type string",
    )


def test_put_exact_without_destination_is_an_error(dc1: Cluster) -> None:
    r = dc1.client.put(EXACT, params={"source": "web"}, json={"Action": "allow"})
    assert (r.status_code, r.text) == (500, "required query parameter 'destination' not set")


def test_delete_exact_of_a_missing_source_is_true(dc1: Cluster) -> None:
    put_exact(dc1, "web", "db", {"Action": "allow"})
    r = dc1.client.delete(EXACT, params={"source": "api", "destination": "db"})
    assert (r.status_code, r.text) == (200, "true")
    assert len(entry(dc1, "db")["Sources"]) == 1


# -- GET /v1/connect/intentions -------------------------------------------------------------------
def test_list_is_empty_array_without_intentions(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/connect/intentions")
    assert (r.status_code, r.json()) == (200, [])
    assert int(r.headers["X-Consul-Index"]) >= 1


def test_list_flattens_entries_by_precedence(dc1: Cluster) -> None:
    put_exact(dc1, "*", "db", {"Action": "deny"})
    put_exact(dc1, "web", "*", {"Action": "allow"})
    put_exact(dc1, "web", "db", {"Action": "allow"})
    r = dc1.client.get("/v1/connect/intentions")
    body = r.json()
    assert [(i["SourceName"], i["DestinationName"], i["Precedence"]) for i in body] == [
        ("web", "db", 9),
        ("*", "db", 8),
        ("web", "*", 6),
    ]
    db = entry(dc1, "db")
    assert (body[0]["ID"], body[0]["SourceNS"], body[0]["SourcePeer"]) == ("", "default", "")
    assert (body[0]["CreateIndex"], body[0]["ModifyIndex"]) == (
        db["CreateIndex"],
        db["ModifyIndex"],
    )
    assert int(r.headers["X-Consul-Index"]) >= db["ModifyIndex"]


def test_list_filter_selects_intentions(dc1: Cluster) -> None:
    dc1.client.put(
        "/v1/config",
        json={
            "Kind": "service-intentions",
            "Name": "db",
            "Sources": [
                {"Name": "web", "Action": "allow"},
                {"Name": "web", "Peer": "p1", "Action": "deny"},
            ],
        },
    )
    r = dc1.client.get("/v1/connect/intentions", params={"filter": 'SourcePeer == "p1"'})
    assert [(i["SourceName"], i["SourcePeer"], i["Action"]) for i in r.json()] == [
        ("web", "p1", "deny")
    ]


def test_list_blocks_until_an_intention_changes(dc1: Cluster) -> None:
    put_exact(dc1, "web", "db", {"Action": "allow"})
    index = int(dc1.client.get("/v1/connect/intentions").headers["X-Consul-Index"])
    results: list[httpx.Response] = []
    reader = threading.Thread(
        target=lambda: results.append(
            dc1.client.get("/v1/connect/intentions", params={"index": index, "wait": "5m"})
        )
    )
    reader.start()
    dc1.config.write(
        {
            "Kind": "service-intentions",
            "Name": "cache",
            "Sources": [{"Name": "api", "Action": "deny"}],
        }
    )
    reader.join(timeout=10)
    assert not reader.is_alive()
    [r] = results
    assert int(r.headers["X-Consul-Index"]) > index
    assert {i["SourceName"] for i in r.json()} == {"web", "api"}


# -- the legacy ID-based endpoints ----------------------------------------------------------------
def test_legacy_create_returns_an_id_readable_by_id(dc1: Cluster) -> None:
    legacy_id = create_legacy(dc1, "web", "db", Description="old", Meta={"a": "b"})
    r = dc1.client.get(f"/v1/connect/intentions/{legacy_id}")
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["ID"], got["SourceName"], got["DestinationName"], got["Action"]) == (
        legacy_id,
        "web",
        "db",
        "allow",
    )
    assert (got["Meta"], got["Description"], got["Precedence"]) == ({"a": "b"}, "old", 9)
    assert got["CreatedAt"] == got["UpdatedAt"] != "0001-01-01T00:00:00Z"
    source = entry(dc1, "db")["Sources"][0]
    assert (source["LegacyID"], source["LegacyMeta"]) == (legacy_id, {"a": "b"})


def test_legacy_update_keeps_created_at(world: World, dc1: Cluster) -> None:
    legacy_id = create_legacy(dc1, "web", "db")
    before = dc1.client.get(f"/v1/connect/intentions/{legacy_id}").json()
    world.advance(5)
    body = {"SourceName": "web", "DestinationName": "db", "Action": "deny"}
    r = dc1.client.put(f"/v1/connect/intentions/{legacy_id}", json=body)
    assert (r.status_code, r.json()) == (200, {"ID": legacy_id})
    after = dc1.client.get(f"/v1/connect/intentions/{legacy_id}").json()
    assert after["Action"] == "deny"
    assert after["CreatedAt"] == before["CreatedAt"]
    assert after["UpdatedAt"] > before["UpdatedAt"]


def test_legacy_update_cannot_move_the_destination(dc1: Cluster) -> None:
    legacy_id = create_legacy(dc1, "web", "db")
    body = {"SourceName": "web", "DestinationName": "cache", "Action": "deny"}
    r = dc1.client.put(f"/v1/connect/intentions/{legacy_id}", json=body)
    assert (r.status_code, r.text) == (
        500,
        "Cannot modify Destination partition/namespace/name for an intention once it exists.",
    )


def test_legacy_delete_removes_the_source_and_then_errors(dc1: Cluster) -> None:
    legacy_id = create_legacy(dc1, "web", "db")
    r = dc1.client.delete(f"/v1/connect/intentions/{legacy_id}")
    assert (r.status_code, r.text) == (200, "true")
    assert dc1.client.get("/v1/config/service-intentions/db").status_code == 404
    r = dc1.client.delete(f"/v1/connect/intentions/{legacy_id}")
    assert (r.status_code, r.text) == (500, f"Cannot delete non-existent intention: '{legacy_id}'")


def test_get_by_unknown_id_is_not_found(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/connect/intentions/00000000-0000-0000-0000-000000000001")
    assert (r.status_code, r.text) == (404, "Intention not found")


def test_get_by_malformed_id_is_bad_request(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/connect/intentions/not-a-uuid")
    assert (r.status_code, r.text) == (
        400,
        "failed config entry lookup: UUID must be 36 characters",
    )


def test_config_entry_intentions_have_no_id(dc1: Cluster) -> None:
    put_exact(dc1, "web", "db", {"Action": "allow"})
    listed = dc1.client.get("/v1/connect/intentions").json()
    assert listed[0]["ID"] == ""


def test_legacy_create_refuses_entry_edited_as_config_entry(dc1: Cluster) -> None:
    put_exact(dc1, "web", "db", {"Action": "allow"})
    body = {"SourceName": "api", "DestinationName": "db", "Action": "allow"}
    r = dc1.client.post("/v1/connect/intentions", json=body)
    assert (r.status_code, r.text) == (500, LEGACY_DENIED)


def test_config_entry_write_clears_legacy_ids(dc1: Cluster) -> None:
    legacy_id = create_legacy(dc1, "web", "db")
    current = entry(dc1, "db")
    for key in ("CreateIndex", "ModifyIndex"):
        current.pop(key)
    for src in current["Sources"]:
        for key in ("LegacyID", "LegacyMeta", "LegacyCreateTime", "LegacyUpdateTime"):
            src.pop(key, None)
    assert dc1.client.put("/v1/config", json=current).text == "true"
    r = dc1.client.get(f"/v1/connect/intentions/{legacy_id}")
    assert (r.status_code, r.text) == (404, "Intention not found")
    r = dc1.client.delete(f"/v1/connect/intentions/{legacy_id}")
    assert (r.status_code, r.text) == (500, f"Cannot delete non-existent intention: '{legacy_id}'")


def test_legacy_create_validates_the_intention(dc1: Cluster) -> None:
    r = dc1.client.post("/v1/connect/intentions", json={"SourceName": "we*"})
    assert (r.status_code, r.text) == (
        500,
        "3 errors occurred:\n"
        "\t* DestinationName must be set\n"
        "\t* SourceName: wildcard character '*' cannot be used with partial values\n"
        "\t* Action must be set to 'allow' or 'deny'\n\n",
    )


def test_legacy_create_refuses_a_duplicate_source(dc1: Cluster) -> None:
    create_legacy(dc1, "web", "db")
    body = {"SourceName": "web", "DestinationName": "db", "Action": "deny"}
    r = dc1.client.post("/v1/connect/intentions", json=body)
    assert (r.status_code, r.text) == (500, 'Sources[1] defines "web" more than once')


def test_legacy_create_with_a_bad_body_is_a_500(dc1: Cluster) -> None:
    r = dc1.client.post("/v1/connect/intentions", content=b"[")
    assert r.status_code == 500
    assert r.text.startswith("Failed to decode request body: ")


def test_intentions_collection_allows_get_and_post_only(dc1: Cluster) -> None:
    r = dc1.client.put("/v1/connect/intentions", json={})
    assert (r.status_code, r.headers["Allow"]) == (405, "OPTIONS,GET,POST")


# -- ACLs -----------------------------------------------------------------------------------------
def _token(cluster: Cluster, rules: dict[str, str]) -> dict[str, str]:
    _, secret = cluster.acl.create_token(rules)
    return {"X-Consul-Token": secret}


def _admin(cluster: Cluster) -> dict[str, str]:
    return {"X-Consul-Token": cluster.acl.management_token}


def test_put_exact_needs_intentions_write_on_the_destination(deny: Cluster) -> None:
    reader = _token(deny, {"intentions:db": "read"})
    r = put_exact(deny, "web", "db", {"Action": "allow"}, headers=reader)
    assert (r.status_code, r.text) == (403, "Permission denied")
    writer = _token(deny, {"intentions:db": "write"})
    assert put_exact(deny, "web", "db", {"Action": "allow"}, headers=writer).text == "true"


def test_delete_exact_needs_intentions_write(deny: Cluster) -> None:
    put_exact(deny, "web", "db", {"Action": "allow"}, headers=_admin(deny))
    r = deny.client.delete(EXACT, params={"source": "web", "destination": "db"})
    assert (r.status_code, r.text) == (403, "Permission denied")


def test_list_shows_only_intentions_the_token_can_read(deny: Cluster) -> None:
    admin = _admin(deny)
    put_exact(deny, "web", "db", {"Action": "allow"}, headers=admin)
    put_exact(deny, "api", "cache", {"Action": "allow"}, headers=admin)
    token = _token(deny, {"intentions:web": "read"})
    r = deny.client.get("/v1/connect/intentions", headers=token)
    assert [(i["SourceName"], i["DestinationName"]) for i in r.json()] == [("web", "db")]
    assert r.headers["X-Consul-Results-Filtered-By-Acls"] == "true"
    full = deny.client.get("/v1/connect/intentions", headers=admin)
    assert len(full.json()) == 2
    assert "X-Consul-Results-Filtered-By-Acls" not in full.headers


def test_list_hides_the_filtered_flag_from_the_anonymous_token(deny: Cluster) -> None:
    """maskResultsFilteredByACLs (agent/consul/rpc.go), which every blocking RPC's query meta
    goes through: a caller who sent no token is not told what was left out."""
    put_exact(deny, "web", "db", {"Action": "allow"}, headers=_admin(deny))
    r = deny.client.get("/v1/connect/intentions")
    assert (r.status_code, r.json()) == (200, [])
    assert "X-Consul-Results-Filtered-By-ACLs" not in r.headers


def test_get_exact_without_intentions_read_is_denied(deny: Cluster) -> None:
    put_exact(deny, "web", "db", {"Action": "allow"}, headers=_admin(deny))
    r = deny.client.get(EXACT, params={"source": "web", "destination": "db"})
    assert (r.status_code, r.text) == (403, "Permission denied")
    token = _token(deny, {"service:db": "read"})
    r = deny.client.get(EXACT, params={"source": "web", "destination": "db"}, headers=token)
    assert r.status_code == 200, r.text
    assert (r.json()["SourceName"], r.json()["DestinationName"], r.json()["Action"]) == (
        "web",
        "db",
        "allow",
    )


def test_legacy_create_needs_intentions_write(deny: Cluster) -> None:
    body = {"SourceName": "web", "DestinationName": "db", "Action": "allow"}
    r = deny.client.post("/v1/connect/intentions", json=body)
    assert (r.status_code, r.text) == (403, "Permission denied")


def test_an_intention_without_meta_leaves_meta_out(dc1: Cluster) -> None:
    """structs.Intention's Meta is omitempty: HashiCorp's Go client reads an intention made
    without Meta back with a nil Meta (its TestAPI_ConnectIntentionCreateListGetUpdateDelete)."""
    bare = create_legacy(dc1, "api", "db")
    tagged = create_legacy(dc1, "web", "db", Meta={"team": "x"})
    listed = {i["ID"]: i for i in dc1.client.get("/v1/connect/intentions").json()}
    assert "Meta" not in listed[bare]
    assert listed[tagged]["Meta"] == {"team": "x"}
    one = dc1.client.get(f"/v1/connect/intentions/{bare}").json()
    assert "Meta" not in one
    assert one["SourceName"] == "api"
