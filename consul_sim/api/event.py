"""/v1/event/fire/:name and /v1/event/list: thin handlers over ``cluster.events``.

Both follow Consul's ``agent/event_endpoint.go``: the name is the rest of the path, the filters
come from ``?node``, ``?service`` and ``?tag``, the payload is the raw body (only when the request
says its length), and the list blocks only while its index equals ``?index`` (the index is
derived from the newest event's UUID, so it is not monotonic).
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    QueryOptions,
    authorizer,
    check_dc,
    cluster_of,
    flag,
    json_response,
    parse_wait,
    read_authorizer,
    results_filter,
    wait_for,
)
from consul_sim.api.openapi import (
    BLOCKING,
    DC,
    OBJECT,
    OBJECTS,
    PRETTY,
    STRING,
    Body,
    Op,
    Param,
    ok,
)
from consul_sim.errors import BadRequest, ConsulError
from consul_sim.events import UserEvent, list_index

router = ConsulRouter()

PERMISSION_DENIED = "Permission denied"
"""What the fire handler writes for an ACL refusal (``acl.ErrPermissionDenied.Error()``)."""


@router.endpoint(
    "/v1/event/fire/{name:path}",
    "PUT",
    doc=Op(
        "fire a user event; this cluster's one agent keeps it when it passes the filters",
        (
            DC,
            Param("node", "a regular expression the receiving node's name must match"),
            Param("service", "a regular expression a local service's ID must match"),
            Param("tag", "a regular expression a tag of that service must match"),
            PRETTY,
        ),
        Body(schema=dict(STRING), media="application/octet-stream", required=False),
        (ok(OBJECT),),
        errors=(400, 403, 500),
    ),
)
async def fire(request: Request) -> Response:
    name = request.path_params["name"]
    if not name:
        raise BadRequest("Missing name")
    cluster = cluster_of(request)
    q = request.query_params
    payload: bytes | None = None
    if int(request.headers.get("content-length", "0") or "0") > 0:
        payload = await request.body()
    filters = {
        "node_filter": q.get("node", ""),
        "service_filter": q.get("service", ""),
        "tag_filter": q.get("tag", ""),
    }
    events = cluster.events
    # The agent validates, then the RPC is forwarded (?dc) and checks event:write. Only a
    # permission refusal is a 403; any other RPC error (an unknown token) is a 500.
    events.check(name, **filters)
    check_dc(request, cluster)
    try:
        authz = authorizer(request, cluster)
    except ConsulError as err:
        raise ConsulError(err.message, 500) from None
    if not authz.allowed("event", "write", name):
        raise ConsulError(PERMISSION_DENIED, 403)
    event = events.fire(name, payload, **filters)
    return json_response(event.render(), pretty=flag(request, "pretty"))


@router.endpoint(
    "/v1/event/list",
    "GET",
    doc=Op(
        "the agent's recent user events, oldest first",
        (*BLOCKING, Param("name", "only events of this name"), PRETTY),
        answers=(ok(OBJECTS),),
        errors=(400, 403),
    ),
)
async def event_list(request: Request) -> Response:
    opts = QueryOptions(pretty=flag(request, "pretty"))
    parse_wait(request, opts)
    cluster = cluster_of(request)
    results = results_filter(request, read_authorizer(request, cluster))
    name = request.query_params.get("name", "")

    def read() -> tuple[int, list[UserEvent]]:
        kept = results.keep(
            cluster.events.list(name), lambda authz, e: authz.allowed("event", "read", e.name)
        )
        return list_index(kept), kept

    index, found = await wait_for(
        cluster, opts.wait, read, lambda r: opts.index == 0 or r[0] != opts.index
    )
    headers = results.headers({"X-Consul-Index": str(index)})
    return json_response([e.render() for e in found], pretty=opts.pretty, headers=headers)
