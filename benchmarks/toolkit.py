"""The testing toolkit's costs: a world from ``consul_world_factory``, and a snapshot round trip.

``factory``: ``with factory(clusters=["cluster-01", "cluster-02"], peered=True) as world`` on
the plugin's :func:`~consul_sim.testing.plugin.world_factory`, after its template is built:
what a ``@given`` example pays for a fresh, peered, ACTIVE pair (restore on entry, close on
exit). Target: median under 3 ms.

``snapshot``: ``world.snapshot()`` then ``World.restore(data)`` of a two-cluster world with
1,000 services registered on one cluster and exported to the other (so the importer holds
them too), settled. Target: median under 50 ms.

``python benchmarks/toolkit.py`` prints the report.
"""

from __future__ import annotations

import gc
import statistics
import time

TARGET_FACTORY_MS = 3.0
TARGET_SNAPSHOT_MS = 50.0
SERVICES = 1_000


def factory_samples(samples: int) -> list[float]:
    from consul_sim.testing.plugin import world_factory

    factory = world_factory()
    with factory(clusters=["cluster-01", "cluster-02"], peered=True) as world:
        assert world["cluster-02"].peering.read("cluster-01")["State"] == "ACTIVE"
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        with factory(clusters=["cluster-01", "cluster-02"], peered=True):
            pass
        out.append((time.perf_counter() - start) * 1000)
    return out


def big_world() -> object:
    from consul_sim.testing import export, peer
    from consul_sim.world import World

    world = World(clock="virtual", seed=1)
    a, b = world.add_cluster("a"), world.add_cluster("b")
    for i in range(SERVICES):
        r = a.client.put(
            "/v1/catalog/register",
            json={
                "Node": f"node-{i % 50}",
                "Address": f"10.0.{i % 50}.1",
                "Service": {"Service": f"svc-{i}", "Port": 8000 + i % 1000},
            },
        )
        assert r.status_code == 200, r.text
    peer(a, b)
    export(a, {f"svc-{i}": ["b"] for i in range(SERVICES)})
    world.settle()
    last = b.client.get(f"/v1/health/service/svc-{SERVICES - 1}?peer=a").json()
    assert len(last) == 1, last
    return world


def snapshot_samples(samples: int) -> tuple[list[float], list[float], int]:
    from consul_sim.world import World

    world = big_world()
    assert isinstance(world, World)
    dumps, loads, size = [], [], 0
    try:
        for _ in range(samples):
            start = time.perf_counter()
            data = world.snapshot()
            middle = time.perf_counter()
            restored = World.restore(data)
            end = time.perf_counter()
            restored.close()
            dumps.append((middle - start) * 1000)
            loads.append((end - middle) * 1000)
            size = len(data)
    finally:
        world.close()
    return dumps, loads, size


def toolkit_report(samples: int = 11, factory_count: int = 300) -> tuple[str, bool]:
    gc.collect()
    handed = factory_samples(factory_count)
    dumps, loads, size = snapshot_samples(samples)
    totals = [d + r for d, r in zip(dumps, loads, strict=True)]
    factory_ms, round_ms = statistics.median(handed), statistics.median(totals)
    factory_ok, round_ok = factory_ms < TARGET_FACTORY_MS, round_ms < TARGET_SNAPSHOT_MS
    lines = [
        "toolkit benchmark: consul_world_factory, and a snapshot round trip, in-process",
        "",
        f"factory: a peered pair (cluster-01, cluster-02) handed out and closed, "
        f"{factory_count} samples after the template is built",
        f"median {factory_ms:.2f} ms, min {min(handed):.2f} ms, max {max(handed):.2f} ms "
        f"(target < {TARGET_FACTORY_MS:g} ms): " + ("PASS" if factory_ok else "BELOW TARGET"),
        "",
        f"snapshot: snapshot() + World.restore() of two clusters with {SERVICES:,} services "
        f"exported from one to the other ({size / 2**20:.1f} MiB), {samples} samples",
        f"median {round_ms:.1f} ms (snapshot {statistics.median(dumps):.1f} ms, restore "
        f"{statistics.median(loads):.1f} ms), min {min(totals):.1f} ms, max {max(totals):.1f} ms "
        f"(target < {TARGET_SNAPSHOT_MS:g} ms): " + ("PASS" if round_ok else "BELOW TARGET"),
    ]
    return "\n".join(lines) + "\n", factory_ok and round_ok


if __name__ == "__main__":
    print(toolkit_report()[0], end="")
