"""/v1/connect/intentions (list, match, check, exact, legacy IDs) and /v1/agent/connect/authorize.

Thin: the handlers read parameters with Consul's wording for missing ones
(``agent/intentions_endpoint.go``) and leave every decision to ``consul_sim.config.intentions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    apply_filter,
    authorizer,
    blocking,
    check_dc,
    cluster_of,
    flag,
    json_response,
    query_options,
    read_json,
    results_filter,
)
from consul_sim.api.openapi import (
    BOOL,
    DC,
    ID_ANSWER,
    MAY_BE_MISSING,
    OBJECT,
    OBJECTS,
    PRETTY,
    READ_OPTIONS,
    STRING,
    Body,
    Op,
    Param,
    ok,
)
from consul_sim.clock import rfc3339
from consul_sim.config.intentions import (
    Intention,
    IntentionBody,
    authorize,
    can_read,
    decide,
    decode_intention,
    delete_exact,
    flatten,
    legacy_create,
    legacy_delete,
    legacy_update,
    match_destination,
    match_source,
    parse_name,
    parse_spiffe,
    read_exact,
    read_legacy,
    upsert_exact,
)
from consul_sim.errors import BadRequest, ConsulError
from consul_sim.models.base import DecodeError, parse_json
from consul_sim.models.config_entries import SERVICE_INTENTIONS

if TYPE_CHECKING:
    from consul_sim.world import Cluster

router = ConsulRouter()

SOURCE = Param("source", "the source service name", required=True)
DESTINATION = Param("destination", "the destination service name", required=True)
BY = Param("by", "`source` or `destination`", required=True)
AUTHORIZE_BODY = {
    "type": "object",
    "properties": {"Target": STRING, "ClientCertURI": STRING, "ClientCertSerial": STRING},
}

PEERING_SERVER_NAME_MARK = ".peering."


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name, "")
    if not value:
        raise ConsulError(f"required query parameter '{name}' not set")
    return value


def _intentions(cluster: Cluster) -> tuple[int, list[Intention]]:
    index, entries = cluster.config.indexed_list(SERVICE_INTENTIONS)
    return index, flatten(entries)


def _peer_trust_domains(cluster: Cluster) -> dict[str, str]:
    """Trust domain -> this cluster's name for that peer. A dialer learns it from the token's
    server name; an acceptor, until the stream tells it, from the world's dialing cluster."""
    domains: dict[str, str] = {}
    for record in cluster.peering.table.list():
        if PEERING_SERVER_NAME_MARK in record.peer_server_name:
            domain = record.peer_server_name.split(PEERING_SERVER_NAME_MARK, 1)[1]
            domains.setdefault(domain, record.name)
            continue
        for other in cluster.world.clusters.values():
            if other is cluster:
                continue
            if any(r.peer_id == record.id for r in other.peering.table.list()):
                domains.setdefault(other.trust_domain, record.name)
    return domains


@router.endpoint(
    "/v1/connect/intentions/match",
    "GET",
    doc=Op(
        "the intentions that match a source or destination",
        (BY, Param("name", "a service name", required=True, repeated=True), PRETTY),
        answers=(
            ok(
                {
                    "type": "object",
                    "additionalProperties": {"type": ["array", "null"], "items": OBJECT},
                }
            ),
        ),
    ),
)
async def intentions_match(request: Request) -> Response:
    by = _required(request, "by")
    if by not in ("source", "destination"):
        raise ConsulError("'by' parameter must be one of 'source' or 'destination'")
    names = request.query_params.getlist("name")
    if not any(names):
        raise ConsulError("required query parameter 'name' not set")
    parsed = [parse_name("name", n, allow_peer=False) for n in names]
    index, intentions = _intentions(cluster_of(request))
    matcher = match_source if by == "source" else match_destination
    body: dict[str, Any] = {}
    for raw, name in zip(names, parsed, strict=True):
        found = [i.render() for i in matcher(intentions, name.name)]
        body[raw] = found or None
    return json_response(body, pretty=flag(request, "pretty"), index=index)


@router.endpoint(
    "/v1/connect/intentions/check",
    "GET",
    doc=Op(
        "would a connection from source to destination be allowed",
        (SOURCE, DESTINATION, Param("source-type", "only `consul`"), PRETTY),
        answers=(ok({"type": "object", "properties": {"Allowed": BOOL}}),),
    ),
)
async def intentions_check(request: Request) -> Response:
    source = parse_name("source", _required(request, "source"), allow_peer=False)
    destination = parse_name("destination", _required(request, "destination"), allow_peer=False)
    source_type = request.query_params.get("source-type", "")
    if source_type and source_type != "consul":
        raise ConsulError(f'unsupported SourceType: "{source_type}"')
    cluster = cluster_of(request)
    # Check answers only pass/fail, so Consul asks for service:read on the destination only.
    authorizer(request, cluster).require("service", "read", destination.name)
    index, intentions = _intentions(cluster)
    decision = decide(
        intentions,
        source.name,
        destination.name,
        acl_default_policy=cluster.acl.intention_default(),
    )
    return json_response({"Allowed": decision.allowed}, pretty=flag(request, "pretty"), index=index)


