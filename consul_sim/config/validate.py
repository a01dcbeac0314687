"""Consul's ``Normalize`` and ``Validate`` for each kind, in Consul's order.

Every failure is an error the server RPC returns, so the HTTP layer answers it 500 with the bare
sentence (``ConsulError``). The first failure wins, except for Meta, whose limits are reported
together as one multi-error. Normalization runs first and may change what validation sees:
intention sources are re-ordered by precedence, so ``Sources[i]`` in an error counts in that
order.
"""

from __future__ import annotations

from consul_sim.config.decode import multierror
from consul_sim.config.gateways import IngressGatewayConfigEntry, TerminatingGatewayConfigEntry
from consul_sim.errors import ConsulError
from consul_sim.models.config_entries import (
    EXPORTED_SERVICES_NAME,
    PROXY_DEFAULTS_NAME,
    ConfigEntryBase,
    ExportedServicesConfigEntry,
    IntentionPermission,
    MeshConfigEntry,
    ProxyDefaultsConfigEntry,
    ServiceDefaultsConfigEntry,
    ServiceIntentionsConfigEntry,
    SourceIntention,
)

WILDCARD = "*"
META_MAX_PAIRS = 64
META_MAX_KEY = 128
META_MAX_VALUE = 512
DESCRIPTION_MAX = 512
INTENTION_SOURCE_TYPE = "consul"
ACTIONS = ("allow", "deny")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE")
MUTUAL_TLS_MODES = ("", "strict", "permissive")


def normalize(entry: ConfigEntryBase) -> None:
    """Consul's Normalize: defaults filled in, names and orders made canonical."""
    if isinstance(entry, ExportedServicesConfigEntry):
        for svc in entry.services:
            svc.namespace = ""  # CE: every namespace is the default one, stored as ""
    elif isinstance(entry, ServiceIntentionsConfigEntry):
        _normalize_intentions(entry)
    elif isinstance(entry, ServiceDefaultsConfigEntry):
        entry.protocol = entry.protocol.lower()
    elif isinstance(entry, ProxyDefaultsConfigEntry):
        # Consul checks the name here as well as in Validate, because deletes only normalize.
        if entry.name not in ("", PROXY_DEFAULTS_NAME):
            raise ConsulError(
                f'invalid name ("{entry.name}"), only "{PROXY_DEFAULTS_NAME}" is supported'
            )
        entry.name = PROXY_DEFAULTS_NAME
    elif isinstance(entry, IngressGatewayConfigEntry | TerminatingGatewayConfigEntry):
        entry.consul_normalize()
    else:
        from consul_sim.config.discoverychain import normalize_chain_entry  # builds on this module

        normalize_chain_entry(entry)


def validate(entry: ConfigEntryBase) -> None:
    """Consul's Validate for the entry's kind; raises ConsulError (500) on the first failure."""
    if isinstance(entry, ExportedServicesConfigEntry):
        _validate_exported_services(entry)
    elif isinstance(entry, ServiceIntentionsConfigEntry):
        _validate_intentions(entry)
    elif isinstance(entry, MeshConfigEntry):
        _validate_meta(entry.meta)
    elif isinstance(entry, ServiceDefaultsConfigEntry):
        if entry.name == "":
            raise ConsulError("Name is required")
        if entry.name == WILDCARD:
            raise ConsulError(
                "service-defaults name must be the name of a service, and not a wildcard"
            )
        _validate_meta(entry.meta)
        _validate_mutual_tls_mode(entry.mutual_tls_mode)
    elif isinstance(entry, ProxyDefaultsConfigEntry):
        normalize(entry)
        _validate_meta(entry.meta)
        _validate_mutual_tls_mode(entry.mutual_tls_mode)
    elif isinstance(entry, IngressGatewayConfigEntry | TerminatingGatewayConfigEntry):
        _validate_meta(entry.meta)  # config/gateways.py: both kinds check Meta first
        entry.consul_validate()
    else:
        from consul_sim.config.discoverychain import validate_chain_entry  # builds on this module

        validate_chain_entry(entry)


