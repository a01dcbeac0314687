"""/v1/catalog: register, deregister and the catalog reads."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.acl import Authorizer
from consul_sim.api.http import (
    ConsulRouter,
    QueryOptions,
    apply_filter,
    authorizer,
    blocking,
    check_dc,
    cluster_of,
    denied_connect_response,
    flag,
    json_response,
    query_options,
    read_authorizer,
    read_json,
    results_filter,
)
from consul_sim.catalog import queries
from consul_sim.catalog.register import deregister as catalog_deregister
from consul_sim.catalog.register import register as catalog_register
from consul_sim.errors import NO_PATH_TO_DATACENTER, BadRequest, ConsulError, PermissionDenied
from consul_sim.models.base import DecodeError, decode_body
from consul_sim.models.catalog import (
    DeregisterRequest,
    HealthCheck,
    Node,
    NodeService,
    RegisterRequest,
)
from consul_sim.store.catalog import NodeRow

router = ConsulRouter()

NODE_FIELDS = ("ID", "Node", "Address", "Datacenter", "TaggedAddresses", "Meta", "PeerName")
SERVICE_NODE_FIELDS = (
    "ID",
    "Node",
    "Address",
    "Datacenter",
    "TaggedAddresses",
    "NodeMeta",
    "ServiceKind",
    "ServiceID",
    "ServiceName",
    "ServiceTags",
    "ServiceAddress",
    "ServiceTaggedAddresses",
    "ServiceWeights",
    "ServiceMeta",
    "ServicePort",
    "ServiceSocketPath",
    "ServiceEnableTagOverride",
    "ServiceProxy",
    "ServiceConnect",
    "PeerName",
)
NODE_SERVICE_FIELDS = (
    "Kind",
    "ID",
    "Service",
    "Tags",
    "Address",
    "TaggedAddresses",
    "Meta",
    "Port",
    "SocketPath",
    "Weights",
    "EnableTagOverride",
    "Proxy",
    "Connect",
    "PeerName",
)


def _decode_error(exc: DecodeError) -> BadRequest:
    return BadRequest(f"Request decode failed: {exc}")


def _datacenter(request: Request, body_dc: str) -> str:
    cluster = cluster_of(request)
    check_dc(request, cluster)
    dc = body_dc or cluster.datacenter
    if dc != cluster.datacenter:
        raise ConsulError(NO_PATH_TO_DATACENTER, 500)
    return dc


def _node_meta_ok(node: Node, wanted: dict[str, str]) -> bool:
    return all(node.meta.get(k) == v for k, v in wanted.items())


# -- ACLs ---------------------------------------------------------------------------------------
PERMISSION_DENIED = "Permission denied"
"""``acl.ErrPermissionDenied``: what Consul says when overwriting someone else's service."""


def can_read_node(authz: Authorizer, node: str) -> bool:
    return authz.allowed("node", "read", node)


def can_read_service(authz: Authorizer, service: str) -> bool:
    """An empty name (a node-level check) needs no service permission, as in aclfilter."""
    return not service or authz.allowed("service", "read", service)


def can_read_check(authz: Authorizer, check: HealthCheck) -> bool:
    return can_read_node(authz, check.node) and can_read_service(authz, check.service_name)


def can_read_instance(authz: Authorizer, node: Node, svc: NodeService) -> bool:
    return can_read_node(authz, node.node) and can_read_service(authz, svc.service)


def _pre_apply_ok(req: RegisterRequest) -> bool:
    """Whether the request passes the checks Consul makes before its permission checks; when it
    does not, the register domain raises Consul's error, so the token is never asked."""
    if not req.node or (not req.address and not req.skip_node_update):
        return False
    if req.id:
        try:
            uuid.UUID(req.id)
        except ValueError:
            return False
    svc = req.service
    if svc is not None:
        if (svc.id or svc.service) and not svc.service:
            return False
        if svc.address in ("0.0.0.0", "::", "[::]"):
            return False
    return True


def _changes_node(req: RegisterRequest, dc: str, node: Node) -> bool:
    """``RegisterRequest.ChangesNode``: re-posting the same node needs no node:write."""
    if req.skip_node_update:
        return False
    return (
        req.id != node.id
        or req.node.lower() != node.node.lower()
        or req.address != node.address
        or dc != node.datacenter
        or req.tagged_addresses != node.tagged_addresses
        or req.node_meta != node.meta
    )


