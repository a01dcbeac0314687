"""Catalog objects: Node, NodeService, HealthCheck, and the shapes the HTTP API renders from them.

Stored objects are treated as immutable (a write stores a new copy), so each one can cache its
rendered JSON; the same instance is rendered many times by health and catalog reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, ClassVar, Self

from pydantic import Field

from consul_sim.gostd import quote
from consul_sim.jsonenc import encode_json
from consul_sim.models.base import ConsulModel, Duration, Uint64
from consul_sim.models.proxy import Locality, proxy_structs_json

PASSING = "passing"
WARNING = "warning"
CRITICAL = "critical"
MAINTENANCE = "maintenance"
CHECK_STATUSES = (PASSING, WARNING, CRITICAL)

DEFAULT_WEIGHTS = {"Passing": 1, "Warning": 1}
TYPICAL_PROXY: dict[str, Any] = {"Mode": "", "MeshGateway": {}, "Expose": {}}

SERF_CHECK_ID = "serfHealth"
SERF_CHECK_NAME = "Serf Health Status"
SERF_ALIVE_OUTPUT = "Agent alive and reachable"


class RenderCached(ConsulModel):
    """A stored object that caches its JSON, as a dict and as encoded bytes.

    Stored objects are never changed in place (a write stores a new copy), so the cache is valid
    for the object's life. It lives in the instance ``__dict__`` through ``cached_property``,
    which costs a dict lookup; a pydantic private attribute costs ~100 times that on every read.
    ``model_copy`` copies ``__dict__``, so a copy (the way a write derives the next version)
    must drop the cache.
    """

    def build(self) -> dict[str, Any]:
        raise NotImplementedError

    @cached_property
    def rendered(self) -> dict[str, Any]:
        return self.build()

    @cached_property
    def json_bytes(self) -> bytes:
        return encode_json(self.rendered)

    def render(self) -> dict[str, Any]:
        return self.rendered

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("rendered", None)
        copy.__dict__.pop("json_bytes", None)
        return copy


class Weights(ConsulModel):
    passing: int = 1
    warning: int = 1


class ServiceAddress(ConsulModel):
    address: str = ""
    port: int = 0


class ServicePort(ConsulModel):
    """One named port of a multi-port service (``ServicePort``, api/agent.go)."""

    go_name: ClassVar[str] = "ServicePort"
    name: str = ""
    port: int = 0
    default: bool = False

    def render(self) -> dict[str, Any]:
        return {"Name": self.name, "Port": self.port, "Default": self.default}


def service_ports_problem(ports: list[ServicePort]) -> str | None:
    """``ServicePorts.Validate`` (api/agent.go): names present and unique, ports non-zero, exactly
    one default. An empty list is valid (the service uses ``Port``)."""
    if not ports:
        return None
    seen: set[str] = set()
    has_default = False
    for p in ports:
        if not p.name.strip():
            return "Ports.Name cannot be empty"
        if p.port <= 0:
            return "Ports.Port must be non-zero"
        if p.name in seen:
            return f"Ports.Name {quote(p.name)} has to be unique"
        seen.add(p.name)
        if p.default and has_default:
            return "only one port can be marked as default"
        has_default = has_default or p.default
    if not has_default:
        return "one of the Ports must be marked as Default"
    return None


class Node(RenderCached):
    go_name: ClassVar[str] = "Node"
    id: str = ""
    node: str = ""
    address: str = ""
    datacenter: str = ""
    partition: str = ""
    peer_name: str = ""
    tagged_addresses: dict[str, str] = Field(default_factory=dict)
    meta: dict[str, str] = Field(default_factory=dict)
    create_index: Uint64 = 0
    modify_index: Uint64 = 0

    def build(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ID": self.id,
            "Node": self.node,
            "Address": self.address,
            "Datacenter": self.datacenter,
        }
        if self.partition:
            out["Partition"] = self.partition
        if self.peer_name:
            out["PeerName"] = self.peer_name
        out["TaggedAddresses"] = dict(self.tagged_addresses)
        out["Meta"] = dict(self.meta)
        out["CreateIndex"] = self.create_index
        out["ModifyIndex"] = self.modify_index
        return out


class NodeService(RenderCached):
    go_name: ClassVar[str] = "NodeService"
    kind: str = ""
    id: str = ""
    service: str = ""
    tags: list[str] = Field(default_factory=list)
    address: str = ""
    tagged_addresses: dict[str, ServiceAddress] = Field(default_factory=dict)
    meta: dict[str, str] = Field(default_factory=dict)
    port: int = 0
    ports: list[ServicePort] = Field(default_factory=list)
    socket_path: str = ""
    weights: Weights | None = None
    enable_tag_override: bool = False
    locality: Locality | None = None
    proxy: dict[str, Any] = Field(default_factory=dict)
    connect: dict[str, Any] = Field(default_factory=dict)
    peer_name: str = ""
    create_index: Uint64 = 0
    modify_index: Uint64 = 0

    def weights_json(self) -> dict[str, int]:
        """Consul stores a service as a ``ServiceNode`` (``NodeService.ToServiceNode``,
        ``agent/structs/structs.go``), which keeps the weights only when ``ValidateWeights``
        passes (Passing at least 1, Warning not negative) and otherwise 1/1: the Go client
        sends Weights 0/0 whenever the caller sets none (catalog register, txn)."""
        w = self.weights
        if w is None or w.passing < 1 or w.warning < 0:
            return dict(DEFAULT_WEIGHTS)
        return {"Passing": w.passing, "Warning": w.warning}

    def proxy_json(self) -> dict[str, Any]:
        """``structs.ConnectProxyConfig``'s JSON (agent/structs/connect_proxy_config.go)."""
        if not self.proxy:
            return dict(TYPICAL_PROXY)
        return proxy_structs_json(self.proxy)

    def default_port(self) -> int:
        """``Port``, or for a multi-port service its Default port: the catalog endpoint fills
        ServicePort that way for older readers (``DefaultPort``, api/agent.go; hashicorp/consul
        issue 23815 quotes the catalog's backfill)."""
        if self.port == 0:
            for p in self.ports:
                if p.default:
                    return p.port
        return self.port

    def ports_json(self) -> list[dict[str, Any]]:
        return [p.render() for p in self.ports]

    def locality_json(self) -> dict[str, str] | None:
        return self.locality.render() if self.locality is not None else None

    def tagged_addresses_json(self) -> dict[str, Any]:
        return {k: {"Address": v.address, "Port": v.port} for k, v in self.tagged_addresses.items()}

    def build(self) -> dict[str, Any]:
        """The NodeService shape of /v1/health/service and /v1/catalog/node."""
        out: dict[str, Any] = {}
        if self.kind:
            out["Kind"] = self.kind
        out["ID"] = self.id
        out["Service"] = self.service
        out["Tags"] = list(self.tags)
        out["Address"] = self.address
        if self.tagged_addresses:
            out["TaggedAddresses"] = self.tagged_addresses_json()
        out["Meta"] = dict(self.meta)
        if self.port:
            out["Port"] = self.port
        if self.ports:  # NodeService.Ports is omitempty
            out["Ports"] = self.ports_json()
        if self.socket_path:
            out["SocketPath"] = self.socket_path
        out["Weights"] = self.weights_json()
        out["EnableTagOverride"] = self.enable_tag_override
        if self.locality is not None:  # NodeService.Locality is omitempty (structs.go)
            out["Locality"] = self.locality_json()
        out["Proxy"] = self.proxy_json()
        out["Connect"] = dict(self.connect)
        out["PeerName"] = self.peer_name
        out["CreateIndex"] = self.create_index
        out["ModifyIndex"] = self.modify_index
        return out

    def render_service_node(self, node: Node) -> dict[str, Any]:
        """The ServiceNode shape of /v1/catalog/service/:name."""
        out: dict[str, Any] = {
            "ID": node.id,
            "Node": node.node,
            "Address": node.address,
            "Datacenter": node.datacenter,
            "TaggedAddresses": dict(node.tagged_addresses),
            "NodeMeta": dict(node.meta),
            "ServiceKind": self.kind,
            "ServiceID": self.id,
            "ServiceName": self.service,
            "ServiceTags": list(self.tags),
            "ServiceAddress": self.address,
        }
        if self.tagged_addresses:
            out["ServiceTaggedAddresses"] = self.tagged_addresses_json()
        out.update(
            {
                "ServiceWeights": self.weights_json(),
                "ServiceMeta": dict(self.meta),
                "ServicePort": self.default_port(),
            }
        )
        if self.ports:  # assumed omitempty like NodeService.Ports
            out["ServicePorts"] = self.ports_json()
        out.update(
            {
                "ServiceSocketPath": self.socket_path,
                "ServiceEnableTagOverride": self.enable_tag_override,
                "ServiceProxy": self.proxy_json(),
                "ServiceConnect": dict(self.connect),
                # ServiceNode.ServiceLocality has no omitempty: null when unset (structs.go)
                "ServiceLocality": self.locality_json(),
            }
        )
        if self.peer_name:
            out["PeerName"] = self.peer_name
        out["CreateIndex"] = self.create_index
        out["ModifyIndex"] = self.modify_index
        return out