def _validate_meta(meta: dict[str, str]) -> None:
    problems: list[str] = []
    if len(meta) > META_MAX_PAIRS:
        problems.append(f"Meta exceeds maximum element count {META_MAX_PAIRS}")
    for key, value in meta.items():
        if len(key.encode()) > META_MAX_KEY:
            problems.append(f'Meta key "{key}" exceeds maximum length {META_MAX_KEY}')
        if len(value.encode()) > META_MAX_VALUE:
            problems.append(f'Meta value for key "{key}" exceeds maximum length {META_MAX_VALUE}')
    if problems:
        raise ConsulError(multierror(problems))


def _validate_mutual_tls_mode(mode: str) -> None:
    if mode not in MUTUAL_TLS_MODES:
        raise ConsulError(
            f'Invalid MutualTLSMode "{mode}". Must be one of "", "strict", or "permissive".'
        )


# -- exported-services ----------------------------------------------------------------------------
def _validate_exported_services(entry: ExportedServicesConfigEntry) -> None:
    if entry.name != EXPORTED_SERVICES_NAME:
        raise ConsulError(f'exported-services Name must be "{EXPORTED_SERVICES_NAME}"')
    _validate_meta(entry.meta)
    # CE's enterprise check walks every consumer before the general rules run.
    for i, svc in enumerate(entry.services):
        for j, consumer in enumerate(svc.consumers):
            if consumer.sameness_group:
                raise ConsulError(
                    f"Services[{i}].Consumers[{j}]: sameness-groups are an enterprise-only feature"
                )
    for i, svc in enumerate(entry.services):
        if svc.name == "":
            raise ConsulError(f"Services[{i}]: service name cannot be empty")
        if not svc.consumers:
            raise ConsulError(f"Services[{i}]: must have at least one consumer")
        for j, consumer in enumerate(svc.consumers):
            where = f"Services[{i}].Consumers[{j}]"
            targets = sum(
                1 for t in (consumer.peer, consumer.partition, consumer.sameness_group) if t
            )
            if targets > 1:
                raise ConsulError(
                    f"{where}: must define at most one of Peer, Partition, or SamenessGroup"
                )
            if consumer.partition == WILDCARD:
                raise ConsulError(
                    f"{where}: exporting to all partitions (wildcard) is not supported"
                )
            if consumer.peer == WILDCARD:
                raise ConsulError(f"{where}: exporting to all peers (wildcard) is not supported")


# -- service-intentions ---------------------------------------------------------------------------
def precedence(destination: str, source: str) -> int:
    """CE precedence: namespaces are always exact, so only 9, 8, 6 and 5 occur. Peers play no
    part."""
    top = 9 if destination != WILDCARD else 6
    exact_source = 2 if source != WILDCARD else 1
    return top - (2 - exact_source)


def _normalize_intentions(entry: ServiceIntentionsConfigEntry) -> None:
    for src in entry.sources:
        if src.type == "":
            src.type = INTENTION_SOURCE_TYPE
        src.precedence = precedence(entry.name, src.name)
        src.legacy_id = ""
        src.legacy_create_time = None
        src.legacy_update_time = None
        for perm in src.permissions:
            if perm.http is not None:
                perm.http.methods = [m.upper() for m in perm.http.methods]
    entry.sources.sort(key=lambda s: -s.precedence)


def _partial_wildcard(name: str) -> bool:
    return WILDCARD in name and name != WILDCARD


