"""The checks a config-entry write or delete must pass against the discovery chains it touches.

Consul's state store runs ``validateProposedConfigEntryInServiceGraph``
(``agent/consul/state/config_entry.go``) inside the write: it compiles, with the proposed change
in place, the chain of the entry's own service and of every router, splitter and resolver that
names that service (the ``link`` index, built from each entry's ``ListRelatedServices``); a
``proxy-defaults`` change recompiles every chain that has an entry of its own. A compile error
refuses the write with its sentence (the RPC's 500). A service exported to peers must also keep
its chain free of cross-datacenter and cross-peer hops (``validateChainIsPeerExportSafe``), and an
``exported-services`` write checks the chains of the services it exports. Every intention with
L7 permissions is checked too: its destination's chain must keep an HTTP-like protocol, so a
``service-defaults`` write or delete that would leave one on tcp is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consul_sim.config.chain_compile import HTTP_LIKE, ChainEntries, compile_chain
from consul_sim.config.discoverychain import (
    CHAIN_KINDS,
    ServiceResolverConfigEntry,
    ServiceRouterConfigEntry,
    ServiceSplitterConfigEntry,
)
from consul_sim.errors import ConsulError
from consul_sim.models.config_entries import (
    EXPORTED_SERVICES,
    EXPORTED_SERVICES_NAME,
    PROXY_DEFAULTS,
    SERVICE_DEFAULTS,
    SERVICE_INTENTIONS,
    ConfigEntryBase,
    ExportedServicesConfigEntry,
    ServiceIntentionsConfigEntry,
)

if TYPE_CHECKING:
    from consul_sim.store.config import ConfigEntriesTable

GRAPH_KINDS = (*CHAIN_KINDS, SERVICE_DEFAULTS, PROXY_DEFAULTS, EXPORTED_SERVICES)
"""The kinds whose writes and deletes are checked here."""

SERVICE_GRAPH_KINDS = (*CHAIN_KINDS, SERVICE_DEFAULTS)
THROWAWAY_TRUST_DOMAIN = "b6fc9da3-03d4-4b5a-9134-c045e9b20152.consul"
"""``testCompileDiscoveryChain`` compiles in "dc1" with this trust domain; neither shows in an
error."""


def related_services(entry: ConfigEntryBase) -> list[str]:
    """``ListRelatedServices``: the other services a chain entry sends traffic to (a peer's
    services are not known, so failover targets on peers are left out)."""
    found: set[str] = set()
    if isinstance(entry, ServiceRouterConfigEntry):
        found.update(r.destination.service or entry.name for r in entry.routes if r.destination)
    elif isinstance(entry, ServiceSplitterConfigEntry):
        found.update(s.service or entry.name for s in entry.splits)
    elif isinstance(entry, ServiceResolverConfigEntry):
        if entry.redirect is not None:
            found.add(entry.redirect.service or entry.name)
        for failover in entry.failover.values():
            if not failover.targets:
                found.add(failover.service or entry.name)
            found.update(t.service or entry.name for t in failover.targets if not t.peer)
    found.discard(entry.entry_name)
    return sorted(found)


def check_proposed(
    table: ConfigEntriesTable, kind: str, name: str, entry: ConfigEntryBase | None
) -> None:
    """Refuse (ConsulError, 500) a write of ``entry``, or with None a delete of ``kind/name``,
    that would leave a discovery chain Consul cannot compile."""
    overrides: dict[tuple[str, str], ConfigEntryBase | None] = {(kind, name): entry}
    entries = ChainEntries(table, overrides)
    if kind == EXPORTED_SERVICES:
        if isinstance(entry, ExportedServicesConfigEntry):
            for service in sorted({s.name for s in entry.services if s.name != "*"}):
                _check_peer_export_safe(entries, service)
        return
    chains: set[str] = set()
    if kind == PROXY_DEFAULTS:
        for graph_kind in SERVICE_GRAPH_KINDS:
            chains.update(e.entry_name for e in _listed(table, entries, graph_kind))
    else:
        chains.add(name)
        for chain_kind in CHAIN_KINDS:
            for other in _listed(table, entries, chain_kind):
                if name in related_services(other):
                    chains.add(other.entry_name)
    l7_intentions = [
        e
        for e in _listed(table, entries, SERVICE_INTENTIONS)
        if isinstance(e, ServiceIntentionsConfigEntry)
        and e.name != "*"
        and any(src.permissions for src in e.sources)
    ]
    chains.update(e.name for e in l7_intentions)
    exported = _exported_names(entries)
    protocols: dict[str, str] = {}
    for service in sorted(chains):
        chain = compile_chain(
            entries, service, datacenter="dc1", trust_domain=THROWAWAY_TRUST_DOMAIN
        )
        protocols[service] = chain.protocol
        if service in exported:
            _check_peer_export_safe(entries, service)
    for intentions in l7_intentions:
        protocol = protocols[intentions.name]
        if protocol not in HTTP_LIKE:
            raise ConsulError(
                f'service "{intentions.name}" has protocol "{protocol}", which is incompatible '
                "with L7 intentions permissions"
            )


def _listed(table: ConfigEntriesTable, entries: ChainEntries, kind: str) -> list[ConfigEntryBase]:
    """Entries of a kind as the proposed change would leave them."""
    names = {e.entry_name.lower(): e.entry_name for e in table.list(kind)}
    names.update({n: n for (k, n) in entries.overrides if k == kind})
    found = [entries.get(kind, n) for n in sorted(names)]
    return [e for e in found if e is not None]


def _exported_names(entries: ChainEntries) -> set[str]:
    entry = entries.get(EXPORTED_SERVICES, EXPORTED_SERVICES_NAME)
    if not isinstance(entry, ExportedServicesConfigEntry):
        return set()
    return {s.name for s in entry.services}


def _check_peer_export_safe(entries: ChainEntries, service: str) -> None:
    """``validateChainIsPeerExportSafe`` over the resolvers the chain reaches (CE has one
    partition, so the cross-partition cases cannot arise)."""
    seen: set[str] = set()
    todo = [service]
    router = entries.router(service)
    splitters: list[str] = list(related_services(router)) if router is not None else []
    todo.extend(splitters)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        splitter = entries.splitter(name)
        if splitter is not None:
            todo.extend(related_services(splitter))
        resolver = entries.resolver(name)
        if resolver is None:
            continue
        todo.extend(related_services(resolver))
        where = f'peer exported service "{service}" contains'
        if resolver.redirect is not None:
            if resolver.redirect.datacenter:
                raise ConsulError(f"{where} cross-datacenter resolver redirect")
            if resolver.redirect.peer:
                raise ConsulError(f"{where} cross-peer resolver redirect")
        for subset in sorted(resolver.failover):
            failover = resolver.failover[subset]
            if failover.datacenters or any(t.datacenter for t in failover.targets):
                raise ConsulError(f"{where} cross-datacenter failover")
