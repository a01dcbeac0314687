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
    acl_token,
    apply_filter,
    authorizer,
    blocking,
    check_dc,
    cluster_of,
    flag,
    json_response,
    query_options,
    read_json,
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
FILTERED_HEADER = "X-Consul-Results-Filtered-By-ACLs"
PERMISSION_DENIED = "Permission denied"
"""``acl.ErrPermissionDenied``: what Consul says when overwriting someone else's service."""


def read_authorizer(request: Request, cluster: Any) -> Authorizer | None:
    """The request's authorizer, or None when ACLs are off so reads skip filtering entirely."""
    if not cluster.acl.enabled:
        return None
    return authorizer(request, cluster)


def filtered_headers(
    request: Request, filtered: bool, headers: dict[str, str] | None = None
) -> dict[str, str] | None:
    """Consul says results were filtered only to a caller who sent a token
    (``maskResultsFilteredByACLs``): an anonymous caller learns nothing of what it cannot see."""
    if filtered and acl_token(request):
        return {**(headers or {}), FILTERED_HEADER: "true"}
    return headers


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
    authz = read_authorizer(request, cluster)
    filtered = False

    def read() -> tuple[int, list[Node]]:
        nonlocal filtered
        index, found = queries.nodes(cluster.store)
        found = [n for n in found if _node_meta_ok(n, opts.node_meta)]
        found = apply_filter(opts.filter, found, Node.render, NODE_FIELDS)
        if authz is not None:  # after ?filter, as Consul does, so the header is honest
            kept = [n for n in found if can_read_node(authz, n.node)]
            filtered, found = len(kept) != len(found), kept
        return index, found

    index, found = await blocking(request, cluster, opts, read)
    return json_response(
        [n.render() for n in found],
        pretty=opts.pretty,
        index=index,
        consistency=opts.consistency,
        headers=filtered_headers(request, filtered),
    )


@router.endpoint("/v1/catalog/services", "GET")
async def services(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    authz = read_authorizer(request, cluster)
    filtered = False

    def read() -> tuple[int, dict[str, list[str]]]:
        nonlocal filtered
        index, found = _services(cluster, opts)
        if authz is not None:
            kept = {k: v for k, v in found.items() if can_read_service(authz, k)}
            filtered, found = len(kept) != len(found), kept
        return index, found

    index, found = await blocking(request, cluster, opts, read)
    return json_response(
        found,
        pretty=opts.pretty,
        index=index,
        consistency=opts.consistency,
        headers=filtered_headers(request, filtered),
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


def connect_capable(
    cluster: Any, name: str, peer: str
) -> tuple[int, list[tuple[Node, NodeService]]]:
    """Instances that can take mesh traffic for ``name``: its sidecar proxies and native apps."""
    store = cluster.store
    with store.lock:
        index = 1
        out: list[tuple[Node, NodeService]] = []
        native_index, natives = queries.service_nodes(store, name, peer=peer)
        out.extend(p for p in natives if p[1].connect.get("Native"))
        index = max(index, native_index)
        for row in store.catalog.rows(peer):
            for svc in row.services.values():
                if svc.kind == "connect-proxy" and (
                    svc.proxy.get("DestinationServiceName") == name
                ):
                    out.append((row.node, svc))
                    index = max(index, store.catalog.service_index.get((peer, svc.service), 1))
        out.sort(key=lambda p: (p[0].node, p[1].id))
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
    filtered = False

    def read() -> tuple[int, list[tuple[Node, NodeService]]]:
        nonlocal filtered
        if connect:
            index, pairs = connect_capable(cluster, name, opts.peer)
        else:
            index, pairs = queries.service_nodes(cluster.store, name, peer=opts.peer, tags=tags)
        pairs = [p for p in pairs if _node_meta_ok(p[0], opts.node_meta)]
        pairs = apply_filter(
            opts.filter, pairs, lambda p: p[1].render_service_node(p[0]), SERVICE_NODE_FIELDS
        )
        if authz is not None:
            kept = [p for p in pairs if can_read_instance(authz, p[0], p[1])]
            filtered, pairs = len(kept) != len(pairs), kept
        return index, pairs

    index, pairs = await blocking(request, cluster, opts, read)
    return json_response(
        [svc.render_service_node(node) for node, svc in pairs],
        pretty=opts.pretty,
        index=index,
        consistency=opts.consistency,
        headers=filtered_headers(request, filtered),
    )


def denied_connect_response(opts: QueryOptions, headers: dict[str, str] | None = None) -> Response:
    """A Connect lookup for a service the token cannot read: Consul's RPC returns before its
    blocking query, so the answer is an empty list with a zero (shown as 1) index and no leader
    seen, and no filtered header."""
    return json_response(
        [],
        pretty=opts.pretty,
        index=0,
        consistency=opts.consistency,
        headers={**(headers or {}), "X-Consul-Knownleader": "false"},
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

    authz = read_authorizer(request, cluster)
    filtered = False

    def read() -> tuple[int, dict[str, Any] | None]:
        nonlocal filtered
        filtered = False
        index, found = queries.node_services(cluster.store, name)
        if found is None:
            return index, None
        node_obj, svcs = found
        svcs = apply_filter(opts.filter, svcs, NodeService.render, NODE_SERVICE_FIELDS)
        if authz is not None:
            # A node the token cannot read is answered as if it did not exist (``null``).
            if not can_read_node(authz, node_obj.node):
                filtered = True
                return index, None
            kept = [s for s in svcs if can_read_service(authz, s.service)]
            filtered, svcs = len(kept) != len(svcs), kept
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
        headers=filtered_headers(request, filtered),
    )
