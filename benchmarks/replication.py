"""In-process replication benchmarks: incremental convergence at scale, and a peered pair's cost.

Both run on virtual-clock worlds, in this process, with no sockets, so what they time is the
simulator's own work (store writes, the replication engine, the network queue, the importer's
reconcile), not the machine's network stack.

* Convergence: cluster-01 holds ``n`` services on one node, all exported with ``*`` to
  cluster-02. One check status change is timed from the write (``PUT /v1/catalog/register`` of
  the check with its new status) until cluster-02's ``/v1/health/service/<name>?peer=`` shows
  it, settling the world in between. Replication is incremental when that time does not grow
  with ``n``: the ratio of the medians for 10,000 and for 10 services is the figure to watch.
  Each change must cause exactly one replication message (counted in the network journal).
* Pair: ``World(clock="virtual")``, two clusters, one service, token, establish, the
  ``exported-services`` write and ``settle()``: what a test pays to get a working peering.

The services are registered through the same domain call that ``/v1/catalog/register`` makes,
because 10,000 in-process HTTP calls would time the HTTP layer, not replication, and take long.
"""

from __future__ import annotations

import gc
import importlib
import statistics
import time
from dataclasses import dataclass
from typing import Any

from consul_sim.catalog.register import register
from consul_sim.models.catalog import RegisterRequest
from consul_sim.world import Cluster, World

EXPORTER = "cluster-01"
IMPORTER = "cluster-02"
NODE = "node-a"
NODE_ADDRESS = "10.0.0.1"
TARGET_CONVERGENCE_RATIO = 3.0
TARGET_PAIR_MS = 20.0
SMALL = 10
LARGE = 10_000


# What ``cluster.client`` imports on first use (the in-process front door and the apps): module
# import time, which the pair's target leaves out, so it is paid here before anything is timed.
DEFERRED_IMPORTS = ("consul_sim.api.app", "consul_sim.api.inprocess")


def import_deferred() -> None:
    for module in DEFERRED_IMPORTS:
        importlib.import_module(module)


def service_name(i: int) -> str:
    return f"svc-{i:05d}"


def instance_body(i: int, status: str = "passing") -> dict[str, Any]:
    """One service with one service check, all on ``NODE``."""
    return {
        "Node": NODE,
        "Address": NODE_ADDRESS,
        "Service": {"ID": f"{service_name(i)}-1", "Service": service_name(i), "Port": 8080},
        "Check": {
            "CheckID": f"{service_name(i)}-alive",
            "Name": "alive",
            "Status": status,
            "ServiceID": f"{service_name(i)}-1",
        },
    }


def check_body(i: int, status: str) -> dict[str, Any]:
    """Only the check of service ``i``, with a new status: the node and service stay as they
    are, so the write changes that one service's health and nothing else."""
    body = instance_body(i, status)
    del body["Service"]
    return body


def register_instance(cluster: Cluster, i: int) -> None:
    request = RegisterRequest.model_validate(instance_body(i))
    register(cluster.store, cluster.datacenter, request)


def register_services(cluster: Cluster, count: int) -> None:
    for i in range(count):
        register_instance(cluster, i)


def peer(acceptor: Cluster, dialer: Cluster) -> None:
    r = acceptor.client.post("/v1/peering/token", json={"PeerName": dialer.name})
    r.raise_for_status()
    token = r.json()["PeeringToken"]
    r = dialer.client.post(
        "/v1/peering/establish", json={"PeerName": acceptor.name, "PeeringToken": token}
    )
    r.raise_for_status()


def export_all(cluster: Cluster, consumer: str) -> None:
    entry = {
        "Kind": "exported-services",
        "Name": "default",
        "Services": [{"Name": "*", "Consumers": [{"Peer": consumer}]}],
    }
    r = cluster.client.put("/v1/config", json=entry)
    if r.text != "true":
        raise RuntimeError(f"exported-services write: {r.status_code} {r.text}")


def imported_status(importer: Cluster, name: str) -> str | None:
    r = importer.client.get(f"/v1/health/service/{name}?peer={EXPORTER}")
    r.raise_for_status()
    entries = r.json()
    if not entries or not entries[0]["Checks"]:
        return None
    status: str = entries[0]["Checks"][0]["Status"]
    return status


def replication_messages(world: World, since: int) -> int:
    return sum(
        1
        for e in world.network.journal.since(since)[1]
        if e.kind == "ReplicationResponse" and e.outcome == "sent"
    )


@dataclass
class Convergence:
    services: int
    register_s: float
    export_settle_s: float
    samples_ms: list[float]
    messages: list[int]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)


