"""What peering replicates, as pure functions over stores, and the messages that carry it.

The exporter side answers three questions from its own store: which service names go to a peer
(the ``exported-services`` entry, ``*`` expanded to every typical service, ``consul`` never),
what one exported service looks like on the wire (every typical instance, Connect and Proxy
cleared, Raft indexes cleared, all of an instance's node and service checks folded into the
single ``<serviceID>:overall-check``), and what its trust bundle is. The importer side applies
one service as a full snapshot under its own name for the peering, deletes what a new
``ExportedServiceList`` no longer names, and wipes a peer's data when the peering goes.

Nothing here sends or schedules: :mod:`consul_sim.peering.stream` decides when, and
:mod:`consul_sim.net` carries the messages. Facts: the reference's sections 7.3 to 7.6
(``peerstream/replication.go``, ``subscription_manager.go``, ``health_snapshot.go``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from consul_sim.models.catalog import (
    CRITICAL,
    MAINTENANCE,
    PASSING,
    WARNING,
    HealthCheck,
    Node,
    NodeService,
)
from consul_sim.store import Store

if TYPE_CHECKING:
    from consul_sim.models.config_entries import ExportedServicesConfigEntry

TYPE_PREFIX = "type.googleapis.com/hashicorp.consul.internal."
EXPORTED_SERVICE_URL = TYPE_PREFIX + "peerstream.ExportedService"
EXPORTED_SERVICE_LIST_URL = TYPE_PREFIX + "peerstream.ExportedServiceList"
TRUST_BUNDLE_URL = TYPE_PREFIX + "peering.PeeringTrustBundle"
SERVER_ADDRESSES_URL = TYPE_PREFIX + "peering.PeeringServerAddresses"
EXPORTED_SERVICE_LIST_ID = "exported-service-list"
TRUST_BUNDLE_ID = "roots"
SERVER_ADDRESSES_ID = "server-addrs"
UPSERT = "UPSERT"

WILDCARD = "*"
CONSUL_SERVICE = "consul"
SIDECAR_SUFFIX = "-sidecar-proxy"
OVERALL_CHECK_NAME = "overall-check"
NODE_MAINT_ID = "_node_maintenance"
SERVICE_MAINT_PREFIX = "_service_maintenance:"
VIRTUAL_TAGGED_ADDRESS = "consul-virtual"

_SEVERITY = {PASSING: 0, WARNING: 1, CRITICAL: 2}


# -- payloads -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportedInstance:
    """One ``CheckServiceNode`` as the exporter sends it (indexes and peer name cleared)."""

    node: Node
    service: NodeService
    checks: tuple[HealthCheck, ...]


@dataclass(frozen=True)
class ExportedServicePayload:
    nodes: tuple[ExportedInstance, ...]


@dataclass(frozen=True)
class ExportedServiceListPayload:
    services: tuple[str, ...]


@dataclass(frozen=True)
class TrustBundlePayload:
    trust_domain: str
    root_pems: tuple[str, ...]
    exported_partition: str = ""


@dataclass(frozen=True)
class ServerAddressesPayload:
    """``pbpeering.PeeringServerAddresses``: where the acceptor's servers (or, peering through
    mesh gateways, its gateways) can be dialed; the dialer's ``PeerServerAddresses`` follow."""

    addresses: tuple[str, ...]


Resource = (
    ExportedServicePayload
    | ExportedServiceListPayload
    | TrustBundlePayload
    | ServerAddressesPayload
)

_RESOURCE_TYPES: dict[str, type] = {
    EXPORTED_SERVICE_URL: ExportedServicePayload,
    EXPORTED_SERVICE_LIST_URL: ExportedServiceListPayload,
    TRUST_BUNDLE_URL: TrustBundlePayload,
    SERVER_ADDRESSES_URL: ServerAddressesPayload,
}


# -- stream messages ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StreamMessage:
    """Traffic on one open stream. ``peering_id`` is the receiver's local peering ID and
    ``stream_id`` the connection it belongs to, so a message from a closed stream is ignored.
    ``stream_secret`` is the secret the stream was opened with: the receiving end refuses a
    message whose secret is not its stream's (:mod:`consul_sim.peering.streamauth`). It is
    keyword-only and kept out of ``repr`` and the journal's summary."""

    peering_id: str
    stream_id: int
    stream_secret: str = field(default="", kw_only=True, repr=False)


@dataclass(frozen=True)
class ReplicationResponse(StreamMessage):
    nonce: str = ""
    resource_url: str = ""
    resource_id: str = ""
    operation: str = UPSERT
    resource: Resource | None = None

    def summary(self) -> str:
        text = f"{self.resource_id} nonce={self.nonce}"
        if isinstance(self.resource, ExportedServicePayload):
            count = len(self.resource.nodes)
            text += f": {count} instance" + ("" if count == 1 else "s")
        elif isinstance(self.resource, ExportedServiceListPayload):
            text += ": [" + ", ".join(self.resource.services) + "]"
        elif isinstance(self.resource, TrustBundlePayload):
            count = len(self.resource.root_pems)
            text += f": {count} root" + ("" if count == 1 else "s")
        elif isinstance(self.resource, ServerAddressesPayload):
            text += ": [" + ", ".join(self.resource.addresses) + "]"
        return text


