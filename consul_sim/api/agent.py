"""/v1/agent: the local agent's services, checks, maintenance, members and self.

Agent endpoints answer from the agent's local state, not the catalog, so they carry no
``X-Consul-Index``, take no ``?index`` blocking (only ``GET /v1/agent/service/:id`` blocks, on a
content hash) and never parse ``?dc``. Every write answers 200 with an empty body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.agent_ops import control_of, running_config
from consul_sim.api.http import (
    ConsulRouter,
    QueryOptions,
    apply_filter,
    authorizer,
    cluster_of,
    empty_response,
    flag,
    json_response,
    parse_wait,
    read_authorizer,
    read_json,
    results_filter,
    wait_for,
)
from consul_sim.api.openapi import (
    FILTER,
    INDEX,
    MAY_BE_MISSING,
    OBJECT,
    OBJECTS,
    PRETTY,
    STRING,
    WAIT,
    Answer,
    Body,
    Op,
    Param,
    ok,
)
from consul_sim.catalog.agent import STATUS_FOR_ENDPOINT, truncate_output
from consul_sim.catalog.agent_info import (
    build_info,
    local_check_json,
    member,
    self_info,
    service_health,
    services_health,
    unknown_service_health,
)
from consul_sim.catalog.vetting import (
    can_read_local_check,
    can_read_local_service,
    can_read_member,
    vet_check_register,
    vet_check_update,
    vet_service_register,
    vet_service_update,
    vet_sidecar_register,
)
from consul_sim.errors import BadRequest, NotFound
from consul_sim.gostd import NumError, parse_bool, quote
from consul_sim.models.agent import (
    AGENT_SERVICE_FIELDS,
    CheckType,
    CheckUpdate,
    ServiceDefinition,
    hash_of,
    render_agent_service,
)
from consul_sim.models.base import DecodeError, decode_body
from consul_sim.models.catalog import CHECK_STATUSES, NodeService

if TYPE_CHECKING:
    from consul_sim.world import Cluster

router = ConsulRouter()

ENABLE = Param("enable", "true or false (Go's ParseBool)", required=True)
REASON = Param("reason", "why, shown in the maintenance check's notes")
NOTE = Param("note", "the check's new output")
FORMAT = Param("format", "`text` answers the status word alone, as `Accept: text/plain` does")


def health_answers(body: dict[str, object]) -> tuple[Answer, ...]:
    """LocalBlockingQuery's health codes (``agent/agent_endpoint.go``): 200 passing, 429
    warning, 503 critical, 404 unknown; JSON, or the status word with ``?format=text``."""
    text = (("text/plain", dict(STRING)),)
    return tuple(
        Answer(code, meaning, schema=body, alternatives=text)
        for code, meaning in (
            (200, "passing"),
            (429, "warning"),
            (503, "critical (or maintenance)"),
            (404, "no such service"),
        )
    )


def _decode_error(exc: DecodeError) -> BadRequest:
    return BadRequest(f"Request decode failed: {exc}")


def _pretty(request: Request) -> bool:
    return flag(request, "pretty")


# -- services ------------------------------------------------------------------------------------
@router.endpoint(
    "/v1/agent/services",
    "GET",
    doc=Op(
        "the agent's local services by ID",
        (FILTER, PRETTY),
        answers=(ok({"type": "object", "additionalProperties": OBJECT}),),
        errors=(400, 403, 500),
    ),
)
async def services(request: Request) -> Response:
    cluster = cluster_of(request)
    expression = request.query_params.get("filter", "")
    acl = results_filter(request, read_authorizer(request, cluster))
    with cluster.store.lock:
        found = list(cluster.agent.agent_services().values())

    def render(svc: NodeService) -> dict[str, Any]:
        return render_agent_service(svc, cluster.datacenter)

    # before ?filter: an expression only sees what the token may read
    found = acl.keep(found, can_read_local_service)
    kept = apply_filter(expression, found, render, AGENT_SERVICE_FIELDS)
    return json_response(
        {svc.id: render(svc) for svc in kept}, pretty=_pretty(request), headers=acl.headers()
    )


@router.endpoint(
    "/v1/agent/service/register",
    "PUT",
    doc=Op(
        "register a service with the local agent",
        (Param("replace-existing-checks", "drop checks the definition no longer has", flag=True),),
        Body(ServiceDefinition),
    ),
)
async def register_service(request: Request) -> Response:
    cluster = cluster_of(request)
    data = await read_json(request)
    try:
        sd = decode_body(ServiceDefinition, data, root="", strict=True)
    except DecodeError as exc:
        raise _decode_error(exc) from None
    q = request.query_params
    replace = "replace-existing-checks" in q and q["replace-existing-checks"] in ("", "true")
    if sd.name:  # a missing name is the handler's 400, which Consul checks before the token
        vet_service_register(authorizer(request, cluster), cluster.agent, sd)

    def vet_sidecar(sidecar: NodeService, token: str) -> None:
        authz = cluster.acl.resolve(token) if token else authorizer(request, cluster)
        vet_sidecar_register(authz, cluster.agent, sidecar)

    with cluster.store.lock:
        cluster.agent.register_service(sd, replace_existing_checks=replace, vet_sidecar=vet_sidecar)
    control = control_of(cluster)
    if control is not None and control.log is not None:
        # The local state's sync logs each service it pushes (agent/local/state.go).
        control.log("info", "agent", "Synced service", service=sd.id or sd.name)
    return empty_response()


@router.endpoint(
    "/v1/agent/service/deregister/{service_id:path}",
    "PUT",
    doc=Op("deregister a local service", errors=MAY_BE_MISSING),
)
async def deregister_service(request: Request) -> Response:
    cluster = cluster_of(request)
    service_id = request.path_params["service_id"]
    if cluster.agent.service(service_id) is not None:  # the token is asked only then
        vet_service_update(authorizer(request, cluster), cluster.agent, service_id)
    with cluster.store.lock:
        cluster.agent.deregister_service(service_id)
    return empty_response()


@router.endpoint(
    "/v1/agent/service/maintenance/{service_id:path}",
    "PUT",
    doc=Op(
        "put a local service in or out of maintenance", (ENABLE, REASON), errors=(400, 403, 404)
    ),
)
async def service_maintenance(request: Request) -> Response:
    cluster = cluster_of(request)
    service_id = request.path_params["service_id"]
    if not service_id:
        raise BadRequest("Missing service ID")
    enable = _enable_param(request)
    authz = read_authorizer(request, cluster)
    if authz is not None:
        vet_service_update(authz, cluster.agent, service_id)
    with cluster.store.lock:
        cluster.agent.set_service_maintenance(
            service_id, enable, request.query_params.get("reason", "")
        )
    return empty_response()


@router.endpoint(
    "/v1/agent/maintenance",
    "PUT",
    doc=Op("put the agent's node in or out of maintenance", (ENABLE, REASON), errors=(400, 403)),
)
async def node_maintenance(request: Request) -> Response:
    cluster = cluster_of(request)
    enable = _enable_param(request)
    if cluster.acl.enabled:
        authorizer(request, cluster).require("node", "write", cluster.node_name)
    with cluster.store.lock:
        cluster.agent.set_node_maintenance(enable, request.query_params.get("reason", ""))
    return empty_response()


def _enable_param(request: Request) -> bool:
    q = request.query_params
    if "enable" not in q:
        raise BadRequest("Missing value for enable")
    raw = q["enable"]
    try:
        return parse_bool(raw)
    except NumError:
        raise BadRequest(f"Invalid value for enable: {quote(raw)}") from None


@router.endpoint(
    "/v1/agent/service/{service_id:path}",
    "GET",
    doc=Op(
        "one local service; blocks on its content hash",
        (Param("hash", "block until the content hash differs"), INDEX, WAIT, PRETTY),
        answers=(ok(OBJECT),),
        errors=(400, 403, 404),
    ),
)
async def service(request: Request) -> Response:
    """One local service, with hash-based blocking (``?hash=`` + ``?wait=``)."""
    cluster = cluster_of(request)
    service_id = request.path_params["service_id"]
    wait = _parse_wait(request)
    wanted = request.query_params.get("hash", "")
    authz = read_authorizer(request, cluster)

    def read() -> tuple[str, dict[str, Any]]:
        with cluster.store.lock:
            svc = cluster.agent.service(service_id)
            if svc is None:
                raise NotFound(f"unknown service ID: {service_id}")
            if authz is not None:
                authz.require("service", "read", svc.service)
            body = render_agent_service(svc, cluster.datacenter)
        digest = hash_of(body)
        return digest, render_agent_service(svc, cluster.datacenter, content_hash=digest)

    digest, body = await _hash_blocking(cluster, wanted, wait, read)
    return json_response(body, pretty=_pretty(request), headers={"X-Consul-ContentHash": digest})


def _parse_wait(request: Request) -> float:
    """What parseWait checks on an agent endpoint: a Go duration and an unsigned index."""
    opts = QueryOptions()
    parse_wait(request, opts)
    return opts.wait


async def _hash_blocking(
    cluster: Cluster,
    wanted: str,
    wait: float,
    read: Callable[[], tuple[str, dict[str, Any]]],
) -> tuple[str, dict[str, Any]]:
    """Consul's LocalBlockingQuery: answer at once unless ``wanted`` is the current hash."""
    return await wait_for(cluster, wait, read, lambda result: not wanted or result[0] != wanted)