def convergence(count: int, repeats: int, seed: int = 1) -> Convergence:
    """Median time for one health change to reach the importer with ``count`` services."""
    world = World(clock="virtual", seed=seed)
    try:
        exporter = world.add_cluster(EXPORTER)
        importer = world.add_cluster(IMPORTER)
        start = time.perf_counter()
        register_services(exporter, count)
        register_s = time.perf_counter() - start
        peer(exporter, importer)
        world.settle()
        start = time.perf_counter()
        export_all(exporter, IMPORTER)
        world.settle(max_steps=1_000_000)
        export_settle_s = time.perf_counter() - start
        target = count // 2
        name = service_name(target)
        if imported_status(importer, name) != "passing":
            raise RuntimeError(f"{name} was not imported by {IMPORTER}")
        samples: list[float] = []
        messages: list[int] = []
        for n in range(repeats):
            status = "critical" if n % 2 == 0 else "passing"
            body = check_body(target, status)
            since = world.network.journal.last_seq
            start = time.perf_counter()
            r = exporter.client.put("/v1/catalog/register", json=body)
            world.settle()
            seen = imported_status(importer, name)
            elapsed = time.perf_counter() - start
            if r.text != "true" or seen != status:
                raise RuntimeError(f"change {n}: register {r.text!r}, importer shows {seen!r}")
            samples.append(elapsed * 1000)
            messages.append(replication_messages(world, since))
        return Convergence(count, register_s, export_settle_s, samples, messages)
    finally:
        world.close()


def peered_pair(seed: int) -> float:
    """Seconds to build a settled, exporting pair; checked to import the service."""
    start = time.perf_counter()
    world = World(clock="virtual", seed=seed)
    try:
        exporter = world.add_cluster(EXPORTER)
        importer = world.add_cluster(IMPORTER)
        register_instance(exporter, 0)
        peer(exporter, importer)
        export_all(exporter, IMPORTER)
        world.settle()
        elapsed = time.perf_counter() - start
        if imported_status(importer, service_name(0)) != "passing":
            raise RuntimeError("the pair did not import the service")
    finally:
        world.close()
    return elapsed


def convergence_report(repeats: int) -> tuple[str, bool]:
    small = convergence(SMALL, repeats)
    large = convergence(LARGE, repeats)
    ratio = large.median_ms / small.median_ms
    ok = ratio < TARGET_CONVERGENCE_RATIO
    lines = [
        "replication benchmark: one health change converging on the peer (in-process, "
        "virtual clock)",
        f"each sample: PUT /v1/catalog/register of one check's new status on {EXPORTER}, "
        f"world.settle(), GET /v1/health/service/<name>?peer={EXPORTER} on {IMPORTER} showing "
        f"it; {repeats} samples, alternating critical/passing; all services on one node",
        "",
        f"{'exported':>9}{'median ms':>11}{'min ms':>9}{'max ms':>9}{'msgs/change':>13}",
    ]
    for result in (small, large):
        per_change = sorted(set(result.messages))
        lines.append(
            f"{result.services:>9,}{result.median_ms:>11.2f}{min(result.samples_ms):>9.2f}"
            f"{max(result.samples_ms):>9.2f}{'/'.join(map(str, per_change)):>13}"
        )
    lines += [
        "",
        f"one-off with {LARGE:,} services: register {large.register_s:.2f} s, "
        f"export and settle {large.export_settle_s:.2f} s",
        f"ratio {LARGE:,} / {SMALL} (medians) = {ratio:.2f} "
        f"(target < {TARGET_CONVERGENCE_RATIO:g}): " + ("PASS" if ok else "BELOW TARGET"),
    ]
    if any(m != 1 for m in small.messages + large.messages):
        ok = False
        lines.append("WARNING: a health change did not send exactly one replication message")
    return "\n".join(lines) + "\n", ok


def pair_report(repeats: int) -> tuple[str, bool]:
    import_deferred()
    gc.collect()  # what earlier sections left behind (a 10,000-service world) is not ours
    # The first pair also pays for what is built on first use rather than at import (lazily
    # built validators, the in-process client's event-loop thread): shown, not in the median.
    first = peered_pair(0) * 1000
    samples = [peered_pair(seed) * 1000 for seed in range(1, repeats + 1)]
    median = statistics.median(samples)
    ok = median < TARGET_PAIR_MS
    lines = [
        "peering benchmark: a peered pair created, exported and settled in-process",
        "each sample: World(clock='virtual'), two clusters, one service registered, token, "
        f"establish, exported-services write, settle(); after imports; {repeats} samples after "
        "a first run",
        "",
        f"first run {first:.2f} ms",
        f"median {median:.2f} ms, min {min(samples):.2f} ms, max {max(samples):.2f} ms "
        f"(target < {TARGET_PAIR_MS:g} ms): " + ("PASS" if ok else "BELOW TARGET"),
    ]
    return "\n".join(lines) + "\n", ok