class CheckDefinitionView(ConsulModel):
    """The ``Definition`` object on a HealthCheck: only what the check's type uses."""

    http: str = ""
    tcp: str = ""
    udp: str = ""
    grpc: str = ""
    interval: Duration = ""
    timeout: Duration = ""
    deregister_critical_service_after: Duration = ""


class HealthCheck(RenderCached):
    go_name: ClassVar[str] = "HealthCheck"
    node: str = ""
    check_id: str = ""
    name: str = ""
    status: str = ""
    notes: str = ""
    output: str = ""
    service_id: str = ""
    service_name: str = ""
    service_tags: list[str] = Field(default_factory=list)
    type: str = ""
    interval: str = ""
    timeout: str = ""
    exposed_port: int = 0
    peer_name: str = ""
    definition: CheckDefinitionView | None = None
    create_index: Uint64 = 0
    modify_index: Uint64 = 0

    def build(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Node": self.node,
            "CheckID": self.check_id,
            "Name": self.name,
            "Status": self.status,
            "Notes": self.notes,
            "Output": self.output,
            "ServiceID": self.service_id,
            "ServiceName": self.service_name,
            "ServiceTags": list(self.service_tags),
            "Type": self.type,
            "Interval": self.interval,
            "Timeout": self.timeout,
            "ExposedPort": self.exposed_port,
        }
        if self.peer_name:
            out["PeerName"] = self.peer_name
        definition: dict[str, Any] = {}
        if self.definition is not None:
            definition = {
                k: v
                for k, v in self.definition.model_dump(by_alias=True).items()
                if v not in ("", None)
            }
        out["Definition"] = definition
        out["CreateIndex"] = self.create_index
        out["ModifyIndex"] = self.modify_index
        return out


class RegisterRequest(ConsulModel):
    """The body of PUT /v1/catalog/register."""

    go_name: ClassVar[str] = "RegisterRequest"
    datacenter: str = ""
    id: str = ""
    node: str = ""
    address: str = ""
    tagged_addresses: dict[str, str] = Field(default_factory=dict)
    node_meta: dict[str, str] = Field(default_factory=dict)
    service: NodeService | None = None
    check: HealthCheck | None = None
    checks: list[HealthCheck] = Field(default_factory=list)
    skip_node_update: bool = False


class DeregisterRequest(ConsulModel):
    go_name: ClassVar[str] = "DeregisterRequest"
    datacenter: str = ""
    node: str = ""
    service_id: str = ""
    check_id: str = ""
