"""Connect registrations: the mesh rules of ``NodeService.Validate`` and sidecar expansion.

``node_service_problems`` is ``NodeService.Validate`` / ``ValidateForAgent``
(agent/structs/structs.go) in its order: connect-proxy rules (destination, native, upstreams,
expose paths), gateway rules, the nested ``SidecarService`` rules, native needs a port. Every
problem is collected, because Consul reports them as one go-multierror.

``sidecar_service`` is ``sidecarServiceFromNodeService`` (agent/sidecar_service.go): a nested
``Connect.SidecarService`` becomes ``<id>-sidecar-proxy`` named ``<name>-sidecar-proxy``, Kind
``connect-proxy``, inheriting address, tags and meta (only when it sets none of its own), its
``Proxy`` pointed at the parent. The port is picked when the sidecar is added (``sidecar_port``,
the agent's ``sidecarPortFromServiceIDLocked``): the lowest free port of
``ConnectSidecarMinPort..MaxPort`` (21000..21255 by default), reusing the port it already holds.
Without checks of its own it gets ``sidecarDefaultChecks``: a TCP check on its listener every
10s and an alias of the parent.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from consul_sim.gostd import quote
from consul_sim.meta import validate_meta
from consul_sim.models.agent import CheckType, ServiceDefinition
from consul_sim.models.catalog import NodeService
from consul_sim.models.proxy import proxy_fields

CONNECT_PROXY = "connect-proxy"
MESH_GATEWAY = "mesh-gateway"
TERMINATING_GATEWAY = "terminating-gateway"
INGRESS_GATEWAY = "ingress-gateway"
API_GATEWAY = "api-gateway"
GATEWAY_KINDS = (MESH_GATEWAY, TERMINATING_GATEWAY, INGRESS_GATEWAY, API_GATEWAY)
SIDECAR_SUFFIX = "-sidecar-proxy"
SIDECAR_MIN_PORT = 21000
SIDECAR_MAX_PORT = 21255
SIDECAR_CHECK_INTERVAL = "10s"
WILDCARD = "*"
_EXPOSE_PROTOCOLS = ("http", "http2")


def sidecar_raw(connect: dict[str, Any] | None) -> dict[str, Any] | None:
    """The nested ``SidecarService`` object (or its snake_case alias); None when absent/null."""
    if not connect:
        return None
    for key in ("SidecarService", "sidecar_service"):
        value = connect.get(key)
        if isinstance(value, dict):
            return value
    return None


def without_sidecar(connect: dict[str, Any] | None) -> dict[str, Any]:
    """``Connect`` as stored: the handler drops ``SidecarService`` once it has been expanded."""
    return {
        k: v
        for k, v in (connect or {}).items()
        if k.lower() not in ("sidecarservice", "sidecar_service")
    }


def agent_proxy(raw: dict[str, Any] | None) -> dict[str, Any]:
    """A registration's Proxy with CamelCase keys and each upstream's ``DestinationType``
    defaulted to ``service``, as ``ServiceDefinition.NodeService`` does for agent registrations."""
    if not raw:
        return {}
    fields = proxy_fields(raw)
    ups = fields.get("Upstreams")
    if isinstance(ups, list):
        fields["Upstreams"] = [
            {**u, "DestinationType": u.get("DestinationType") or "service"}
            if isinstance(u, dict)
            else u
            for u in ups
        ]
    return fields


def node_service_problems(
    svc: NodeService, sidecar: dict[str, Any] | None = None, *, for_agent: bool = False
) -> list[str]:
    """``Validate()`` (``for_agent=False``) or ``ValidateForAgent()``, as a list of problems."""
    problems: list[str] = []
    kind = svc.kind
    proxy = proxy_fields(svc.proxy)
    if not for_agent and kind == CONNECT_PROXY and svc.port == 0 and not svc.socket_path:
        problems.append(f"Port or SocketPath must be set for a {kind}")
    if kind == CONNECT_PROXY:
        problems.extend(_proxy_problems(svc, proxy))
    if kind in GATEWAY_KINDS:
        if svc.port == 0 and kind not in (INGRESS_GATEWAY, API_GATEWAY):
            problems.append(f"Port must be non-zero for a {kind}")
        if sidecar is not None:
            problems.append(f"A {kind} cannot have a sidecar service defined")
        for key in (
            "DestinationServiceName",
            "DestinationServiceID",
            "LocalServiceAddress",
            "LocalServicePort",
            "LocalServiceSocketPath",
            "Upstreams",
        ):
            if proxy.get(key):
                problems.append(f"The Proxy.{key} configuration is invalid for a {kind}")
    if sidecar is not None:
        if _get(sidecar, "ID", "id"):
            problems.append("A SidecarService cannot specify an ID as this is managed by the agent")
        nested = _get(sidecar, "Connect", "connect")
        if isinstance(nested, dict) and sidecar_raw(nested) is not None:
            problems.append("A SidecarService cannot have a nested SidecarService")
    if svc.connect.get("Native") and svc.port == 0 and not svc.socket_path:
        problems.append("Port or SocketPath must be set for a Connect native service.")
    return problems


def _get(raw: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if raw.get(key) not in (None, ""):
            return raw[key]
    return None


def _proxy_problems(svc: NodeService, proxy: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    destination = str(proxy.get("DestinationServiceName") or "")
    if not destination.strip():
        problems.append("Proxy.DestinationServiceName must be non-empty for Connect proxy services")
    if destination == WILDCARD:
        problems.append(
            "Proxy.DestinationServiceName must not be a wildcard for Connect proxy services"
        )
    if svc.connect.get("Native"):
        problems.append("A Proxy cannot also be Connect Native, only typical services")
    keys: set[tuple[str, ...]] = set()
    binds: set[str] = set()
    for up in proxy.get("Upstreams") or []:
        if not isinstance(up, dict):
            continue
        problem = _upstream_problem(up)
        if problem:
            problems.append(problem)
            continue
        key = tuple(
            str(up.get(k) or "")
            for k in (
                "DestinationType",
                "DestinationName",
                "DestinationPartition",
                "DestinationNamespace",
                "DestinationPeer",
                "Datacenter",
            )
        )
        if key in keys:
            problems.append(
                "upstreams cannot contain duplicates of "
                f"[type={quote(key[0])}, name={quote(key[1])}, partition={quote(key[2])}, "
                f"namespace={quote(key[3])}, peer={quote(key[4])}, datacenter={quote(key[5])}]"
            )
            continue
        keys.add(key)
        addr = _bind_address(up)
        if addr in binds and not up.get("CentrallyConfigured"):
            problems.append(
                "upstreams cannot contain duplicates by local bind address and port or unix "
                f"path; {quote(addr)} is specified twice"
            )
            continue
        binds.add(addr)
    problems.extend(_expose_problems(proxy.get("Expose")))
    return problems


def _upstream_problem(up: dict[str, Any]) -> str | None:
    """The partition rules of ``ValidateForAgent`` (CE: every partition is ``default``), then
    ``Upstream.Validate`` (agent/structs/connect_proxy_config.go)."""
    peer = str(up.get("DestinationPeer") or "")
    partition = str(up.get("DestinationPartition") or "") or "default"
    if peer and partition != "default":
        return "upstreams must target peers in the same partition as the service"
    if not peer and up.get("Datacenter") and partition != "default":
        return "upstreams cannot target another datacenter in non default partition"
    dest_type = up.get("DestinationType") or ""
    if dest_type not in ("", "service", "prepared_query"):
        return f"unknown upstream destination type: {quote(str(dest_type))}"
    name = up.get("DestinationName") or ""
    central = bool(up.get("CentrallyConfigured"))
    if not name:
        return "upstream destination name cannot be empty"
    if name == WILDCARD and not central:
        return "upstream destination name cannot be a wildcard"
    if peer and up.get("Datacenter"):
        return "upstream cannot specify both destination peer and datacenter"
    port = up.get("LocalBindPort") or 0
    socket = up.get("LocalBindSocketPath") or ""
    if not port and not socket and not central:
        return "upstream local bind port or local socket path must be defined and nonzero"
    if port and socket and not central:
        return (
            "only one of upstream local bind port or local socket path can be defined and nonzero"
        )
    return None


def _bind_address(up: dict[str, Any]) -> str:
    """``Upstream.UpstreamAddressToString``: the socket path, or ``host:port``."""
    port = up.get("LocalBindPort") or 0
    address = up.get("LocalBindAddress") or ""
    socket = up.get("LocalBindSocketPath") or ""
    if not port and not address and socket:
        return str(socket)
    return join_host_port(str(address or "127.0.0.1"), int(port))


def join_host_port(host: str, port: int) -> str:
    """Go's ``net.JoinHostPort``: brackets around a host that contains a colon."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _expose_problems(expose: Any) -> list[str]:
    problems: list[str] = []
    paths = expose.get("Paths") if isinstance(expose, dict) else None
    seen: set[int] = set()
    for path in paths or []:
        if not isinstance(path, dict):
            continue
        if not path.get("Path"):
            problems.append("expose.paths: empty path exposed")
        port = int(path.get("ListenerPort") or 0)
        if port in seen:
            problems.append("expose.paths: duplicate listener ports exposed")
        seen.add(port)
        if port <= 0 or port > 65535:
            problems.append(f"expose.paths: invalid listener port: {port}")
        protocol = str(path.get("Protocol") or "").lower()
        if protocol and protocol not in _EXPOSE_PROTOCOLS:
            problems.append(
                f"protocol '{protocol}' not supported for path: {path.get('Path', '')}, "
                "must be in: [http http2]"
            )
    return problems


