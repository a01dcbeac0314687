"""No sequence of exported-services writes lets a peer see a service it is not a consumer of.

Three clusters, every pair peered, each naming its peers by alias (``to-<cluster>``), so a
consumer spelled with the other cluster's real name, another case, or a name no peering has
must export nothing. Hypothesis writes whole ``exported-services`` entries (named services that
exist or not, ``*``, ``consul``, a proxy-only name; consumers among the peer names and the
decoys), deletes them, and registers and deregisters instances. After every step the world is
settled, and then, for each importer and exporter:

* the importer's catalog tables and its ``/v1/health/service/<name>?peer=<alias>`` hold exactly
  the exporter's typical instances of the names the entry grants that consumer (worked out here
  from what was written, independently of the simulator's own export rules): nothing leaks, and
  every exported service with instances is visible;
* ``world.call`` agrees on whether the name is exported to that consumer;
* ``world.check_invariants()`` holds.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from consul_sim.world import Cluster, World
from tests.budgets import scaled

CLUSTERS = ("c1", "c2", "c3")
TYPICAL = ("web", "api")
PROXY = "gw"
"""Registered only as a connect-proxy: ``*`` never covers it, and a named export sends nothing."""
NEVER_REGISTERED = "ghost-svc"
EXPORT_NAMES = (*TYPICAL, PROXY, NEVER_REGISTERED, "consul", "*")
CHECKED_NAMES = (*TYPICAL, PROXY, NEVER_REGISTERED, "consul")
STATUSES = ("passing", "critical")


def alias(cluster: str) -> str:
    """What every other cluster names its peering with ``cluster``."""
    return f"to-{cluster}"


PEER_NAMES = tuple(alias(c) for c in CLUSTERS)
DECOYS = (*CLUSTERS, "TO-C2", "to-c9", "")
"""Consumers that are not any peering's name: real cluster names, wrong case, unknown, empty."""

consumers = st.lists(st.sampled_from(PEER_NAMES + DECOYS), min_size=1, max_size=3)
service_items = st.lists(
    st.tuples(st.sampled_from(EXPORT_NAMES), consumers), min_size=0, max_size=4
)


class NoLeakMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World(clock="virtual", seed=5)
        self.clusters: dict[str, Cluster] = {n: self.world.add_cluster(n) for n in CLUSTERS}
        for cluster in self.clusters.values():
            cluster.peering.verify_peer_name = False
        # exporter -> the Services items last written: (name, consumer peers)
        self.entries: dict[str, list[tuple[str, list[str]]]] = {n: [] for n in CLUSTERS}
        # cluster -> service name -> {(node, service ID)} of typical instances
        self.instances: dict[str, dict[str, set[tuple[str, str]]]] = {
            n: {s: set() for s in TYPICAL} for n in CLUSTERS
        }

    def teardown(self) -> None:
        self.world.close()

    # -- set-up -------------------------------------------------------------------------------
    @initialize()
    def peer_every_pair(self) -> None:
        """Start where exports matter: every pair peered, one instance of each service."""
        for i, acceptor in enumerate(CLUSTERS):
            for dialer in CLUSTERS[i + 1 :]:
                a, d = self.clusters[acceptor], self.clusters[dialer]
                r = a.client.post("/v1/peering/token", json={"PeerName": alias(dialer)})
                assert r.status_code == 200, r.text
                r = d.client.post(
                    "/v1/peering/establish",
                    json={"PeerName": alias(acceptor), "PeeringToken": r.json()["PeeringToken"]},
                )
                assert (r.status_code, r.text) == (200, "{}")
        for name, cluster in self.clusters.items():
            r = cluster.client.put(
                "/v1/catalog/register",
                json={
                    "Node": f"{name}-edge",
                    "Address": "10.0.0.9",
                    "Service": {
                        "Kind": "connect-proxy",
                        "ID": PROXY,
                        "Service": PROXY,
                        "Port": 21000,
                        "Proxy": {"DestinationServiceName": "web"},
                    },
                },
            )
            assert (r.status_code, r.text) == (200, "true"), r.text
            for service in TYPICAL:
                self.register(name, service, 1, "passing")
        self.world.settle()

    # -- exports ------------------------------------------------------------------------------
    @rule(cluster=st.sampled_from(CLUSTERS), items=service_items)
    def write_exports(self, cluster: str, items: list[tuple[str, list[str]]]) -> None:
        body = {
            "Kind": "exported-services",
            "Name": "default",
            "Services": [
                {"Name": name, "Consumers": [{"Peer": p} for p in peers]} for name, peers in items
            ],
        }
        r = self.clusters[cluster].client.put("/v1/config", json=body)
        assert (r.status_code, r.text) == (200, "true")
        self.entries[cluster] = items
        self.world.settle()

    @rule(cluster=st.sampled_from(CLUSTERS))
    def delete_exports(self, cluster: str) -> None:
        r = self.clusters[cluster].client.delete("/v1/config/exported-services/default")
        assert (r.status_code, r.text) == (200, "{}")
        self.entries[cluster] = []
        self.world.settle()

    # -- catalog ------------------------------------------------------------------------------
    @rule(
        cluster=st.sampled_from(CLUSTERS),
        service=st.sampled_from(TYPICAL),
        instance=st.integers(1, 2),
        status=st.sampled_from(STATUSES),
    )
    def register(self, cluster: str, service: str, instance: int, status: str) -> None:
        node, sid = f"{cluster}-node-{instance}", f"{service}-{instance}"
        r = self.clusters[cluster].client.put(
            "/v1/catalog/register",
            json={
                "Node": node,
                "Address": "10.0.0.1",
                "Service": {"ID": sid, "Service": service},
                "Check": {"CheckID": f"check-{sid}", "Status": status, "ServiceID": sid},
            },
        )
        assert (r.status_code, r.text) == (200, "true")
        self.instances[cluster][service].add((node, sid))
        self.world.settle()

    @rule(
        cluster=st.sampled_from(CLUSTERS),
        service=st.sampled_from(TYPICAL),
        instance=st.integers(1, 2),
    )
    def deregister(self, cluster: str, service: str, instance: int) -> None:
        node, sid = f"{cluster}-node-{instance}", f"{service}-{instance}"
        r = self.clusters[cluster].client.put(
            "/v1/catalog/deregister", json={"Node": node, "ServiceID": sid}
        )
        assert (r.status_code, r.text) == (200, "true")
        self.instances[cluster][service].discard((node, sid))
        self.world.settle()

    # -- the model ----------------------------------------------------------------------------
    def exported_to(self, exporter: str, consumer: str) -> set[str]:
        """Names the written entry grants ``consumer`` (the exporter's name for a peer)."""
        out: set[str] = set()
        for name, peers in self.entries[exporter]:
            if consumer not in peers:
                continue
            if name == "*":
                out.update(s for s, members in self.instances[exporter].items() if members)
            elif name != "consul":
                out.add(name)
        return out

    def visible(self, exporter: str, name: str) -> set[tuple[str, str]]:
        return set(self.instances[exporter].get(name, set()))

    # -- invariants ---------------------------------------------------------------------------
    @invariant()
    def oracles_hold(self) -> None:
        """The simulator's own oracles (consul_sim.oracles) agree with the independent model
        below: they compare imports with the simulator's export rules, this test with its own."""
        self.world.check_invariants()

    @invariant()
    def importers_hold_exactly_what_is_exported_to_them(self) -> None:
        for importer in CLUSTERS:
            cluster = self.clusters[importer]
            with self.world.lock:
                held_peers = {p for (p, _name) in cluster.store.catalog.by_name if p}
            assert held_peers <= {alias(e) for e in CLUSTERS if e != importer}, held_peers
            for exporter in CLUSTERS:
                if exporter == importer:
                    continue
                granted = self.exported_to(exporter, alias(importer))
                with self.world.lock:
                    tables = {
                        name: {
                            (row.node.node, svc.id)
                            for row, svc in cluster.store.catalog.instances(alias(exporter), name)
                        }
                        for (p, name) in list(cluster.store.catalog.by_name)
                        if p == alias(exporter)
                    }
                want_tables = {
                    n: self.visible(exporter, n) for n in granted if self.visible(exporter, n)
                }
                assert {n: m for n, m in tables.items() if m} == want_tables, (
                    importer,
                    exporter,
                    self.entries[exporter],
                )
                # The tables above cover every name; over HTTP, the names that can be held.
                for name in TYPICAL:
                    got = self._health(importer, name, alias(exporter))
                    want = self.visible(exporter, name) if name in granted else set()
                    assert got == want, (importer, exporter, name, self.entries[exporter])

    @invariant()
    def calls_agree_on_what_is_exported(self) -> None:
        for importer in CLUSTERS:
            for exporter in CLUSTERS:
                if exporter == importer:
                    continue
                granted = self.exported_to(exporter, alias(importer))
                for name in CHECKED_NAMES:
                    result = self.world.call((importer, "caller"), (alias(exporter), name))
                    exported = f'{exporter} exports "{name}" to its peer "{alias(importer)}"'
                    assert (exported in result.reasons) is (name in granted), result
                    visible = name in granted and bool(self.visible(exporter, name))
                    if not visible:
                        assert result.allowed is False, result

    def _health(self, importer: str, name: str, peer: str) -> set[tuple[str, str]]:
        r = self.clusters[importer].client.get(f"/v1/health/service/{name}?peer={peer}")
        assert r.status_code == 200, r.text
        entries: list[dict[str, Any]] = r.json()
        for entry in entries:
            assert entry["Node"]["PeerName"] == peer
            assert entry["Service"]["PeerName"] == peer
        return {(e["Node"]["Node"], e["Service"]["ID"]) for e in entries}


NoLeakMachine.TestCase.settings = scaled(15, stateful_step_count=15)
TestNoLeak = NoLeakMachine.TestCase
