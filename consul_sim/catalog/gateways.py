"""Which services a gateway fronts: ``/v1/catalog/gateway-services`` and ``/v1/health/ingress``.

Consul keeps a ``gateway-services`` table that its state store rewrites whenever an
``ingress-gateway`` or ``terminating-gateway`` entry is written and whenever a service is
registered into a wildcard's reach (agent/consul/state/catalog.go, ``updateGatewayServices``,
``updateGatewayNamespace``, ``checkGatewayWildcardsAndUpdate``). The simulator derives the same
rows on read from the entries and the catalog:

- an ingress listener's service: ``Port`` and ``Protocol`` of the listener, its ``Hosts``;
- a terminating entry's service: its ``CAFile``/``CertFile``/``KeyFile``/``SNI``, and
  ``ServiceKind`` ``service`` when the catalog has the service (``GatewayServiceKind``);
- ``*``: one row per typical local service other than ``consul`` not already named on that
  listener (terminating: by the entry), with ``FromWildcard``; the ``*`` row itself is kept by
  Consul for later registrations but is not answered (agent/consul/catalog_endpoint_test.go,
  ``TestCatalog_GatewayServices_TerminatingGateway``).

Rows are ordered by service name then port, as Consul's ``gateway`` index returns them. A row's
Raft indexes are the entry's ModifyIndex (Consul rewrites every row of the gateway on a write),
or for a wildcard row the first registration of its service when that came later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consul_sim.catalog.queries import CheckServiceNode, _checks_for
from consul_sim.config.gateways import (
    INGRESS_GATEWAY,
    TERMINATING_GATEWAY,
    WILDCARD,
    IngressGatewayConfigEntry,
    TerminatingGatewayConfigEntry,
)
from consul_sim.store import Store
from consul_sim.store.catalog import CHECKS, NODES, SERVICES
from consul_sim.store.config import CONFIG_ENTRIES

GATEWAY_SERVICE_KIND = "service"


@dataclass(frozen=True)
class GatewayService:
    """``structs.GatewayService`` (agent/structs/config_entry_gateways.go)."""

    gateway: str
    service: str
    gateway_kind: str
    port: int = 0
    protocol: str = ""
    hosts: tuple[str, ...] = ()
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    sni: str = ""
    from_wildcard: bool = False
    service_kind: str = ""
    index: int = 0

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Gateway": {"Name": self.gateway},
            "Service": {"Name": self.service},
            "GatewayKind": self.gateway_kind,
        }
        for key, value in (
            ("Port", self.port),
            ("Protocol", self.protocol),
            ("Hosts", list(self.hosts)),
            ("CAFile", self.ca_file),
            ("CertFile", self.cert_file),
            ("KeyFile", self.key_file),
            ("SNI", self.sni),
            ("FromWildcard", self.from_wildcard),
            ("ServiceKind", self.service_kind),
        ):
            if value:
                out[key] = value
        out["CreateIndex"] = self.index
        out["ModifyIndex"] = self.index
        return out


def _typical_names(store: Store) -> dict[str, int]:
    """Local service names with a typical instance (never ``consul``), each with the lowest
    CreateIndex among those instances."""
    out: dict[str, int] = {}
    for (peer, name), members in store.catalog.by_name.items():
        if peer or name == "consul":
            continue
        for nk, sid in members:
            svc = store.catalog.nodes[nk].services[sid]
            if svc.kind == "":
                first = out.get(name)
                out[name] = svc.create_index if first is None else min(first, svc.create_index)
    return out


def _ingress_rows(
    entry: IngressGatewayConfigEntry, typical: dict[str, int]
) -> list[GatewayService]:
    rows: list[GatewayService] = []
    for listener in entry.listeners or []:
        named = {s.name for s in listener.services or []}
        for svc in listener.services or []:
            common: dict[str, Any] = {
                "gateway": entry.name,
                "gateway_kind": INGRESS_GATEWAY,
                "port": listener.port,
                "protocol": listener.protocol,
            }
            if svc.name != WILDCARD:
                rows.append(
                    GatewayService(
                        service=svc.name,
                        hosts=tuple(svc.hosts or ()),
                        index=entry.modify_index,
                        **common,
                    )
                )
                continue
            rows.extend(_wildcard_rows(common, named, typical, entry.modify_index))
    return rows


def _terminating_rows(
    entry: TerminatingGatewayConfigEntry, typical: dict[str, int], store: Store
) -> list[GatewayService]:
    rows: list[GatewayService] = []
    linked = entry.services or []
    named = {s.name for s in linked}
    for svc in linked:
        common: dict[str, Any] = {
            "gateway": entry.name,
            "gateway_kind": TERMINATING_GATEWAY,
            "ca_file": svc.ca_file,
            "cert_file": svc.cert_file,
            "key_file": svc.key_file,
            "sni": svc.sni,
        }
        if svc.name != WILDCARD:
            in_catalog = bool(store.catalog.by_name.get(("", svc.name)))
            rows.append(
                GatewayService(
                    service=svc.name,
                    service_kind=GATEWAY_SERVICE_KIND if in_catalog else "",
                    index=entry.modify_index,
                    **common,
                )
            )
            continue
        rows.extend(_wildcard_rows(common, named, typical, entry.modify_index))
    return rows


def _wildcard_rows(
    common: dict[str, Any], named: set[str], typical: dict[str, int], entry_index: int
) -> list[GatewayService]:
    """What ``*`` expands to: every typical service the entry does not name itself."""
    return [
        GatewayService(service=name, from_wildcard=True, index=max(entry_index, created), **common)
        for name, created in typical.items()
        if name not in named
    ]


def _rows(store: Store, gateway: str) -> list[GatewayService]:
    typical = _typical_names(store)
    rows: list[GatewayService] = []
    ingress = store.config.get(INGRESS_GATEWAY, gateway)
    if isinstance(ingress, IngressGatewayConfigEntry):
        rows.extend(_ingress_rows(ingress, typical))
    terminating = store.config.get(TERMINATING_GATEWAY, gateway)
    if isinstance(terminating, TerminatingGatewayConfigEntry):
        rows.extend(_terminating_rows(terminating, typical, store))
    rows.sort(key=lambda r: (r.service.lower(), r.port))
    return rows


def _index(store: Store) -> int:
    """What the gateway-services table's index moves with: entry writes and registrations."""
    return store.max_index((CONFIG_ENTRIES, SERVICES))


def gateway_services(store: Store, gateway: str) -> tuple[int, list[GatewayService]]:
    """The rows of one gateway, and the index a blocking read compares."""
    with store.lock:
        return _index(store), _rows(store, gateway)


def ingress_gateways_for(store: Store, service: str) -> tuple[int, list[CheckServiceNode]]:
    """The instances (with their checks) of every ingress gateway that exposes ``service``,
    each once (``CheckIngressServiceNodes``), in gateway-name then node order."""
    with store.lock:
        gateways: set[str] = set()
        for entry in store.config.list(INGRESS_GATEWAY):
            if isinstance(entry, IngressGatewayConfigEntry):
                if any(r.service == service for r in _rows(store, entry.name)):
                    gateways.add(entry.name)
        out: list[CheckServiceNode] = []
        for name in sorted(gateways):
            # Every instance named like the gateway, as ``serviceGatewayNodes`` looks them up
            # by name alone.
            for row, svc in store.catalog.instances("", name):
                out.append(CheckServiceNode(row.node, svc, _checks_for(row, svc.id)))
        return store.max_index((CONFIG_ENTRIES, NODES, SERVICES, CHECKS)), out
