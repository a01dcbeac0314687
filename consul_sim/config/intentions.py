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
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, ValidationError

from consul_sim.acl import Authorizer
from consul_sim.config.decode import multierror
from consul_sim.config.validate import (
    DESCRIPTION_MAX,
    INTENTION_SOURCE_TYPE,
    META_MAX_KEY,
    META_MAX_PAIRS,
    META_MAX_VALUE,
    WILDCARD,
    precedence,
    validate,
)
from consul_sim.errors import BadRequest, ConsulError, NotFound, PermissionDenied
from consul_sim.models.base import ConsulModel, decode_body
from consul_sim.models.config_entries import (
    SERVICE_INTENTIONS,
    IntentionPermission,
    ServiceIntentionsConfigEntry,
    SourceIntention,
)
from consul_sim.store.uuidindex import uuid_index_error

if TYPE_CHECKING:
    from consul_sim.config.service import ConfigEntries

DEFAULT_NAMESPACE = "default"
DEFAULT_PARTITION = "default"
ZERO_TIME = "0001-01-01T00:00:00Z"
ALLOW = "allow"
DENY = "deny"
PEER_PREFIX = "peer:"
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
    id: str = ""
    """The legacy ID: set only on sources written through the legacy ID-based endpoints."""
    created_at: str = ZERO_TIME
    updated_at: str = ZERO_TIME

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
            "ID": self.id,
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
            "Meta": dict(self.meta),
            "Precedence": self.precedence,
            "CreatedAt": self.created_at,
            "UpdatedAt": self.updated_at,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }
        if not self.meta:
            # structs.Intention's Meta is `json:",omitempty"`: LegacyNormalize gives a legacy
            # source an empty map, which the JSON leaves out, so HashiCorp's Go client reads
            # it as nil (api's TestAPI_ConnectIntentionCreateListGetUpdateDelete expects nil).
            del out["Meta"]
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
                    meta=dict(src.legacy_meta) if src.legacy_id else dict(entry.meta),
                    create_index=entry.create_index,
                    modify_index=entry.modify_index,
                    id=src.legacy_id,
                    created_at=src.legacy_create_time or ZERO_TIME,
                    updated_at=src.legacy_update_time or ZERO_TIME,
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
        # With ACLs disabled the token resolver answers acl.ManageAll() (agent/consul/acl.go),
        # never nil, so agent/connect_auth.go reaches its ACL default branch: allowed, with
        # the ACL reason. Its older "ACLs disabled, access is allowed by default" no longer
        # shows; HashiCorp's api TestAPI_AgentConnectAuthorize asserts the ACL reason.
        return Decision(True, DEFAULT_REASON_ACLS)
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


# -- writes: /exact by name and the legacy ID-based endpoints -------------------------------------
# Consul >= 1.9 keeps every intention in service-intentions entries (agent/consul/
# intention_endpoint.go, agent/consul/state/intention.go). PUT/DELETE /exact edit one local source
# of the destination's entry through the ordinary config-entry Normalize/Validate. The legacy
# POST and PUT/DELETE /{id} still work: they write sources carrying LegacyID, LegacyMeta and
# legacy times through LegacyNormalize/LegacyValidate, and refuse an entry any of whose sources
# lacks a LegacyID (one edited as a config entry, which clears them).

PERMISSION_DENIED = "Permission denied"
"""``acl.ErrPermissionDenied``: the intention RPCs return it bare, with no token or resource."""
SOURCE_PEER_REFUSED = (
    "SourcePeer field is not supported on this endpoint. Use config entries instead"
)


class IntentionBody(ConsulModel):
    """``structs.Intention`` as a request body (Go encoding/json: keys case-insensitive,
    unknown keys ignored)."""

    go_name: ClassVar[str] = "Intention"

    id: str = ""
    description: str = ""
    source_peer: str = ""
    source_partition: str = ""
    source_ns: str = Field("", alias="SourceNS")
    source_name: str = ""
    destination_partition: str = ""
    destination_ns: str = Field("", alias="DestinationNS")
    destination_name: str = ""
    source_type: str = ""
    action: str = ""
    permissions: list[Any] = Field(default_factory=list)
    meta: dict[str, str] = Field(default_factory=dict)


def decode_intention(raw: Any) -> IntentionBody:
    """The body as Consul's decodeBody reads it; DecodeError carries Go's message."""
    body = decode_body(IntentionBody, raw)
    return body


def _permissions(body: IntentionBody) -> list[IntentionPermission]:
    try:
        return [IntentionPermission.model_validate(p) for p in body.permissions]
    except ValidationError as exc:
        raise BadRequest(f"Request decode failed: {exc.errors()[0]['msg']}") from None


def _source(body: IntentionBody, permissions: list[IntentionPermission]) -> SourceIntention:
    """``Intention.ToSourceIntention(false)``."""
    return SourceIntention(
        name=body.source_name,
        action=body.action,
        permissions=permissions,
        type=body.source_type,
        description=body.description,
    )


