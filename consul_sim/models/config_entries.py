"""The config-entry kinds the peering page needs, as pydantic models in Consul's JSON casing.

Each model says, next to its fields, the two things Consul's Go structs say in tags: which keys
``json:",omitempty"`` drops when empty (``omitempty``), and which snake_case spellings the
decoder's ``alias:"..."`` tags accept (``aliases``). The CE structs carry no namespace or
partition on an entry or an intention source, so neither has those fields here: a body holding
them fails decoding with ``invalid config key``, as CE does.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import ConfigDict, Field

from consul_sim.models.base import ConsulModel, consul_alias

EXPORTED_SERVICES: Final = "exported-services"
SERVICE_INTENTIONS: Final = "service-intentions"
MESH: Final = "mesh"
SERVICE_DEFAULTS: Final = "service-defaults"
PROXY_DEFAULTS: Final = "proxy-defaults"

MESH_NAME = "mesh"
PROXY_DEFAULTS_NAME = "global"
EXPORTED_SERVICES_NAME = "default"

KNOWN_KINDS = (
    "service-defaults",
    "proxy-defaults",
    "service-router",
    "service-splitter",
    "service-resolver",
    "ingress-gateway",
    "terminating-gateway",
    "service-intentions",
    "mesh",
    "exported-services",
    "sameness-group",
    "api-gateway",
    "bound-api-gateway",
    "file-system-certificate",
    "inline-certificate",
    "http-route",
    "tcp-route",
    "jwt-provider",
)
"""Every kind Consul's ``MakeConfigEntry`` knows: reads of these are valid even when the
simulator cannot store them yet (they list empty and read as not found)."""


class EntryModel(ConsulModel):
    """A part of a config entry, rendered the way Go's encoding/json renders its struct."""

    model_config = ConfigDict(alias_generator=consul_alias, populate_by_name=True, extra="forbid")

    omitempty: ClassVar[frozenset[str]] = frozenset()
    aliases: ClassVar[dict[str, str]] = {}
    """snake_case spelling -> python field name (Consul's ``alias`` struct tags)."""
    not_decoded: ClassVar[frozenset[str]] = frozenset()
    """Fields a request body cannot set (Consul ignores them on input)."""

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if name in self.omitempty and _is_zero(value):
                continue
            out[info.alias or consul_alias(name)] = _render(value)
        return out


def _is_zero(value: Any) -> bool:
    return value is None or value in ("", 0, False) or value == [] or value == {}


def _render(value: Any) -> Any:
    if isinstance(value, EntryModel):
        return value.render()
    if isinstance(value, list):
        return [_render(v) for v in value]
    if isinstance(value, dict):
        return {k: _render(v) for k, v in value.items()}
    return value


class ConfigEntryBase(EntryModel):
    """What every kind shares: ``Kind`` first, ``Meta``, and the Raft indexes last."""

    not_decoded = frozenset({"kind", "create_index", "modify_index"})

    kind: str = Field("", alias="Kind")
    create_index: int = 0
    modify_index: int = 0

    @property
    def entry_name(self) -> str:
        """The name the store keys the entry by (``mesh`` has no Name field)."""
        name: str = getattr(self, "name", "")
        return name

    def render(self) -> dict[str, Any]:
        out = super().render()
        for key in ("CreateIndex", "ModifyIndex"):
            out[key] = out.pop(key)
        return out

    def content(self) -> dict[str, Any]:
        """The entry without its indexes: two writes with equal content are one write."""
        out = self.render()
        del out["CreateIndex"], out["ModifyIndex"]
        return out


# -- exported-services ----------------------------------------------------------------------------
class ServiceConsumer(EntryModel):
    omitempty = frozenset({"peer", "partition", "sameness_group"})
    aliases = {"peer_name": "peer", "sameness_group": "sameness_group"}

    peer: str = ""
    partition: str = ""
    sameness_group: str = ""


class ExportedService(EntryModel):
    omitempty = frozenset({"namespace", "consumers"})

    name: str = ""
    namespace: str = ""
    consumers: list[ServiceConsumer] = Field(default_factory=list)


class ExportedServicesConfigEntry(ConfigEntryBase):
    omitempty = frozenset({"services", "meta"})

    kind: Literal["exported-services"] = Field(EXPORTED_SERVICES, alias="Kind")
    name: str = ""
    services: list[ExportedService] = Field(default_factory=list)
    meta: dict[str, str] = Field(default_factory=dict)


# -- service-intentions ---------------------------------------------------------------------------
class IntentionHTTPHeaderPermission(EntryModel):
    omitempty = frozenset({"present", "exact", "prefix", "suffix", "regex", "invert"})

    name: str = ""
    present: bool = False
    exact: str = ""
    prefix: str = ""
    suffix: str = ""
    regex: str = ""
    invert: bool = False