# -- checks --------------------------------------------------------------------------------------
@router.endpoint(
    "/v1/agent/checks",
    "GET",
    doc=Op(
        "the agent's local checks by ID",
        (FILTER, PRETTY),
        answers=(ok({"type": "object", "additionalProperties": OBJECT}),),
        errors=(400, 403, 500),
    ),
)
async def checks(request: Request) -> Response:
    cluster = cluster_of(request)
    expression = request.query_params.get("filter", "")
    acl = results_filter(request, read_authorizer(request, cluster))
    with cluster.store.lock:
        found = list(cluster.agent.agent_checks().values())

    found = acl.keep(found, lambda authz, c: can_read_local_check(authz, cluster.agent, c))
    kept = apply_filter(expression, found, local_check_json)
    return json_response(
        {c.check_id: local_check_json(c) for c in kept},
        pretty=_pretty(request),
        headers=acl.headers(),
    )


@router.endpoint(
    "/v1/agent/check/register",
    "PUT",
    doc=Op("register a check with the local agent", body=Body(CheckType)),
)
async def register_check(request: Request) -> Response:
    cluster = cluster_of(request)
    data = await read_json(request)
    try:
        ct = decode_body(CheckType, data, root="", strict=True)
    except DecodeError as exc:
        raise _decode_error(exc) from None
    authz = read_authorizer(request, cluster)
    if authz is not None:
        vet_check_register(authz, cluster.agent, ct)
    with cluster.store.lock:
        cluster.agent.register_check(ct)
    return empty_response()


