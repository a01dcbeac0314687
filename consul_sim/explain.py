"""Why is a service of one cluster visible, or not, in another? ``world.explain`` and
``GET /_sim/explain``.

Visible means what a client of the consumer cluster would get: at least one passing instance of
the service imported under the consumer's name for its peering with the source, as
``/v1/health/service/<name>?peer=<peer>&passing`` returns it, readable with the given ACL token.
That answer is read from the consumer's store; the reasons walk the chain replication needs,
in the order Consul's own pieces act, one sentence per link, passing or not:

1. the service has a typical instance on the source, and a passing one (the exporter sends
   every instance with its folded health, ``health_snapshot.go``; a client asking for passing
   instances gets none if none pass);
2. the consumer has a peering that leads to the source, and it shows ACTIVE
   (``reconcilePeering`` overlays the stream tracker on the stored state);
3. the source's ``exported-services`` entry names the service (or ``*``) for the source's own
   name of that peering; a consumer name that matches none of the source's peerings is a
   likely misspelling and the closest peering name is suggested;
4. the link carries messages: neither cluster crashed, not partitioned, nothing held, nothing
   lost on it since;
5. with ACLs on, the token may read the service (``service:read``, Consul's ``acl.go``).

When every link holds but the data is not there yet, the last reason says replication has not
delivered it (settle the world). The peered half of :mod:`consul_sim.calls` answers the related
question "may this call go through"; its search for a peering's other end is reused here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from consul_sim.calls import _cluster, _other_end, _passing_instances, _plural
from consul_sim.errors import BadRequest, ConsulError
from consul_sim.models.peering_state import PeeringState, shown_state
from consul_sim.oracles import between, imported_view
from consul_sim.peering.replication import (
    WILDCARD,
    exported_names,
    exported_services_entry,
)

if TYPE_CHECKING:
    from consul_sim.models.peering import Peering
    from consul_sim.world import Cluster, World

NOT_REGISTERED = "not-registered"
NO_PASSING_INSTANCE = "no-passing-instance"
NO_PEERING = "no-peering"
NOT_ACTIVE = "not-active"
NOT_EXPORTED = "not-exported"
CONSUMER_MISSPELLED = "consumer-misspelled"
CRASHED = "crashed"
PARTITIONED = "partitioned"
HELD = "held"
LOST = "lost"
ACL = "acl"
NOT_REPLICATED = "not-replicated"
REGISTERED = "registered"
PEERED = "peered"
ACTIVE = "active"
EXPORTED = "exported"
LINK = "link"
IMPORTED = "imported"


@dataclass(frozen=True)
class Reason:
    """One link of the chain: ``code`` (stable, for tests), whether it ``holds``, a sentence."""

    code: str
    holds: bool
    text: str

    def render(self) -> dict[str, Any]:
        return {"Code": self.code, "Holds": self.holds, "Text": self.text}


@dataclass(frozen=True)
class Explanation:
    visible: bool
    reasons: tuple[Reason, ...]

    def __bool__(self) -> bool:
        return self.visible

    @property
    def failing(self) -> tuple[Reason, ...]:
        """The links that do not hold: why it is not visible (or would not stay so)."""
        return tuple(r for r in self.reasons if not r.holds)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.failing)

    def render(self) -> dict[str, Any]:
        return {"Visible": self.visible, "Reasons": [r.render() for r in self.reasons]}

    def __str__(self) -> str:
        head = "visible" if self.visible else "not visible"
        return "\n".join([head, *(f"{'ok ' if r.holds else 'NO '} {r.text}" for r in self.reasons)])


def _find_peering(
    world: World, consumer: Cluster, source: Cluster
) -> tuple[Peering, Peering | None] | None:
    """The consumer's record leading to ``source`` and the source's record of it (None when
    the other end cannot be found: a dialer whose acceptor is gone)."""
    for record in consumer.peering.table.list():
        found = _other_end(world.clusters, consumer, record)
        if found is not None and found[0].name == source.name:
            return record, found[1]
    return None


def _export_reason(
    source: Cluster, service: str, theirs: Peering | None, consumer: Cluster
) -> Reason:
    peer_names = sorted(r.name for r in source.peering.table.list())
    consumer_name = theirs.name if theirs is not None else consumer.name
    if theirs is not None and service in exported_names(source.store, theirs.name):
        return Reason(
            EXPORTED, True, f'{source.name} exports "{service}" to its peer "{consumer_name}"'
        )
    entry = exported_services_entry(source.store)
    named: list[str] = []
    if entry is not None:
        for svc in entry.services:
            if svc.name in (service, WILDCARD):
                named.extend(c.peer for c in svc.consumers if c.peer)
    strangers = sorted({p for p in named if p not in peer_names})
    for stranger in strangers:
        close = difflib.get_close_matches(stranger, [consumer_name, *peer_names], n=1, cutoff=0.6)
        if close:
            return Reason(
                CONSUMER_MISSPELLED,
                False,
                f'{source.name} exports "{service}" to "{stranger}", which names none of its '
                f'peerings; did you mean "{close[0]}"?',
            )
    return Reason(
        NOT_EXPORTED,
        False,
        f'{source.name} does not export "{service}" to its peer "{consumer_name}"',
    )


def _link_reasons(world: World, source: Cluster, consumer: Cluster) -> list[Reason]:
    network = world.network
    out: list[Reason] = []
    for name in (source.name, consumer.name):
        if name in network.crashed:
            out.append(Reason(CRASHED, False, f"{name} is crashed: it neither sends nor receives"))
    settings = network.settings_between(source.name, consumer.name)
    pair = f"{source.name} and {consumer.name}"
    if settings.partitioned:
        out.append(Reason(PARTITIONED, False, f"the link between {pair} is partitioned"))
    if settings.held:
        held = sum(
            1
            for env in network._held
            if {network.name_at(env.source), network.name_at(env.destination)}
            == {source.name, consumer.name}
        )
        out.append(
            Reason(
                HELD,
                False,
                f"the link between {pair} is held: {_plural(held, 'message')} wait for release",
            )
        )
    last = between(world, source.name, consumer.name, 1)
    if last and last[0].outcome == "dropped: lost":
        e = last[0]
        out.append(
            Reason(
                LOST,
                False,
                f"the last message between {pair} was lost (journal #{e.seq}, {e.kind}); it "
                "goes again on the next heartbeat",
            )
        )
    elif settings.loss:
        out.append(
            Reason(LOST, False, f"the link between {pair} loses {settings.loss:.0%} of messages")
        )
    if not out:
        out.append(Reason(LINK, True, f"the link between {pair} carries messages"))
    return out


def _acl_reason(consumer: Cluster, service: str, token: str) -> Reason | None:
    if not consumer.acl.enabled:
        return None
    try:
        authz = consumer.acl.resolve(token)
    except ConsulError as exc:
        return Reason(ACL, False, f"{consumer.name} refuses the token: {exc}")
    if authz.allowed("service", "read", service):
        return Reason(ACL, True, f'the token may read "{service}" on {consumer.name}')
    return Reason(
        ACL,
        False,
        f'the token may not read "{service}" on {consumer.name} (it needs service:read)',
    )


def explain(
    world: World, *, service: str, source: str, consumer: str, token: str = ""
) -> Explanation:
    """The answer for ``service`` of cluster ``source`` seen from cluster ``consumer``. The
    caller holds the world's lock. Bad parameters are Consul-style 400s."""
    if not service:
        raise BadRequest("Missing service: the name of a service is required")
    exporter = world.clusters[_cluster(world.clusters, source, "source").name]
    importer = world.clusters[_cluster(world.clusters, consumer, "consumer").name]
    if exporter is importer:
        raise BadRequest("source and consumer must be two different clusters")
    reasons: list[Reason] = []
    total, passing = _passing_instances(exporter, service, typical_only=True)
    if passing:
        reasons.append(
            Reason(
                REGISTERED,
                True,
                f'"{service}" has {_plural(passing, "passing instance")} on {exporter.name}',
            )
        )
    elif total:
        reasons.append(
            Reason(
                NO_PASSING_INSTANCE,
                False,
                f'"{service}" has no passing instance on {exporter.name} '
                f"({_plural(total, 'instance')}, none passing)",
            )
        )
    else:
        reasons.append(
            Reason(
                NOT_REGISTERED, False, f'"{service}" has no instance registered on {exporter.name}'
            )
        )
    found = _find_peering(world, importer, exporter)
    peer_name = ""
    if found is None:
        pending = [r.name for r in exporter.peering.table.list() if r.state == PeeringState.PENDING]
        hint = (
            f" ({exporter.name} generated a token for {', '.join(repr(p) for p in pending)} that "
            "was never established)"
            if pending
            else ""
        )
        reasons.append(
            Reason(NO_PEERING, False, f"{importer.name} has no peering with {exporter.name}{hint}")
        )
        theirs = None
    else:
        record, theirs = found
        peer_name = record.name
        state = shown_state(record.state, importer.peering.tracker.get(record.id))
        reasons.append(
            Reason(PEERED, True, f'{importer.name} peers with {exporter.name} as "{record.name}"')
        )
        if state == PeeringState.ACTIVE:
            reasons.append(
                Reason(ACTIVE, True, f'{importer.name}\'s peering "{record.name}" is ACTIVE')
            )
        else:
            reasons.append(
                Reason(
                    NOT_ACTIVE,
                    False,
                    f'{importer.name}\'s peering "{record.name}" is {state.value}, not ACTIVE',
                )
            )
    reasons.append(_export_reason(exporter, service, theirs, importer))
    reasons.extend(_link_reasons(world, exporter, importer))
    acl = _acl_reason(importer, service, token)
    if acl is not None:
        reasons.append(acl)
    instances = imported_view(importer, peer_name, service) if peer_name else []
    good = sum(1 for _node, _sid, health in instances if health in ("passing", ""))
    readable = acl is None or acl.holds
    visible = good > 0 and readable
    if good:
        reasons.append(
            Reason(
                IMPORTED,
                True,
                f'{importer.name} holds {_plural(good, "passing instance")} of "{service}" '
                f'imported from "{peer_name}"',
            )
        )
    elif all(r.holds for r in reasons):
        reasons.append(
            Reason(
                NOT_REPLICATED,
                False,
                f'every link holds but {importer.name} holds no passing instance of "{service}" '
                "yet: replication has not delivered it (step or settle the world)",
            )
        )
    return Explanation(visible, tuple(reasons))
