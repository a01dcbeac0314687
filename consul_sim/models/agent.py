"""Agent-local definitions: what /v1/agent/service/register and /check/register accept, and the
``AgentService`` shape /v1/agent/services answers with.

Consul decodes both bodies strictly (``lib.UnmarshalJSON`` disallows unknown fields, Consul 1.7+),
through anonymous helper structs that also accept a few snake_case spellings; the fields here are
the union of what ``structs.ServiceDefinition``, ``structs.CheckType`` and
``structs.CheckDefinition`` accept, so a strict decode refuses exactly the keys Consul refuses.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from pydantic import Field

from consul_sim.durations import parse_duration
from consul_sim.models.base import ConsulModel, Duration
from consul_sim.models.catalog import NodeService, ServiceAddress, ServicePort, Weights
from consul_sim.models.proxy import Locality, proxy_api_json


def _positive(duration: str) -> bool:
    return bool(duration) and parse_duration(duration) > 0


class CheckType(ConsulModel):
    """A check as an agent registration gives it (``AgentServiceCheck`` / ``CheckDefinition``)."""

    go_name: ClassVar[str] = "CheckType"
    check_id: str = ""
    id: str = ""
    name: str = ""
    service_id: str = ""
    token: str = ""
    status: str = ""
    notes: str = ""
    output: str = ""
    ttl: Duration = ""
    http: str = ""
    method: str = ""
    header: dict[str, list[str]] = Field(default_factory=dict)
    body: str = ""
    disable_redirects: bool = False
    tls_skip_verify: bool = False
    tls_server_name: str = ""
    tcp: str = ""
    udp: str = ""
    grpc: str = ""
    grpc_use_tls: bool = False
    h2ping: str = ""
    h2ping_use_tls: bool = False
    os_service: str = ""
    args: list[str] = Field(default_factory=list)
    script_args: list[str] = Field(default_factory=list)
    docker_container_id: str = ""
    shell: str = ""
    alias_node: str = ""
    alias_service: str = ""
    interval: Duration = ""
    timeout: Duration = ""
    deregister_critical_service_after: Duration = ""
    success_before_passing: int = 0
    failures_before_warning: int = 0
    failures_before_critical: int = 0
    output_max_size: int = 0

    def is_empty(self) -> bool:
        """Consul skips a service's ``Check`` that sets nothing at all (``CheckType.Empty``)."""
        return self == CheckType()

    def is_script(self) -> bool:
        return bool(self.args or self.script_args)

    def is_alias(self) -> bool:
        return bool(self.alias_node or self.alias_service)

    def check_type(self) -> str:
        """Consul's HealthCheck.Type, in the precedence of ``CheckType.Type()``."""
        interval = _positive(self.interval)
        if self.grpc and interval:
            return "grpc"
        if self.http and interval:
            return "http"
        if _positive(self.ttl):
            return "ttl"
        if self.tcp and interval:
            return "tcp"
        if self.udp and interval:
            return "udp"
        if self.is_alias():
            return "alias"
        if self.is_script() and self.docker_container_id and interval:
            return "docker"
        if self.is_script() and interval:
            return "script"
        if self.h2ping and interval:
            return "h2ping"
        if self.os_service and interval:
            return "os_service"
        return ""

    def problem(self) -> str | None:
        """``CheckType.Validate()``'s sentence, or None for a valid check."""
        interval_check = bool(
            self.is_script()
            or self.http
            or self.tcp
            or self.udp
            or self.grpc
            or self.h2ping
            or self.os_service
        )
        has_interval = _positive(self.interval)
        has_ttl = _positive(self.ttl)
        if has_interval and has_ttl:
            return "Interval and TTL cannot both be specified"
        if interval_check and not has_interval:
            return "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"
        if interval_check and self.is_alias():
            return "Interval cannot be set for Alias checks"
        if self.is_alias() and has_ttl:
            return "TTL must be not be set for Alias checks"
        if not interval_check and not self.is_alias() and not has_ttl:
            return "TTL must be > 0 for TTL checks"
        if self.output_max_size < 0:
            return "MaxOutputMaxSize must be positive"
        if self.failures_before_warning > self.failures_before_critical:
            return "FailuresBeforeWarning can't be higher than FailuresBeforeCritical"
        return None


