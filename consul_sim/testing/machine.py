"""``PeeringMachine``: a Hypothesis state machine over N peered clusters, to subclass.

Hypothesis plays a user (and a bad network): it registers instances, changes their health,
deregisters, exports and unexports (``*`` included), peers and deletes peerings, partitions
and heals links, makes a link lossy, lets virtual time pass, crashes and restarts clusters.
Every rule goes through the HTTP API or the world's fault controls, then settles the world; the
invariant is :meth:`World.check_invariants` (:mod:`consul_sim.oracles`), so a failure reads as
a diff with the journal, shrunk by Hypothesis to the shortest story that breaks it.

Subclass it to test your own application against the simulator::

    class MyMachine(PeeringMachine):
        CLUSTERS = ("cluster-01", "cluster-02")

        @invariant()
        def my_client_picks_a_healthy_instance(self) -> None:
            ...

    TestMyMachine = MyMachine.TestCase

Class attributes choose the world: ``CLUSTERS`` (names, each side names the other by its
name), ``SERVICES``, ``SEED`` and
``INITIAL_PEERINGS`` / ``INITIAL_EXPORTS`` (every pair peered and each cluster exporting the
first service to every other, by default, so replication has work from the first step) and
``INITIAL_INSTANCES`` (passing instances of each service per cluster at the start, 1).
``self.world`` and ``self.clusters`` are the world and its clusters; ``self.exports`` is the
model of each cluster's ``exported-services`` entry the rules keep.

Rules act through the clusters' Python API (``cluster.peering``, ``cluster.config``, the
catalog's register) by default, which is what lets a run reach hundreds of steps a second; set
``VIA_HTTP = True`` to send every move through each cluster's HTTP API instead, as an HTTP
client would (same bodies, same answers).
"""

from __future__ import annotations

from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from consul_sim.catalog.register import deregister as catalog_deregister
from consul_sim.catalog.register import register as catalog_register
from consul_sim.errors import ConsulError
from consul_sim.models.base import decode_body
from consul_sim.models.catalog import DeregisterRequest, RegisterRequest
from consul_sim.peering.replication import exported_names
from consul_sim.world import Cluster, World

STATUSES = ("passing", "warning", "critical")
WILDCARD = "*"


