"""/v1/coordinate/* as Consul's agent/coordinate_endpoint.go and the Coordinate RPCs answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from consul_sim.world import World
from tests.api.conftest import register
from tests.blocking import blocked_get

ORIGIN = '{"Vec":[0,0,0,0,0,0,0,0],"Error":1.5,"Adjustment":0,"Height":0.00001}'
MOVED = {
    "Vec": [0.5, -1, 0, 0, 0, 0, 0, 2e-7],
    "Error": 0.25,
    "Adjustment": -0.0001,
    "Height": 0.00002,
}
MOVED_JSON = '{"Vec":[0.5,-1,0,0,0,0,0,2e-7],"Error":0.25,"Adjustment":-0.0001,"Height":0.00002}'


def update(client: httpx.Client, body: Any, query: str = "") -> httpx.Response:
    return client.put(f"/v1/coordinate/update{query}", json=body)


def test_datacenters_lists_this_cluster_and_its_server_at_the_origin(
    client: httpx.Client,
) -> None:
    r = client.get("/v1/coordinate/datacenters")
    assert r.status_code == 200
    assert r.text == (
        '[{"Datacenter":"dc1","AreaID":"wan","Coordinates":'
        f'[{{"Node":"dc1-server","Segment":"","Coord":{ORIGIN}}}]}}]'
    )
    assert "X-Consul-Index" not in r.headers


def test_nodes_and_node_show_the_agents_coordinate(client: httpx.Client) -> None:
    expected = f'[{{"Node":"dc1-server","Segment":"","Coord":{ORIGIN}}}]'
    r = client.get("/v1/coordinate/nodes")
    assert (r.status_code, r.text, r.headers["X-Consul-Index"]) == (200, expected, "1")
    r = client.get("/v1/coordinate/node/dc1-server")
    assert (r.status_code, r.text) == (200, expected)
    assert client.get("/v1/coordinate/nodes?segment=alpha").text == "[]"


def test_a_node_without_a_coordinate_is_a_404_with_an_empty_body(client: httpx.Client) -> None:
    r = client.get("/v1/coordinate/node/nobody")
    assert (r.status_code, r.text, r.headers["X-Consul-Index"]) == (404, "", "1")
    r = client.get("/v1/coordinate/node/dc1-server?segment=alpha")
    assert (r.status_code, r.text) == (404, "")


def test_an_update_is_written_on_the_next_5_second_batch(
    world: World, client: httpx.Client
) -> None:
    register(client, {"Node": "web-1", "Address": "10.0.0.1"})
    r = update(client, {"Node": "web-1", "Segment": "", "Coord": MOVED})
    assert (r.status_code, r.text) == (200, "")
    assert client.get("/v1/coordinate/node/web-1").status_code == 404
    before = int(client.get("/v1/coordinate/nodes").headers["X-Consul-Index"])
    world.advance(5)
    r = client.get("/v1/coordinate/node/web-1")
    assert (r.status_code, r.text) == (
        200,
        f'[{{"Node":"web-1","Segment":"","Coord":{MOVED_JSON}}}]',
    )
    index = int(r.headers["X-Consul-Index"])
    assert index > before
    nodes = client.get("/v1/coordinate/nodes")
    assert [c["Node"] for c in nodes.json()] == ["dc1-server", "web-1"]
    assert int(nodes.headers["X-Consul-Index"]) == index


def test_the_latest_update_per_node_and_segment_wins_in_one_write(
    world: World, client: httpx.Client
) -> None:
    register(client, {"Node": "web-1", "Address": "10.0.0.1"})
    update(client, {"Node": "web-1", "Coord": {**MOVED, "Error": 9}})
    update(client, {"Node": "web-1", "Coord": MOVED})
    update(client, {"Node": "web-1", "Segment": "alpha", "Coord": MOVED})
    update(client, {"Node": "dc1-server", "Coord": MOVED})
    last_write = int(client.get("/v1/catalog/nodes").headers["X-Consul-Index"])
    world.advance(5)
    r = client.get("/v1/coordinate/nodes")
    # One Raft write for the whole batch, right after the node's registration.
    assert int(r.headers["X-Consul-Index"]) == last_write + 1
    assert [(c["Node"], c["Segment"], c["Coord"]["Error"]) for c in r.json()] == [
        ("dc1-server", "", 0.25),
        ("web-1", "", 0.25),
        ("web-1", "alpha", 0.25),
    ]
    alpha = client.get("/v1/coordinate/nodes?segment=alpha").json()
    assert [(c["Node"], c["Segment"]) for c in alpha] == [("web-1", "alpha")]


def test_a_coordinate_for_an_unknown_node_is_accepted_then_dropped(
    world: World, client: httpx.Client
) -> None:
    index = client.get("/v1/coordinate/nodes").headers["X-Consul-Index"]
    r = update(client, {"Node": "ghost", "Coord": MOVED})
    assert (r.status_code, r.text) == (200, "")
    world.advance(5)
    r = client.get("/v1/coordinate/nodes")
    assert [c["Node"] for c in r.json()] == ["dc1-server"]
    assert r.headers["X-Consul-Index"] == index


def test_a_deregistered_node_loses_its_coordinate(world: World, client: httpx.Client) -> None:
    register(client, {"Node": "web-1", "Address": "10.0.0.1"})
    update(client, {"Node": "web-1", "Coord": MOVED})
    world.advance(5)
    r = client.put("/v1/catalog/deregister", json={"Node": "web-1"})
    assert r.status_code == 200
    assert client.get("/v1/coordinate/node/web-1").status_code == 404


@pytest.mark.parametrize(
    ("body", "query", "status", "text"),
    [
        (None, "", 400, "Request decode failed: EOF"),
        (
            {"Node": 7},
            "",
            400,
            "Request decode failed: json: cannot unmarshal number into Go struct field "
            "CoordinateUpdateRequest.Node of type string",
        ),
        ({"Node": "dc1-server", "Coord": {"Vec": [1, 2]}}, "", 500, "incompatible coordinate"),
        ({"Node": "dc1-server"}, "", 500, "invalid coordinate"),
        ({"Node": "dc1-server", "Coord": MOVED}, "?dc=dc9", 500, "No path to datacenter"),
    ],
)
def test_update_refuses_with_consuls_words(
    world: World, client: httpx.Client, body: Any, query: str, status: int, text: str
) -> None:
    if body is None:
        r = client.put(f"/v1/coordinate/update{query}")
    else:
        r = update(client, body, query)
    assert (r.status_code, r.text) == (status, text)
    world.advance(5)
    assert client.get("/v1/coordinate/nodes").json()[0]["Coord"]["Error"] == 1.5


def test_node_acls_guard_updates_and_reads(world: World) -> None:
    cluster = world.add_cluster("secure", acl_default_policy="deny")
    _, token = cluster.acl.create_token({"node:secure-server": "write"})
    mine = {"X-Consul-Token": token}
    client = cluster.client
    r = client.put("/v1/coordinate/update", json={"Node": "other", "Coord": MOVED}, headers=mine)
    assert r.status_code == 403
    r = client.put(
        "/v1/coordinate/update", json={"Node": "secure-server", "Coord": MOVED}, headers=mine
    )
    assert r.status_code == 200
    assert client.get("/v1/coordinate/node/secure-server", headers=mine).status_code == 200
    assert client.get("/v1/coordinate/node/secure-server").status_code == 403
    r = client.get("/v1/coordinate/nodes")
    assert r.text == "[]"
    assert "X-Consul-Results-Filtered-By-ACLs" not in r.headers
    r = client.get("/v1/coordinate/nodes", headers=mine)
    assert [c["Node"] for c in r.json()] == ["secure-server"]


@pytest.mark.slow
def test_a_blocking_nodes_read_wakes_on_the_batch_write(world: World, client: httpx.Client) -> None:
    index = int(client.get("/v1/coordinate/nodes").headers["X-Consul-Index"])
    with blocked_get(world, client, f"/v1/coordinate/nodes?index={index}&wait=60s") as results:
        assert update(client, {"Node": "dc1-server", "Coord": MOVED}).status_code == 200
        world.advance(5)
    assert len(results) == 1
    assert int(results[0].headers["X-Consul-Index"]) > index
    assert results[0].json()[0]["Coord"]["Error"] == 0.25
