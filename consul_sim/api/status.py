"""/v1/status: the Raft leader and peers of the (single-server) cluster."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import ConsulRouter, check_dc, cluster_of, flag, json_response
from consul_sim.api.openapi import (
    DC,
    PRETTY,
    STRING,
    STRINGS,
    Op,
    ok,
)

router = ConsulRouter()


@router.endpoint(
    "/v1/status/leader",
    "GET",
    doc=Op("the Raft leader's address", (DC, PRETTY), answers=(ok(STRING),), errors=(500,)),
)
async def leader(request: Request) -> Response:
    cluster = cluster_of(request)
    check_dc(request, cluster)
    return json_response(cluster.leader_address, pretty=flag(request, "pretty"))


@router.endpoint(
    "/v1/status/peers",
    "GET",
    doc=Op("the Raft peers' addresses", (DC, PRETTY), answers=(ok(STRINGS),), errors=(500,)),
)
async def peers(request: Request) -> Response:
    cluster = cluster_of(request)
    check_dc(request, cluster)
    return json_response([cluster.leader_address], pretty=flag(request, "pretty"))
