"""/v1/kv tombstones: a delete stays in prefix indexes for ``tombstone_ttl``, then the GC reaps
it on the cluster's clock; an index a reader saw never goes backwards, and prefix reads do not
wade through tombstones."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from consul_sim.kvs import TOMBSTONE_TTL, TOMBSTONE_TTL_GRANULARITY
from consul_sim.world import Cluster, World

# The virtual clock starts on a 30 s boundary, so a delete at the start is reaped at 15m30s.
REAPED_AFTER = TOMBSTONE_TTL + TOMBSTONE_TTL_GRANULARITY


def put(client: httpx.Client, key: str, body: bytes = b"v") -> None:
    r = client.put(f"/v1/kv/{key}", content=body)
    assert (r.status_code, r.text) == (200, "true")


def delete(client: httpx.Client, key: str, query: str = "") -> None:
    r = client.delete(f"/v1/kv/{key}{query}")
    assert (r.status_code, r.text) == (200, "true")


def index_of(r: httpx.Response) -> int:
    return int(r.headers["X-Consul-Index"])


def read(client: httpx.Client, path: str) -> tuple[int, int]:
    """(status, X-Consul-Index) of a GET."""
    r = client.get(f"/v1/kv/{path}")
    return r.status_code, index_of(r)


def test_a_delete_is_in_the_prefix_index_until_the_gc_reaps_it(world: World, dc1: Cluster) -> None:
    client = dc1.client
    put(client, "app/x")
    delete(client, "app/x")
    deleted = index_of(client.get("/v1/kv/app/x"))
    put(client, "other")
    table = index_of(client.get("/v1/kv/other"))
    assert table > deleted
    assert read(client, "app/?recurse") == (404, deleted)
    world.advance(TOMBSTONE_TTL)
    assert read(client, "app/?recurse") == (404, deleted)
    assert len(dc1.store.kv.graveyard) == 1
    world.advance(TOMBSTONE_TTL_GRANULARITY)
    # Reaped: with nothing left under the prefix Consul answers the table's index.
    assert read(client, "app/?recurse") == (404, table)
    assert read(client, "app/?keys") == (404, table)
    assert len(dc1.store.kv.graveyard) == 0


def test_deletes_in_one_granularity_window_are_reaped_together(world: World, dc1: Cluster) -> None:
    client = dc1.client
    for key in ("a/k", "b/k", "c/k"):
        put(client, key)
    world.advance(1)
    delete(client, "a/k")
    world.advance(19)
    delete(client, "b/k")  # t=20s: the same bin as t=1s (expires at 15m30s)
    world.advance(11)
    delete(client, "c/k")  # t=31s: the next bin (16m0s)
    put(client, "z")
    assert len(dc1.store.kv.graveyard) == 3
    world.advance(REAPED_AFTER - 31 - 0.001)
    assert len(dc1.store.kv.graveyard) == 3
    world.advance(0.001)
    assert sorted(dc1.store.kv.graveyard.stones) == ["c/k"]
    world.advance(TOMBSTONE_TTL_GRANULARITY)
    assert len(dc1.store.kv.graveyard) == 0


def test_a_prefix_index_never_goes_backwards_when_its_tombstone_is_reaped(
    world: World, dc1: Cluster
) -> None:
    client = dc1.client
    put(client, "app/old")
    put(client, "app/gone")
    delete(client, "app/gone")
    status, deleted = read(client, "app/?recurse")
    assert status == 200
    assert deleted > int(str(client.get("/v1/kv/app/old").json()[0]["ModifyIndex"]))
    world.advance(REAPED_AFTER)
    assert len(dc1.store.kv.graveyard) == 0
    assert read(client, "app/?recurse") == (200, deleted)
    assert read(client, "app/?keys") == (200, deleted)
    put(client, "app/new")
    status, after = read(client, "app/?recurse")
    assert status == 200 and after > deleted


def test_a_tree_delete_leaves_one_tombstone_that_is_reaped_too(world: World, dc1: Cluster) -> None:
    client = dc1.client
    for i in range(5):
        put(client, f"tree/{i}")
    delete(client, "tree/", "?recurse")
    assert sorted(dc1.store.kv.graveyard.stones) == ["tree/"]
    world.advance(REAPED_AFTER)
    assert len(dc1.store.kv.graveyard) == 0
    assert client.get("/v1/kv/tree/?keys").status_code == 404


def test_a_key_deleted_again_keeps_its_newer_tombstone_until_its_own_time(
    world: World, dc1: Cluster
) -> None:
    client = dc1.client
    put(client, "k/x")
    delete(client, "k/x")
    world.advance(60)
    put(client, "k/x")
    delete(client, "k/x")
    _, second = read(client, "k/?recurse")
    world.advance(REAPED_AFTER - 60)
    assert dc1.store.kv.graveyard.stones == {"k/x": second}
    world.advance(60)
    assert len(dc1.store.kv.graveyard) == 0
    assert read(client, "k/?recurse") == (404, second)


@pytest.mark.slow
def test_a_blocking_list_after_a_reap_waits_and_wakes_on_a_write_under_the_prefix(
    world: World, dc1: Cluster
) -> None:
    client = dc1.client
    put(client, "svc/web")
    delete(client, "svc/web")
    _, deleted = read(client, "svc/?recurse")
    world.advance(REAPED_AFTER)
    status, index = read(client, "svc/?recurse")
    assert status == 404 and index >= deleted
    results: list[httpx.Response] = []

    def blocked() -> None:
        with httpx.Client(transport=client._transport, base_url=client.base_url) as other:
            results.append(other.get(f"/v1/kv/svc/?recurse&index={index}&wait=60s"))

    reader = threading.Thread(target=blocked)
    reader.start()
    time.sleep(0.2)
    assert not results, "nothing changed under the prefix: the query must keep waiting"
    put(client, "svc/api")
    reader.join(timeout=10)
    assert results, "a write under the prefix must end the query"
    r = results[0]
    assert r.status_code == 200
    assert [e["Key"] for e in r.json()] == ["svc/api"]
    assert index_of(r) > index


def test_prefix_reads_are_not_moved_by_tombstones_elsewhere(world: World, dc1: Cluster) -> None:
    client = dc1.client
    put(client, "mine/a")
    _, mine = read(client, "mine/?recurse")
    for i in range(200):
        put(client, f"theirs/{i:03}")
        delete(client, f"theirs/{i:03}")
    assert len(dc1.store.kv.graveyard) == 200
    r = client.get("/v1/kv/mine/?keys")
    assert (r.status_code, r.json(), index_of(r)) == (200, ["mine/a"], mine)
    assert read(client, "mine/?recurse") == (200, mine)
