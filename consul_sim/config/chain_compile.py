"""Compiling a service's discovery chain, as Consul's ``agent/consul/discoverychain/compile.go``.

The chain is a graph that starts at the service's router (if its protocol allows one), goes
through splitters, and ends at resolvers, each naming one *target*: a service (and subset) in a
datacenter, or a service imported from a cluster peer. Target IDs follow
``agent/structs/discovery_chain.go``'s ``chainID``: ``<service>.<ns>.<partition>.<dc>``, with the
subset in front when there is one, and ``<service>.<ns>.default.external.<peer>`` for a peer. A
peer target has no datacenter, SNI or name (the peer's trust domain is not known when
compiling). A resolver's failover lists the targets to try when the primary's instances are not
healthy; a failover target is resolved once (redirects and default subsets apply) but never fails
over itself.

Errors are Consul's ``ConfigEntryGraphError`` sentences; the RPC returns them, so HTTP answers 500.
Config entries are read through :class:`ChainEntries`, which lets a write be checked against the
chain it *would* produce (Consul's ``testCompileDiscoveryChain`` with overrides) before it lands.

Two liberties, both invisible to a single-partition CE cluster: ``CustomizationHash`` is a SHA-256
prefix of the overrides rather than Go's ``hashstructure`` value, and a splitter that points at
another splitter is flattened without merging the parent's header modifiers into the children.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from consul_sim.config.chain_types import (
    DEFAULT,
    RESOLVER,
    ROUTER,
    SPLITTER,
    CompiledChain,
    Failover,
    Node,
    Resolver,
    Route,
    Split,
    Target,
    chain_id,
    service_sni,
)
from consul_sim.config.discoverychain import (
    SERVICE_RESOLVER,
    SERVICE_ROUTER,
    SERVICE_SPLITTER,
    ServiceResolverConfigEntry,
    ServiceResolverFailover,
    ServiceResolverFailoverPolicy,
    ServiceResolverSubset,
    ServiceRoute,
    ServiceRouteDestination,
    ServiceRouteHTTPMatch,
    ServiceRouteMatch,
    ServiceRouterConfigEntry,
    ServiceSplitterConfigEntry,
    scale_weight,
)
from consul_sim.errors import ConsulError
from consul_sim.models.config_entries import (
    PROXY_DEFAULTS,
    PROXY_DEFAULTS_NAME,
    SERVICE_DEFAULTS,
    ConfigEntryBase,
    ProxyDefaultsConfigEntry,
    ServiceDefaultsConfigEntry,
)
from consul_sim.store.config import CONFIG_ENTRIES

if TYPE_CHECKING:
    from consul_sim.store import Store
    from consul_sim.store.config import ConfigEntriesTable

DEFAULT_CONNECT_TIMEOUT = 5_000_000_000
HTTP_LIKE = ("http", "http2", "grpc")


class ChainError(ConsulError):
    """Consul's ``ConfigEntryGraphError``: the entries do not make a valid chain."""


class ChainEntries:
    """The config entries a compile reads: the store's, except where ``overrides`` says
    otherwise (an entry being written, or None for one being deleted)."""

    def __init__(
        self,
        table: ConfigEntriesTable,
        overrides: dict[tuple[str, str], ConfigEntryBase | None] | None = None,
    ) -> None:
        self.table = table
        self.overrides = {(k, n.lower()): e for (k, n), e in (overrides or {}).items()}

    def get(self, kind: str, name: str) -> ConfigEntryBase | None:
        key = (kind, name.lower())
        if key in self.overrides:
            return self.overrides[key]
        return self.table.get(kind, name)

    def router(self, name: str) -> ServiceRouterConfigEntry | None:
        entry = self.get(SERVICE_ROUTER, name)
        return entry if isinstance(entry, ServiceRouterConfigEntry) else None

    def splitter(self, name: str) -> ServiceSplitterConfigEntry | None:
        entry = self.get(SERVICE_SPLITTER, name)
        return entry if isinstance(entry, ServiceSplitterConfigEntry) else None

    def resolver(self, name: str) -> ServiceResolverConfigEntry | None:
        entry = self.get(SERVICE_RESOLVER, name)
        return entry if isinstance(entry, ServiceResolverConfigEntry) else None

    def service_defaults(self, name: str) -> ServiceDefaultsConfigEntry | None:
        entry = self.get(SERVICE_DEFAULTS, name)
        return entry if isinstance(entry, ServiceDefaultsConfigEntry) else None

    def proxy_defaults(self) -> ProxyDefaultsConfigEntry | None:
        entry = self.get(PROXY_DEFAULTS, PROXY_DEFAULTS_NAME)
        return entry if isinstance(entry, ProxyDefaultsConfigEntry) else None


