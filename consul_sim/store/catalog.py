"""Catalog tables: nodes, service instances and checks, local and imported.

Every row is keyed by the peer it came from ("" for local data), so imported copies of a peer's
nodes live beside local ones with the same names and never show without ``?peer=``. A by-name
service index keeps health queries proportional to the instances of that service, not to the
size of the catalog (10,000 exported services must not slow a single-service read), and a
per-node index of checks by service ID keeps every per-service write and read proportional to
that service's checks, not to the node's (10,000 services on one node must not make each
registration or replication snapshot scan 10,000 checks).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from consul_sim.models.catalog import HealthCheck, Node, NodeService

if TYPE_CHECKING:
    from consul_sim.store.txn import Txn

NODES = "nodes"
SERVICES = "services"
CHECKS = "checks"

NodeKey = tuple[str, str]  # (peer, lower-cased node name)


@dataclass
class NodeRow:
    """One node with its services and checks. ``checks`` is only written through
    :meth:`put_check` and :meth:`pop_check`, which keep ``check_ids_by_service`` in step: service
    ID ("" for node-level checks) -> IDs of that service's checks on this node."""

    node: Node
    services: dict[str, NodeService] = field(default_factory=dict)
    checks: dict[str, HealthCheck] = field(default_factory=dict)
    check_ids_by_service: dict[str, set[str]] = field(default_factory=dict)

    def put_check(self, check: HealthCheck) -> HealthCheck | None:
        """Store ``check`` under its ID; the check it replaced, if any."""
        previous = self.checks.get(check.check_id)
        if previous is not None and previous.service_id != check.service_id:
            self._unindex(previous)
        self.checks[check.check_id] = check
        self.check_ids_by_service.setdefault(check.service_id, set()).add(check.check_id)
        return previous

    def pop_check(self, check_id: str) -> HealthCheck | None:
        check = self.checks.pop(check_id, None)
        if check is not None:
            self._unindex(check)
        return check

    def _unindex(self, check: HealthCheck) -> None:
        ids = self.check_ids_by_service.get(check.service_id)
        if ids is not None:
            ids.discard(check.check_id)
            if not ids:
                del self.check_ids_by_service[check.service_id]

    def service_checks(self, service_id: str) -> list[HealthCheck]:
        """The checks of one service on this node ("" = node-level), sorted by check ID."""
        ids = self.check_ids_by_service.get(service_id)
        if not ids:
            return []
        return [self.checks[cid] for cid in sorted(ids)]


def node_key(peer: str, node: str) -> NodeKey:
    return (peer, node.lower())