def vet_register(authz: Authorizer, req: RegisterRequest, dc: str, row: NodeRow | None) -> None:
    """Consul's ``servicePreApply`` + ``vetRegisterWithACL``: write on the service (and a
    proxy's destination), node:write when the node changes, write on a service being
    overwritten, node:write for node checks and service:write for other services' checks."""
    svc = req.service
    if svc is not None:
        authz.require("service", "write", svc.service)
        if svc.kind == "connect-proxy":
            destination = svc.proxy.get("DestinationServiceName")
            authz.require("service", "write", destination if isinstance(destination, str) else "")
    if row is None or _changes_node(req, dc, row.node):
        authz.require("node", "write", req.node)
    service_id = (svc.id or svc.service) if svc is not None else ""
    if svc is not None:
        authz.require("service", "write", svc.service)
        other = row.services.get(service_id) if row is not None else None
        if other is not None and not authz.allowed("service", "write", other.service):
            raise PermissionDenied(PERMISSION_DENIED)
    checks = ([req.check] if req.check is not None else []) + list(req.checks)
    for check in checks:
        node = check.node or req.node
        check_id = check.check_id or check.name
        if node.lower() != req.node.lower():
            raise ConsulError(
                f"Node '{node}' for check '{check_id}' doesn't match register request node "
                f"'{req.node}'",
                500,
            )
        if not check.service_id:
            authz.require("node", "write", req.node)
            continue
        if svc is not None and service_id == check.service_id:
            continue
        owner = row.services.get(check.service_id) if row is not None else None
        if owner is None:
            raise ConsulError(
                f"Unknown service ID '{check.service_id}' for check ID '{check_id}'", 500
            )
        authz.require("service", "write", owner.service)


def vet_deregister(authz: Authorizer, req: DeregisterRequest, row: NodeRow | None) -> None:
    """Consul's ``vetDeregisterWithACL``: node:write allows anything on the node; otherwise
    write on the service (or on the check's service) being removed."""
    if authz.allowed("node", "write", req.node):
        return
    if req.service_id:
        svc = row.services.get(req.service_id) if row is not None else None
        if svc is None:
            raise ConsulError(f"Unknown service ID '{req.service_id}'", 500)
        authz.require("service", "write", svc.service)
    elif req.check_id:
        check = row.checks.get(req.check_id) if row is not None else None
        if check is None:
            raise ConsulError(f"Unknown check ID '{req.check_id}'", 500)
        if check.service_id:
            authz.require("service", "write", check.service_name)
        else:
            authz.require("node", "write", req.node)
    else:
        authz.require("node", "write", req.node)


@router.endpoint("/v1/catalog/register", "PUT")
async def register(request: Request) -> Response:
    data = await read_json(request)
    try:
        req = decode_body(RegisterRequest, data)
    except DecodeError as exc:
        raise _decode_error(exc) from None
    dc = _datacenter(request, req.datacenter)
    cluster = cluster_of(request)
    if cluster.acl.enabled:
        authz = authorizer(request, cluster)
        if _pre_apply_ok(req):
            with cluster.store.lock:
                vet_register(authz, req, dc, cluster.store.catalog.row("", req.node))
    catalog_register(cluster.store, dc, req)
    return json_response(True)


@router.endpoint("/v1/catalog/deregister", "PUT")
async def deregister(request: Request) -> Response:
    data = await read_json(request)
    try:
        req = decode_body(DeregisterRequest, data)
    except DecodeError as exc:
        raise _decode_error(exc) from None
    _datacenter(request, req.datacenter)
    cluster = cluster_of(request)
    if cluster.acl.enabled and req.node:  # "Must provide node" comes before the token
        authz = authorizer(request, cluster)
        with cluster.store.lock:
            vet_deregister(authz, req, cluster.store.catalog.row("", req.node))
    catalog_deregister(cluster.store, req)
    return json_response(True)


@router.endpoint("/v1/catalog/datacenters", "GET")
async def datacenters(request: Request) -> Response:
    cluster = cluster_of(request)
    return json_response([cluster.datacenter], pretty=flag(request, "pretty"))