# -- sidecars ------------------------------------------------------------------------------------
class SidecarError(ValueError):
    """``sidecarServiceFromNodeService`` refused; the handler adds ``Invalid SidecarService:``."""


def sidecar_service(parent: NodeService, sd: ServiceDefinition) -> NodeService:
    """The sidecar NodeService for ``parent`` from its nested definition ``sd`` (port unset
    unless ``sd`` gives one; tagged addresses are defaulted when the port is known)."""
    if sd.meta:
        problem = validate_meta(sd.meta)
        if problem:
            raise SidecarError(problem)
    proxy = agent_proxy(sd.proxy)
    if not proxy.get("DestinationServiceName"):
        proxy["DestinationServiceName"] = parent.service
    if not proxy.get("DestinationServiceID"):
        proxy["DestinationServiceID"] = parent.id
    if not proxy.get("LocalServiceSocketPath") and (
        not proxy.get("LocalServiceAddress") or int(proxy.get("LocalServicePort") or 0) < 1
    ):
        if parent.socket_path:
            proxy["LocalServiceSocketPath"] = parent.socket_path
        else:
            if not proxy.get("LocalServiceAddress"):
                proxy["LocalServiceAddress"] = "127.0.0.1"
            if int(proxy.get("LocalServicePort") or 0) < 1:
                proxy["LocalServicePort"] = parent.port
    return NodeService(
        kind=sd.kind or CONNECT_PROXY,
        id=parent.id + SIDECAR_SUFFIX,
        service=sd.name or parent.service + SIDECAR_SUFFIX,
        tags=list(sd.tags) if sd.tags else list(parent.tags),
        address=sd.address or parent.address,
        tagged_addresses=dict(sd.tagged_addresses),
        meta=dict(sd.meta) if sd.meta else dict(parent.meta),
        port=sd.port,
        socket_path=sd.socket_path,
        weights=sd.weights,
        enable_tag_override=sd.enable_tag_override,
        locality=sd.locality,
        proxy=proxy,
        connect=without_sidecar(sd.connect),
    )


