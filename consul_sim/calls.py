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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from consul_sim.config.intentions import decide, flatten
from consul_sim.errors import BadRequest
from consul_sim.models.catalog import PASSING
from consul_sim.models.config_entries import SERVICE_INTENTIONS
from consul_sim.models.peering_state import PeeringState, shown_state
from consul_sim.peering.replication import exported_names

if TYPE_CHECKING:
    from consul_sim.acl import ACLResolver
    from consul_sim.config.service import ConfigEntries
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


def _call_local(source: Cluster, service: str, destination: str) -> CallResult:
    reasons = _Reasons()
    _instances_reason(reasons, source, destination, peered=False)
    _intentions_reason(reasons, source, service, destination, "")
    return reasons.result()


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
    return _call_local(cluster, service, target)
