"""/v1/connect/intentions/{match,check,exact} and /v1/agent/connect/authorize.

Thin: the handlers read parameters with Consul's wording for missing ones
(``agent/intentions_endpoint.go``) and leave every decision to ``consul_sim.config.intentions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    authorizer,
    cluster_of,
    flag,
    json_response,
    read_json,
)
from consul_sim.config.entries import SERVICE_INTENTIONS, ServiceIntentionsConfigEntry
from consul_sim.config.intentions import (
    Intention,
    authorize,
    decide,
    exact,
    flatten,
    match_destination,
    match_source,
    parse_name,
    parse_spiffe,
)
from consul_sim.errors import BadRequest, ConsulError, NotFound

if TYPE_CHECKING:
    from consul_sim.world import Cluster

router = ConsulRouter()

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


@router.endpoint("/v1/connect/intentions/match", "GET")
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


@router.endpoint("/v1/connect/intentions/check", "GET")
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


@router.endpoint("/v1/connect/intentions/exact", "GET", "DELETE")
async def intentions_exact(request: Request) -> Response:
    cluster = cluster_of(request)
    allow_peer = request.method == "GET"
    source = parse_name("source", _required(request, "source"), allow_peer=allow_peer)
    destination = parse_name("destination", _required(request, "destination"), allow_peer=False)
    if request.method == "DELETE":
        _delete_source(cluster, source.name, destination.name)
        return json_response(True, pretty=flag(request, "pretty"))
    index, intentions = _intentions(cluster)
    found = exact(intentions, source, destination.name)
    if found is None:
        raise NotFound("Intention not found")
    return json_response(found.render(), pretty=flag(request, "pretty"), index=index)


def _delete_source(cluster: Cluster, source: str, destination: str) -> None:
    """Remove a local source; removing the last one deletes the whole entry."""
    entry = cluster.config.read(SERVICE_INTENTIONS, destination)
    if not isinstance(entry, ServiceIntentionsConfigEntry):
        return
    kept = [s for s in entry.sources if s.peer or s.name != source]
    if len(kept) == len(entry.sources):
        return
    if not kept:
        cluster.config.delete(SERVICE_INTENTIONS, destination)
        return
    entry.sources = kept
    cluster.config.apply(entry)


@router.endpoint("/v1/agent/connect/authorize", "POST")
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