def _require_write(authz: Authorizer, destination: str) -> None:
    """``Intention.CanWrite``: intentions:write on the destination, denied with the bare error."""
    if not authz.allowed("intentions", "write", destination):
        raise PermissionDenied(PERMISSION_DENIED)


def can_read(authz: Authorizer, ixn: Intention) -> bool:
    """``Intention.CanRead``: intentions:read on either end lets a token see the intention."""
    return authz.allowed("intentions", "read", ixn.source_name) or authz.allowed(
        "intentions", "read", ixn.destination_name
    )


def _entry(config: ConfigEntries, destination: str) -> ServiceIntentionsConfigEntry | None:
    entry = config.read(SERVICE_INTENTIONS, destination)
    return entry if isinstance(entry, ServiceIntentionsConfigEntry) else None


def upsert_exact(
    config: ConfigEntries, authz: Authorizer, source: str, destination: str, body: IntentionBody
) -> None:
    """``PUT /v1/connect/intentions/exact``: the identity comes from the URL, the rest from the
    body; the source replaces the first source of that name, or is appended."""
    if body.source_peer:
        raise ConsulError(SOURCE_PEER_REFUSED)
    _require_write(authz, destination)
    entry = _entry(config, destination)
    if entry is None:
        if body.meta:
            raise ConsulError("Meta must not be specified")
        entry = ServiceIntentionsConfigEntry(name=destination)
    elif body.meta and body.meta != entry.meta:
        raise ConsulError("Meta must not be specified, or should be unchanged during an update.")
    body.source_name, body.destination_name = source, destination
    value = _source(body, _permissions(body))
    # UpsertSourceByName compares the source's service name only, not its peer.
    for i, src in enumerate(entry.sources):
        if src.name == source:
            entry.sources[i] = value
            break
    else:
        entry.sources.append(value)
    config.apply(entry)


def delete_exact(config: ConfigEntries, authz: Authorizer, source: str, destination: str) -> None:
    """``DELETE /v1/connect/intentions/exact``: idempotent; the last source takes the entry."""
    _require_write(authz, destination)
    entry = _entry(config, destination)
    if entry is None or not any(s.name == source and not s.peer for s in entry.sources):
        return
    # DeleteSourceByName removes the first source of that name, whatever its peer.
    index = next(i for i, s in enumerate(entry.sources) if s.name == source)
    del entry.sources[index]
    if not entry.sources:
        config.delete(SERVICE_INTENTIONS, destination)
        return
    config.apply(entry)


def read_exact(
    config: ConfigEntries, authz: Authorizer, source: ParsedName, destination: str
) -> tuple[int, Intention]:
    index, entries = config.indexed_list(SERVICE_INTENTIONS)
    found = exact(flatten(entries), source, destination)
    if found is None:
        raise NotFound("Intention not found")
    if not can_read(authz, found):
        raise PermissionDenied(PERMISSION_DENIED)
    return index, found


# -- legacy IDs -----------------------------------------------------------------------------------


def _find_legacy(
    config: ConfigEntries, legacy_id: str
) -> tuple[int, ServiceIntentionsConfigEntry | None, SourceIntention | None]:
    """``IntentionGet`` by ID: the config index, the enclosing entry and its source."""
    problem = uuid_index_error(legacy_id)
    if problem is not None:
        raise ConsulError(f"failed config entry lookup: {problem}")
    index, entries = config.indexed_list(SERVICE_INTENTIONS)
    for entry in entries:
        if isinstance(entry, ServiceIntentionsConfigEntry):
            for src in entry.sources:
                if src.legacy_id == legacy_id:
                    return index, entry, src
    return index, None, None


def read_legacy(config: ConfigEntries, authz: Authorizer, legacy_id: str) -> tuple[int, Intention]:
    """``GET /v1/connect/intentions/{id}``: a bad UUID is 400, an unknown one 404."""
    try:
        index, entry, src = _find_legacy(config, legacy_id)
    except ConsulError as exc:
        raise BadRequest(exc.message) from None
    if entry is None or src is None:
        raise NotFound("Intention not found")
    found = next(i for i in flatten([entry]) if i.id == legacy_id)
    if not can_read(authz, found):
        raise PermissionDenied(PERMISSION_DENIED)
    return index, found


def _validate_legacy_body(body: IntentionBody) -> None:
    """``Intention.Validate``: every problem at once, as a multierror."""
    problems: list[str] = []
    if body.source_name == "":
        problems.append("SourceName must be set")
    if body.destination_name == "":
        problems.append("DestinationName must be set")
    for name, value in (
        ("SourceName", body.source_name),
        ("DestinationName", body.destination_name),
    ):
        if value != WILDCARD and WILDCARD in value:
            problems.append(f"{name}: wildcard character '*' cannot be used with partial values")
    if len(body.description.encode()) > DESCRIPTION_MAX:
        problems.append(f"Description exceeds maximum length {DESCRIPTION_MAX}")
    if len(body.meta) > META_MAX_PAIRS:
        problems.append(f"Meta exceeds maximum element count {META_MAX_PAIRS}")
    for key, value in body.meta.items():
        if len(key.encode()) > META_MAX_KEY:
            problems.append(f'Meta key "{key}" exceeds maximum length {META_MAX_KEY}')
        if len(value.encode()) > META_MAX_VALUE:
            problems.append(f'Meta value for key "{key}" exceeds maximum length {META_MAX_VALUE}')
    if body.action not in (ALLOW, DENY):
        problems.append("Action must be set to 'allow' or 'deny'")
    if body.source_type != INTENTION_SOURCE_TYPE:
        problems.append("SourceType must be set to 'consul'")
    if problems:
        raise ConsulError(multierror(problems))


