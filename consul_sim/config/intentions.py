"""Who may call whom: the intentions held in ``service-intentions`` entries, and the decision.

Consul keeps intentions only as sources of ``service-intentions`` entries; every intention
endpoint flattens them into one list sorted by precedence (``agent/consul/state/intention.go``).
A caller is matched on its exact peer (``""`` for a local caller), so a local ``*`` never lets a
peered service in. The first matching intention in precedence order decides; an L7 intention
counts as deny for the L4 check and authorize, since only a proxy can apply its permissions. With
nothing matching, the default applies: allow when ACLs are disabled, else the ACL default policy,
which no token's rules can change (``agent/connect_auth.go``, ``IntentionDefaultAllow``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from consul_sim.config.entries import ServiceIntentionsConfigEntry
from consul_sim.config.validate import WILDCARD
from consul_sim.errors import BadRequest, ConsulError

DEFAULT_NAMESPACE = "default"
DEFAULT_PARTITION = "default"
ZERO_TIME = "0001-01-01T00:00:00Z"
ALLOW = "allow"
DENY = "deny"
PEER_PREFIX = "peer:"
DEFAULT_REASON_NO_ACLS = "ACLs disabled, access is allowed by default"
DEFAULT_REASON_ACLS = "Default behavior configured by ACLs"


@dataclass(frozen=True)
class Intention:
    """One source of one ``service-intentions`` entry, as the intention endpoints show it."""

    source_name: str
    destination_name: str
    precedence: int
    action: str = ""
    source_peer: str = ""
    source_type: str = "consul"
    description: str = ""
    permissions: tuple[dict[str, Any], ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict)
    create_index: int = 0
    modify_index: int = 0

    def matches_source(self, service: str, peer: str = "") -> bool:
        """A source matches its own peer only: a local source never matches a peered caller."""
        return self.source_peer == peer and self.source_name in (WILDCARD, service)

    def matches_destination(self, service: str) -> bool:
        return self.destination_name in (WILDCARD, service)

    def sort_key(self) -> tuple[int, str, str, str, str]:
        """Precedence descending, ties broken as Consul's IntentionPrecedenceSorter does."""
        return (
            -self.precedence,
            DEFAULT_NAMESPACE,
            self.source_name,
            DEFAULT_NAMESPACE,
            self.destination_name,
        )

    def describe(self) -> str:
        """Consul's ``Intention.String()``, which the authorize reason quotes."""
        source = self.source_name
        if self.source_peer:
            source = f"peer({self.source_peer})/{self.source_name}"
        if self.permissions:
            detail = f"Permissions: {len(self.permissions)}"
        else:
            detail = f"Action: {self.action.upper()}"
        return f"{source} => {self.destination_name} (Precedence: {self.precedence}, {detail})"

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ID": "",
            "Description": self.description,
            "SourcePeer": self.source_peer,
            "SourcePartition": DEFAULT_PARTITION,
            "SourceNS": DEFAULT_NAMESPACE,
            "SourceName": self.source_name,
            "DestinationPartition": DEFAULT_PARTITION,
            "DestinationNS": DEFAULT_NAMESPACE,
            "DestinationName": self.destination_name,
            "SourceType": self.source_type,
            "Action": self.action,
            "Permissions": list(self.permissions) or None,
            "Meta": dict(self.meta) or None,
            "Precedence": self.precedence,
            "CreatedAt": ZERO_TIME,
            "UpdatedAt": ZERO_TIME,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }
        return out


def flatten(entries: Iterable[object]) -> list[Intention]:
    """Every source of every service-intentions entry, sorted by precedence."""
    out: list[Intention] = []
    for entry in entries:
        if not isinstance(entry, ServiceIntentionsConfigEntry):
            continue
        for src in entry.sources:
            out.append(
                Intention(
                    source_name=src.name,
                    destination_name=entry.name,
                    precedence=src.precedence,
                    action=src.action,
                    source_peer=src.peer,
                    source_type=src.type or "consul",
                    description=src.description,
                    permissions=tuple(p.render() for p in src.permissions),
                    meta=dict(entry.meta),
                    create_index=entry.create_index,
                    modify_index=entry.modify_index,
                )
            )
    out.sort(key=Intention.sort_key)
    return out


def match_destination(intentions: Iterable[Intention], name: str) -> list[Intention]:
    """``/match?by=destination``: intentions whose destination is the name or ``*``."""
    return sorted((i for i in intentions if i.matches_destination(name)), key=Intention.sort_key)


