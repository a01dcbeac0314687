"""/v1/health: checks by node, service and state, and the service health view."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.agent_cache import cache_headers
from consul_sim.api.http import (
    ConsulRouter,
    QueryOptions,
    apply_filter,
    blocking,
    bool_param,
    bytes_response,
    cluster_of,
    denied_connect_response,
    query_options,
    read_authorizer,
    results_filter,
)
from consul_sim.api.openapi import (
    OBJECTS,
    READ_OPTIONS,
    TAG,
    Op,
    Param,
    ok,
)
from consul_sim.catalog import gateways, queries
from consul_sim.catalog.queries import CheckServiceNode
from consul_sim.catalog.vetting import can_read_check, can_read_instance, can_read_service
from consul_sim.errors import BadRequest
from consul_sim.models.catalog import HealthCheck

if TYPE_CHECKING:
    from consul_sim.world import Cluster

router = ConsulRouter()

PASSING = Param("passing", "only instances whose checks all pass (Go's ParseBool)", flag=True)

CHECK_FIELDS = (
    "Node",
    "CheckID",
    "Name",
    "Status",
    "Notes",
    "Output",
    "ServiceID",
    "ServiceName",
    "ServiceTags",
    "Type",
    "Interval",
    "Timeout",
    "ExposedPort",
    "PeerName",
    "Definition",
)
CSN_FIELDS = ("Node", "Service", "Checks")


CheckReader = Callable[["Cluster", str, QueryOptions], tuple[int, list[HealthCheck]]]


async def _checks(request: Request, param: str, missing: str, read_checks: CheckReader) -> Response:
    """The three endpoints that answer a list of checks: same options, filter and blocking."""
    cluster = cluster_of(request)
    name = request.path_params[param]
    opts = query_options(request, cluster)
    if not name:
        raise BadRequest(missing)

    acl = results_filter(request, read_authorizer(request, cluster))

    def read() -> tuple[int, list[HealthCheck]]:
        index, checks = read_checks(cluster, name, opts)
        checks = apply_filter(opts.filter, checks, HealthCheck.render, CHECK_FIELDS)
        return index, acl.keep(checks, can_read_check)

    index, checks = await blocking(request, cluster, opts, read)
    return opts.respond([c.render() for c in checks], index, headers=acl.headers())


def _node_checks(cluster: Cluster, node: str, opts: QueryOptions) -> tuple[int, list[HealthCheck]]:
    return queries.node_checks(cluster.store, node)


def _service_checks(
    cluster: Cluster, name: str, opts: QueryOptions
) -> tuple[int, list[HealthCheck]]:
    index, checks = queries.service_checks(cluster.store, name)
    if opts.node_meta:
        keep = {
            n.node
            for n in queries.nodes(cluster.store)[1]
            if all(n.meta.get(k) == v for k, v in opts.node_meta.items())
        }
        checks = [c for c in checks if c.node in keep]
    return index, checks


def _state_checks(
    cluster: Cluster, state: str, opts: QueryOptions
) -> tuple[int, list[HealthCheck]]:
    return queries.checks_in_state(cluster.store, state)


@router.endpoint(
    "/v1/health/node/{node:path}",
    "GET",
    doc=Op("the checks of a node", READ_OPTIONS, answers=(ok(OBJECTS),)),
)
async def node_health(request: Request) -> Response:
    return await _checks(request, "node", "Missing node name", _node_checks)


@router.endpoint(
    "/v1/health/checks/{service:path}",
    "GET",
    doc=Op("the checks of a service", READ_OPTIONS, answers=(ok(OBJECTS),)),
)
async def service_checks(request: Request) -> Response:
    return await _checks(request, "service", "Missing service name", _service_checks)


@router.endpoint(
    "/v1/health/state/{state:path}",
    "GET",
    doc=Op(
        "the checks in a state (`any`, `passing`, `warning`, `critical`)",
        READ_OPTIONS,
        answers=(ok(OBJECTS),),
    ),
)
async def checks_in_state(request: Request) -> Response:
    return await _checks(request, "state", "Missing check state", _state_checks)


async def _service_health(request: Request, connect: bool, ingress: bool = False) -> Response:
    cluster = cluster_of(request)
    name = request.path_params["service"]
    opts = query_options(request, cluster)
    if not name:
        raise BadRequest("Missing service name")
    tags = request.query_params.getlist("tag")
    passing = bool_param(request, "passing", "Invalid value for ?passing")
    backend = {"X-Consul-Query-Backend": "blocking-query"}
    authz = read_authorizer(request, cluster)
    if connect and authz is not None and not can_read_service(authz, name):
        return denied_connect_response(opts, backend)
    acl = results_filter(request, authz)

    def read() -> tuple[int, list[CheckServiceNode]]:
        if ingress:
            index, csns = gateways.ingress_gateways_for(cluster.store, name)
        elif connect:
            index, csns = queries.connect_check_service_nodes(cluster.store, name, opts.peer)
        else:
            index, csns = queries.check_service_nodes(
                cluster.store, name, peer=opts.peer, tags=tags
            )
        if opts.node_meta:
            csns = [
                c for c in csns if all(c.node.meta.get(k) == v for k, v in opts.node_meta.items())
            ]
        csns = apply_filter(opts.filter, csns, CheckServiceNode.render, CSN_FIELDS)
        # CheckServiceNode.CanRead: node:read and service:read
        csns = acl.keep(csns, lambda authz, c: can_read_instance(authz, c.node, c.service))
        if passing:  # the HTTP layer's filter, after the RPC's ACL filter
            csns = [c for c in csns if c.passing()]
        return index, csns

    index, csns = await blocking(request, cluster, opts, read)
    # healthServiceNodes reads through the agent cache with ?cached (not the ingress read).
    headers = {**(acl.headers(backend) or {}), **({} if ingress else cache_headers(request))}
    if not opts.pretty:
        return bytes_response(
            b"[" + b",".join(c.json_bytes for c in csns) + b"]",
            index=index,
            consistency=opts.consistency,
            headers=headers,
        )
    return opts.respond([c.render() for c in csns], index, headers=headers)


@router.endpoint(
    "/v1/health/service/{service:path}",
    "GET",
    doc=Op(
        "the instances of a service with their node and checks",
        (*READ_OPTIONS, TAG, PASSING),
        answers=(ok(OBJECTS),),
    ),
)
async def service_health(request: Request) -> Response:
    return await _service_health(request, connect=False)


@router.endpoint(
    "/v1/health/connect/{service:path}",
    "GET",
    doc=Op(
        "the Connect-capable instances of a service with their checks",
        (*READ_OPTIONS, PASSING),
        answers=(ok(OBJECTS),),
    ),
)
async def connect_health(request: Request) -> Response:
    return await _service_health(request, connect=True)


@router.endpoint(
    "/v1/health/ingress/{service:path}",
    "GET",
    doc=Op(
        "the ingress gateways that expose a service, with their nodes and checks",
        (*READ_OPTIONS, PASSING),
        answers=(ok(OBJECTS),),
    ),
)
async def ingress_health(request: Request) -> Response:
    """``HealthIngressServiceNodes`` (agent/health_endpoint.go): the instances of every
    ingress-gateway whose entry routes to the service; ``?passing`` as for the other reads."""
    return await _service_health(request, connect=True, ingress=True)
