"""Would this call succeed? The page's "authorize connections from peers" step, made visible.

A call from a service in one cluster to a service imported from a peer goes through only when
every link in the chain holds: the caller's cluster has an ACTIVE peering by that name, the
exporter names the caller's cluster as a consumer of the service (the very set replication
sends), the service has a passing instance on the exporter, and the exporter's intentions let
the caller's peer and service in. Each link gets one plain sentence, passing or not, so a person
can see which one broke. The intention step is the same decision as
``POST /v1/agent/connect/authorize`` on the destination cluster, and quotes its reason.

Peerings are named by each side after the other, so the exporter's name for the caller's
cluster is read from the exporter's own record of the same peering, found by peering ID.

A call to a service of the caller's own cluster follows that service's discovery chain when
the cluster has one (a ``service-resolver``, ``-splitter`` or ``-router`` shapes it; Consul's
``agent/consul/discoverychain/compile.go``, compiled by :mod:`consul_sim.config.chain_compile`).
A plain call carries no HTTP route, so a router sends it down its catch-all route; a splitter
sends it down its heaviest leg. The resolver's target is where the call goes, a redirect
included. When no instance of that target passes and the resolver fails over, the targets are
tried in order as Envoy's failover priorities would be: the first with a passing instance takes
the call (for a peer, an instance imported from it, as the caller's proxy sees them), and the
rest of the decision is that target's: the peered checks above for a peer, the local
intentions otherwise. The reasons say that the call failed over, to what, and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from consul_sim.catalog.queries import check_service_nodes
from consul_sim.config.chain_compile import ChainEntries, ChainError, compile_chain
from consul_sim.config.chain_types import RESOLVER
from consul_sim.config.intentions import decide, flatten
from consul_sim.errors import BadRequest
from consul_sim.models.catalog import PASSING
from consul_sim.models.config_entries import SERVICE_INTENTIONS
from consul_sim.models.peering_state import PeeringState, shown_state
from consul_sim.peering.replication import exported_names

if TYPE_CHECKING:
    from consul_sim.acl import ACLResolver
    from consul_sim.config.chain_types import CompiledChain, Target
    from consul_sim.config.service import ConfigEntries
    from consul_sim.connect.ca import ConnectCA
    from consul_sim.models.peering import Peering
    from consul_sim.peering.service import PeeringService
    from consul_sim.store import Store


class Cluster(Protocol):
    """What the decision reads of a cluster (``consul_sim.world.Cluster`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def store(self) -> Store: ...
    @property
    def peering(self) -> PeeringService: ...
    @property
    def config(self) -> ConfigEntries: ...
    @property
    def acl(self) -> ACLResolver: ...
    @property
    def datacenter(self) -> str: ...
    @property
    def ca(self) -> ConnectCA: ...


@dataclass(frozen=True)
class CallResult:
    """The answer of ``/_sim/call`` and ``world.call``: allowed only when every reason holds."""

    allowed: bool
    reasons: tuple[str, ...]

    def __bool__(self) -> bool:
        return self.allowed

    def render(self) -> dict[str, Any]:
        return {"Allowed": self.allowed, "Reasons": list(self.reasons)}


class _Reasons:
    def __init__(self) -> None:
        self.ok = True
        self.lines: list[str] = []

    def add(self, holds: bool, sentence: str) -> None:
        self.ok = self.ok and holds
        self.lines.append(sentence)

    def result(self) -> CallResult:
        return CallResult(self.ok, tuple(self.lines))


def _cluster(clusters: Mapping[str, Cluster], name: str, role: str) -> Cluster:
    if not name:
        raise BadRequest(f"Missing {role} cluster: the name of a cluster is required")
    cluster = clusters.get(name)
    if cluster is None:
        known = ", ".join(sorted(clusters))
        raise BadRequest(f'Unknown {role} cluster "{name}" (known: {known})')
    return cluster


def _other_end(
    clusters: Mapping[str, Cluster], cluster: Cluster, record: Peering
) -> tuple[Cluster, Peering] | None:
    """The cluster at the other end of ``record`` and its own record of the peering: the
    dialer holds the acceptor's peering ID, and the acceptor is named in the dialer's."""
    for name in sorted(clusters):
        other = clusters[name]
        if other is cluster:
            continue
        for theirs in other.peering.table.list():
            if (record.peer_id and theirs.id == record.peer_id) or theirs.peer_id == record.id:
                return other, theirs
    return None


def _passing_instances(cluster: Cluster, service: str, *, typical_only: bool) -> tuple[int, int]:
    """(instances, passing instances): passing means every node and service check of the
    instance passes, as ``?passing`` reads it (an instance with no checks counts)."""
    total = passing = 0
    for row, svc in cluster.store.catalog.instances("", service):
        if typical_only and svc.kind != "":
            continue
        total += 1
        checks = [c for c in row.checks.values() if not c.service_id or c.service_id == svc.id]
        if all(c.status == PASSING for c in checks):
            passing += 1
    return total, passing


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _instances_reason(reasons: _Reasons, cluster: Cluster, service: str, *, peered: bool) -> None:
    total, passing = _passing_instances(cluster, service, typical_only=peered)
    if passing:
        reasons.add(
            True, f'"{service}" has {_plural(passing, "passing instance")} on {cluster.name}'
        )
    elif total:
        reasons.add(
            False,
            f'"{service}" has no passing instance on {cluster.name} '
            f"({_plural(total, 'instance')}, none passing)",
        )
    else:
        reasons.add(False, f'"{service}" has no instance registered on {cluster.name}')


def _intentions_reason(
    reasons: _Reasons, cluster: Cluster, source: str, destination: str, peer: str
) -> None:
    """The destination cluster's decision, as its ``/v1/agent/connect/authorize`` makes it."""
    caller = f'"{source}" from its peer "{peer}"' if peer else f'"{source}"'
    decision = decide(
        flatten(cluster.config.list(SERVICE_INTENTIONS)),
        source,
        destination,
        peer,
        acl_default_policy=cluster.acl.intention_default(),
    )
    verb = "allow" if decision.allowed else "deny"
    reasons.add(
        decision.allowed,
        f'{cluster.name}\'s intentions {verb} {caller} to call "{destination}": {decision.reason}',
    )


def _call_peer(
    clusters: Mapping[str, Cluster], source: Cluster, service: str, peer: str, destination: str
) -> CallResult:
    reasons = _Reasons()
    record = source.peering.table.get(peer)
    if record is None:
        reasons.add(False, f'{source.name} has no peering named "{peer}"')
        return reasons.result()
    state = shown_state(record.state, source.peering.tracker.get(record.id))
    if state == PeeringState.ACTIVE:
        reasons.add(True, f'{source.name}\'s peering "{peer}" is ACTIVE')
    else:
        reasons.add(False, f'{source.name}\'s peering "{peer}" is {state.value}, not ACTIVE')
    found = _other_end(clusters, source, record)
    if found is None:
        reasons.add(False, f'{source.name}\'s peering "{peer}" leads to no cluster in this world')
        return reasons.result()
    exporter, theirs = found
    consumer = theirs.name
    if destination in exported_names(exporter.store, consumer):
        reasons.add(True, f'{exporter.name} exports "{destination}" to its peer "{consumer}"')
    else:
        reasons.add(
            False, f'{exporter.name} does not export "{destination}" to its peer "{consumer}"'
        )
    _instances_reason(reasons, exporter, destination, peered=True)
    _intentions_reason(reasons, exporter, service, destination, consumer)
    return reasons.result()


def _call_local(
    clusters: Mapping[str, Cluster], source: Cluster, service: str, destination: str
) -> CallResult:
    reasons = _Reasons()
    try:
        chain = compile_chain(
            ChainEntries(source.store.config),
            destination,
            datacenter=source.datacenter,
            trust_domain=source.ca.trust_domain,
        )
    except ChainError as exc:
        reasons.add(
            False,
            f'{source.name} cannot compile the discovery chain of "{destination}": {exc.message}',
        )
        return reasons.result()
    if chain.default:
        _instances_reason(reasons, source, destination, peered=False)
        _intentions_reason(reasons, source, service, destination, "")
        return reasons.result()
    _follow_chain(reasons, clusters, source, service, chain)
    return reasons.result()


# -- following a discovery chain -------------------------------------------------------------------
def _target_instances(source: Cluster, target: Target) -> tuple[int, int]:
    """(instances, passing instances) of a resolver target as the caller's proxy sees them: the
    caller's own catalog, imported instances for a peer, narrowed by the subset's filter."""
    _, found = check_service_nodes(source.store, target.service, peer=target.peer)
    found = [n for n in found if n.service.kind == ""]
    if target.subset.filter:
        from consul_sim.filter import compile_filter

        matcher = compile_filter(target.subset.filter, None)
        found = [n for n in found if matcher.matches(n.render())]
    return len(found), sum(1 for n in found if n.passing())


def _where(source: Cluster, target: Target) -> str:
    """A target in words: its service (and subset) and where it lives."""
    what = f'"{target.service}"'
    if target.service_subset:
        what = f'subset "{target.service_subset}" of {what}'
    if target.peer:
        return f'{what} imported from peer "{target.peer}" on {source.name}'
    if target.datacenter != source.datacenter:
        return f"{what} in datacenter {target.datacenter}"
    return f"{what} on {source.name}"


def _health(source: Cluster, target: Target) -> tuple[bool, str]:
    """Whether the target has a passing instance, and that fact as a phrase."""
    if not target.peer and target.datacenter != source.datacenter:
        return False, f"{_where(source, target)}: only this cluster's datacenter is simulated"
    total, passing = _target_instances(source, target)
    if passing:
        return True, f"{_where(source, target)} has {_plural(passing, 'passing instance')}"
    if total:
        detail = f"({_plural(total, 'instance')}, none passing)"
        return False, f"{_where(source, target)} has no passing instance {detail}"
    return False, f"{_where(source, target)} has no instance registered"


def _follow_chain(
    reasons: _Reasons,
    clusters: Mapping[str, Cluster],
    source: Cluster,
    service: str,
    chain: CompiledChain,
) -> None:
    here = source.name
    node = chain.nodes[chain.start_node]
    while node.type != RESOLVER:
        if node.routes:
            reasons.add(
                True,
                f'{here}\'s service-router for "{chain.service_name}" matches no HTTP route for '
                "a plain call: it takes the default route",
            )
            node = chain.nodes[node.routes[-1].next_node]
        else:
            leg = max(node.splits, key=lambda s: s.weight)
            leg_service = leg.definition.service or node.name.rsplit(".", 2)[0]
            reasons.add(
                True,
                f'{here}\'s service-splitter for "{node.name.rsplit(".", 2)[0]}" sends '
                f'{leg.weight:g}% to "{leg_service}": the call follows that leg',
            )
            node = chain.nodes[leg.next_node]
    assert node.resolver is not None
    primary = chain.targets[node.resolver.target]
    resolver_of = f'{here}\'s service-resolver for "{primary.service}"'
    if primary.service != chain.service_name or primary.peer or primary.service_subset:
        reasons.add(
            True,
            f'the discovery chain of "{chain.service_name}" resolves to '
            f"{_where(source, primary)} (target {primary.id})",
        )
    healthy, fact = _health(source, primary)
    failover = node.resolver.failover
    if healthy or failover is None:
        reasons.add(healthy, fact)
        if healthy:
            _finish(reasons, clusters, source, service, primary)
        return
    reasons.add(True, fact)
    tried: list[str] = []
    for target_id in failover.targets:
        target = chain.targets[target_id]
        ok, why = _health(source, target)
        if ok:
            reasons.add(
                True,
                f"{resolver_of} fails over to target {target.id}, since no instance of "
                f"{_where(source, primary)} passes: {why}",
            )
            _finish(reasons, clusters, source, service, target)
            return
        tried.append(f"{target.id} ({why})")
    reasons.add(False, f"{resolver_of} has no failover target to take the call: {'; '.join(tried)}")


def _finish(
    reasons: _Reasons,
    clusters: Mapping[str, Cluster],
    source: Cluster,
    service: str,
    target: Target,
) -> None:
    """The rest of the decision, where the chain sent the call."""
    if target.peer:
        peered = _call_peer(clusters, source, service, target.peer, target.service)
        for line in peered.reasons:
            reasons.lines.append(line)
        reasons.ok = reasons.ok and peered.allowed
        return
    _intentions_reason(reasons, source, service, target.service, "")


def call_between(
    clusters: Mapping[str, Cluster],
    source: Sequence[str],
    destination: Sequence[str | None] | str,
) -> CallResult:
    """Whether ``source`` = (cluster, service) may call ``destination`` = (peer, service),
    ``peer`` being the source cluster's name for the peering, or None (or a bare service
    name) for a service of the source's own cluster. The caller holds the world's lock."""
    if isinstance(source, str) or len(source) != 2:
        raise BadRequest("Source must be (cluster, service)")
    cluster_name, service = source
    if isinstance(destination, str):
        peer: str | None = None
        target = destination
    else:
        if len(destination) != 2:
            raise BadRequest("Destination must be (peer or None, service)")
        peer, dest_service = destination
        if dest_service is None:
            raise BadRequest("Missing Destination service: a service name is required")
        target = dest_service
    if not service:
        raise BadRequest("Missing Source service: a service name is required")
    if not target:
        raise BadRequest("Missing Destination service: a service name is required")
    cluster = _cluster(clusters, cluster_name, "Source")
    if peer:
        return _call_peer(clusters, cluster, service, peer, target)
    return _call_local(clusters, cluster, service, target)
