"""/v1/connect/ca/roots, /v1/agent/connect/ca/roots and /v1/connect/ca/configuration.

Thin, after ``agent/connect_ca_endpoint.go`` and ``agent/agent_endpoint.go``: the roots read is a
blocking query on the CA roots table; ``?pem`` switches to the PEM chain; the configuration read
sets no query meta (Consul's handler never calls ``setMeta`` there).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    blocking,
    cluster_of,
    json_response,
    meta_headers,
    query_options,
)
from consul_sim.api.openapi import (
    JSON,
    OBJECT,
    READ_OPTIONS,
    STRING,
    Answer,
    Op,
    Param,
    ok,
)
from consul_sim.errors import BadRequest
from consul_sim.gostd import NumError, parse_bool

router = ConsulRouter()

PEM_CHAIN = "application/pem-certificate-chain"


def _pem_requested(request: Request) -> bool:
    """Consul reads ``pem`` with ``strconv.ParseBool`` and only when it is non-empty."""
    raw = request.query_params.get("pem", "")
    if raw == "":
        return False
    try:
        return parse_bool(raw)
    except NumError:
        raise BadRequest("The 'pem' query parameter must be a boolean value") from None


async def _roots(request: Request, *, pem_allowed: bool, extra: dict[str, str]) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    pem = _pem_requested(request) if pem_allowed else False
    index, body = await blocking(request, cluster, opts, cluster.ca.indexed_roots)
    if pem:
        chain: list[str] = []
        for root in body["Roots"]:
            chain.append(root["RootCert"])
            chain.extend(root["IntermediateCerts"] or [])
        return Response(
            content="".join(chain).encode(),
            headers=meta_headers(index, opts.consistency),
            media_type=PEM_CHAIN,
        )
    return opts.respond(body, index, headers=extra)


@router.endpoint(
    "/v1/connect/ca/roots",
    "GET",
    doc=Op(
        "the Connect CA roots",
        (*READ_OPTIONS, Param("pem", "answer the PEM chain (Go's ParseBool)")),
        answers=(
            Answer(
                200,
                "the roots, or with ?pem the PEM chain",
                JSON,
                OBJECT,
                ((PEM_CHAIN, dict(STRING)),),
            ),
        ),
    ),
)
async def ca_roots(request: Request) -> Response:
    return await _roots(request, pem_allowed=True, extra={})


@router.endpoint(
    "/v1/agent/connect/ca/roots",
    "GET",
    doc=Op("the Connect CA roots, from the agent's cache", READ_OPTIONS, answers=(ok(OBJECT),)),
)
async def agent_ca_roots(request: Request) -> Response:
    """The agent serves the roots from its cache: the same body, plus the cache's header. It
    has no ``?pem`` option."""
    return await _roots(request, pem_allowed=False, extra={"X-Cache": "MISS"})


@router.endpoint(
    "/v1/connect/ca/configuration",
    "GET",
    doc=Op("the Connect CA configuration", READ_OPTIONS, answers=(ok(OBJECT),)),
)
async def ca_configuration(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    body: dict[str, Any] = cluster.ca.configuration()
    return json_response(body, pretty=opts.pretty)
