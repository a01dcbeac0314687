"""/v1/session: Consul's session handlers, thin over ``consul_sim.sessions``.

Writes (create, destroy) parse only the datacenter and the token; reads (info, list, node) and
renew parse the full query options. As in the KV handlers, an unknown ``?dc`` is only noticed
when the RPC is forwarded, so each handler's own 400s come first. Reads report the ``sessions``
table index and block on it; a session whose node the token may not read is left out silently.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from starlette.responses import Response

from consul_sim import sessions
from consul_sim.acl import READ
from consul_sim.api.http import (
    ConsulRouter,
    QueryOptions,
    authorizer,
    blocking,
    check_dc,
    cluster_of,
    flag,
    forward,
    json_response,
    query_options,
    results_filter,
)
from consul_sim.api.openapi import (
    BOOL,
    DC,
    ID_ANSWER,
    MAY_BE_MISSING,
    OBJECTS,
    PRETTY,
    READ_OPTIONS,
    STRING,
    STRINGS,
    Body,
    Op,
    ok,
)
from consul_sim.errors import BadRequest, NotFound
from consul_sim.models.base import DecodeError

router = ConsulRouter()

SESSION_BODY = {
    "type": "object",
    "properties": {
        "Name": STRING,
        "Node": STRING,
        "LockDelay": {"type": ["string", "integer"]},
        "Behavior": {"type": "string", "enum": ["release", "delete"]},
        "TTL": STRING,
        "Checks": STRINGS,
        "NodeChecks": STRINGS,
        "ServiceChecks": {
            "type": "array",
            "items": {"type": "object", "properties": {"ID": STRING, "Namespace": STRING}},
        },
    },
}


def _parse(request: Request) -> QueryOptions:
    """Consul's parse(): an unreachable ``?dc`` is reported only where the RPC is forwarded."""
    return query_options(request, cluster_of(request), defer_dc=True)


def _required(request: Request, name: str, message: str) -> str:
    value: str = request.path_params[name]
    if value == "":
        raise BadRequest(message)
    return value


@router.endpoint(
    "/v1/session/create",
    "PUT",
    doc=Op(
        "create a session",
        (DC, PRETTY),
        Body(schema=SESSION_BODY, required=False),
        (ok(ID_ANSWER),),
    ),
)
async def create(request: Request) -> Response:
    cluster = cluster_of(request)
    declared = request.headers.get("content-length", "")
    raw = await request.body() if declared.isdigit() and int(declared) > 0 else b""
    try:
        spec = sessions.decode_create(raw, cluster.node_name)
    except DecodeError as exc:
        raise BadRequest(f"Request decode failed: {exc}") from None
    check_dc(request, cluster)
    authz = authorizer(request, cluster)
    session_id = sessions.create(cluster.store, cluster.world.scheduler, cluster.rand, spec, authz)
    return json_response({"ID": session_id}, pretty=flag(request, "pretty"))


@router.endpoint(
    "/v1/session/destroy/{session_id:path}",
    "PUT",
    doc=Op("destroy a session", (DC, PRETTY), answers=(ok(BOOL),)),
)
async def destroy(request: Request) -> Response:
    cluster = cluster_of(request)
    session_id = _required(request, "session_id", "Missing session")
    check_dc(request, cluster)
    authz = authorizer(request, cluster)
    sessions.destroy(cluster.store, cluster.world.scheduler, session_id, authz)
    return json_response(True, pretty=flag(request, "pretty"))


@router.endpoint(
    "/v1/session/renew/{session_id:path}",
    "PUT",
    doc=Op("renew a TTL session", READ_OPTIONS, answers=(ok(OBJECTS),), errors=MAY_BE_MISSING),
)
async def renew(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = _parse(request)
    session_id = _required(request, "session_id", "Missing session")
    opts = forward(opts)
    authz = authorizer(request, cluster)
    session = sessions.renew(cluster.store, cluster.world.scheduler, session_id, authz)
    if session is None:
        raise NotFound(f"Session id '{session_id}' not found")
    return json_response([session.render()], pretty=opts.pretty)


async def _read(
    request: Request,
    opts: QueryOptions,
    read: Callable[[], tuple[int, list[sessions.Session]]],
) -> Response:
    cluster = cluster_of(request)
    authz = authorizer(request, cluster)
    index, found = await blocking(request, cluster, opts, read)
    acl = results_filter(request, authz)
    visible = acl.keep(found, lambda authz, s: authz.allowed("session", READ, s.node))
    return json_response(
        [s.render() for s in visible], pretty=opts.pretty, index=index, headers=acl.headers()
    )


@router.endpoint(
    "/v1/session/info/{session_id:path}",
    "GET",
    doc=Op("a session by ID (an empty list when unknown)", READ_OPTIONS, answers=(ok(OBJECTS),)),
)
async def info(request: Request) -> Response:
    opts = _parse(request)
    session_id = _required(request, "session_id", "Missing session")
    store = cluster_of(request).store
    return await _read(request, forward(opts), lambda: sessions.get(store, session_id))


@router.endpoint(
    "/v1/session/list",
    "GET",
    doc=Op("every session", READ_OPTIONS, answers=(ok(OBJECTS),)),
)
async def list_sessions(request: Request) -> Response:
    opts = forward(_parse(request))
    store = cluster_of(request).store
    return await _read(request, opts, lambda: sessions.list_all(store))


@router.endpoint(
    "/v1/session/node/{node:path}",
    "GET",
    doc=Op("the sessions of a node", READ_OPTIONS, answers=(ok(OBJECTS),)),
)
async def node_sessions(request: Request) -> Response:
    opts = _parse(request)
    node = _required(request, "node", "Missing node name")
    store = cluster_of(request).store
    return await _read(request, forward(opts), lambda: sessions.node_sessions(store, node))