@dataclass(frozen=True)
class Ack(StreamMessage):
    nonce: str = ""

    def summary(self) -> str:
        return f"nonce={self.nonce}"


@dataclass(frozen=True)
class Nack(StreamMessage):
    nonce: str = ""
    error: str = ""

    def summary(self) -> str:
        return f"nonce={self.nonce}: {self.error}"


@dataclass(frozen=True)
class Heartbeat(StreamMessage):
    pass


def format_nonce(n: int) -> str:
    """Consul's per-stream nonce: eight hex digits."""
    return f"{n:08x}"


def check_response(msg: ReplicationResponse) -> str:
    """Why the importer refuses a response ("" when it is acceptable), in Consul's words."""
    if not msg.nonce:
        return "received response without a nonce"
    expected = _RESOURCE_TYPES.get(msg.resource_url)
    if expected is None:
        return f"unexpected resourceURL: {msg.resource_url}"
    if msg.operation != UPSERT:
        return f"unsupported operation: {msg.operation!r}"
    if msg.resource is None:
        return "received upsert with no content"
    if not isinstance(msg.resource, expected):
        return f"resource type mismatch for {msg.resource_url}"
    return ""


# -- the exporter -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportRules:
    """What the ``exported-services`` entry grants one consumer peer."""

    names: frozenset[str] = field(default_factory=frozenset)
    wildcard: bool = False


def exported_services_entry(store: Store) -> ExportedServicesConfigEntry | None:
    """The partition's one ``exported-services`` entry. The config-entry models load with the
    first entry decoded (``cluster.config``), so a world that never writes one skips them."""
    from consul_sim.models.config_entries import (
        EXPORTED_SERVICES,
        EXPORTED_SERVICES_NAME,
        ExportedServicesConfigEntry,
    )

    entry = store.config.get(EXPORTED_SERVICES, EXPORTED_SERVICES_NAME)
    return entry if isinstance(entry, ExportedServicesConfigEntry) else None


def export_rules(store: Store, peer: str) -> ExportRules:
    """The names (and whether ``*``) exported to ``peer``, the exporter's name for it."""
    entry = exported_services_entry(store)
    if entry is None:
        return ExportRules()
    names: set[str] = set()
    wildcard = False
    for svc in entry.services:
        if not any(c.peer == peer for c in svc.consumers):
            continue
        if svc.name == WILDCARD:
            wildcard = True
        else:
            names.add(svc.name)
    return ExportRules(frozenset(names), wildcard)


def exportable(name: str) -> bool:
    """``consul`` is never exported; sidecar names travel only as synthetic mesh data."""
    return name != CONSUL_SERVICE and not name.endswith(SIDECAR_SUFFIX)


def has_typical_instances(store: Store, name: str) -> bool:
    """Whether ``*`` covers ``name``: it has at least one local instance of the typical kind."""
    members = store.catalog.by_name.get(("", name))
    if not members:
        return False
    nodes = store.catalog.nodes
    return any(nodes[nk].services[sid].kind == "" for nk, sid in members)


def covered(store: Store, rules: ExportRules, name: str) -> bool:
    """Whether ``name`` is exported under ``rules`` right now."""
    if not exportable(name):
        return False
    return name in rules.names or (rules.wildcard and has_typical_instances(store, name))


def local_typical_names(store: Store) -> list[str]:
    """What ``*`` expands to: local service names with a typical instance, minus ``consul``."""
    return sorted(
        name
        for (peer, name) in store.catalog.by_name
        if peer == "" and exportable(name) and has_typical_instances(store, name)
    )


def exported_names(store: Store, peer: str) -> list[str]:
    """Every service name exported to ``peer``, sorted (names with no instances included)."""
    rules = export_rules(store, peer)
    names = {n for n in rules.names if exportable(n)}
    if rules.wildcard:
        names.update(local_typical_names(store))
    return sorted(names)


def exported_services_view(store: Store) -> list[dict[str, object]]:
    """``GET /v1/exported-services``: each exported name with its consumer peers, wildcards
    expanded; sorted by service name, peers sorted. A service whose consumers are all
    partitions is listed too, with no peers: CE resolves every consumer and keeps only the
    peer names (``state/config_entry_exported_services_ce.go``), and ``api``'s
    ``ResolvedConsumers`` omits an empty ``Peers`` (and the CE-empty ``Partitions``)."""
    entry = exported_services_entry(store)
    if entry is None:
        return []
    consumers: dict[str, set[str]] = {}
    typical = local_typical_names(store)
    for svc in entry.services:
        peers = {c.peer for c in svc.consumers if c.peer}
        targets = typical if svc.name == WILDCARD else [svc.name]
        for name in targets:
            if exportable(name):
                consumers.setdefault(name, set()).update(peers)
    return [
        {"Service": name, "Consumers": {"Peers": sorted(peers)} if peers else {}}
        for name, peers in sorted(consumers.items())
    ]