@router.endpoint(
    "/v1/agent/check/deregister/{check_id:path}",
    "PUT",
    doc=Op("deregister a local check", errors=MAY_BE_MISSING),
)
async def deregister_check(request: Request) -> Response:
    cluster = cluster_of(request)
    _vet_check_update(request, cluster)
    with cluster.store.lock:
        cluster.agent.deregister_check(request.path_params["check_id"])
    return empty_response()


def _vet_check_update(request: Request, cluster: Cluster) -> None:
    authz = read_authorizer(request, cluster)
    if authz is not None:
        vet_check_update(authz, cluster.agent, request.path_params["check_id"])


async def _ttl_update(request: Request, endpoint: str) -> Response:
    cluster = cluster_of(request)
    note = request.query_params.get("note", "")
    _vet_check_update(request, cluster)
    with cluster.store.lock:
        cluster.agent.update_ttl(
            request.path_params["check_id"], STATUS_FOR_ENDPOINT[endpoint], note
        )
    return empty_response()


@router.endpoint(
    "/v1/agent/check/pass/{check_id:path}",
    "PUT",
    doc=Op("set a TTL check passing", (NOTE,), errors=MAY_BE_MISSING),
)
async def check_pass(request: Request) -> Response:
    return await _ttl_update(request, "pass")


@router.endpoint(
    "/v1/agent/check/warn/{check_id:path}",
    "PUT",
    doc=Op("set a TTL check warning", (NOTE,), errors=MAY_BE_MISSING),
)
async def check_warn(request: Request) -> Response:
    return await _ttl_update(request, "warn")


@router.endpoint(
    "/v1/agent/check/fail/{check_id:path}",
    "PUT",
    doc=Op("set a TTL check critical", (NOTE,), errors=MAY_BE_MISSING),
)
async def check_fail(request: Request) -> Response:
    return await _ttl_update(request, "fail")


@router.endpoint(
    "/v1/agent/check/update/{check_id:path}",
    "PUT",
    doc=Op("set a TTL check's status and output", body=Body(CheckUpdate), errors=MAY_BE_MISSING),
)
async def check_update(request: Request) -> Response:
    cluster = cluster_of(request)
    data = await read_json(request)
    try:
        update = decode_body(CheckUpdate, data, strict=True)
    except DecodeError as exc:
        raise _decode_error(exc) from None
    if update.status not in CHECK_STATUSES:
        raise BadRequest(f"Invalid check status: '{update.status}'")
    # The handler cuts the output once, then the TTL check cuts what it is given again.
    output = truncate_output(update.output)
    _vet_check_update(request, cluster)
    with cluster.store.lock:
        cluster.agent.update_ttl(request.path_params["check_id"], update.status, output)
    return empty_response()


