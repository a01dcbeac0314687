"""/_sim/snapshot and /_sim/reset: a world saved, replaced and reset over HTTP, in place."""

from __future__ import annotations

import httpx

from consul_sim import __version__
from consul_sim.snapshot import FORMAT
from consul_sim.world import Cluster, World


def test_get_snapshot_then_put_it_back_undoes_later_writes(world: World, dc1: Cluster) -> None:
    client = dc1.client
    client.put("/v1/kv/app/config", content=b"v1")
    r = client.get("/_sim/snapshot")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    saved = r.content
    assert saved == world.snapshot()
    client.put("/v1/kv/app/config", content=b"v2")
    client.put("/v1/kv/other", content=b"x")
    r = client.put("/_sim/snapshot", content=saved)
    assert r.status_code == 200, r.text
    assert [c["Name"] for c in r.json()["Clusters"]] == ["dc1"]
    assert client.get("/v1/kv/app/config?raw").text == "v1"
    assert client.get("/v1/kv/other").status_code == 404
    assert world.snapshot() == saved


def test_put_snapshot_refuses_what_is_not_one_with_a_plain_400(world: World, dc1: Cluster) -> None:
    client = dc1.client
    cases = [
        (b"", "Request body is required: a snapshot from GET /_sim/snapshot"),
        (
            b'{"Clusters": []}',
            "Invalid snapshot: not a consul-sim snapshot "
            "(it does not start with the snapshot header)",
        ),
    ]
    other = world.snapshot().replace(
        f'"Package": "{__version__}"'.encode(), b'"Package": "0.0.1"', 1
    )
    cases.append(
        (
            other,
            f"Invalid snapshot: snapshot was made by consul-sim 0.0.1 (format {FORMAT}); "
            f"this is {__version__}",
        )
    )
    with World(clock="virtual", seed=1) as elsewhere:
        elsewhere.add_cluster("dc9")
        cases.append((elsewhere.snapshot(), 'Snapshot has no cluster "dc1" (it holds: dc9)'))
    before = world.snapshot()
    for body, message in cases:
        r = client.put("/_sim/snapshot", content=body)
        assert (r.status_code, r.headers["content-type"], r.text) == (
            400,
            "text/plain; charset=utf-8",
            message,
        )
    assert world.snapshot() == before


def test_reset_returns_to_the_marked_state(world: World, dc1: Cluster) -> None:
    client = dc1.client
    client.put("/v1/kv/kept", content=b"1")
    world.set_baseline()
    client.put("/v1/kv/later", content=b"2")
    world.advance(30)
    r = client.post("/_sim/reset")
    assert r.status_code == 200, r.text
    assert client.get("/v1/kv/kept?raw").text == "1"
    assert client.get("/v1/kv/later").status_code == 404
    assert world.snapshot() == world.baseline


def test_reset_to_a_creation_without_the_cluster_is_refused(world: World, dc1: Cluster) -> None:
    r = dc1.client.post("/_sim/reset")
    assert (r.status_code, r.text) == (400, 'Snapshot has no cluster "dc1" (it holds: none)')


def test_snapshot_endpoints_are_in_the_openapi_document(dc1: Cluster) -> None:
    paths = httpx.Response(200, content=dc1.client.get("/openapi.json").content).json()["paths"]
    assert set(paths["/_sim/snapshot"]) == {"get", "put"}
    assert set(paths["/_sim/reset"]) == {"post"}
