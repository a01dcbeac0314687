"""The compiled discovery chain's parts and their JSON: ``agent/structs/discovery_chain.go``.

Go writes these structs with ``encoding/json``: ``omitempty`` fields drop out when zero, a
struct-valued field (``MeshGateway``, ``Subset``, ``TransparentProxy``) always shows, maps come
out with sorted keys, and the types with a ``MarshalJSON`` (target, resolver) write their
``ConnectTimeout`` first as a Go duration string, while a resolver's ``RequestTimeout`` has no
such method and shows as nanoseconds. The shapes are Consul 1.21's (``AutoVirtualIPs`` and
``ManualVirtualIPs`` on the chain).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consul_sim.config.discoverychain import (
    LoadBalancer,
    ServiceResolverSubset,
    ServiceRoute,
    ServiceSplit,
    go_float32,
)
from consul_sim.durations import go_duration

DEFAULT = "default"
ROUTER, SPLITTER, RESOLVER = "router", "splitter", "resolver"


@dataclass
class Target:
    """``structs.DiscoveryTarget``."""

    id: str
    service: str
    service_subset: str = ""
    namespace: str = DEFAULT
    partition: str = DEFAULT
    datacenter: str = ""
    peer: str = ""
    mesh_gateway_mode: str = ""
    subset: ServiceResolverSubset = field(default_factory=ServiceResolverSubset)
    dialed_directly: bool = False
    connect_timeout: int = 0
    external: bool = False
    sni: str = ""
    name: str = ""

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.connect_timeout:
            out["ConnectTimeout"] = go_duration(self.connect_timeout)
        for key, value in (
            ("ID", self.id),
            ("Service", self.service),
            ("ServiceSubset", self.service_subset),
            ("Namespace", self.namespace),
            ("Partition", self.partition),
            ("Datacenter", self.datacenter),
            ("Peer", self.peer),
        ):
            if value:
                out[key] = value
        out["MeshGateway"] = {"Mode": self.mesh_gateway_mode} if self.mesh_gateway_mode else {}
        out["Subset"] = self.subset.render()
        out["TransparentProxy"] = {"DialedDirectly": True} if self.dialed_directly else {}
        if self.external:
            out["External"] = True
        if self.sni:
            out["SNI"] = self.sni
        if self.name:
            out["Name"] = self.name
        return out


@dataclass
class Failover:
    targets: list[str]
    policy: dict[str, Any] | None = None


@dataclass
class Resolver:
    default: bool
    connect_timeout: int
    request_timeout: int
    target: str
    failover: Failover | None = None

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ConnectTimeout": go_duration(self.connect_timeout)}
        if self.default:
            out["Default"] = True
        if self.request_timeout:
            out["RequestTimeout"] = self.request_timeout  # no MarshalJSON: Go writes nanoseconds
        out["Target"] = self.target
        if self.failover is not None:
            failover: dict[str, Any] = {"Targets": list(self.failover.targets)}
            if self.failover.policy:
                failover["Policy"] = self.failover.policy
            out["Failover"] = failover
        return out


@dataclass
class Split:
    definition: ServiceSplit
    weight: float
    next_node: str = ""


@dataclass
class Route:
    definition: ServiceRoute
    next_node: str = ""


@dataclass
class Node:
    """``structs.DiscoveryGraphNode``; its key in ``Nodes`` is ``<type>:<name>``."""

    type: str
    name: str
    routes: list[Route] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    resolver: Resolver | None = None
    load_balancer: LoadBalancer | None = None

    @property
    def key(self) -> str:
        return f"{self.type}:{self.name}"

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Type": self.type, "Name": self.name}
        if self.routes:
            out["Routes"] = [
                {"Definition": r.definition.render(), "NextNode": r.next_node} for r in self.routes
            ]
        if self.splits:
            out["Splits"] = [
                {
                    "Definition": s.definition.render(),
                    "Weight": go_float32(s.weight),
                    "NextNode": s.next_node,
                }
                for s in self.splits
            ]
        if self.resolver is not None:
            out["Resolver"] = self.resolver.render()
        if self.load_balancer is not None:
            out["LoadBalancer"] = self.load_balancer.render()
        return out


@dataclass
class CompiledChain:
    """``structs.CompiledDiscoveryChain``."""

    service_name: str
    datacenter: str
    protocol: str
    start_node: str
    nodes: dict[str, Node]
    targets: dict[str, Target]
    default: bool = False
    customization_hash: str = ""
    service_meta: dict[str, str] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ServiceName": self.service_name,
            "Namespace": DEFAULT,
            "Partition": DEFAULT,
            "Datacenter": self.datacenter,
        }
        if self.customization_hash:
            out["CustomizationHash"] = self.customization_hash
        if self.default:
            out["Default"] = True
        out["Protocol"] = self.protocol
        if self.service_meta:
            out["ServiceMeta"] = dict(self.service_meta)
        out["StartNode"] = self.start_node
        out["Nodes"] = {k: self.nodes[k].render() for k in sorted(self.nodes)}
        out["Targets"] = {k: self.targets[k].render() for k in sorted(self.targets)}
        # No omitempty on these: without a virtual IP (the simulator assigns none) they are null.
        out["AutoVirtualIPs"] = None
        out["ManualVirtualIPs"] = None
        return out


def chain_id(service: str, subset: str, namespace: str, partition: str, dc: str, peer: str) -> str:
    """``chainID``: the SNI-like ID of a target."""
    if peer:
        return f"{service}.{namespace}.default.external.{peer}"
    if subset:
        return f"{subset}.{service}.{namespace}.{partition}.{dc}"
    return f"{service}.{namespace}.{partition}.{dc}"


def service_sni(service: str, subset: str, dc: str, trust_domain: str) -> str:
    """``connect.ServiceSNI`` in the default namespace and partition."""
    prefix = f"{subset}.{service}.default" if subset else f"{service}.default"
    return f"{prefix}.{dc}.internal.{trust_domain}"