def overall_status(checks: Iterable[HealthCheck]) -> str | None:
    """Worst of the checks (critical > warning > passing); ``maintenance`` when any is a
    maintenance check; None when there are no checks at all."""
    worst: str | None = None
    for check in checks:
        if check.check_id == NODE_MAINT_ID or check.check_id.startswith(SERVICE_MAINT_PREFIX):
            return MAINTENANCE
        if worst is None or _SEVERITY.get(check.status, 2) > _SEVERITY.get(worst, 2):
            worst = check.status
    return worst


def flatten_checks(
    node: str, service_id: str, service: str, tags: list[str], checks: list[HealthCheck]
) -> tuple[HealthCheck, ...]:
    """``flattenChecks``: an instance's checks as its one ``<serviceID>:overall-check``, or
    none when it has no checks."""
    status = overall_status(sorted(checks, key=lambda c: c.check_id))
    if status is None:
        return ()
    overall = HealthCheck(
        node=node,
        check_id=f"{service_id}:{OVERALL_CHECK_NAME}",
        name=OVERALL_CHECK_NAME,
        status=status,
        service_id=service_id,
        service_name=service,
        service_tags=tags,
    )
    return (overall,)


def service_snapshot(store: Store, name: str) -> ExportedServicePayload:
    """Every typical local instance of ``name`` as the exporter sends it."""
    out: list[ExportedInstance] = []
    for row, svc in store.catalog.instances("", name):
        if svc.kind != "":
            continue
        node = row.node.model_copy(update={"create_index": 0, "modify_index": 0})
        tagged = {k: v for k, v in svc.tagged_addresses.items() if k != VIRTUAL_TAGGED_ADDRESS}
        service = svc.model_copy(
            update={
                "connect": {},
                "proxy": {},
                "tagged_addresses": tagged,
                "create_index": 0,
                "modify_index": 0,
            }
        )
        # Through the row's index by service ID: one node may hold thousands of services.
        relevant = row.service_checks("")
        if svc.id:
            relevant += row.service_checks(svc.id)
        checks = flatten_checks(node.node, svc.id, svc.service, list(svc.tags), relevant)
        out.append(ExportedInstance(node, service, checks))
    return ExportedServicePayload(tuple(out))


# -- the importer -------------------------------------------------------------------------------
def apply_service(store: Store, peer: str, name: str, payload: ExportedServicePayload) -> None:
    """Reconcile ``name`` imported from ``peer`` against a full snapshot: (re)register what
    differs, deregister instances and checks the snapshot lacks, then nodes left empty."""
    cat = store.catalog
    with store.txn() as txn:
        before = {(row.node.node, svc.id) for row, svc in cat.instances(peer, name)}
        keep: set[tuple[str, str]] = set()
        for inst in payload.nodes:
            node = inst.node.model_copy(update={"peer_name": peer, "partition": ""})
            cat.ensure_node(txn, node)
            service = inst.service.model_copy(update={"peer_name": peer})
            cat.ensure_service(txn, node.node, service)
            keep.add((node.node, service.id))
            for check in inst.checks:
                cat.ensure_check(txn, check.model_copy(update={"peer_name": peer}))
            if not inst.checks:
                # The only check an import ever holds for an instance is its overall check.
                cat.delete_check(txn, peer, node.node, f"{service.id}:{OVERALL_CHECK_NAME}")
        emptied: set[str] = set()
        for node_name, sid in sorted(before - keep):
            cat.delete_service(txn, peer, node_name, sid)
            emptied.add(node_name)
        for node_name in sorted(emptied):
            row = cat.row(peer, node_name)
            if row is not None and not row.services:
                cat.delete_node(txn, peer, node_name)


def imported_names(store: Store, peer: str) -> list[str]:
    return sorted(name for (p, name) in store.catalog.by_name if p == peer)


def apply_service_list(store: Store, peer: str, names: Iterable[str]) -> None:
    """Delete every service imported from ``peer`` that the new list no longer names."""
    listed = set(names)
    for name in imported_names(store, peer):
        if name in listed or (
            name.endswith(SIDECAR_SUFFIX) and name.removesuffix(SIDECAR_SUFFIX) in listed
        ):
            continue
        apply_service(store, peer, name, ExportedServicePayload(()))


def remove_imported(store: Store, peer: str) -> None:
    """Delete every node imported from ``peer``, and with them their services and checks."""
    cat = store.catalog
    nodes = sorted(row.node.node for row in cat.rows(peer))
    if not nodes:
        return
    with store.txn() as txn:
        for node_name in nodes:
            cat.delete_node(txn, peer, node_name)