class IntentionHTTPPermission(EntryModel):
    omitempty = frozenset({"path_exact", "path_prefix", "path_regex", "header", "methods"})
    aliases = {"path_exact": "path_exact", "path_prefix": "path_prefix", "path_regex": "path_regex"}

    path_exact: str = ""
    path_prefix: str = ""
    path_regex: str = ""
    header: list[IntentionHTTPHeaderPermission] = Field(default_factory=list)
    methods: list[str] = Field(default_factory=list)


class IntentionJWTClaimVerification(EntryModel):
    omitempty = frozenset({"path", "value"})

    path: list[str] = Field(default_factory=list)
    value: str = ""


class IntentionJWTProvider(EntryModel):
    omitempty = frozenset({"name", "verify_claims"})
    aliases = {"verify_claims": "verify_claims"}

    name: str = ""
    verify_claims: list[IntentionJWTClaimVerification] = Field(default_factory=list)


class IntentionJWTRequirement(EntryModel):
    omitempty = frozenset({"providers"})

    providers: list[IntentionJWTProvider] = Field(default_factory=list)


class IntentionPermission(EntryModel):
    omitempty = frozenset({"http", "jwt"})

    action: str = ""
    http: IntentionHTTPPermission | None = None
    jwt: IntentionJWTRequirement | None = Field(None, alias="JWT")


class SourceIntention(EntryModel):
    omitempty = frozenset(
        {
            "peer",
            "sameness_group",
            "action",
            "permissions",
            "legacy_id",
            "description",
            "legacy_meta",
            "legacy_create_time",
            "legacy_update_time",
        }
    )
    aliases = {
        "sameness_group": "sameness_group",
        "legacy_id": "legacy_id",
        "legacy_meta": "legacy_meta",
        "legacy_create_time": "legacy_create_time",
        "legacy_update_time": "legacy_update_time",
    }

    name: str = ""
    peer: str = ""
    sameness_group: str = ""
    action: str = ""
    permissions: list[IntentionPermission] = Field(default_factory=list)
    precedence: int = 0
    legacy_id: str = ""
    type: str = ""
    description: str = ""
    legacy_meta: dict[str, str] = Field(default_factory=dict)
    legacy_create_time: str | None = None
    legacy_update_time: str | None = None


class ServiceIntentionsConfigEntry(ConfigEntryBase):
    omitempty = frozenset({"jwt", "meta"})

    kind: Literal["service-intentions"] = Field(SERVICE_INTENTIONS, alias="Kind")
    name: str = ""
    sources: list[SourceIntention] = Field(default_factory=list)
    jwt: IntentionJWTRequirement | None = Field(None, alias="JWT")
    meta: dict[str, str] = Field(default_factory=dict)


# -- mesh -----------------------------------------------------------------------------------------
class TransparentProxyMeshConfig(EntryModel):
    aliases = {"mesh_destinations_only": "mesh_destinations_only"}

    mesh_destinations_only: bool = False


class MeshDirectionalTLSConfig(EntryModel):
    omitempty = frozenset({"tls_min_version", "tls_max_version", "cipher_suites"})
    aliases = {
        "tls_min_version": "tls_min_version",
        "tls_max_version": "tls_max_version",
        "cipher_suites": "cipher_suites",
    }

    tls_min_version: str = ""
    tls_max_version: str = ""
    cipher_suites: list[str] = Field(default_factory=list)


class MeshTLSConfig(EntryModel):
    omitempty = frozenset({"incoming", "outgoing"})

    incoming: MeshDirectionalTLSConfig | None = None
    outgoing: MeshDirectionalTLSConfig | None = None


class MeshHTTPConfig(EntryModel):
    aliases = {"sanitize_x_forwarded_client_cert": "sanitize_x_forwarded_client_cert"}

    sanitize_x_forwarded_client_cert: bool = False


class PeeringMeshConfig(EntryModel):
    aliases = {"peer_through_mesh_gateways": "peer_through_mesh_gateways"}

    peer_through_mesh_gateways: bool = False


class MeshConfigEntry(ConfigEntryBase):
    """The one ``mesh`` entry: it has no Name field, its name is always ``mesh``."""

    omitempty = frozenset(
        {
            "allow_enabling_permissive_mutual_tls",
            "validate_clusters",
            "tls",
            "http",
            "peering",
            "meta",
        }
    )
    aliases = {
        "transparent_proxy": "transparent_proxy",
        "allow_enabling_permissive_mutual_tls": "allow_enabling_permissive_mutual_tls",
        "validate_clusters": "validate_clusters",
    }

    kind: Literal["mesh"] = Field(MESH, alias="Kind")
    transparent_proxy: TransparentProxyMeshConfig = Field(
        default_factory=TransparentProxyMeshConfig
    )
    allow_enabling_permissive_mutual_tls: bool = False
    validate_clusters: bool = False
    tls: MeshTLSConfig | None = None
    http: MeshHTTPConfig | None = None
    peering: PeeringMeshConfig | None = None
    meta: dict[str, str] = Field(default_factory=dict)

    @property
    def entry_name(self) -> str:
        return MESH_NAME