@dataclass(frozen=True)
class _Opts:
    service: str = ""
    service_subset: str = ""
    namespace: str = ""
    partition: str = ""
    datacenter: str = ""
    peer: str = ""


# -- the compiler ---------------------------------------------------------------------------------
@dataclass
class ChainOverrides:
    """What a POST may change (``DiscoveryChainRequest``'s ``Override*``); zero means none."""

    protocol: str = ""
    connect_timeout: int = 0
    mesh_gateway: str = ""


def read_chain(
    store: Store, service: str, datacenter: str, trust_domain: str, overrides: ChainOverrides
) -> tuple[int, CompiledChain]:
    """``DiscoveryChain.Get``: the chain and the config-entries index a blocking read compares."""
    with store.lock:
        chain = compile_chain(
            ChainEntries(store.config),
            service,
            datacenter=datacenter,
            trust_domain=trust_domain,
            override_protocol=overrides.protocol,
            override_connect_timeout=overrides.connect_timeout,
            override_mesh_gateway=overrides.mesh_gateway,
        )
        return store.max_index([CONFIG_ENTRIES]), chain


def compile_chain(
    entries: ChainEntries,
    service: str,
    *,
    datacenter: str,
    trust_domain: str,
    override_protocol: str = "",
    override_connect_timeout: int = 0,
    override_mesh_gateway: str = "",
) -> CompiledChain:
    """Consul's ``discoverychain.Compile`` for ``service`` evaluated in ``datacenter``."""
    return _Compiler(
        entries,
        service,
        datacenter,
        trust_domain,
        override_protocol,
        override_connect_timeout,
        override_mesh_gateway,
    ).compile()