def match_source(intentions: Iterable[Intention], name: str) -> list[Intention]:
    """``/match?by=source``: local sources only, the name or ``*``."""
    return sorted((i for i in intentions if i.matches_source(name)), key=Intention.sort_key)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    intention: Intention | None = None


def decide(
    intentions: Iterable[Intention],
    source: str,
    destination: str,
    peer: str = "",
    acl_default_policy: str | None = None,
) -> Decision:
    """Whether ``source`` (from ``peer``, ``""`` when local) may call ``destination``.
    ``acl_default_policy`` is None when ACLs are disabled, else ``allow`` or ``deny``."""
    for ixn in match_destination(intentions, destination):
        if not ixn.matches_source(source, peer):
            continue
        if ixn.permissions:
            return Decision(False, f"Matched L7 intention: {ixn.describe()}", ixn)
        return Decision(ixn.action == ALLOW, f"Matched L4 intention: {ixn.describe()}", ixn)
    if acl_default_policy is None:
        return Decision(True, DEFAULT_REASON_NO_ACLS)
    return Decision(acl_default_policy == ALLOW, DEFAULT_REASON_ACLS)


# -- names in query parameters --------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedName:
    name: str
    peer: str = ""


def parse_name(param: str, value: str, *, allow_peer: bool) -> ParsedName:
    """``svc``, ``ns/svc``, ``ap/ns/svc`` and, where allowed, ``peer:p/svc`` or
    ``peer:p/ns/svc``; errors wrapped as ``<param> "<value>" is invalid: <why>``."""

    def invalid(why: str) -> ConsulError:
        return ConsulError(f'{param} "{value}" is invalid: {why}')

    raw = value
    peer = ""
    if raw.startswith(PEER_PREFIX):
        if not allow_peer:
            raise invalid("cannot specify a peer here")
        rest = raw[len(PEER_PREFIX) :]
        peer, slash, raw = rest.partition("/")
        if not slash:
            raise invalid("need to specify the service name as well")
    parts = raw.split("/")
    if len(parts) > 3:
        raise invalid("input can contain at most two '/'")
    if peer and len(parts) > 2:
        raise invalid("input can contain at most two '/'")
    return ParsedName(name=parts[-1], peer=peer)


def exact(
    intentions: Iterable[Intention], source: ParsedName, destination: str
) -> Intention | None:
    """The one intention with exactly this source (and peer) and destination."""
    for ixn in intentions:
        if (
            ixn.destination_name == destination
            and ixn.source_name == source.name
            and ixn.source_peer == source.peer
        ):
            return ixn
    return None


# -- /v1/agent/connect/authorize -----------------------------------------------------------------
@dataclass(frozen=True)
class SpiffeService:
    trust_domain: str
    datacenter: str
    service: str
    partition: str = ""


def parse_spiffe(uri: str) -> SpiffeService:
    """A Connect service identity: ``spiffe://<td>[/ap/<ap>]/ns/<ns>/dc/<dc>/svc/<svc>``."""
    if not uri.startswith("spiffe://"):
        raise BadRequest("ClientCertURI not a valid Connect identifier")
    host, slash, path = uri[len("spiffe://") :].partition("/")
    parts = path.split("/") if slash else []
    if not host:
        raise BadRequest("ClientCertURI not a valid Connect identifier")
    partition = ""
    if len(parts) == 8 and parts[0] == "ap":
        partition = parts[1]
        parts = parts[2:]
    if len(parts) == 6 and parts[0] == "ns" and parts[2] == "dc" and parts[4] == "svc":
        if not all(parts[i] for i in (1, 3, 5)):
            raise BadRequest("ClientCertURI not a valid Connect identifier")
        return SpiffeService(host, parts[3], parts[5], partition)
    raise BadRequest("ClientCertURI not a valid Service identifier")


def authorize(
    intentions: Iterable[Intention],
    target: str,
    client_cert_uri: str,
    peer_trust_domains: Mapping[str, str],
    acl_default_policy: str | None = None,
) -> Decision:
    """``POST /v1/agent/connect/authorize``. The caller's peer is the peering whose trust domain
    issued its certificate (``peer_trust_domains``: trust domain -> local peer name); any other
    trust domain is treated as local, since Consul does not check the trust domain."""
    if not target:
        raise BadRequest("Target service must be specified")
    caller = parse_spiffe(client_cert_uri)
    if caller.partition and caller.partition != DEFAULT_PARTITION:
        return Decision(False, f'Mismatched partitions: "{caller.partition}" != "default"')
    peer = peer_trust_domains.get(caller.trust_domain, "")
    return decide(intentions, caller.service, target, peer, acl_default_policy)
