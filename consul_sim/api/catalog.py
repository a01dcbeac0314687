"""/v1/catalog: register, deregister and the catalog reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.agent_cache import cache_headers
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
from consul_sim.api.openapi import (
    BOOL,
    DC,
    OBJECTS,
    PRETTY,
    READ_OPTIONS,
    STRINGS,
    TAG,
    Body,
    Op,
    ok,
)
from consul_sim.catalog import gateways, queries
from consul_sim.catalog.register import deregister as catalog_deregister
from consul_sim.catalog.register import register as catalog_register
from consul_sim.catalog.vetting import (
    can_read_instance,
    can_read_node,
    can_read_service,
    pre_apply_ok,
    vet_deregister,
    vet_register,
)
from consul_sim.errors import NO_PATH_TO_DATACENTER, BadRequest, ConsulError
from consul_sim.gostd import quote as go_quote
from consul_sim.models.base import DecodeError, decode_body
from consul_sim.models.catalog import (
    DeregisterRequest,
    Node,
    NodeService,
    RegisterRequest,
)
from consul_sim.models.proxy import unknown_proxy_field

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


@router.endpoint(
    "/v1/catalog/register",
    "PUT",
    doc=Op(
        "register a node, service or check in the catalog",
        (DC,),
        Body(RegisterRequest),
        (ok(BOOL),),
    ),
)
async def register(request: Request) -> Response:
    data = await read_json(request)
    try:
        req = decode_body(RegisterRequest, data)
    except DecodeError as exc:
        raise _decode_error(exc) from None
    # ConnectProxyConfig and Upstream decode strictly (lib.UnmarshalJSON) even here.
    unknown = unknown_proxy_field(req.service.proxy) if req.service is not None else None
    if unknown is not None:
        raise BadRequest(f"Request decode failed: json: unknown field {go_quote(unknown)}")
    dc = _datacenter(request, req.datacenter)
    cluster = cluster_of(request)
    if cluster.acl.enabled:
        authz = authorizer(request, cluster)
        if pre_apply_ok(req):
            with cluster.store.lock:
                vet_register(authz, req, dc, cluster.store.catalog.row("", req.node))
    catalog_register(cluster.store, dc, req)
    return json_response(True)


@router.endpoint(
    "/v1/catalog/deregister",
    "PUT",
    doc=Op(
        "remove a node, service or check from the catalog",
        (DC,),
        Body(DeregisterRequest),
        (ok(BOOL),),
    ),
)
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


@router.endpoint(
    "/v1/catalog/datacenters",
    "GET",
    doc=Op("the known datacenters", (PRETTY,), answers=(ok(STRINGS),), errors=()),
)
async def datacenters(request: Request) -> Response:
    cluster = cluster_of(request)
    return json_response([cluster.datacenter], pretty=flag(request, "pretty"))


@router.endpoint(
    "/v1/catalog/nodes",
    "GET",
    doc=Op("every node", READ_OPTIONS, answers=(ok(OBJECTS),)),
)
async def nodes(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    acl = results_filter(request, read_authorizer(request, cluster))

    def read() -> tuple[int, list[Node]]:
        # ?peer lists the nodes imported from that peer, as Catalog.ListNodes passes PeerName
        # to the state store's Nodes (agent/consul/catalog_endpoint.go)
        index, found = queries.nodes(cluster.store, peer=opts.peer)
        found = [n for n in found if _node_meta_ok(n, opts.node_meta)]
        found = apply_filter(opts.filter, found, Node.render, NODE_FIELDS)
        # after ?filter, as Consul does, so the header is honest
        return index, acl.keep(found, lambda authz, n: can_read_node(authz, n.node))

    index, found = await blocking(request, cluster, opts, read)
    return opts.respond([n.render() for n in found], index, headers=acl.headers())


@router.endpoint(
    "/v1/catalog/services",
    "GET",
    doc=Op(
        "every service name with its tags",
        READ_OPTIONS,
        answers=(ok({"type": "object", "additionalProperties": STRINGS}),),
    ),
)
async def services(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    acl = results_filter(request, read_authorizer(request, cluster))

    def read() -> tuple[int, dict[str, list[str]]]:
        index, found = _services(cluster, opts)
        return index, {name: found[name] for name in acl.keep(found, can_read_service)}

    index, found = await blocking(request, cluster, opts, read)
    return opts.respond(found, index, headers=acl.headers())


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
    # CatalogServiceNodes reads through the agent cache with ?cached; the connect read does not.
    cache = {} if connect else cache_headers(request)
    return opts.respond(
        [svc.render_service_node(node) for node, svc in pairs],
        index,
        headers={**(acl.headers() or {}), **cache},
    )


@router.endpoint(
    "/v1/catalog/service/{name:path}",
    "GET",
    doc=Op("the instances of a service", (*READ_OPTIONS, TAG), answers=(ok(OBJECTS),)),
)
async def service(request: Request) -> Response:
    return await _service_nodes(request, connect=False)


@router.endpoint(
    "/v1/catalog/connect/{name:path}",
    "GET",
    doc=Op("the Connect-capable instances of a service", READ_OPTIONS, answers=(ok(OBJECTS),)),
)
async def connect(request: Request) -> Response:
    return await _service_nodes(request, connect=True)


@router.endpoint(
    "/v1/catalog/node/{node:path}",
    "GET",
    doc=Op(
        "a node and its services (null when unknown)",
        READ_OPTIONS,
        answers=(ok({"type": ["object", "null"]}),),
    ),
)
async def node(request: Request) -> Response:
    return await _node_read(
        request,
        None,
        lambda n, svcs: {"Node": n.render(), "Services": {s.id: s.render() for s in svcs}},
    )


@router.endpoint(
    "/v1/catalog/node-services/{node:path}",
    "GET",
    doc=Op(
        "a node and its services as a list",
        READ_OPTIONS,
        answers=(ok({"type": "object"}),),
    ),
)
async def node_services(request: Request) -> Response:
    """``CatalogNodeServiceList`` (agent/catalog_endpoint.go): the same read as
    ``/v1/catalog/node/:node`` with the services as a list; it answers the
    ``structs.NodeServiceList`` value itself, so an unknown (or unreadable) node is
    ``{"Node": null, "Services": null}`` rather than ``null``."""
    return await _node_read(
        request,
        {"Node": None, "Services": None},
        lambda n, svcs: {"Node": n.render(), "Services": [s.render() for s in svcs]},
    )


async def _node_read(
    request: Request,
    missing: dict[str, Any] | None,
    shape: Callable[[Node, list[NodeService]], dict[str, Any]],
) -> Response:
    """One node and its services as ``shape`` puts them; ``missing`` for an unknown node or
    one the token cannot read (answered as if it did not exist)."""
    cluster = cluster_of(request)
    name = request.path_params["node"]
    opts = query_options(request, cluster)
    if not name:
        raise BadRequest("Missing node name")

    acl = results_filter(request, read_authorizer(request, cluster))

    def read() -> tuple[int, dict[str, Any] | None]:
        acl.filtered = False
        index, found = queries.node_services(cluster.store, name, peer=opts.peer)
        if found is None:
            return index, missing
        node_obj, svcs = found
        svcs = apply_filter(opts.filter, svcs, NodeService.render, NODE_SERVICE_FIELDS)
        if not acl.keep([node_obj], lambda authz, n: can_read_node(authz, n.node)):
            return index, missing
        svcs = acl.keep(svcs, lambda authz, s: can_read_service(authz, s.service))
        return index, shape(node_obj, svcs)

    index, body = await blocking(request, cluster, opts, read)
    return opts.respond(body, index, headers=acl.headers())


@router.endpoint(
    "/v1/catalog/gateway-services/{gateway:path}",
    "GET",
    doc=Op(
        "the services a terminating or ingress gateway fronts",
        READ_OPTIONS,
        answers=(ok({"type": "array"}),),
    ),
)
async def gateway_services(request: Request) -> Response:
    """``CatalogGatewayServices`` (agent/catalog_endpoint.go): service:read on the gateway, then
    each row kept only if its service is readable. The server always runs the result through
    ``filterGatewayServices`` (agent/consul/acl_filter.go; with ACLs off the authorizer is
    ``ManageAll``), which rebuilds it with ``make(..., 0, n)``, so an empty answer is ``[]``."""
    cluster = cluster_of(request)
    name = request.path_params["gateway"]
    opts = query_options(request, cluster)
    if not name:
        raise BadRequest("Missing gateway name")
    authz = read_authorizer(request, cluster)
    acl = results_filter(request, authz)

    def read() -> tuple[int, list[gateways.GatewayService]]:
        if authz is not None:
            authz.require("service", "read", name)
        index, rows = gateways.gateway_services(cluster.store, name)
        return index, acl.keep(rows, lambda authz, r: can_read_service(authz, r.service))

    index, rows = await blocking(request, cluster, opts, read)
    return opts.respond([r.render() for r in rows], index, headers=acl.headers())