def _check_legacy_allowed(entry: ServiceIntentionsConfigEntry) -> None:
    if all(src.legacy_id for src in entry.sources):
        return
    raise ConsulError(
        f'cannot use legacy intention API to edit intentions with a destination of "{entry.name}" '
        "after editing them via a service-intentions config entry"
    )


def _legacy_source(
    body: IntentionBody, legacy_id: str, created: str, updated: str
) -> SourceIntention:
    """``Intention.ToSourceIntention(true)``."""
    src = _source(body, _permissions(body))
    src.legacy_id = legacy_id
    src.legacy_meta = dict(body.meta)
    src.legacy_create_time = created
    src.legacy_update_time = updated
    return src


def _apply_legacy(config: ConfigEntries, entry: ServiceIntentionsConfigEntry) -> None:
    """LegacyNormalize and LegacyValidate, then the ordinary write. They differ from the
    config-entry pair in keeping the legacy fields; with those set aside the checks agree."""
    for src in entry.sources:
        if src.type == "":
            src.type = INTENTION_SOURCE_TYPE
        src.precedence = precedence(entry.name, src.name)
        for perm in src.permissions:
            if perm.http is not None:
                perm.http.methods = [m.upper() for m in perm.http.methods]
    entry.sources.sort(key=lambda s: -s.precedence)
    if entry.meta:
        raise ConsulError("Meta must be omitted for legacy intention writes")
    stripped = entry.model_copy(deep=True)
    for src in stripped.sources:
        src.legacy_id, src.legacy_meta = "", {}
        src.legacy_create_time = src.legacy_update_time = None
    validate(stripped)
    config.apply_validated(entry)


def legacy_create(
    config: ConfigEntries, authz: Authorizer, body: IntentionBody, new_id: str, now: str
) -> str:
    """``POST /v1/connect/intentions``: a new source with a fresh ID; returns the ID."""
    if body.source_peer:
        raise ConsulError(SOURCE_PEER_REFUSED)
    _require_write(authz, body.destination_name)
    if body.id:
        raise ConsulError("ID must be empty when creating a new intention")
    if body.source_type == "":
        body.source_type = INTENTION_SOURCE_TYPE
    _validate_legacy_body(body)
    value = _legacy_source(body, new_id, now, now)
    entry = _entry(config, body.destination_name)
    if entry is None:
        entry = ServiceIntentionsConfigEntry(name=body.destination_name, sources=[value])
    else:
        _check_legacy_allowed(entry)
        entry.sources.append(value)
    _apply_legacy(config, entry)
    return new_id


def legacy_update(
    config: ConfigEntries, authz: Authorizer, legacy_id: str, body: IntentionBody, now: str
) -> None:
    """``PUT /v1/connect/intentions/{id}``: replace that source; the destination is fixed."""
    if body.source_peer:
        raise ConsulError(SOURCE_PEER_REFUSED)
    entry, old = _legacy_lookup(config, legacy_id, "modify")
    _require_write(authz, entry.name)
    if body.destination_name != entry.name:
        raise ConsulError(
            "Cannot modify Destination partition/namespace/name for an intention once it exists."
        )
    if body.source_type == "":
        body.source_type = INTENTION_SOURCE_TYPE
    _validate_legacy_body(body)
    _check_legacy_allowed(entry)
    created = old.legacy_create_time or now  # UpdateOver keeps the original create time
    value = _legacy_source(body, legacy_id, created, now)
    entry.sources = [value if s.legacy_id == legacy_id else s for s in entry.sources]
    _apply_legacy(config, entry)


def legacy_delete(config: ConfigEntries, authz: Authorizer, legacy_id: str) -> None:
    """``DELETE /v1/connect/intentions/{id}``: an unknown ID is an error, unlike /exact."""
    entry, _ = _legacy_lookup(config, legacy_id, "delete")
    _require_write(authz, entry.name)
    _check_legacy_allowed(entry)
    entry.sources = [s for s in entry.sources if s.legacy_id != legacy_id]
    if not entry.sources:
        config.delete(SERVICE_INTENTIONS, entry.name)
        return
    _apply_legacy(config, entry)


def _legacy_lookup(
    config: ConfigEntries, legacy_id: str, verb: str
) -> tuple[ServiceIntentionsConfigEntry, SourceIntention]:
    try:
        _, entry, src = _find_legacy(config, legacy_id)
    except ConsulError as exc:
        raise ConsulError(f"Intention lookup failed: {exc.message}") from None
    if entry is None or src is None:
        raise ConsulError(f"Cannot {verb} non-existent intention: '{legacy_id}'")
    return entry, src