# -- self and members ----------------------------------------------------------------------------
@router.endpoint(
    "/v1/agent/members",
    "GET",
    doc=Op(
        "the gossip members this agent sees",
        (Param("wan", "the WAN pool"), Param("segment", "a network segment"), PRETTY),
        answers=(ok(OBJECTS),),
        errors=(400, 403),
    ),
)
async def members(request: Request) -> Response:
    cluster = cluster_of(request)
    q = request.query_params
    wan = bool(q.get("wan", ""))
    segment = q.get("segment", "")
    if wan and segment not in ("", "_all"):
        raise BadRequest("Cannot provide a segment with wan=true")
    acl = results_filter(request, read_authorizer(request, cluster))
    found = acl.keep([member(cluster, wan=wan)], can_read_member)
    return json_response(found, pretty=_pretty(request), headers=acl.headers())


@router.endpoint(
    "/v1/agent/self",
    "GET",
    doc=Op("the agent's configuration and member", (PRETTY,), answers=(ok(OBJECT),), errors=(403,)),
)
async def self_(request: Request) -> Response:
    cluster = cluster_of(request)
    if cluster.acl.enabled:
        authorizer(request, cluster).require("agent", "read", cluster.node_name)
    info = self_info(cluster)
    running = running_config(cluster)  # what consul-sim agent was configured with
    info["Config"] = {**info["Config"], **running["Config"]}
    info["DebugConfig"] = dict(sorted({**info["DebugConfig"], **running["DebugConfig"]}.items()))
    info["DebugConfig"].update(cluster.acl.debug_config())
    info["Stats"]["consul"]["acl"] = "enabled" if cluster.acl.enabled else "disabled"
    return json_response(info, pretty=_pretty(request))


# -- version and local service health -------------------------------------------------------------
@router.endpoint(
    "/v1/agent/version",
    "GET",
    doc=Op("the build the agent runs", (PRETTY,), answers=(ok(OBJECT),), errors=()),
)
async def version(request: Request) -> Response:
    """``version.GetBuildInfo()``; the handler asks for no token."""
    return json_response(build_info(), pretty=_pretty(request))


def _wants_text(request: Request) -> bool:
    """Consul's returnTextPlain: an ``Accept: text/plain…`` header, else ``?format=text``."""
    if request.headers.get("Accept", "").startswith("text/plain"):
        return True
    return request.query_params.get("format", "") == "text"


_UNSENDABLE = str.maketrans({"\r": " ", "\n": " ", "\x00": " ", "\x0b": " ", "\x0c": " "})


def _header_value(text: str) -> str:
    """The reason as Go's net/http writes a header value: CR and LF become spaces
    (``headerNewlineToSpace``), surrounding blanks are trimmed (``textproto.TrimString``) and
    the rest goes out as its UTF-8 bytes, so a service ID from the path (``%F3%B1%86%A5``)
    reaches the client instead of failing the answer. NUL, VT and FF, which Go would send but
    our HTTP server refuses, become spaces too."""
    value = text.translate(_UNSENDABLE).strip(" \t")
    return value.encode("utf-8").decode("latin-1")


def _health_answer(request: Request, code: int, reason: str, body: Any) -> Response:
    """A CodeWithPayloadError answer: the status code, ``X-Consul-Reason``, and the body as
    JSON or, for text, the reason alone."""
    headers = {"X-Consul-Reason": _header_value(reason)}
    if _wants_text(request):
        headers["Content-Type"] = "text/plain"  # exactly, with no charset, as Consul sets it
        return Response(content=reason.encode(), status_code=code, headers=headers)
    return json_response(body, pretty=_pretty(request), status_code=code, headers=headers)


@router.endpoint(
    "/v1/agent/health/service/id/{service_id:path}",
    "GET",
    doc=Op(
        "a local service's aggregated health",
        (FORMAT, PRETTY),
        answers=health_answers(OBJECT),
        errors=(400, 403),
    ),
)
async def health_service_by_id(request: Request) -> Response:
    cluster = cluster_of(request)
    service_id = request.path_params["service_id"]
    if not service_id:
        raise BadRequest("Missing serviceID")
    authz = read_authorizer(request, cluster)
    with cluster.store.lock:
        svc = cluster.agent.service(service_id)
        if svc is None:
            return _health_answer(request, *unknown_service_health(service_id))
        if authz is not None:
            authz.require("service", "read", svc.service)
        code, status, body = service_health(cluster.agent, svc)
    return _health_answer(request, code, status, body)


@router.endpoint(
    "/v1/agent/health/service/name/{service_name:path}",
    "GET",
    doc=Op(
        "the aggregated health of every local instance of a service",
        (FORMAT, PRETTY),
        answers=health_answers(OBJECTS),
        errors=(400, 403),
    ),
)
async def health_service_by_name(request: Request) -> Response:
    cluster = cluster_of(request)
    name = request.path_params["service_name"]
    if not name:
        raise BadRequest("Missing service Name")
    authz = read_authorizer(request, cluster)
    if authz is not None:
        authz.require("service", "read", name)
    return _health_answer(request, *services_health(cluster.agent, name))