def _validate_intentions(entry: ServiceIntentionsConfigEntry) -> None:
    if entry.name == "":
        raise ConsulError("Name is required")
    if _partial_wildcard(entry.name):
        raise ConsulError("Name: wildcard character '*' cannot be used with partial values")
    if entry.jwt is not None:
        for provider in entry.jwt.providers:
            if provider.name == "":
                raise ConsulError("JWT provider name is required")
    _validate_meta(entry.meta)
    if not entry.sources:
        raise ConsulError("At least one source is required")
    seen: set[tuple[str, str]] = set()
    for i, src in enumerate(entry.sources):
        _validate_source(entry, i, src)
        key = (src.peer, src.name)
        if key in seen:
            if src.peer:
                raise ConsulError(
                    f'Sources[{i}] defines peer("{src.peer}") "{src.name}" more than once'
                )
            raise ConsulError(f'Sources[{i}] defines "{src.name}" more than once')
        seen.add(key)


def _validate_source(entry: ServiceIntentionsConfigEntry, i: int, src: SourceIntention) -> None:
    where = f"Sources[{i}]"
    if src.name == "":
        raise ConsulError(f"{where}.Name is required")
    if src.sameness_group:
        raise ConsulError(
            f"{where}.SamenessGroup: Sameness groups are a Consul Enterprise feature. "
        )
    if _partial_wildcard(src.name):
        raise ConsulError(
            f"{where}.Name: wildcard character '*' cannot be used with partial values"
        )
    if WILDCARD in src.peer:
        raise ConsulError(f"{where}.Peer: cannot use wildcard '*' in peer")
    if len(src.description.encode()) > DESCRIPTION_MAX:
        raise ConsulError(f"{where}.Description exceeds maximum length {DESCRIPTION_MAX}")
    if src.legacy_meta:
        raise ConsulError(f"{where}.LegacyMeta must be omitted")
    if not src.permissions:
        if src.action not in ACTIONS:
            raise ConsulError(f"{where}.Action must be set to 'allow' or 'deny'")
    else:
        if src.action:
            raise ConsulError(f"{where}.Action must be omitted if Permissions are specified")
        if entry.name == WILDCARD:
            raise ConsulError(
                f"{where}.Permissions cannot be specified on intentions with wildcarded "
                "destinations"
            )
    if src.type != INTENTION_SOURCE_TYPE:
        raise ConsulError(f"{where}.Type must be set to '{INTENTION_SOURCE_TYPE}'")
    for j, perm in enumerate(src.permissions):
        _validate_permission(f"{where}.Permissions[{j}]", perm)


def _validate_permission(where: str, perm: IntentionPermission) -> None:
    if perm.action not in ACTIONS:
        raise ConsulError(f"{where}.Action must be set to 'allow' or 'deny'")
    http = perm.http
    if http is None:
        raise ConsulError(f"{where}.HTTP is required")
    path_parts = 0
    for field, value in (("PathExact", http.path_exact), ("PathPrefix", http.path_prefix)):
        if value:
            path_parts += 1
            if not value.startswith("/"):
                raise ConsulError(f"{where}.HTTP.{field} doesn't start with '/': \"{value}\"")
    if http.path_regex:
        path_parts += 1
    if path_parts > 1:
        raise ConsulError(
            f"{where}.HTTP should only contain at most one of PathExact, PathPrefix, or PathRegex"
        )
    parts = path_parts
    for k, header in enumerate(http.header):
        if header.name == "":
            raise ConsulError(f"{where}.HTTP.Header[{k}] missing required Name field")
        matchers = [header.present, header.exact, header.regex, header.prefix, header.suffix]
        if sum(1 for m in matchers if m) != 1:
            raise ConsulError(
                f"{where}.HTTP.Header[{k}] should only contain one of Present, Exact, Prefix, "
                "Suffix, or Regex"
            )
        parts += 1
    if http.methods:
        found: set[str] = set()
        for method in http.methods:
            if method not in HTTP_METHODS:
                raise ConsulError(f'{where}.HTTP.Methods contains an invalid method "{method}"')
            if method in found:
                raise ConsulError(f'{where}.HTTP.Methods contains "{method}" more than once')
            found.add(method)
        parts += 1
    if parts == 0:
        raise ConsulError(f"{where}.HTTP should not be empty")