class CatalogTables:
    def __init__(self) -> None:
        self.nodes: dict[NodeKey, NodeRow] = {}
        # (peer, service name) -> {(node key, service id)}
        self.by_name: dict[tuple[str, str], set[tuple[NodeKey, str]]] = defaultdict(set)
        # (peer, service name) -> index of the last write that changed that service's result
        self.service_index: dict[tuple[str, str], int] = {}
        # Read results keyed by query, each valid while its service's index is unchanged.
        self.read_cache: dict[tuple[object, ...], tuple[int, object]] = {}
        # Connect proxies by destination: (peer, Proxy.DestinationServiceName) -> members, and
        # the index of the last write to any of them, so /connect reads wake when a proxy for
        # the service comes, changes or goes (Consul's connect index, state/catalog.go).
        self.by_destination: dict[tuple[str, str], set[tuple[NodeKey, str]]] = defaultdict(set)
        self.connect_index: dict[tuple[str, str], int] = {}
        # Local service names in the order their results changed, for incremental replication:
        # each peering stream keeps a cursor into it. ``change_base`` is how many were trimmed.
        self.changes: list[str] = []
        self.change_base = 0

    # -- lookups --------------------------------------------------------------------------
    def row(self, peer: str, node: str) -> NodeRow | None:
        return self.nodes.get(node_key(peer, node))

    def rows(self, peer: str) -> list[NodeRow]:
        rows = [r for (p, _), r in self.nodes.items() if p == peer]
        rows.sort(key=lambda r: r.node.node)
        return rows

    def instances(self, peer: str, name: str) -> list[tuple[NodeRow, NodeService]]:
        """Instances of a service ordered by node name, then service ID, as Consul returns."""
        out: list[tuple[NodeRow, NodeService]] = []
        for nk, sid in self.by_name.get((peer, name), ()):
            row = self.nodes[nk]
            out.append((row, row.services[sid]))
        out.sort(key=lambda pair: (pair[0].node.node, pair[1].id))
        return out

    def service_names(self, peer: str) -> dict[str, list[str]]:
        """Service name -> de-duplicated union of its instances' tags."""
        names: dict[str, list[str]] = {}
        for (p, name), members in self.by_name.items():
            if p != peer or not members:
                continue
            tags: list[str] = []
            for nk, sid in sorted(members):
                for tag in self.nodes[nk].services[sid].tags:
                    if tag not in tags:
                        tags.append(tag)
            names[name] = tags
        return dict(sorted(names.items()))

    def peers(self) -> set[str]:
        return {p for p, _ in self.nodes}

    # -- index bookkeeping ------------------------------------------------------------------
    def bump_service(self, peer: str, name: str, index: int) -> None:
        self.service_index[(peer, name)] = index
        if peer == "":
            self.changes.append(name)

    @property
    def change_position(self) -> int:
        return self.change_base + len(self.changes)

    def changed_since(self, position: int) -> list[str]:
        """Local service names changed since ``position`` (a past ``change_position``)."""
        return self.changes[max(position - self.change_base, 0) :]

    def trim_changes(self, position: int) -> None:
        """Forget changes every reader has seen (all positions are at least ``position``)."""
        drop = min(max(position - self.change_base, 0), len(self.changes))
        if drop:
            del self.changes[:drop]
            self.change_base += drop

    def bump_instance(self, peer: str, svc: NodeService, index: int) -> None:
        """A write changed this instance's result: its service's index and, for a proxy, the
        connect index of its destination."""
        self.bump_service(peer, svc.service, index)
        destination = proxy_destination(svc)
        if destination:
            self.connect_index[(peer, destination)] = index

    def bump_node_services(self, row: NodeRow, index: int) -> None:
        for svc in row.services.values():
            self.bump_instance(svc.peer_name, svc, index)

    def proxies_for(self, peer: str, destination: str) -> list[tuple[NodeRow, NodeService]]:
        """Connect proxies whose ``Proxy.DestinationServiceName`` is ``destination``."""
        out: list[tuple[NodeRow, NodeService]] = []
        for nk, sid in self.by_destination.get((peer, destination), ()):
            row = self.nodes[nk]
            out.append((row, row.services[sid]))
        return out

    def add_instance(self, nk: NodeKey, svc: NodeService) -> None:
        self.by_name[(nk[0], svc.service)].add((nk, svc.id))
        destination = proxy_destination(svc)
        if destination:
            self.by_destination[(nk[0], destination)].add((nk, svc.id))

    def drop_instance(self, nk: NodeKey, svc: NodeService) -> None:
        members = self.by_name.get((nk[0], svc.service))
        if members is not None:
            members.discard((nk, svc.id))
            if not members:
                del self.by_name[(nk[0], svc.service)]
        destination = proxy_destination(svc)
        proxies = self.by_destination.get((nk[0], destination)) if destination else None
        if proxies is not None:
            proxies.discard((nk, svc.id))
            if not proxies:
                del self.by_destination[(nk[0], destination)]

    # -- writes -------------------------------------------------------------------------------
    def ensure_node(self, txn: Txn, node: Node) -> Node:
        nk = node_key(node.peer_name, node.node)
        row = self.nodes.get(nk)
        if row is not None and _same(row.node, node):
            return row.node
        stamped = txn.stamp(node, row.node if row else None)
        if row is None:
            self.nodes[nk] = NodeRow(stamped)
        else:
            row.node = stamped
            self.bump_node_services(row, txn.index)
            # checks carry the node's name as registered; keep them in step with a rename in case
        txn.touch(NODES)
        return stamped

    def ensure_service(self, txn: Txn, node: str, svc: NodeService) -> NodeService:
        nk = node_key(svc.peer_name, node)
        row = self.nodes[nk]
        existing = row.services.get(svc.id)
        if existing is not None and _same(existing, svc):
            return existing
        stamped = txn.stamp(svc, existing)
        if existing is not None:
            self.drop_instance(nk, existing)
            if existing.service != svc.service or proxy_destination(existing):
                self.bump_instance(nk[0], existing, txn.index)
        row.services[svc.id] = stamped
        self.add_instance(nk, stamped)
        self.bump_instance(nk[0], svc, txn.index)
        # Service checks carry the service's name and tags; keep them in step.
        for check in row.service_checks(svc.id):
            if check.service_name != svc.service or check.service_tags != svc.tags:
                row.put_check(
                    check.model_copy(
                        update={
                            "service_name": svc.service,
                            "service_tags": list(svc.tags),
                            "modify_index": txn.index,
                        }
                    )
                )
                txn.touch(CHECKS)
        txn.touch(SERVICES)
        return stamped

    def ensure_check(self, txn: Txn, check: HealthCheck) -> HealthCheck:
        nk = node_key(check.peer_name, check.node)
        row = self.nodes[nk]
        existing = row.checks.get(check.check_id)
        if existing is not None and _same(existing, check):
            return existing
        stamped = txn.stamp(check, existing)
        row.put_check(stamped)
        self._bump_for_check(row, stamped, txn.index)
        if existing is not None and existing.service_id != check.service_id:
            self._bump_for_check(row, existing, txn.index)
        txn.touch(CHECKS)
        return stamped

    def delete_node(self, txn: Txn, peer: str, node: str) -> bool:
        nk = node_key(peer, node)
        row = self.nodes.pop(nk, None)
        if row is None:
            return False
        for svc in row.services.values():
            self.drop_instance(nk, svc)
        self.bump_node_services(row, txn.index)
        txn.touch(NODES)
        if row.services:
            txn.touch(SERVICES)
        if row.checks:
            txn.touch(CHECKS)
        return True

    def delete_service(self, txn: Txn, peer: str, node: str, service_id: str) -> bool:
        nk = node_key(peer, node)
        row = self.nodes.get(nk)
        if row is None or service_id not in row.services:
            return False
        svc = row.services.pop(service_id)
        self.drop_instance(nk, svc)
        self.bump_instance(peer, svc, txn.index)
        for check in row.service_checks(service_id):
            row.pop_check(check.check_id)
            txn.touch(CHECKS)
        txn.touch(SERVICES)
        return True

    def delete_check(self, txn: Txn, peer: str, node: str, check_id: str) -> bool:
        nk = node_key(peer, node)
        row = self.nodes.get(nk)
        if row is None:
            return False
        check = row.pop_check(check_id)
        if check is None:
            return False
        self._bump_for_check(row, check, txn.index)
        txn.touch(CHECKS)
        return True

    def _bump_for_check(self, row: NodeRow, check: HealthCheck, index: int) -> None:
        if check.service_id:
            svc = row.services.get(check.service_id)
            if svc is not None:
                self.bump_instance(svc.peer_name, svc, index)
        else:
            self.bump_node_services(row, index)


def proxy_destination(svc: NodeService) -> str:
    """The service a connect proxy fronts ("" for any other kind)."""
    if svc.kind != "connect-proxy":
        return ""
    proxy = svc.proxy
    name = proxy.get("DestinationServiceName") or proxy.get("destination_service_name") or ""
    return str(name)


_INDEX_FIELDS = {"create_index", "modify_index"}


def _same(a: Any, b: Any) -> bool:
    """Equal apart from Raft indexes: a write that changes nothing does not move the index."""
    return bool(a.model_dump(exclude=_INDEX_FIELDS) == b.model_dump(exclude=_INDEX_FIELDS))
