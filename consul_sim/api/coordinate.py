"""/v1/coordinate: the WAN view, the LAN nodes' coordinates, one node's, and updates.

Thin handlers over ``cluster.coordinates`` following Consul's ``agent/coordinate_endpoint.go``:
lists are sorted by node, ``?segment`` keeps one segment, a node with no coordinate is a 404
with an empty body (its query meta still set), and an update answers 200 with no body once it
is queued (it is written on the next batch tick). Floats are written as Go writes them.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    authorizer,
    blocking,
    bytes_response,
    check_dc,
    cluster_of,
    empty_response,
    flag,
    meta_headers,
    query_options,
    read_authorizer,
    results_filter,
)
from consul_sim.api.openapi import DC, OBJECTS, PRETTY, READ_OPTIONS, Body, Op, Param, ok
from consul_sim.coordinates import Entry, render
from consul_sim.errors import BadRequest
from consul_sim.jsonenc import encode_json_go_floats
from consul_sim.models.base import DecodeError, decode_body, parse_json
from consul_sim.models.coordinate import CoordinateUpdateRequest

router = ConsulRouter()

SEGMENT = Param("segment", "only coordinates of this network segment")


def _segment(request: Request, entries: list[Entry]) -> list[Entry]:
    """``filterCoordinates``: ``?segment`` given (even empty) keeps that segment only."""
    if "segment" not in request.query_params:
        return entries
    wanted = request.query_params["segment"]
    return [e for e in entries if e[1] == wanted]


@router.endpoint(
    "/v1/coordinate/datacenters",
    "GET",
    doc=Op("each datacenter's WAN nodes with their coordinates", (PRETTY,), answers=(ok(OBJECTS),)),
)
async def datacenters(request: Request) -> Response:
    body = cluster_of(request).coordinates.datacenters()
    return bytes_response(encode_json_go_floats(body, flag(request, "pretty")))


@router.endpoint(
    "/v1/coordinate/nodes",
    "GET",
    doc=Op(
        "the LAN coordinates of every node, sorted by node",
        (*READ_OPTIONS, SEGMENT),
        answers=(ok(OBJECTS),),
    ),
)
async def nodes(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    results = results_filter(request, read_authorizer(request, cluster))
    coordinates = cluster.coordinates

    def read() -> tuple[int, list[Entry]]:
        with cluster.store.lock:
            kept = results.keep(
                coordinates.nodes(), lambda authz, e: authz.allowed("node", "read", e[0])
            )
            return coordinates.index(), kept

    index, found = await blocking(request, cluster, opts, read)
    body = [render(*e) for e in _segment(request, found)]
    return bytes_response(
        encode_json_go_floats(body, opts.pretty), index=index, headers=results.headers()
    )


@router.endpoint(
    "/v1/coordinate/node/{node:path}",
    "GET",
    doc=Op(
        "one node's LAN coordinates (one per segment)",
        (*READ_OPTIONS, SEGMENT),
        answers=(ok(OBJECTS),),
        errors=(400, 403, 404, 500),
    ),
)
async def node(request: Request) -> Response:
    name = request.path_params["node"]
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    authorizer(request, cluster).require("node", "read", name)
    coordinates = cluster.coordinates

    def read() -> tuple[int, list[Entry]]:
        with cluster.store.lock:
            return coordinates.index(), coordinates.node(name)

    index, found = await blocking(request, cluster, opts, read)
    entries = _segment(request, found)
    if not entries:
        return Response(status_code=404, headers=meta_headers(index))
    body = [render(*e) for e in entries]
    return bytes_response(encode_json_go_floats(body, opts.pretty), index=index)


@router.endpoint(
    "/v1/coordinate/update",
    "PUT",
    doc=Op(
        "queue a node's LAN coordinate; it is written on the next 5 s batch",
        (DC,),
        Body(CoordinateUpdateRequest),
    ),
)
async def update(request: Request) -> Response:
    cluster = cluster_of(request)
    raw = await request.body()
    try:
        body = decode_body(CoordinateUpdateRequest, parse_json(raw))
    except DecodeError as exc:
        raise BadRequest(f"Request decode failed: {exc}") from None
    check_dc(request, cluster)
    authz = authorizer(request, cluster)
    with cluster.store.lock:
        cluster.coordinates.update(body, lambda n: authz.require("node", "write", n))
    return empty_response()