@router.endpoint(
    "/v1/connect/intentions/exact",
    "GET",
    "PUT",
    "DELETE",
    doc={
        "GET": Op(
            "the intention from source to destination",
            (SOURCE, DESTINATION, PRETTY),
            answers=(ok(OBJECT),),
            errors=MAY_BE_MISSING,
        ),
        "PUT": Op(
            "create or replace the intention from source to destination",
            (SOURCE, DESTINATION, PRETTY),
            Body(IntentionBody),
            (ok(BOOL),),
        ),
        "DELETE": Op(
            "delete the intention from source to destination",
            (SOURCE, DESTINATION, PRETTY),
            answers=(ok(BOOL),),
        ),
    },
)
async def intentions_exact(request: Request) -> Response:
    cluster = cluster_of(request)
    pretty = flag(request, "pretty")
    if request.method == "GET":
        source = parse_name("source", _required(request, "source"), allow_peer=True)
        destination = parse_name("destination", _required(request, "destination"), allow_peer=False)
        authz = authorizer(request, cluster)
        index, found = read_exact(cluster.config, authz, source, destination.name)
        return json_response(found.render(), pretty=pretty, index=index)
    # parseIntentionQueryExact: names first, then (for PUT) the body.
    source = parse_name("source", _required(request, "source"), allow_peer=False)
    destination = parse_name("destination", _required(request, "destination"), allow_peer=False)
    if request.method == "PUT":
        body = _decode(await request.body(), "Request decode failed: ", BadRequest)
        authz = authorizer(request, cluster)
        upsert_exact(cluster.config, authz, source.name, destination.name, body)
    else:
        delete_exact(cluster.config, authorizer(request, cluster), source.name, destination.name)
    return json_response(True, pretty=pretty)


def _decode(raw: bytes, prefix: str, error: type[ConsulError]) -> IntentionBody:
    try:
        return decode_intention(parse_json(raw))
    except DecodeError as exc:
        raise error(f"{prefix}{exc}") from None


@router.endpoint(
    "/v1/connect/intentions",
    "GET",
    "POST",
    doc={
        "GET": Op("every intention", READ_OPTIONS, answers=(ok(OBJECTS),)),
        "POST": Op(
            "create an intention (deprecated, ID-based)",
            (DC, PRETTY),
            Body(IntentionBody),
            (ok(ID_ANSWER),),
        ),
    },
)
async def intentions_list(request: Request) -> Response:
    """GET lists every intention (blocking, ?filter, ACL-filtered); POST is the legacy create."""
    cluster = cluster_of(request)
    if request.method == "POST":
        check_dc(request, cluster)
        body = _decode(await request.body(), "Failed to decode request body: ", ConsulError)
        authz = authorizer(request, cluster)
        new_id = legacy_create(
            cluster.config, authz, body, cluster.rand.uuid(), rfc3339(cluster.world.clock.now())
        )
        return json_response({"ID": new_id}, pretty=flag(request, "pretty"))
    opts = query_options(request, cluster)
    authz = authorizer(request, cluster)
    index, intentions = await blocking(request, cluster, opts, lambda: _intentions(cluster))
    matched = apply_filter(opts.filter, intentions, Intention.render)
    acl = results_filter(request, authz)
    visible = acl.keep(matched, can_read)
    return opts.respond([i.render() for i in visible], index, headers=acl.headers())


@router.endpoint(
    "/v1/connect/intentions/{legacy_id:path}",
    "GET",
    "PUT",
    "DELETE",
    doc={
        "GET": Op(
            "an intention by its legacy ID",
            READ_OPTIONS,
            answers=(ok(OBJECT),),
            errors=MAY_BE_MISSING,
        ),
        "PUT": Op(
            "replace an intention by its legacy ID",
            (DC, PRETTY),
            Body(IntentionBody),
            (ok(ID_ANSWER),),
        ),
        "DELETE": Op("delete an intention by its legacy ID", (DC, PRETTY), answers=(ok(BOOL),)),
    },
)
async def intentions_by_id(request: Request) -> Response:
    """The deprecated ID-based endpoints: only sources written by the legacy create have IDs."""
    cluster = cluster_of(request)
    legacy_id: str = request.path_params["legacy_id"]
    pretty = flag(request, "pretty")
    if request.method == "GET":
        opts = query_options(request, cluster)
        authz = authorizer(request, cluster)
        index, found = read_legacy(cluster.config, authz, legacy_id)
        return json_response(
            found.render(), pretty=pretty, index=index, consistency=opts.consistency
        )
    check_dc(request, cluster)
    if request.method == "PUT":
        body = _decode(await request.body(), "Request decode failed: ", BadRequest)
        authz = authorizer(request, cluster)
        now = rfc3339(cluster.world.clock.now())
        legacy_update(cluster.config, authz, legacy_id, body, now)
        return json_response({"ID": legacy_id}, pretty=pretty)
    legacy_delete(cluster.config, authorizer(request, cluster), legacy_id)
    return json_response(True, pretty=pretty)


@router.endpoint(
    "/v1/agent/connect/authorize",
    "POST",
    doc=Op(
        "would the target accept a connection from this client certificate",
        (PRETTY,),
        Body(schema=AUTHORIZE_BODY),
        (ok({"type": "object", "properties": {"Authorized": BOOL, "Reason": STRING}}),),
    ),
)
async def agent_connect_authorize(request: Request) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("Request decode failed: invalid request body")
    target = body.get("Target", "")
    uri = body.get("ClientCertURI", "")
    cluster = cluster_of(request)
    target = target if isinstance(target, str) else ""
    uri = uri if isinstance(uri, str) else ""
    if target and uri.startswith("spiffe://"):
        # ConnectAuthorize vets service:write on the target once the input parses.
        parse_spiffe(uri)
        authorizer(request, cluster).require("service", "write", target)
    _, intentions = _intentions(cluster)
    decision = authorize(
        intentions,
        target,
        uri,
        _peer_trust_domains(cluster),
        cluster.acl.intention_default(),
    )
    return json_response(
        {"Authorized": decision.allowed, "Reason": decision.reason},
        pretty=flag(request, "pretty"),
    )