def sidecar_port(sidecar_id: str, ports: Iterable[tuple[str, int]]) -> int | None:
    """The port the agent gives a sidecar without one: the one it already holds in the range,
    else the lowest free one; None when the range is full."""
    used: set[int] = set()
    for service_id, port in ports:
        if SIDECAR_MIN_PORT <= port <= SIDECAR_MAX_PORT:
            if service_id == sidecar_id:
                return port
            used.add(port)
    for port in range(SIDECAR_MIN_PORT, SIDECAR_MAX_PORT + 1):
        if port not in used:
            return port
    return None


NO_SIDECAR_PORT = (
    "no port provided for sidecar_service and none left in the configured range "
    f"[{SIDECAR_MIN_PORT}, {SIDECAR_MAX_PORT}]"
)


def sidecar_default_checks(sidecar: NodeService) -> list[CheckType]:
    """``sidecarDefaultChecks``: TCP to the sidecar's address (else the local service's) and an
    alias of the parent service."""
    address = sidecar.address or str(sidecar.proxy.get("LocalServiceAddress") or "")
    parent_id = sidecar.id.removesuffix(SIDECAR_SUFFIX)
    return [
        CheckType(
            name="Connect Sidecar Listening",
            tcp=_format_address_port(address, sidecar.port),
            interval=SIDECAR_CHECK_INTERVAL,
        ),
        CheckType(name=f"Connect Sidecar Aliasing {parent_id}", alias_service=parent_id),
    ]


def _format_address_port(address: str, port: int) -> str:
    """``ipaddr.FormatAddressPort``: an IPv6 literal is bracketed."""
    try:
        is_v6 = isinstance(ipaddress.ip_address(address), ipaddress.IPv6Address)
    except ValueError:
        is_v6 = False
    return f"[{address}]:{port}" if is_v6 else f"{address}:{port}"
