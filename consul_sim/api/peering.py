"""/v1/peering, /v1/peerings and /v1/exported-services: thin handlers over ``cluster.peering``.

The handler checks what Consul's ``agent/peering_endpoint.go`` checks itself (body, required
fields, CE partition) and answers 400; everything else comes from the service as a 500
``rpc error: ...`` string, as the gRPC client hands it to Consul's HTTP layer.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    QueryOptions,
    authorizer,
    blocking,
    cluster_of,
    empty_response,
    flag,
    json_response,
    parse_wait,
    query_options,
)
from consul_sim.api.openapi import (
    BLOCKING,
    MAY_BE_MISSING,
    OBJECT,
    OBJECTS,
    PARTITION,
    PRETTY,
    READ_OPTIONS,
    STRING,
    Body,
    Op,
    ok,
)
from consul_sim.api.peerstream import exchange_secret
from consul_sim.errors import BadRequest, PermissionDenied
from consul_sim.models.base import ConsulModel, DecodeError, decode_body, parse_json
from consul_sim.models.peering import EstablishRequest, GenerateTokenRequest
from consul_sim.peering.replication import exported_services_view
from consul_sim.peering.service import not_found
from consul_sim.store.catalog import SERVICES
from consul_sim.store.config import CONFIG_ENTRIES

router = ConsulRouter()

M = TypeVar("M", bound=ConsulModel)

NO_NAME = "Must specify a name to fetch."
PARTITION_HEADER = (
    'Invalid header: "X-Consul-Partition" - Partitions are a Consul Enterprise feature'
)
PARTITION_QUERY = (
    'Invalid query parameter: "partition" - Partitions are a Consul Enterprise feature'
)


async def _body(request: Request, cls: type[M]) -> M:
    raw = await request.body()
    try:
        return decode_body(cls, parse_json(raw), strict=True)
    except DecodeError as exc:
        raise BadRequest(f"Body decoding failed: {exc}") from None


def _check_partition(request: Request) -> None:
    """CE refuses any partition, in the header first, then in the query."""
    if request.headers.get("X-Consul-Partition", ""):
        raise BadRequest(PARTITION_HEADER)
    if request.query_params.get("partition", ""):
        raise BadRequest(PARTITION_QUERY)


def _authorize(request: Request, access: str) -> None:
    """``peering:read``/``peering:write``, checked by the peering gRPC service, so a denial (or
    an unknown token) reaches the HTTP caller as the gRPC client's ``code = Unknown`` string,
    still a 403 because it contains Consul's sentence."""
    try:
        authorizer(request, cluster_of(request)).require("peering", access)
    except PermissionDenied as err:
        raise PermissionDenied(f"rpc error: code = Unknown desc = {err.message}") from None


def _read_options(request: Request) -> QueryOptions:
    """Blocking and ``?pretty`` only: peering reads ignore ``?dc`` and always go to the
    leader, so ``?stale``/``?consistent`` change nothing."""
    opts = QueryOptions(pretty=flag(request, "pretty"))
    parse_wait(request, opts)
    return opts


@router.endpoint(
    "/v1/peering/token",
    "POST",
    doc=Op(
        "generate a peering token for a peer to establish with",
        (PARTITION, PRETTY),
        Body(GenerateTokenRequest),
        (ok({"type": "object", "properties": {"PeeringToken": STRING}}),),
    ),
)
async def generate_token(request: Request) -> Response:
    req = await _body(request, GenerateTokenRequest)
    if not req.peer_name:
        raise BadRequest("PeerName is required in the payload when generating a new peering token.")
    _check_partition(request)
    _authorize(request, "write")
    token = cluster_of(request).peering.generate_token(
        req.peer_name,
        meta=req.meta,
        partition=req.partition or request.query_params.get("partition", ""),
        server_external_addresses=req.server_external_addresses,
    )
    return json_response({"PeeringToken": token}, pretty=flag(request, "pretty"))


@router.endpoint(
    "/v1/peering/establish",
    "POST",
    doc=Op(
        "establish a peering from a token",
        (PARTITION, PRETTY),
        Body(EstablishRequest),
        (ok(OBJECT),),
    ),
)
async def establish(request: Request) -> Response:
    req = await _body(request, EstablishRequest)
    if not req.peer_name:
        raise BadRequest("PeerName is required in the payload when establishing a peering.")
    if not req.peering_token:
        raise BadRequest("PeeringToken is required in the payload when establishing a peering.")
    _check_partition(request)
    _authorize(request, "write")
    service = cluster_of(request).peering
    plan = service.prepare_establish(req.peer_name, req.peering_token, meta=req.meta)
    # The exchange may dial another process: it must not hold this loop or the world lock.
    await exchange_secret(cluster_of(request).world, service, plan)
    return json_response({}, pretty=flag(request, "pretty"))


@router.endpoint(
    "/v1/peering/",
    "GET",
    "DELETE",
    doc=Op("a peering with no name: always refused", answers=(), errors=(400,)),
)
async def empty_name(request: Request) -> Response:
    raise BadRequest(NO_NAME)


@router.endpoint(
    "/v1/peering/{name:path}",
    "GET",
    "DELETE",
    doc={
        "GET": Op(
            "a peering by name",
            (*BLOCKING, PARTITION, PRETTY),
            answers=(ok(OBJECT),),
            errors=MAY_BE_MISSING,
        ),
        "DELETE": Op("delete a peering (it is marked for deletion and removed)", (PARTITION,)),
    },
)
async def peering(request: Request) -> Response:
    name = request.path_params["name"]
    if not name:
        raise BadRequest(NO_NAME)
    _check_partition(request)
    cluster = cluster_of(request)
    service = cluster.peering
    if request.method == "DELETE":
        _authorize(request, "write")
        service.delete(name)
        return empty_response()
    opts = _read_options(request)
    service.check_enabled()
    _authorize(request, "read")

    def read() -> tuple[int, dict[str, Any] | None]:
        index, record = service.read_record(name)
        return index, service.render(record) if record is not None else None

    index, found = await blocking(request, cluster, opts, read)
    if found is None:
        raise not_found(name)
    return json_response(found, pretty=opts.pretty, index=index)


@router.endpoint(
    "/v1/peerings",
    "GET",
    doc=Op("every peering", (*BLOCKING, PARTITION, PRETTY), answers=(ok(OBJECTS),)),
)
async def peerings(request: Request) -> Response:
    _check_partition(request)
    cluster = cluster_of(request)
    service = cluster.peering
    opts = _read_options(request)
    service.check_enabled()
    _authorize(request, "read")

    def read() -> tuple[int, list[dict[str, Any]]]:
        index, records = service.list_records()
        return index, [service.render(r) for r in records]

    index, found = await blocking(request, cluster, opts, read)
    return json_response(found, pretty=opts.pretty, index=index)


@router.endpoint(
    "/v1/exported-services",
    "GET",
    doc=Op(
        "each exported service with the peers that consume it",
        (*READ_OPTIONS, PARTITION),
        answers=(ok(OBJECTS),),
    ),
)
async def exported_services(request: Request) -> Response:
    """Each exported name with its consumer peers, wildcards expanded (the same function that
    decides what replication sends). Blocks on config entries and, for ``*``, the catalog."""
    _check_partition(request)
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    authorizer(request, cluster).require("mesh", "read")
    store = cluster.store

    def read() -> tuple[int, list[dict[str, object]]]:
        with store.lock:
            return store.max_index((CONFIG_ENTRIES, SERVICES)), exported_services_view(store)

    index, found = await blocking(request, cluster, opts, read)
    return json_response(found, pretty=opts.pretty, index=index)