class ServiceDefinition(ConsulModel):
    """The body of PUT /v1/agent/service/register."""

    go_name: ClassVar[str] = "ServiceDefinition"
    kind: str = ""
    id: str = ""
    name: str = ""
    tags: list[str] = Field(default_factory=list)
    address: str = ""
    tagged_addresses: dict[str, ServiceAddress] = Field(default_factory=dict)
    meta: dict[str, str] = Field(default_factory=dict)
    port: int = 0
    ports: list[ServicePort] = Field(default_factory=list)
    socket_path: str = ""
    weights: Weights | None = None
    token: str = ""
    enable_tag_override: bool = False
    locality: Locality | None = None
    proxy: dict[str, Any] | None = None
    connect: dict[str, Any] | None = None
    check: CheckType | None = None
    checks: list[CheckType] = Field(default_factory=list)

    def check_types(self) -> list[CheckType]:
        """``Check`` (unless it sets nothing) then ``Checks``, as ``CheckTypes()`` lists them."""
        out = [self.check] if self.check is not None and not self.check.is_empty() else []
        return out + list(self.checks)


class CheckUpdate(ConsulModel):
    """The body of PUT /v1/agent/check/update/:id."""

    go_name: ClassVar[str] = "checkUpdate"
    status: str = ""
    output: str = ""


# Fields ?filter may select on /v1/agent/services (api.AgentService minus its bexpr:"-" fields).
AGENT_SERVICE_FIELDS = (
    "Kind",
    "ID",
    "Service",
    "Tags",
    "Meta",
    "Port",
    "Address",
    "TaggedAddresses",
    "Weights",
    "EnableTagOverride",
    "Proxy",
    "Connect",
    "PeerName",
)
PROXY_KINDS = (
    "connect-proxy",
    "mesh-gateway",
    "terminating-gateway",
    "ingress-gateway",
    "api-gateway",
)


def render_agent_service(
    svc: NodeService, datacenter: str, content_hash: str = ""
) -> dict[str, Any]:
    """``api.AgentService`` in its struct order, built from a locally registered NodeService.

    Local state carries no Raft indexes, so CreateIndex/ModifyIndex (omitempty) never appear;
    ContentHash is only set by the single-service read.
    """
    out: dict[str, Any] = {}
    if svc.kind:
        out["Kind"] = svc.kind
    out["ID"] = svc.id
    out["Service"] = svc.service
    out["Tags"] = list(svc.tags)
    out["Meta"] = dict(svc.meta)
    out["Port"] = svc.port
    if svc.ports:  # api.AgentService.Ports, omitempty
        out["Ports"] = svc.ports_json()
    out["Address"] = svc.address
    if svc.socket_path:
        out["SocketPath"] = svc.socket_path
    if svc.tagged_addresses:
        out["TaggedAddresses"] = svc.tagged_addresses_json()
    out["Weights"] = svc.weights_json()
    out["EnableTagOverride"] = svc.enable_tag_override
    if content_hash:
        out["ContentHash"] = content_hash
    if svc.kind in PROXY_KINDS:  # buildAgentService: Proxy.ToAPI() for proxies and gateways
        out["Proxy"] = proxy_api_json(svc.proxy)
    if svc.connect.get("Native"):
        out["Connect"] = {"Native": True}
    if svc.peer_name:
        out["PeerName"] = svc.peer_name
    out["Datacenter"] = datacenter
    if svc.locality is not None:  # api.AgentService.Locality, omitempty
        out["Locality"] = svc.locality.render()
    return out


def hash_of(rendered: dict[str, Any]) -> str:
    """A stable hex digest standing in for hashstructure's uint64 (``%x``, no leading zeros)."""
    digest = hashlib.sha256(json.dumps(rendered, sort_keys=True).encode()).hexdigest()
    return format(int(digest[:16], 16), "x")