class _Compiler:
    def __init__(
        self,
        entries: ChainEntries,
        service: str,
        datacenter: str,
        trust_domain: str,
        override_protocol: str,
        override_connect_timeout: int,
        override_mesh_gateway: str,
    ) -> None:
        self.entries = entries
        self.service = service
        self.datacenter = datacenter
        self.trust_domain = trust_domain
        self.override_protocol = override_protocol
        self.override_connect_timeout = override_connect_timeout
        self.override_mesh_gateway = override_mesh_gateway
        self.disable_advanced = bool(override_protocol) and override_protocol not in HTTP_LIKE
        self.uses_advanced = False
        self.customized: set[str] = set()
        self.protocol = ""
        self.resolvers: dict[str, ServiceResolverConfigEntry] = {}
        self.splitter_nodes: dict[str, Node] = {}
        self.resolve_nodes: dict[str, Node] = {}
        self.nodes: dict[str, Node] = {}
        self.targets: dict[str, Target] = {}
        self.retained: set[str] = set()
        self.start_node = ""

    def compile(self) -> CompiledChain:
        service_meta: dict[str, str] = {}
        defaults = self.entries.service_defaults(self.service)
        if defaults is not None:
            service_meta = dict(defaults.meta)
        self._assemble()
        self._detect_cycles()
        self._flatten_splitters()
        self._remove_unused()
        targets = {k: t for k, t in self.targets.items() if k in self.retained}
        if self.protocol not in HTTP_LIKE and self.uses_advanced:
            raise ChainError(
                f'discovery chain "{self.service}" uses a protocol "{self.protocol}" that does '
                "not permit advanced routing or splitting behavior"
            )
        if self.override_protocol and self.override_protocol != self.protocol:
            self.protocol = self.override_protocol
            self.customized.add("protocol")
        return CompiledChain(
            service_name=self.service,
            datacenter=self.datacenter,
            protocol=self.protocol,
            start_node=self.start_node,
            nodes=self.nodes,
            targets=targets,
            default=self._is_default(targets),
            customization_hash=self._customization_hash(),
            service_meta=service_meta,
        )

    def _customization_hash(self) -> str:
        if not self.customized:
            return ""
        parts = [
            self.override_mesh_gateway if "mesh-gateway" in self.customized else "",
            self.override_protocol if "protocol" in self.customized else "",
            str(self.override_connect_timeout) if "connect-timeout" in self.customized else "",
        ]
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:8]

    def _is_default(self, targets: dict[str, Target]) -> bool:
        node = self.nodes[self.start_node]
        if node.type != RESOLVER or node.resolver is None or not node.resolver.default:
            return False
        target = targets[node.resolver.target]
        return target.service == self.service and target.namespace == DEFAULT

    # -- protocol -----------------------------------------------------------------------------
    def _record_service_protocol(self, service: str) -> None:
        """``recordServiceProtocol``: service-defaults decides when it exists, even when its
        Protocol is empty; only without one does proxy-defaults' ``protocol`` count."""
        defaults = self.entries.service_defaults(service)
        if defaults is not None:
            self._record_protocol(service, defaults.protocol)
            return
        proxy = self.entries.proxy_defaults()
        configured = proxy.config.get("protocol") if proxy is not None else None
        self._record_protocol(service, configured if isinstance(configured, str) else "")

    def _record_protocol(self, service: str, protocol: str) -> None:
        protocol = protocol.lower() or "tcp"
        if not self.protocol:
            self.protocol = protocol
        elif self.protocol != protocol:
            raise ChainError(
                f'discovery chain "{self.service}" uses inconsistent protocols; service '
                f'"{service}" has "{protocol}" which is not "{self.protocol}"'
            )

    # -- nodes --------------------------------------------------------------------------------
    def _record(self, node: Node) -> None:
        if node.type == SPLITTER:
            self.splitter_nodes[node.name] = node
        elif node.type == RESOLVER and node.resolver is not None:
            self.resolve_nodes[node.resolver.target] = node
        self.nodes[node.key] = node

    def _assemble(self) -> None:
        router = self.entries.router(self.service)
        if router is not None and self.disable_advanced:
            router = None
            self.customized.add("protocol")
        if router is None:
            self.start_node = self._splitter_or_resolver(self._target(_Opts(self.service))).key
            return
        node = Node(ROUTER, f"{router.name}.default.default")
        self.uses_advanced = True
        self._record_service_protocol(router.name)
        for route in router.routes:
            compiled = Route(route)
            node.routes.append(compiled)
            dest = route.destination or ServiceRouteDestination(service=self.service)
            svc = dest.service or self.service
            if dest.service_subset:
                target = self._target(_Opts(svc, dest.service_subset))
                compiled.next_node = self._resolver_node(target).key
            else:
                compiled.next_node = self._splitter_or_resolver(self._target(_Opts(svc))).key
        catch_all = ServiceRoute(
            match=ServiceRouteMatch(http=ServiceRouteHTTPMatch(path_prefix="/")),
            destination=ServiceRouteDestination(
                service=router.name, namespace=DEFAULT, partition=DEFAULT
            ),
        )
        default_next = self._splitter_or_resolver(self._target(_Opts(router.name)))
        node.routes.append(Route(catch_all, default_next.key))
        self.start_node = node.key
        self._record(node)

    def _splitter_or_resolver(self, target: Target) -> Node:
        node = self._splitter_node(target.service)
        return node if node is not None else self._resolver_node(target)

    def _splitter_node(self, service: str) -> Node | None:
        name = f"{service}.default.default"
        if name in self.splitter_nodes:
            return self.splitter_nodes[name]
        splitter = self.entries.splitter(service)
        if splitter is not None and self.disable_advanced:
            splitter = None
            self.customized.add("protocol")
        if splitter is None:
            return None
        node = Node(SPLITTER, name)
        self._record(node)
        has_lb = False
        for split in splitter.splits:
            compiled = Split(split, split.weight)
            node.splits.append(compiled)
            svc = split.service or service
            if svc != service and not split.service_subset:
                inner = self._splitter_node(svc)
                if inner is not None:
                    compiled.next_node = inner.key
                    continue
            target = self._target(_Opts(svc, split.service_subset))
            resolved = self._resolver_node(target)
            compiled.next_node = resolved.key
            lb = resolved.load_balancer
            if not has_lb and lb is not None and lb.is_hash_based():
                node.load_balancer = lb
                has_lb = True
        self.uses_advanced = True
        return node

    # -- targets ------------------------------------------------------------------------------
    def _target(self, opts: _Opts) -> Target:
        """``newTarget``: defaults filled in, one object per ID."""
        if opts.peer:
            dc, partition, namespace = "", DEFAULT, opts.namespace or DEFAULT
        else:
            dc = opts.datacenter or self.datacenter
            partition = opts.partition or DEFAULT
            namespace = opts.namespace or DEFAULT
        tid = chain_id(opts.service, opts.service_subset, namespace, partition, dc, opts.peer)
        if tid in self.targets:
            return self.targets[tid]
        target = Target(
            id=tid,
            service=opts.service,
            service_subset=opts.service_subset,
            namespace=namespace,
            partition=partition,
            datacenter=dc,
            peer=opts.peer,
        )
        if not opts.peer:
            target.sni = service_sni(opts.service, opts.service_subset, dc, self.trust_domain)
            target.name = target.sni
        self.targets[tid] = target
        return target

    def _rewrite(self, t: Target, opts: _Opts) -> Target:
        """``rewriteTarget``: a redirect or failover applied to a target."""
        service, subset = t.service, t.service_subset
        if opts.service and opts.service != service:
            service, subset = opts.service, ""
        subset = opts.service_subset or subset
        partition = opts.partition or t.partition
        namespace = opts.namespace if (opts.namespace or opts.peer) else t.namespace
        dc = opts.datacenter or t.datacenter
        return self._target(_Opts(service, subset, namespace, partition, dc, opts.peer))

    def _resolver_for(self, service: str) -> ServiceResolverConfigEntry:
        resolver = self.resolvers.get(service)
        if resolver is None:
            resolver = self.entries.resolver(service) or ServiceResolverConfigEntry(name=service)
            self.resolvers[service] = resolver
        return resolver

    def _resolver_node(self, target: Target, for_failover: bool = False) -> Node:
        """``getResolverNode``: redirects and the default subset first, then the node."""
        history: list[str] = []
        while True:
            if target.id in self.resolve_nodes:
                return self.resolve_nodes[target.id]
            if not target.peer:
                self._record_service_protocol(target.service)
            resolver = self._resolver_for(target.service)
            if target.id in history:
                order = " -> ".join([*history, target.id])
                raise ChainError(f"detected circular resolver redirect: [{order}]")
            history.append(target.id)
            if resolver.redirect is not None:
                r = resolver.redirect
                opts = _Opts(
                    r.service, r.service_subset, r.namespace, r.partition, r.datacenter, r.peer
                )
                redirected = self._rewrite(target, opts)
                if redirected.id != target.id:
                    target = redirected
                    continue
            if not target.service_subset and resolver.default_subset:
                target = self._rewrite(target, _Opts(service_subset=resolver.default_subset))
                continue
            break
        if not resolver.subset_exists(target.service_subset):
            raise ChainError(
                f'service "{target.service}" does not have a subset named "{target.service_subset}"'
            )
        connect_timeout = resolver.connect_timeout if resolver.connect_timeout >= 1 else 0
        connect_timeout = connect_timeout or DEFAULT_CONNECT_TIMEOUT
        if self.override_connect_timeout > 0 and connect_timeout != self.override_connect_timeout:
            connect_timeout = self.override_connect_timeout
            self.customized.add("connect-timeout")
        target.connect_timeout = connect_timeout
        node = Node(
            RESOLVER,
            target.id,
            resolver=Resolver(
                default=resolver.is_default(),
                connect_timeout=connect_timeout,
                request_timeout=resolver.request_timeout,
                target=target.id,
            ),
            load_balancer=resolver.load_balancer,
        )
        target.subset = resolver.subsets.get(target.service_subset) or ServiceResolverSubset()
        self._apply_service_defaults(target, resolver)
        self.retained.add(target.id)
        if for_failover:
            return node
        self._record(node)
        failover = resolver.failover.get(target.service_subset) or resolver.failover.get("*")
        if failover is not None and node.resolver is not None:
            self._failover(node.resolver, target, failover)
        return node

    def _apply_service_defaults(self, target: Target, resolver: ServiceResolverConfigEntry) -> None:
        defaults = self.entries.service_defaults(target.service)
        if defaults is not None and defaults.external_sni:
            target.sni = defaults.external_sni
            target.external = True
        if target.external:
            for present, what in (
                (resolver.redirect is not None, "redirects"),
                (bool(resolver.subsets), "subsets"),
                (bool(resolver.failover), "failover"),
            ):
                if present:
                    raise ChainError(
                        f'service "{target.service}" has an external SNI set; cannot define '
                        f"{what} for external services"
                    )
            target.mesh_gateway_mode = ""
            return
        if defaults is not None:
            target.mesh_gateway_mode = defaults.mesh_gateway.mode
            target.dialed_directly = defaults.transparent_proxy.dialed_directly
        proxy = self.entries.proxy_defaults()
        if proxy is not None:
            target.mesh_gateway_mode = target.mesh_gateway_mode or proxy.mesh_gateway.mode
            target.dialed_directly = (
                target.dialed_directly or proxy.transparent_proxy.dialed_directly
            )
        override = self.override_mesh_gateway
        if override and target.mesh_gateway_mode != override:
            target.mesh_gateway_mode = override
            self.customized.add("mesh-gateway")

    def _failover(self, resolved: Resolver, target: Target, f: ServiceResolverFailover) -> None:
        candidates: list[Target] = []
        if f.datacenters:
            for dc in f.datacenters:
                opts = _Opts(f.service, f.service_subset, f.namespace, datacenter=dc)
                candidates.append(self._rewrite(target, opts))
        elif f.targets:
            for t in f.targets:
                opts = _Opts(
                    t.service, t.service_subset, t.namespace, t.partition, t.datacenter, t.peer
                )
                candidates.append(self._rewrite(target, opts))
        else:
            candidates.append(
                self._rewrite(target, _Opts(f.service, f.service_subset, f.namespace))
            )
        candidates = [c for c in candidates if c.id != target.id]
        if not candidates:
            return
        policy: dict[str, Any] | None = None
        if f.policy is not None and f.policy.mode:
            policy = _policy(f.policy)
        else:
            proxy = self.entries.proxy_defaults()
            if proxy is not None and proxy.failover_policy:
                policy = dict(proxy.failover_policy)
        ids = []
        for candidate in candidates:
            failover_node = self._resolver_node(candidate, for_failover=True)
            assert failover_node.resolver is not None
            ids.append(failover_node.resolver.target)
        resolved.failover = Failover(ids, policy)

    # -- graph passes -------------------------------------------------------------------------
    def _next_nodes(self, node: Node) -> list[str]:
        return [r.next_node for r in node.routes] + [s.next_node for s in node.splits]

    def _detect_cycles(self) -> None:
        """``detectCircularReferences`` through routers and splitters."""

        def walk(key: str, path: list[str]) -> None:
            if key in path:
                chain = " -> ".join([*path, key])
                raise ChainError(f"detected circular reference: [{chain}]")
            for nxt in reversed(self._next_nodes(self.nodes[key])):
                walk(nxt, [*path, key])

        walk(self.start_node, [])

    def _flatten_splitters(self) -> None:
        """``flattenAdjacentSplitterNodes``: a split into another splitter takes its legs."""
        any_changed = True
        while any_changed:
            any_changed = False
            for node in self.nodes.values():
                if node.type != SPLITTER:
                    continue
                fixed: list[Split] = []
                changed = False
                for split in node.splits:
                    inner = self.nodes[split.next_node]
                    if inner.type != SPLITTER:
                        fixed.append(split)
                        continue
                    changed = True
                    for leg in inner.splits:
                        weight = scale_weight(split.weight * leg.weight / 100) / 100.0
                        fixed.append(Split(leg.definition, weight, leg.next_node))
                if changed:
                    node.splits = fixed
                    any_changed = True

    def _remove_unused(self) -> None:
        seen: set[str] = set()
        todo = [self.start_node]
        while todo:
            key = todo.pop()
            if key in seen:
                continue
            seen.add(key)
            todo.extend(self._next_nodes(self.nodes[key]))
        self.nodes = {k: n for k, n in self.nodes.items() if k in seen}


def _policy(policy: ServiceResolverFailoverPolicy) -> dict[str, Any]:
    return policy.render()
