"""Agent-local definitions: what /v1/agent/service/register and /check/register accept."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from consul_sim.models.base import ConsulModel, Duration
from consul_sim.models.catalog import ServiceAddress, Weights


class CheckType(ConsulModel):
    """A check as an agent registration gives it (``AgentServiceCheck`` / ``CheckDefinition``)."""

    go_name: ClassVar[str] = "CheckType"
    check_id: str = ""
    id: str = ""
    name: str = ""
    service_id: str = ""
    status: str = ""
    notes: str = ""
    output: str = ""
    ttl: Duration = ""
    http: str = ""
    method: str = ""
    header: dict[str, list[str]] = Field(default_factory=dict)
    body: str = ""
    tls_skip_verify: bool = False
    tls_server_name: str = ""
    tcp: str = ""
    udp: str = ""
    grpc: str = ""
    grpc_use_tls: bool = False
    h2ping: str = ""
    args: list[str] = Field(default_factory=list)
    script_args: list[str] = Field(default_factory=list)
    docker_container_id: str = ""
    alias_node: str = ""
    alias_service: str = ""
    interval: Duration = ""
    timeout: Duration = ""
    deregister_critical_service_after: Duration = ""

    def check_type(self) -> str:
        """Consul's HealthCheck.Type for this definition ("" when it names no mechanism)."""
        if self.ttl:
            return "ttl"
        if self.http:
            return "http"
        if self.tcp:
            return "tcp"
        if self.udp:
            return "udp"
        if self.grpc:
            return "grpc"
        if self.h2ping:
            return "h2ping"
        if self.alias_node or self.alias_service:
            return "alias"
        if self.docker_container_id:
            return "docker"
        if self.args or self.script_args:
            return "script"
        return ""


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
    socket_path: str = ""
    weights: Weights | None = None
    enable_tag_override: bool = False
    proxy: dict[str, Any] | None = None
    connect: dict[str, Any] | None = None
    check: CheckType | None = None
    checks: list[CheckType] = Field(default_factory=list)


class CheckUpdate(ConsulModel):
    """The body of PUT /v1/agent/check/update/:id."""

    go_name: ClassVar[str] = "checkUpdate"
    status: str = ""
    output: str = ""
