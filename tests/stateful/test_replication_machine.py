"""Any sequence of catalog, export, peering and network moves on three clusters, over HTTP.

Hypothesis registers and deregisters instances, changes their health, exports and unexports
(``*`` included), peers and deletes peerings, partitions and heals links and lets virtual time
pass. After every step the world is settled, and then:

* on every pair whose two ends both show ACTIVE over a healed link, the importer's
  ``ImportedServices`` and its ``?peer=`` health equal exactly what the exporter exports to it
  (names from a shadow model of the exported-services entry, instances and worst health from
  the exporter's own ``/v1/health/service``);
* no cluster holds imported data under a name that is not one of its live peerings;
* no ``X-Consul-Index`` goes backwards.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from consul_sim.world import Cluster, World
from tests.budgets import scaled

CLUSTERS = ("c1", "c2", "c3")
SERVICES = ("web", "api", "db")
EXPORTABLE = (*SERVICES, "*")
STATUSES = ("passing", "warning", "critical")
SEVERITY = {"passing": 0, "warning": 1, "critical": 2}
HEARTBEAT = 15.0

pairs = st.sampled_from([(a, b) for a in CLUSTERS for b in CLUSTERS if a != b])


class ReplicationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World(clock="virtual", seed=0)
        self.clusters: dict[str, Cluster] = {n: self.world.add_cluster(n) for n in CLUSTERS}
        # exporter -> service name (or "*") -> consumer peers
        self.exports: dict[str, dict[str, set[str]]] = {n: {} for n in CLUSTERS}
        self.partitioned: set[frozenset[str]] = set()
        self.last_index: dict[tuple[str, str], int] = {}

    def teardown(self) -> None:
        self.world.close()

    # -- helpers ----------------------------------------------------------------------------
    def _get(self, cluster: str, path: str) -> Any:
        r = self.clusters[cluster].client.get(path)
        assert r.status_code == 200, (cluster, path, r.status_code, r.text)
        index = int(r.headers["X-Consul-Index"])
        key = (cluster, path)
        assert index >= self.last_index.get(key, 0), f"X-Consul-Index went back on {key}"
        self.last_index[key] = index
        return r.json()

    def _peering(self, cluster: str, name: str) -> dict[str, Any] | None:
        r = self.clusters[cluster].client.get(f"/v1/peering/{name}")
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def _settle(self) -> None:
        self.world.settle()

    def _write_exports(self, cluster: str) -> None:
        entries = [
            {"Name": name, "Consumers": [{"Peer": p} for p in sorted(peers)]}
            for name, peers in sorted(self.exports[cluster].items())
            if peers
        ]
        client = self.clusters[cluster].client
        if entries:
            body = {"Kind": "exported-services", "Name": "default", "Services": entries}
            r = client.put("/v1/config", json=body)
        else:
            r = client.delete("/v1/config/exported-services/default")
        assert r.status_code == 200, r.text

    def _exported_to(self, exporter: str, consumer: str) -> list[str]:
        rules = self.exports[exporter]
        names = {n for n, peers in rules.items() if n != "*" and consumer in peers}
        if consumer in rules.get("*", set()):
            local = self._get(exporter, "/v1/catalog/services")
            names.update(n for n in local if n != "consul")
        return sorted(names)

    @initialize()
    def peer_every_pair_and_export_web(self) -> None:
        """Start where replication has work: every pair peered, each cluster exporting web to
        the others and running one instance of each service."""
        for i, acceptor in enumerate(CLUSTERS):
            for dialer in CLUSTERS[i + 1 :]:
                self.peer((acceptor, dialer))
        for cluster in CLUSTERS:
            for service in SERVICES:
                self.register(cluster, service, 1, "passing")
            self.exports[cluster]["web"] = {c for c in CLUSTERS if c != cluster}
            self._write_exports(cluster)
        self._settle()

    # -- catalog ----------------------------------------------------------------------------
    @rule(
        cluster=st.sampled_from(CLUSTERS),
        service=st.sampled_from(SERVICES),
        instance=st.integers(1, 2),
        status=st.sampled_from(STATUSES),
    )
    def register(self, cluster: str, service: str, instance: int, status: str) -> None:
        node = f"{cluster}-node-{instance}"
        sid = f"{service}-{instance}"
        r = self.clusters[cluster].client.put(
            "/v1/catalog/register",
            json={
                "Node": node,
                "Address": "10.0.0.1",
                "Service": {"ID": sid, "Service": service},
                "Check": {"CheckID": f"check-{sid}", "Status": status, "ServiceID": sid},
            },
        )
        assert r.status_code == 200, r.text
        self._settle()

    @rule(
        cluster=st.sampled_from(CLUSTERS),
        service=st.sampled_from(SERVICES),
        instance=st.integers(1, 2),
    )
    def deregister(self, cluster: str, service: str, instance: int) -> None:
        r = self.clusters[cluster].client.put(
            "/v1/catalog/deregister",
            json={"Node": f"{cluster}-node-{instance}", "ServiceID": f"{service}-{instance}"},
        )
        assert r.status_code == 200, r.text
        self._settle()

    # -- exports ----------------------------------------------------------------------------
    @rule(pair=pairs, name=st.sampled_from(EXPORTABLE), on=st.booleans())
    def export(self, pair: tuple[str, str], name: str, on: bool) -> None:
        exporter, consumer = pair
        peers = self.exports[exporter].setdefault(name, set())
        if on:
            peers.add(consumer)
        else:
            peers.discard(consumer)
        self._write_exports(exporter)
        self._settle()

    # -- peerings ---------------------------------------------------------------------------
    @rule(pair=pairs)
    def peer(self, pair: tuple[str, str]) -> None:
        acceptor, dialer = pair
        if self._peering(acceptor, dialer) or self._peering(dialer, acceptor):
            return
        a, d = self.clusters[acceptor].client, self.clusters[dialer].client
        r = a.post("/v1/peering/token", json={"PeerName": dialer})
        assert r.status_code == 200, r.text
        r = d.post(
            "/v1/peering/establish",
            json={"PeerName": acceptor, "PeeringToken": r.json()["PeeringToken"]},
        )
        if frozenset(pair) in self.partitioned:
            assert r.status_code == 500, r.text
        else:
            assert (r.status_code, r.text) == (200, "{}")
        self._settle()

    @rule(pair=pairs)
    def delete(self, pair: tuple[str, str]) -> None:
        cluster, name = pair
        r = self.clusters[cluster].client.delete(f"/v1/peering/{name}")
        assert r.status_code == 200, r.text
        self._settle()
        self.world.advance(1)

    # -- network and time -------------------------------------------------------------------
    @rule(pair=pairs)
    def partition(self, pair: tuple[str, str]) -> None:
        self.world.partition(*pair)
        self.partitioned.add(frozenset(pair))
        self._settle()

    @rule(pair=pairs)
    def heal(self, pair: tuple[str, str]) -> None:
        self.world.heal(*pair)
        self.partitioned.discard(frozenset(pair))
        # What was lost on a stream that stayed up goes again on the next heartbeat.
        self.world.advance(HEARTBEAT + 1)
        self._settle()

    @rule(seconds=st.sampled_from([1.0, HEARTBEAT, 130.0]))
    def advance(self, seconds: float) -> None:
        self.world.advance(seconds)
        self._settle()

    # -- invariants -------------------------------------------------------------------------
    @invariant()
    def imports_match_exports_on_active_pairs(self) -> None:
        for importer in CLUSTERS:
            for exporter in CLUSTERS:
                if importer == exporter or frozenset((importer, exporter)) in self.partitioned:
                    continue
                mine = self._peering(importer, exporter)
                theirs = self._peering(exporter, importer)
                if not mine or not theirs or mine["State"] != "ACTIVE":
                    continue
                if theirs["State"] != "ACTIVE":
                    continue
                expected = self._exported_to(exporter, importer)
                listed = mine["StreamStatus"]["ImportedServices"]
                assert (listed or []) == expected, (importer, exporter, listed, expected)
                assert (theirs["StreamStatus"]["ExportedServices"] or []) == expected
                for name in SERVICES:
                    got = self._get(importer, f"/v1/health/service/{name}?peer={exporter}")
                    want = (
                        self._get(exporter, f"/v1/health/service/{name}")
                        if name in expected
                        else []
                    )
                    assert summarize(got) == summarize(want), (importer, exporter, name)
                    for entry in got:
                        assert entry["Node"]["PeerName"] == exporter

    @invariant()
    def imported_data_belongs_to_live_peerings(self) -> None:
        for name, cluster in self.clusters.items():
            with self.world.lock:
                peers = {p for p in cluster.store.catalog.peers() if p}
            for p in sorted(peers):
                record = cluster.peering.table.get(p)
                assert record is not None, f"{name} holds data of {p} without a peering"
                assert record.state.value not in ("DELETING", "TERMINATED"), (name, p, record)


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