class PeeringMachine(RuleBasedStateMachine):
    """N clusters, every user move a rule, the oracles an invariant. See the module docstring."""

    CLUSTERS: ClassVar[tuple[str, ...]] = ("cluster-01", "cluster-02", "cluster-03")
    SERVICES: ClassVar[tuple[str, ...]] = ("web", "api", "db")
    SEED: ClassVar[int] = 0
    INITIAL_PEERINGS: ClassVar[bool] = True
    INITIAL_EXPORTS: ClassVar[bool] = True
    VIA_HTTP: ClassVar[bool] = False
    INITIAL_INSTANCES: ClassVar[int] = 1
    """Passing instances of each service each cluster starts with (the rules use 1 and 2)."""

    clusters_bundle = Bundle("clusters")
    services_bundle = Bundle("services")

    def __init__(self) -> None:
        super().__init__()
        self.world = World(clock="virtual", seed=self.SEED)
        self.clusters: dict[str, Cluster] = {n: self.world.add_cluster(n) for n in self.CLUSTERS}
        self.exports: dict[str, dict[str, set[str]]] = {n: {} for n in self.CLUSTERS}
        """exporter -> service name (or ``*``) -> consumer peer names: the entry's model."""

    def teardown(self) -> None:
        self.world.close()

    # -- helpers a subclass may use ---------------------------------------------------------------
    def settle(self) -> None:
        self.world.settle()

    def http(self, cluster: str, method: str, path: str, **kw: Any) -> Any:
        """Call ``cluster``'s API; anything but a 200 fails the step with Consul's answer."""
        r = self.clusters[cluster].client.request(method, path, **kw)
        assert r.status_code == 200, (cluster, method, path, r.status_code, r.text)
        return r

    def write_exports(self, cluster: str) -> None:
        entries = [
            {"Name": name, "Consumers": [{"Peer": p} for p in sorted(peers)]}
            for name, peers in sorted(self.exports[cluster].items())
            if peers
        ]
        body = {"Kind": "exported-services", "Name": "default", "Services": entries}
        if self.VIA_HTTP:
            if entries:
                self.http(cluster, "PUT", "/v1/config", json=body)
            else:
                self.http(cluster, "DELETE", "/v1/config/exported-services/default")
        elif entries:
            assert self.clusters[cluster].config.write(body)
        else:
            self.clusters[cluster].config.delete("exported-services", "default")

    def catalog(self, cluster: str, op: str, body: dict[str, Any]) -> None:
        """``register`` or ``deregister`` ``body`` on ``cluster``'s catalog."""
        if self.VIA_HTTP:
            self.http(cluster, "PUT", f"/v1/catalog/{op}", json=body)
            return
        c = self.clusters[cluster]
        if op == "register":
            catalog_register(c.store, c.datacenter, decode_body(RegisterRequest, body))
        else:
            catalog_deregister(c.store, decode_body(DeregisterRequest, body))

    def has_peering(self, cluster: str, name: str) -> bool:
        with self.world.lock:
            return self.clusters[cluster].peering.table.get(name) is not None

    # -- set-up -----------------------------------------------------------------------------------
    @initialize(target=clusters_bundle)
    def make_clusters(self) -> MultipleResults[str]:
        """Every pair peered and the first service exported everywhere (unless turned off),
        ``INITIAL_INSTANCES`` passing instances of each service on each cluster."""
        if self.INITIAL_PEERINGS:
            for i, acceptor in enumerate(self.CLUSTERS):
                for dialer in self.CLUSTERS[i + 1 :]:
                    self.peer(acceptor, dialer)
        for cluster in self.CLUSTERS:
            for service in self.SERVICES:
                for instance in range(1, self.INITIAL_INSTANCES + 1):
                    self.register(cluster, service, instance, "passing")
            if self.INITIAL_EXPORTS and self.SERVICES:
                self.exports[cluster][self.SERVICES[0]] = {c for c in self.CLUSTERS if c != cluster}
                self.write_exports(cluster)
        self.settle()
        return multiple(*self.CLUSTERS)

    @initialize(target=services_bundle)
    def name_services(self) -> MultipleResults[str]:
        return multiple(*self.SERVICES)

    # -- catalog ----------------------------------------------------------------------------------
    @rule(
        cluster=clusters_bundle,
        service=services_bundle,
        instance=st.integers(1, 2),
        status=st.sampled_from(STATUSES),
    )
    def register(self, cluster: str, service: str, instance: int, status: str) -> None:
        """Register (or re-register) ``<service>-<instance>`` with one check in ``status``."""
        sid = f"{service}-{instance}"
        self.catalog(
            cluster,
            "register",
            {
                "Node": f"{cluster}-node-{instance}",
                "Address": f"10.0.0.{instance}",
                "Service": {"ID": sid, "Service": service},
                "Check": {"CheckID": f"check-{sid}", "Status": status, "ServiceID": sid},
            },
        )
        self.settle()

    @rule(
        cluster=clusters_bundle,
        service=services_bundle,
        instance=st.integers(1, 2),
        status=st.sampled_from(STATUSES),
    )
    def set_health(self, cluster: str, service: str, instance: int, status: str) -> None:
        """Change an instance's check (registering the instance if it is not there)."""
        self.register(cluster, service, instance, status)

    @rule(cluster=clusters_bundle, service=services_bundle, instance=st.integers(1, 2))
    def deregister(self, cluster: str, service: str, instance: int) -> None:
        self.catalog(
            cluster,
            "deregister",
            {"Node": f"{cluster}-node-{instance}", "ServiceID": f"{service}-{instance}"},
        )
        self.settle()

    # -- exports ----------------------------------------------------------------------------------
    @rule(exporter=clusters_bundle, consumer=clusters_bundle, service=services_bundle)
    def export(self, exporter: str, consumer: str, service: str) -> None:
        if exporter == consumer:
            return
        self.exports[exporter].setdefault(service, set()).add(consumer)
        self.write_exports(exporter)
        self.settle()

    @rule(exporter=clusters_bundle, consumer=clusters_bundle)
    def export_everything(self, exporter: str, consumer: str) -> None:
        """``*``: every typical service of the exporter."""
        self.export(exporter, consumer, WILDCARD)

    @rule(
        exporter=clusters_bundle,
        consumer=clusters_bundle,
        service=st.one_of(services_bundle, st.just(WILDCARD)),
    )
    def unexport(self, exporter: str, consumer: str, service: str) -> None:
        self.exports[exporter].get(service, set()).discard(consumer)
        self.write_exports(exporter)
        self.settle()

    # -- peerings ---------------------------------------------------------------------------------
    @rule(acceptor=clusters_bundle, dialer=clusters_bundle)
    def peer(self, acceptor: str, dialer: str) -> None:
        """Token on ``acceptor``, establish on ``dialer``; a pair already peered is left be."""
        if acceptor == dialer:
            return
        if self.has_peering(acceptor, dialer) or self.has_peering(dialer, acceptor):
            return
        # Over a cut link Consul's establish fails with an rpc error: that is the user's lot.
        if self.VIA_HTTP:
            r = self.http(acceptor, "POST", "/v1/peering/token", json={"PeerName": dialer})
            r = self.clusters[dialer].client.post(
                "/v1/peering/establish",
                json={"PeerName": acceptor, "PeeringToken": r.json()["PeeringToken"]},
            )
            assert r.status_code in (200, 500), (r.status_code, r.text)
        else:
            token = self.clusters[acceptor].peering.generate_token(dialer)
            try:
                self.clusters[dialer].peering.establish(acceptor, token)
            except ConsulError as exc:
                assert exc.status_code == 500, exc
        self.settle()

    @rule(cluster=clusters_bundle, other=clusters_bundle)
    def delete(self, cluster: str, other: str) -> None:
        if cluster == other:
            return
        if self.VIA_HTTP:
            self.http(cluster, "DELETE", f"/v1/peering/{other}")
        else:
            self.clusters[cluster].peering.delete(other)
        self.settle()
        self.world.advance(1)
        self.settle()

    # -- network and time -------------------------------------------------------------------------
    @rule(a=clusters_bundle, b=clusters_bundle)
    def partition(self, a: str, b: str) -> None:
        if a != b:
            self.world.partition(a, b)
            self.settle()

    @rule(a=clusters_bundle, b=clusters_bundle)
    def heal(self, a: str, b: str) -> None:
        """Heal, then wait a heartbeat: what the cut dropped goes again on the next one."""
        if a != b:
            self.world.heal(a, b)
            self.world.advance(self.world.heartbeat_interval + 1)
            self.settle()

    @rule(a=clusters_bundle, b=clusters_bundle, loss=st.sampled_from([0.0, 0.5]))
    def lossy_link(self, a: str, b: str, loss: float) -> None:
        """Make a link lose messages (or stop losing them, then wait for a resend)."""
        if a == b:
            return
        self.world.set_link(a, b, loss=loss)
        if not loss:
            self.world.advance(self.world.heartbeat_interval + 1)
        self.settle()

    @rule(seconds=st.sampled_from([1.0, 15.0, 130.0]))
    def advance(self, seconds: float) -> None:
        self.world.advance(seconds)
        self.settle()

    @rule(cluster=clusters_bundle)
    def crash(self, cluster: str) -> None:
        self.world.crash(cluster)
        self.settle()

    @rule(cluster=clusters_bundle)
    def restart(self, cluster: str) -> None:
        """Restart, then wait a heartbeat: the new leader redials (and resends) on its timer,
        which only time passing brings."""
        self.world.restart(cluster)
        self.world.advance(self.world.heartbeat_interval + 1)
        self.settle()

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def oracles_hold(self) -> None:
        self.world.check_invariants()

    @invariant()
    def entries_match_the_model(self) -> None:
        """What each cluster stores as exported to a peer is what the rules wrote."""
        with self.world.lock:
            for exporter, rules in self.exports.items():
                store = self.clusters[exporter].store
                for consumer in self.CLUSTERS:
                    named = {s for s, peers in rules.items() if s != WILDCARD and consumer in peers}
                    got = set(exported_names(store, consumer))
                    assert named <= got, (exporter, consumer, sorted(named), sorted(got))
                    if consumer not in rules.get(WILDCARD, set()):
                        assert got == named, (exporter, consumer, sorted(named), sorted(got))
