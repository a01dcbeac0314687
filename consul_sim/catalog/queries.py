"""Health and catalog reads: each returns its result and the index a blocking query compares.

The index rules follow Consul's state store: a read about one service reports that service's
index when it exists, else the catalog tables' max, so an empty answer still wakes a watcher when
the service appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import cast

from consul_sim.models.catalog import HealthCheck, Node, NodeService
from consul_sim.store import Store
from consul_sim.store.catalog import CHECKS, NODES, SERVICES, NodeRow


@dataclass(frozen=True)
class CheckServiceNode:
    node: Node
    service: NodeService
    checks: list[HealthCheck]

    def render(self) -> dict[str, object]:
        return {
            "Node": self.node.render(),
            "Service": self.service.render(),
            "Checks": [c.render() for c in self.checks],
        }

    @cached_property
    def json_bytes(self) -> bytes:
        """The compact JSON of this entry, joined from its parts' cached encodings."""
        checks = b",".join(c.json_bytes for c in self.checks)
        return (
            b'{"Node":'
            + self.node.json_bytes
            + b',"Service":'
            + self.service.json_bytes
            + b',"Checks":['
            + checks
            + b"]}"
        )

    def passing(self) -> bool:
        return all(c.status == "passing" for c in self.checks)


def _service_index(store: Store, peer: str, name: str) -> int:
    idx = store.catalog.service_index.get((peer, name))
    if idx:
        return idx
    return store.max_index((NODES, SERVICES, CHECKS))


def _has_tags(svc: NodeService, tags: list[str]) -> bool:
    return all(t in svc.tags for t in tags)


def _checks_for(row: NodeRow, service_id: str) -> list[HealthCheck]:
    """The node's checks, then the service's, each sorted by check ID; through the row's index
    so a node with thousands of services does not scan all their checks per instance."""
    return row.service_checks("") + row.service_checks(service_id)


def service_nodes(
    store: Store, name: str, *, peer: str = "", tags: list[str] | None = None
) -> tuple[int, list[tuple[Node, NodeService]]]:
    with store.lock:
        out = [
            (row.node, svc)
            for row, svc in store.catalog.instances(peer, name)
            if not tags or _has_tags(svc, tags)
        ]
        return _service_index(store, peer, name), out


def check_service_nodes(
    store: Store, name: str, *, peer: str = "", tags: list[str] | None = None
) -> tuple[int, list[CheckServiceNode]]:
    """The health view of a service. The result is cached against the service's index: every
    write that changes it (instance, its checks, its node or the node's checks) bumps that."""
    with store.lock:
        key = ("health", peer, name, tuple(tags or ()))
        current = store.catalog.service_index.get((peer, name), 0)
        cached = store.catalog.read_cache.get(key)
        if current and cached is not None and cached[0] == current:
            return current, cast(list[CheckServiceNode], cached[1])
        out = [
            CheckServiceNode(row.node, svc, _checks_for(row, svc.id))
            for row, svc in store.catalog.instances(peer, name)
            if not tags or _has_tags(svc, tags)
        ]
        if current:
            store.catalog.read_cache[key] = (current, out)
        return _service_index(store, peer, name), out


def service_checks(store: Store, name: str, *, peer: str = "") -> tuple[int, list[HealthCheck]]:
    with store.lock:
        out: list[HealthCheck] = []
        for row, svc in store.catalog.instances(peer, name):
            out.extend(row.service_checks(svc.id))
        return _service_index(store, peer, name), out


def node_checks(store: Store, node: str, *, peer: str = "") -> tuple[int, list[HealthCheck]]:
    with store.lock:
        row = store.catalog.row(peer, node)
        checks = sorted(row.checks.values(), key=lambda c: c.check_id) if row else []
        return store.max_index((CHECKS,)), checks


def checks_in_state(store: Store, state: str, *, peer: str = "") -> tuple[int, list[HealthCheck]]:
    with store.lock:
        out: list[HealthCheck] = []
        for row in store.catalog.rows(peer):
            for check in sorted(row.checks.values(), key=lambda c: c.check_id):
                if state == "any" or check.status == state:
                    out.append(check)
        return store.max_index((CHECKS,)), out


def nodes(store: Store, *, peer: str = "") -> tuple[int, list[Node]]:
    with store.lock:
        return store.max_index((NODES,)), [r.node for r in store.catalog.rows(peer)]


def services(store: Store, *, peer: str = "") -> tuple[int, dict[str, list[str]]]:
    with store.lock:
        return store.max_index((SERVICES,)), store.catalog.service_names(peer)


def node_services(
    store: Store, node: str, *, peer: str = ""
) -> tuple[int, tuple[Node, list[NodeService]] | None]:
    with store.lock:
        idx = store.max_index((NODES, SERVICES))
        row = store.catalog.row(peer, node)
        if row is None:
            return idx, None
        return idx, (row.node, sorted(row.services.values(), key=lambda s: s.id))


def connect_capable(
    store: Store, name: str, peer: str = ""
) -> tuple[int, list[tuple[Node, NodeService]]]:
    """Instances that can take mesh traffic for ``name``: its connect proxies and its native
    instances, local or (with ``peer``) imported from that peer (the Connect branch of
    ``ServiceNodes``, agent/consul/state/catalog.go, whose ``connect`` index keys a proxy by its
    ``Proxy.DestinationServiceName``). The index is the service's, or the last write to one of
    its proxies when that is later, so a blocking read wakes when a proxy comes or goes."""
    with store.lock:
        cat = store.catalog
        out = [
            (row.node, svc) for row, svc in cat.instances(peer, name) if svc.connect.get("Native")
        ]
        out.extend((row.node, svc) for row, svc in cat.proxies_for(peer, name))
        out.sort(key=lambda p: (p[0].node, p[1].id))
        index = max(_service_index(store, peer, name), cat.connect_index.get((peer, name), 0))
        return index, out


def connect_check_service_nodes(
    store: Store, name: str, peer: str = ""
) -> tuple[int, list[CheckServiceNode]]:
    """:func:`connect_capable`'s instances with their health, as ``/v1/health/connect`` shows
    them."""
    index, pairs = connect_capable(store, name, peer)
    with store.lock:
        csns = []
        for node, svc in pairs:
            row = store.catalog.row(svc.peer_name, node.node)
            if row is not None:
                csns.append(CheckServiceNode(node, svc, _checks_for(row, svc.id)))
    return index, csns
