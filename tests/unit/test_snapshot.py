"""World snapshots: restore answers every read as the original did and takes the same next steps.

Worlds are built the way a user builds them (clusters, services and KV over HTTP, peering and
exports through the testing helpers, faults and time through the world's Python API), then
compared by what a user could observe: the bodies of the main endpoints on every cluster, the
network journal, and the snapshot bytes themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consul_sim import __version__
from consul_sim.clock import VirtualClock
from consul_sim.errors import ConsulError
from consul_sim.snapshot import FORMAT, MAGIC
from consul_sim.testing import export, peer
from consul_sim.world import World
from tests.budgets import scaled

NAMES = ["a", "b", "dc-3"]
SERVICES = ["web", "api", "db"]

READS = [
    "/v1/catalog/services",
    "/v1/catalog/nodes",
    "/v1/health/service/web",
    "/v1/health/state/any",
    "/v1/agent/services",
    "/v1/agent/checks",
    "/v1/kv/?recurse",
    "/v1/peerings",
    "/v1/config/exported-services",
    "/v1/session/list",
    "/_sim/world",
    "/_sim/events",
]


def reads(world: World) -> dict[tuple[str, str], tuple[int, str, str | None]]:
    """What every main endpoint of every cluster answers (status, body, X-Consul-Index)."""
    out = {}
    for name in sorted(world.clusters):
        client = world.clusters[name].client
        for path in READS:
            r = client.get(path)
            out[(name, path)] = (r.status_code, r.text, r.headers.get("X-Consul-Index"))
        for peer_name in sorted(world.clusters):
            r = client.get(f"/v1/health/service/web?peer={peer_name}")
            out[(name, f"imported web from {peer_name}")] = (r.status_code, r.text, None)
    return out


step = st.one_of(
    st.tuples(st.just("register"), st.sampled_from(NAMES), st.sampled_from(SERVICES)),
    st.tuples(st.just("ttl"), st.sampled_from(NAMES), st.sampled_from(SERVICES)),
    st.tuples(st.just("kv"), st.sampled_from(NAMES), st.sampled_from(["k", "a/b"])),
    st.tuples(st.just("session"), st.sampled_from(NAMES), st.just("")),
    st.tuples(st.just("peer"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("export"), st.sampled_from(NAMES), st.sampled_from(SERVICES)),
    st.tuples(st.just("partition"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("heal"), st.just(""), st.just("")),
    st.tuples(st.just("latency"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
    st.tuples(st.just("crash"), st.sampled_from(NAMES), st.just("")),
    st.tuples(st.just("restart"), st.sampled_from(NAMES), st.just("")),
    st.tuples(st.just("advance"), st.sampled_from(["1", "16", "130"]), st.just("")),
    st.tuples(st.just("step"), st.just(""), st.just("")),
)


def apply(world: World, action: tuple[str, str, str]) -> None:
    """One user action; a refusal (Consul's or the world's) is part of the run, not an error."""
    kind, x, y = action
    if x in NAMES and x not in world.clusters or y in NAMES and y not in world.clusters:
        return
    try:
        if kind == "register":
            world[x].client.put("/v1/agent/service/register", json={"Name": y, "Port": 80})
        elif kind == "ttl":
            world[x].client.put(
                "/v1/agent/service/register",
                json={"Name": y, "ID": f"{y}-ttl", "Check": {"TTL": "10s"}},
            )
        elif kind == "kv":
            world[x].client.put(f"/v1/kv/{y}", content=b"v")
            world[x].client.delete(f"/v1/kv/{y}")
            world[x].client.put(f"/v1/kv/{y}", content=b"w")
        elif kind == "session":
            world[x].client.put("/v1/session/create", json={"TTL": "15s"})
        elif kind == "peer" and x != y:
            peer(world[x], world[y])
        elif kind == "export":
            names = [p for p in sorted(world.clusters) if p != x]
            export(world[x], {y: names})
        elif kind == "partition" and x != y:
            world.partition(x, y)
        elif kind == "heal":
            world.heal()
        elif kind == "latency" and x != y:
            world.set_link(x, y, latency=0.5, loss=0.2)
        elif kind == "crash":
            world.crash(x)
        elif kind == "restart":
            world.restart(x)
        elif kind == "advance":
            world.advance(float(x))
        elif kind == "step":
            world.step()
    except (ConsulError, ValueError):
        pass


@contextmanager
def built(seed: int, clusters: list[str], actions: list[tuple[str, str, str]]) -> Iterator[World]:
    world = World(clock="virtual", seed=seed)
    try:
        for name in clusters:
            world.add_cluster(name)
        for action in actions:
            apply(world, action)
        yield world
    finally:
        world.close()


@given(
    seed=st.integers(0, 2**32),
    clusters=st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True),
    before=st.lists(step, max_size=12),
    after=st.lists(step, max_size=6),
)
@scaled(12)
def test_restored_world_reads_and_continues_as_the_original(
    seed: int,
    clusters: list[str],
    before: list[tuple[str, str, str]],
    after: list[tuple[str, str, str]],
) -> None:
    with built(seed, clusters, before) as world:
        data = world.snapshot()
        restored = World.restore(data)
        try:
            assert restored.snapshot() == data
            assert reads(restored) == reads(world)
            for action in after:
                apply(world, action)
                apply(restored, action)
            assert restored.network.tail(1000) == world.network.tail(1000)
            assert reads(restored) == reads(world)
            assert restored.snapshot() == world.snapshot()  # same steps, same state
        finally:
            restored.close()


def test_fork_is_independent_and_reset_returns_to_creation() -> None:
    with World(clock="virtual", seed=7) as world:
        a = world.add_cluster("a")
        a.client.put("/v1/kv/shared", content=b"1")
        fork = world.fork()
        try:
            fork["a"].client.put("/v1/kv/shared", content=b"2")
            fork.add_cluster("b")
            assert a.client.get("/v1/kv/shared?raw").text == "1"
            assert sorted(world.clusters) == ["a"]
            fork.reset()
            assert fork["a"].client.get("/v1/kv/shared?raw").text == "1"
            assert sorted(fork.clusters) == ["a"]
        finally:
            fork.close()
        world.reset()
        assert world.clusters == {}
        again = world.add_cluster("a")
        assert again.node_id == a.node_id  # same seed, same IDs


def test_load_in_place_keeps_the_clients_working() -> None:
    with World(clock="virtual", seed=3) as world:
        a = world.add_cluster("a")
        client = a.client
        client.put("/v1/kv/x", content=b"before")
        data = world.snapshot()
        client.put("/v1/kv/x", content=b"after")
        world.load(data)
        assert client.get("/v1/kv/x?raw").text == "before"
        assert world["a"].client.get("/v1/kv/x?raw").text == "before"


def test_snapshot_of_another_version_or_not_a_snapshot_is_refused() -> None:
    with World(clock="virtual", seed=1) as world:
        world.add_cluster("a")
        data = world.snapshot()
    other = data.replace(f'"Package": "{__version__}"'.encode(), b'"Package": "9.9.9"', 1)
    with pytest.raises(ValueError) as refused:
        World.restore(other)
    assert str(refused.value) == (
        f"snapshot was made by consul-sim 9.9.9 (format {FORMAT}); this is {__version__}"
    )
    with pytest.raises(ValueError, match="^not a consul-sim snapshot"):
        World.restore(b"PK\x03\x04 a zip file")
    with pytest.raises(ValueError, match="^damaged consul-sim snapshot"):
        World.restore(data[: len(data) // 2])
    assert data.startswith(MAGIC)


def test_a_clock_pickle_cannot_copy_leaves_the_world_working_but_not_resettable() -> None:
    def own_clock() -> VirtualClock:
        class LocalClock(VirtualClock):  # a local class: pickle cannot name it
            pass

        return LocalClock()

    with World(clock=own_clock(), seed=1) as world:
        cluster = world.add_cluster("dc1")
        assert cluster.client.get("/v1/status/leader").json() == "127.0.0.1:8300"
        with pytest.raises(RuntimeError, match="no state to reset to"):
            world.reset()
