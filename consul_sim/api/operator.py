"""/v1/operator: Raft, autopilot, keyring and usage, as ``agent/operator_endpoint.go`` answers.

Thin handlers over ``cluster.operator`` (:mod:`consul_sim.operator`). Reads need
``operator:read``, changes ``operator:write``, the keyring ``keyring:read``/``keyring:write``
(the server RPCs check them: ``agent/consul/operator_*_endpoint.go``,
``Internal.KeyringOperation``). Only the usage answer carries query meta (``setMeta``); the
others are plain replies without index headers.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    authorizer,
    blocking,
    check_dc,
    cluster_of,
    empty_response,
    json_response,
    query_options,
)
from consul_sim.api.openapi import (
    BOOL,
    CAS,
    DC,
    OBJECT,
    READ_OPTIONS,
    Body,
    Op,
    Param,
    ok,
)
from consul_sim.errors import BadRequest
from consul_sim.gostd import NumError, parse_bool, parse_uint
from consul_sim.models.base import DecodeError, json_kind, parse_json
from consul_sim.operator import decode_autopilot

router = ConsulRouter()

READ = "read"
WRITE = "write"


@router.endpoint(
    "/v1/operator/raft/configuration",
    "GET",
    doc=Op(
        "the Raft configuration: this cluster's one voting server",
        READ_OPTIONS,
        answers=(ok(OBJECT),),
    ),
)
async def raft_configuration(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    authorizer(request, cluster).require("operator", READ)
    with cluster.store.lock:
        body = cluster.operator.raft_configuration()
    return json_response(body, pretty=opts.pretty)


@router.endpoint(
    "/v1/operator/raft/peer",
    "DELETE",
    doc=Op(
        "remove a Raft peer by ID or address (the only server cannot be removed)",
        (DC, Param("id", "the server's node ID"), Param("address", "the server's IP:port")),
    ),
)
async def raft_peer(request: Request) -> Response:
    """``OperatorRaftPeer``: exactly one of ``?id`` and ``?address``, checked before ACLs."""
    cluster = cluster_of(request)
    check_dc(request, cluster)
    params = request.query_params
    has_id, has_address = "id" in params, "address" in params
    if not has_id and not has_address:
        raise BadRequest(
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to "
            "remove"
        )
    if has_id and has_address:
        raise BadRequest("Must specify only one of ?id or ?address")
    authorizer(request, cluster).require("operator", WRITE)
    cluster.operator.remove_peer(
        peer_id=params["id"] if has_id else None,
        address=params["address"] if has_address else None,
    )
    return empty_response()


@router.endpoint(
    "/v1/operator/raft/transfer-leader",
    "POST",
    doc=Op(
        "hand leadership to another server (a single server has none)",
        (Param("id", "the server to hand leadership to"),),
        answers=(ok(OBJECT),),
    ),
)
async def transfer_leader(request: Request) -> Response:
    cluster = cluster_of(request)
    authorizer(request, cluster).require("operator", WRITE)
    cluster.operator.transfer_leader(request.query_params.get("id", ""))
    return json_response({"Success": True})


@router.endpoint(
    "/v1/operator/autopilot/configuration",
    "GET",
    "PUT",
    doc={
        "GET": Op("the autopilot configuration", READ_OPTIONS, answers=(ok(OBJECT),)),
        "PUT": Op(
            "replace the autopilot configuration (with ?cas, only at that index)",
            (DC, CAS),
            Body(schema=OBJECT),
            (ok(BOOL),),
        ),
    },
)
async def autopilot_configuration(request: Request) -> Response:
    cluster = cluster_of(request)
    if request.method == "GET":
        opts = query_options(request, cluster)
        authorizer(request, cluster).require("operator", READ)
        return json_response(cluster.operator.autopilot.render(), pretty=opts.pretty)
    check_dc(request, cluster)
    raw = await request.body()
    try:
        body: Any = parse_json(raw)
    except DecodeError as exc:
        raise BadRequest(f"Error parsing autopilot config: {exc}") from None
    fields = decode_autopilot(body)
    cas: int | None = None
    if "cas" in request.query_params:
        try:
            cas = parse_uint(request.query_params["cas"], 10, 64)
        except NumError as exc:
            raise BadRequest(f"Error parsing cas value: {exc}") from None
    authorizer(request, cluster).require("operator", WRITE)
    with cluster.store.lock:
        done = cluster.operator.set_autopilot(fields, cas)
    return json_response(done)


@router.endpoint(
    "/v1/operator/autopilot/health",
    "GET",
    doc=Op("the servers' health as autopilot sees it", READ_OPTIONS, answers=(ok(OBJECT),)),
)
async def autopilot_health(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    authorizer(request, cluster).require("operator", READ)
    with cluster.store.lock:
        body = cluster.operator.server_health()
    return json_response(body, pretty=opts.pretty)


@router.endpoint(
    "/v1/operator/autopilot/state",
    "GET",
    doc=Op(
        "autopilot's full state: servers by ID, leader, voters", READ_OPTIONS, answers=(ok(OBJECT),)
    ),
)
async def autopilot_state(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    authorizer(request, cluster).require("operator", READ)
    with cluster.store.lock:
        row = cluster.store.catalog.row("", cluster.node_name)
        meta = dict(row.node.meta) if row is not None else {}
        body = cluster.operator.autopilot_state(meta)
    return json_response(body, pretty=opts.pretty)


_KEYRING_OPS = {"GET": "list", "POST": "install", "PUT": "use", "DELETE": "remove"}


@router.endpoint(
    "/v1/operator/keyring",
    "GET",
    "POST",
    "PUT",
    "DELETE",
    doc={
        method: Op(
            f"{op} gossip keys (gossip encryption is off: Consul's 500)",
            (Param("relay-factor", "0 to 5"), Param("local-only", "list only this agent's")),
            None if method == "GET" else Body(schema=OBJECT),
            (ok(OBJECT),),
        )
        for method, op in _KEYRING_OPS.items()
    },
)
async def keyring(request: Request) -> Response:
    """``OperatorKeyringEndpoint``: body and parameters are checked first, then the token."""
    cluster = cluster_of(request)
    if request.method != "GET":
        try:
            body = parse_json(await request.body())
        except DecodeError as exc:
            raise BadRequest(f"Request decode failed: {exc}") from None
        _check_keyring_args(body)
    _keyring_params(request)
    operation = _KEYRING_OPS[request.method]
    access = READ if operation == "list" else WRITE
    authorizer(request, cluster).require("keyring", access)
    cluster.operator.keyring(operation)
    return empty_response()  # pragma: no cover - encryption is never on


def _check_keyring_args(body: Any) -> None:
    """``decodeBody`` into ``keyringArgs`` (Key, Token, RelayFactor, LocalOnly): Go's
    type errors for a body that is not an object or a field of the wrong JSON type."""
    if body is None:
        return
    if not isinstance(body, dict):
        raise BadRequest(
            f"Request decode failed: json: cannot unmarshal {json_kind(body)} into Go value "
            "of type agent.keyringArgs"
        )
    types = {"key": ("Key", "string"), "token": ("Token", "string")}
    for name, value in body.items():
        field = types.get(name.lower())
        if field is None or value is None:
            continue
        go_name, go_type = field
        if json_kind(value) != go_type:
            raise BadRequest(
                f"Request decode failed: json: cannot unmarshal {json_kind(value)} into Go "
                f"struct field keyringArgs.{go_name} of type {go_type}"
            )


def _keyring_params(request: Request) -> None:
    params = request.query_params
    relay = params.get("relay-factor", "")
    if relay:
        try:
            n = int(relay, 10)
        except ValueError:
            raise BadRequest(
                f'Error parsing relay factor: strconv.Atoi: parsing "{relay}": invalid syntax'
            ) from None
        if not 0 <= n <= 5:
            raise BadRequest("Invalid relay-factor: Relay factor must be in range: [0, 5]")
    local = params.get("local-only", "")
    if local:
        try:
            local_only = parse_bool(local)
        except NumError as exc:
            raise BadRequest(f"Error parsing local-only: {exc}") from None
        if local_only and request.method != "GET":
            raise BadRequest(
                "Invalid use of local-only: local-only can only be set for list requests"
            )


@router.endpoint(
    "/v1/operator/usage",
    "GET",
    doc=Op(
        "service and instance counts of this datacenter",
        (*READ_OPTIONS, Param("global", "every WAN-federated datacenter (only this one here)")),
        answers=(ok(OBJECT),),
    ),
)
async def usage(request: Request) -> Response:
    """``OperatorUsage``, a blocking query: ``?global`` adds WAN-federated datacenters; peers
    are not federated, so the answer is this datacenter's either way."""
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    authorizer(request, cluster).require("operator", READ)
    operator = cluster.operator

    def read() -> tuple[int, dict[str, Any]]:
        with cluster.store.lock:
            return operator.usage()

    index, counts = await blocking(request, cluster, opts, read)
    body = {
        "Usage": counts,
        "Index": index,
        "LastContact": 0,
        "KnownLeader": True,
        "ConsistencyLevel": opts.consistency,
        "NotModified": False,
        "Backend": 0,
        "ResultsFilteredByACLs": False,
    }
    return opts.respond(body, index)