@router.endpoint("/v1/catalog/nodes", "GET")
async def nodes(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    acl = results_filter(request, read_authorizer(request, cluster))

    def read() -> tuple[int, list[Node]]:
        index, found = queries.nodes(cluster.store)
        found = [n for n in found if _node_meta_ok(n, opts.node_meta)]
        found = apply_filter(opts.filter, found, Node.render, NODE_FIELDS)
        # after ?filter, as Consul does, so the header is honest
        return index, acl.keep(found, lambda authz, n: can_read_node(authz, n.node))

    index, found = await blocking(request, cluster, opts, read)
    return json_response(
        [n.render() for n in found],
        pretty=opts.pretty,
        index=index,
        consistency=opts.consistency,
        headers=acl.headers(),
    )


@router.endpoint("/v1/catalog/services", "GET")
async def services(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    acl = results_filter(request, read_authorizer(request, cluster))

    def read() -> tuple[int, dict[str, list[str]]]:
        index, found = _services(cluster, opts)
        return index, {name: found[name] for name in acl.keep(found, can_read_service)}

    index, found = await blocking(request, cluster, opts, read)
    return json_response(
        found,
        pretty=opts.pretty,
        index=index,
        consistency=opts.consistency,
        headers=acl.headers(),
    )


def _services(cluster: Any, opts: QueryOptions) -> tuple[int, dict[str, list[str]]]:
    """The name → tags map, narrowed by ?node-meta and ?filter over each instance."""
    if not opts.filter and not opts.node_meta:
        return queries.services(cluster.store)
    index, names = queries.services(cluster.store)
    out: dict[str, list[str]] = {}
    for name in names:
        _, pairs = queries.service_nodes(cluster.store, name)
        pairs = [p for p in pairs if _node_meta_ok(p[0], opts.node_meta)]
        kept = apply_filter(
            opts.filter, pairs, lambda p: p[1].render_service_node(p[0]), SERVICE_NODE_FIELDS
        )
        if kept:
            tags: list[str] = []
            for _, svc in kept:
                tags.extend(t for t in svc.tags if t not in tags)
            out[name] = tags
    return index, out


async def _service_nodes(request: Request, connect: bool) -> Response:
    cluster = cluster_of(request)
    name = request.path_params["name"]
    opts = query_options(request, cluster)
    if not name:
        raise BadRequest("Missing service name")
    tags = request.query_params.getlist("tag")
    authz = read_authorizer(request, cluster)
    if connect and authz is not None and not can_read_service(authz, name):
        return denied_connect_response(opts)
    acl = results_filter(request, authz)

    def read() -> tuple[int, list[tuple[Node, NodeService]]]:
        if connect:
            index, pairs = queries.connect_capable(cluster.store, name, opts.peer)
        else:
            index, pairs = queries.service_nodes(cluster.store, name, peer=opts.peer, tags=tags)
        pairs = [p for p in pairs if _node_meta_ok(p[0], opts.node_meta)]
        pairs = apply_filter(
            opts.filter, pairs, lambda p: p[1].render_service_node(p[0]), SERVICE_NODE_FIELDS
        )
        return index, acl.keep(pairs, lambda authz, p: can_read_instance(authz, p[0], p[1]))

    index, pairs = await blocking(request, cluster, opts, read)
    return json_response(
        [svc.render_service_node(node) for node, svc in pairs],
        pretty=opts.pretty,
        index=index,
        consistency=opts.consistency,
        headers=acl.headers(),
    )


@router.endpoint("/v1/catalog/service/{name:path}", "GET")
async def service(request: Request) -> Response:
    return await _service_nodes(request, connect=False)


@router.endpoint("/v1/catalog/connect/{name:path}", "GET")
async def connect(request: Request) -> Response:
    return await _service_nodes(request, connect=True)


@router.endpoint("/v1/catalog/node/{node:path}", "GET")
async def node(request: Request) -> Response:
    cluster = cluster_of(request)
    name = request.path_params["node"]
    opts = query_options(request, cluster)
    if not name:
        raise BadRequest("Missing node name")

    acl = results_filter(request, read_authorizer(request, cluster))

    def read() -> tuple[int, dict[str, Any] | None]:
        acl.filtered = False
        index, found = queries.node_services(cluster.store, name)
        if found is None:
            return index, None
        node_obj, svcs = found
        svcs = apply_filter(opts.filter, svcs, NodeService.render, NODE_SERVICE_FIELDS)
        # A node the token cannot read is answered as if it did not exist (``null``).
        if not acl.keep([node_obj], lambda authz, n: can_read_node(authz, n.node)):
            return index, None
        svcs = acl.keep(svcs, lambda authz, s: can_read_service(authz, s.service))
        return index, {
            "Node": node_obj.render(),
            "Services": {s.id: s.render() for s in svcs},
        }

    index, body = await blocking(request, cluster, opts, read)
    return json_response(
        body,
        pretty=opts.pretty,
        index=index,
        consistency=opts.consistency,
        headers=acl.headers(),
    )
