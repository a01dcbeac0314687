"""Any sequence of catalog, export, peering and network moves on three clusters, over HTTP.

The rules and the oracles are ``consul_sim.testing.PeeringMachine``'s (register, health,
deregister, export and unexport with ``*``, peer, delete, partition, heal, lossy links, time,
crash and restart; ``world.check_invariants`` after every step). This subclass adds what a user
of the HTTP API sees on top: on every pair whose two ends both show ACTIVE over a clean link,
``GET /v1/health/service/<name>?peer=`` on the importer agrees with the exporter's own
``/v1/health/service/<name>`` (nodes, IDs, worst health) for exported names and is empty for
the rest, and no ``X-Consul-Index`` goes back. Every move goes over HTTP (``VIA_HTTP``).
"""

from __future__ import annotations

from typing import Any

from hypothesis.stateful import invariant

from consul_sim.oracles import clean_active_pairs
from consul_sim.peering.replication import exported_names
from consul_sim.testing import PeeringMachine
from tests.budgets import scaled

SEVERITY = {"passing": 0, "warning": 1, "critical": 2}


class ReplicationMachine(PeeringMachine):
    CLUSTERS = ("c1", "c2", "c3")
    VIA_HTTP = True

    def __init__(self) -> None:
        super().__init__()
        self.last_index: dict[tuple[str, str], int] = {}

    def _get(self, cluster: str, path: str) -> Any:
        r = self.http(cluster, "GET", path)
        index = int(r.headers["X-Consul-Index"])
        key = (cluster, path)
        assert index >= self.last_index.get(key, 0), f"X-Consul-Index went back on {key}"
        self.last_index[key] = index
        return r.json()

    @invariant()
    def peer_health_over_http_matches_the_exporter(self) -> None:
        """On the pairs the oracle compares (both ends ACTIVE over a clean link)."""
        with self.world.lock:
            pairs = [
                (p.importer.name, p.record.name, p.exporter.name, p.theirs.name)
                for p in clean_active_pairs(self.world)
            ]
        for importer, peer_name, exporter, consumer in pairs:
            with self.world.lock:
                exported = exported_names(self.clusters[exporter].store, consumer)
            for name in self.SERVICES:
                got = self._get(importer, f"/v1/health/service/{name}?peer={peer_name}")
                want = self._get(exporter, f"/v1/health/service/{name}")
                assert summarize(got) == summarize(want if name in exported else []), (
                    importer,
                    exporter,
                    name,
                )
                for entry in got:
                    assert entry["Node"]["PeerName"] == peer_name


def summarize(entries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(node, service ID, worst status): what an import must agree on with its exporter."""
    out = []
    for e in entries:
        statuses = [c["Status"] for c in e["Checks"]]
        worst = max(statuses, key=lambda s: SEVERITY.get(s, 3)) if statuses else ""
        out.append((e["Node"]["Node"], e["Service"]["ID"], worst))
    return out


ReplicationMachine.TestCase.settings = scaled(12, stateful_step_count=20)
TestReplicationMachine = ReplicationMachine.TestCase