# -- service-defaults and proxy-defaults ----------------------------------------------------------
class TransparentProxyConfig(EntryModel):
    omitempty = frozenset({"outbound_listener_port", "dialed_directly"})
    aliases = {
        "outbound_listener_port": "outbound_listener_port",
        "dialed_directly": "dialed_directly",
    }

    outbound_listener_port: int = 0
    dialed_directly: bool = False


class MeshGatewayConfig(EntryModel):
    omitempty = frozenset({"mode"})

    mode: str = ""


class ExposePath(EntryModel):
    omitempty = frozenset({"listener_port", "path", "local_path_port", "protocol"})
    aliases = {"listener_port": "listener_port", "local_path_port": "local_path_port"}

    listener_port: int = 0
    path: str = ""
    local_path_port: int = 0
    protocol: str = ""


class ExposeConfig(EntryModel):
    omitempty = frozenset({"checks", "paths"})

    checks: bool = False
    paths: list[ExposePath] = Field(default_factory=list)


_DEFAULTS_ALIASES = {
    alias: alias
    for alias in (
        "mesh_gateway",
        "transparent_proxy",
        "mutual_tls_mode",
        "external_sni",
        "upstream_config",
        "max_inbound_connections",
        "local_connect_timeout_ms",
        "local_request_timeout_ms",
        "balance_inbound_connections",
        "rate_limits",
        "envoy_extensions",
        "access_logs",
        "failover_policy",
        "prioritize_by_locality",
    )
}


class ServiceDefaultsConfigEntry(ConfigEntryBase):
    """The fields the simulator acts on are modelled; the rest are kept as Consul's JSON."""

    omitempty = frozenset(
        {
            "mode",
            "mutual_tls_mode",
            "external_sni",
            "upstream_config",
            "destination",
            "max_inbound_connections",
            "local_connect_timeout_ms",
            "local_request_timeout_ms",
            "balance_inbound_connections",
            "rate_limits",
            "envoy_extensions",
            "meta",
        }
    )
    aliases = _DEFAULTS_ALIASES

    kind: Literal["service-defaults"] = Field(SERVICE_DEFAULTS, alias="Kind")
    name: str = ""
    protocol: str = ""
    mode: str = ""
    transparent_proxy: TransparentProxyConfig = Field(default_factory=TransparentProxyConfig)
    mutual_tls_mode: str = ""
    mesh_gateway: MeshGatewayConfig = Field(default_factory=MeshGatewayConfig)
    expose: ExposeConfig = Field(default_factory=ExposeConfig)
    external_sni: str = Field("", alias="ExternalSNI")
    upstream_config: dict[str, Any] | None = None
    destination: dict[str, Any] | None = None
    max_inbound_connections: int = 0
    local_connect_timeout_ms: int = 0
    local_request_timeout_ms: int = 0
    balance_inbound_connections: str = ""
    rate_limits: dict[str, Any] | None = None
    envoy_extensions: list[Any] = Field(default_factory=list)
    meta: dict[str, str] = Field(default_factory=dict)


class ProxyDefaultsConfigEntry(ConfigEntryBase):
    omitempty = frozenset(
        {
            "config",
            "mode",
            "mutual_tls_mode",
            "access_logs",
            "envoy_extensions",
            "failover_policy",
            "prioritize_by_locality",
            "meta",
        }
    )
    aliases = _DEFAULTS_ALIASES

    kind: Literal["proxy-defaults"] = Field(PROXY_DEFAULTS, alias="Kind")
    name: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    mode: str = ""
    transparent_proxy: TransparentProxyConfig = Field(default_factory=TransparentProxyConfig)
    mutual_tls_mode: str = ""
    mesh_gateway: MeshGatewayConfig = Field(default_factory=MeshGatewayConfig)
    expose: ExposeConfig = Field(default_factory=ExposeConfig)
    access_logs: dict[str, Any] | None = None
    envoy_extensions: list[Any] = Field(default_factory=list)
    failover_policy: dict[str, Any] | None = None
    prioritize_by_locality: dict[str, Any] | None = None
    meta: dict[str, str] = Field(default_factory=dict)


ConfigEntry = Annotated[
    ExportedServicesConfigEntry
    | ServiceIntentionsConfigEntry
    | MeshConfigEntry
    | ServiceDefaultsConfigEntry
    | ProxyDefaultsConfigEntry,
    Field(discriminator="kind"),
]
"""Any stored config entry, told apart by its ``Kind``."""

ENTRY_CLASSES: dict[str, type[ConfigEntryBase]] = {
    EXPORTED_SERVICES: ExportedServicesConfigEntry,
    SERVICE_INTENTIONS: ServiceIntentionsConfigEntry,
    MESH: MeshConfigEntry,
    SERVICE_DEFAULTS: ServiceDefaultsConfigEntry,
    PROXY_DEFAULTS: ProxyDefaultsConfigEntry,
}
