"""/v1/query: prepared queries (agent/prepared_query_endpoint.go).

Execute and explain answers embed Consul's QueryMeta in the body (the response structs embed it
with no JSON exclusion): ``Index`` stays 0 there because neither is a blocking RPC, while the
``X-Consul-Index`` header, as always, says at least 1.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    QueryOptions,
    blocking,
    check_dc,
    cluster_of,
    empty_response,
    json_response,
    query_options,
    read_json,
)
from consul_sim.api.openapi import (
    DC,
    ID_ANSWER,
    MAY_BE_MISSING,
    OBJECT,
    OBJECTS,
    PRETTY,
    READ_OPTIONS,
    Body,
    Op,
    Param,
    ok,
)
from consul_sim.catalog import prepared
from consul_sim.errors import ConsulError

router = ConsulRouter()

LIMIT = Param("limit", "at most this many nodes (Go's Atoi)")

BACKEND = {"X-Consul-Query-Backend": "blocking-query"}
_ATOI = re.compile(r"^[+-]?[0-9]+$")


def _query_meta(opts: QueryOptions) -> dict[str, Any]:
    """What setQueryMeta leaves in an execute or explain reply."""
    return {
        "Index": 0,
        "LastContact": 0,
        "KnownLeader": True,
        "ConsistencyLevel": opts.consistency,
        "NotModified": False,
        "Backend": 0,
        "ResultsFilteredByACLs": False,
    }


def _parse_limit(request: Request) -> int:
    """parseLimit: strconv.Atoi, whose failure Consul reports as a 500."""
    raw = request.query_params.get("limit", "")
    if raw == "":
        return 0
    if not _ATOI.match(raw):
        raise ConsulError(f'Bad limit: strconv.Atoi: parsing "{raw}": invalid syntax')
    value = int(raw)
    if not -(2**63) <= value < 2**63:
        raise ConsulError(f'Bad limit: strconv.Atoi: parsing "{raw}": value out of range')
    return value


@router.endpoint(
    "/v1/query",
    "GET",
    "POST",
    doc={
        "GET": Op("every prepared query", READ_OPTIONS, answers=(ok(OBJECTS),)),
        "POST": Op(
            "create a prepared query", (DC, PRETTY), Body(prepared.PreparedQuery), (ok(ID_ANSWER),)
        ),
    },
)
async def general(request: Request) -> Response:
    cluster = cluster_of(request)
    if request.method == "POST":
        check_dc(request, cluster)
        query = prepared.decode_definition(await read_json(request))
        query_id = prepared.create(cluster.store, cluster.rand, query)
        return json_response({"ID": query_id}, pretty="pretty" in request.query_params)

    opts = query_options(request, cluster)
    index, queries = await blocking(
        request, cluster, opts, lambda: prepared.list_queries(cluster.store)
    )
    return opts.respond([q.render() for q in queries], index, headers=BACKEND)


@router.endpoint(
    "/v1/query/{query:path}/execute",
    "GET",
    doc=Op(
        "run a prepared query (by ID or name)",
        (
            *READ_OPTIONS,
            LIMIT,
            Param("near", "sort by distance from this node (`_agent` is this agent)"),
        ),
        answers=(ok(OBJECT),),
        errors=MAY_BE_MISSING,
    ),
)
async def execute(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    limit = _parse_limit(request)
    near = request.query_params.get("near", "")
    result = prepared.execute(
        cluster.store,
        cluster.rand,
        request.path_params["query"],
        datacenter=cluster.datacenter,
        agent_node=cluster.node_name,
        near=near,
        limit=limit,
    )
    body = {
        "Service": result.service,
        "Nodes": [n.render() for n in result.nodes],
        "DNS": {"TTL": result.dns.ttl},
        "Datacenter": result.datacenter,
        "PeerName": result.peer_name,
        "Failovers": result.failovers,
        **_query_meta(opts),
    }
    return opts.respond(body, 0, headers=BACKEND)


@router.endpoint(
    "/v1/query/{query:path}/explain",
    "GET",
    doc=Op(
        "the query a name or ID resolves to, templates rendered",
        (*READ_OPTIONS, LIMIT),
        answers=(ok(OBJECT),),
        errors=MAY_BE_MISSING,
    ),
)
async def explain(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    _parse_limit(request)
    query = prepared.resolve(cluster.store, request.path_params["query"])
    body = {"Query": query.render(), **_query_meta(opts)}
    return opts.respond(body, 0, headers=BACKEND)


@router.endpoint(
    "/v1/query/{query:path}",
    "GET",
    "PUT",
    "DELETE",
    doc={
        "GET": Op(
            "a prepared query by ID",
            READ_OPTIONS,
            answers=(ok(OBJECTS),),
            errors=MAY_BE_MISSING,
        ),
        "PUT": Op(
            "replace a prepared query",
            (DC,),
            Body(prepared.PreparedQuery, required=False),
            errors=MAY_BE_MISSING,
        ),
        "DELETE": Op("delete a prepared query", (DC,), errors=MAY_BE_MISSING),
    },
)
async def specific(request: Request) -> Response:
    cluster = cluster_of(request)
    query_id = request.path_params["query"]
    if request.method == "GET":
        opts = query_options(request, cluster)
        index, query = await blocking(
            request, cluster, opts, lambda: prepared.get(cluster.store, query_id)
        )
        return opts.respond([query.render()], index, headers=BACKEND)
    check_dc(request, cluster)
    if request.method == "PUT":
        raw = await request.body()
        query = prepared.PreparedQuery()
        if raw:
            query = prepared.decode_definition(await read_json(request))
        prepared.update(cluster.store, query_id, query)
    else:
        prepared.delete(cluster.store, query_id)
    return empty_response()
