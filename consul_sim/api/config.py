"""/v1/config: Consul's config-entry endpoints (``agent/config_endpoint.go``).

Two routes, as Consul registers them: ``/v1/config`` takes only PUT, and ``/v1/config/`` takes
GET and DELETE on ``<kind>/<name>`` (split once, so a name may hold a slash) or GET on
``<kind>``. Body and path errors are the HTTP layer's 400s; everything the server RPC refuses,
validation included, is a 500 with the bare sentence; a failed check-and-set is a 200 ``false``.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    apply_filter,
    authorizer,
    blocking,
    cluster_of,
    flag,
    json_response,
    meta_headers,
    query_options,
)
from consul_sim.api.openapi import (
    BOOL,
    CAS,
    MAY_BE_MISSING,
    NS,
    PARTITION,
    PRETTY,
    READ_OPTIONS,
    Body,
    Op,
    ok,
)
from consul_sim.config.chain_graph import related_services
from consul_sim.config.decode import ConfigDecodeError, decode_entry
from consul_sim.config.discoverychain import CHAIN_KINDS
from consul_sim.config.gateways import INGRESS_GATEWAY, TERMINATING_GATEWAY
from consul_sim.config.service import ConfigEntries, make_entry
from consul_sim.config.validate import normalize, validate
from consul_sim.errors import BadRequest, ConsulError
from consul_sim.gostd import NumError, parse_uint
from consul_sim.gostd import quote as go_quote
from consul_sim.models.base import DecodeError, parse_json
from consul_sim.models.config_entries import (
    EXPORTED_SERVICES,
    MESH,
    PROXY_DEFAULTS,
    SERVICE_DEFAULTS,
    SERVICE_INTENTIONS,
    ConfigEntry,
    ConfigEntryBase,
)
from consul_sim.models.gojson import check_float64_numbers, check_stored_depth

router = ConsulRouter()


def _entries(request: Request) -> ConfigEntries:
    entries: ConfigEntries = cluster_of(request).config
    return entries


def _refuse_enterprise_meta(request: Request) -> None:
    """CE's parseEntMeta: a namespace or partition, by header or query, is a 400."""
    checks = (
        ("X-Consul-Namespace", "ns", "Namespaces"),
        ("X-Consul-Partition", "partition", "Partitions"),
    )
    for header, param, feature in checks:
        if request.headers.get(header, ""):
            raise BadRequest(
                f'Invalid header: "{header}" - {feature} are a Consul Enterprise feature'
            )
        if request.query_params.get(param, ""):
            raise BadRequest(
                f'Invalid query parameter: "{param}" - {feature} are a Consul Enterprise feature'
            )


def _cas(request: Request) -> int | None:
    """``?cas=``: absent or empty means no check-and-set; otherwise Go's ParseUint, whose
    error the handler returns as a 500."""
    raw = request.query_params.get("cas", "")
    if raw == "":
        return None
    try:
        return parse_uint(raw, 10)
    except NumError as exc:
        raise ConsulError(str(exc)) from None


def _authorize_entry(request: Request, kind: str, name: str, access: str) -> None:
    """Each kind's CanRead/CanWrite (``agent/structs/config_entry*.go``, CE): exported-services
    needs ``mesh``, mesh and proxy-defaults need ``mesh:write`` and no ACL to read,
    service-intentions ``intentions``, service-defaults and the discovery-chain kinds ``service``
    on the name (a chain entry's write also needs ``service:read`` on each service it sends
    traffic to, ``canWriteDiscoveryChain``: see ``config_apply``). Kinds the
    simulator does not store are not checked."""
    authz = authorizer(request, cluster_of(request))
    if kind == EXPORTED_SERVICES:
        authz.require("mesh", access)
    elif kind in (MESH, PROXY_DEFAULTS):
        if access == "write":
            authz.require("mesh", access)
    elif kind == SERVICE_INTENTIONS:
        authz.require("intentions", access, name)
    elif kind == SERVICE_DEFAULTS or kind in CHAIN_KINDS:
        authz.require("service", access, name)
    elif kind in (INGRESS_GATEWAY, TERMINATING_GATEWAY):  # config_entry_gateways.go
        if access == "write":
            authz.require("mesh", access)
        else:
            authz.require("service", access, name)


def _render(entry: ConfigEntryBase) -> dict[str, object]:
    return entry.render()


@router.endpoint(
    "/v1/config",
    "PUT",
    doc=Op(
        "write a config entry",
        (CAS, NS, PARTITION, PRETTY),
        Body(ConfigEntry),
        (ok(BOOL, "false when the check-and-set failed"),),
    ),
)
async def config_apply(request: Request) -> Response:
    try:
        raw = parse_json(await request.body())
        check_float64_numbers(raw)
        check_stored_depth(raw)
        entry = decode_entry(raw)
    except (DecodeError, ConfigDecodeError) as exc:
        raise BadRequest(f"Request decoding failed: {exc}") from None
    cas = _cas(request)
    _refuse_enterprise_meta(request)
    # The server normalizes and validates (500s) before it checks the token.
    normalize(entry)
    validate(entry)
    _authorize_entry(request, entry.kind, entry.entry_name, "write")
    if entry.kind in CHAIN_KINDS:
        authz = authorizer(request, cluster_of(request))
        for service in related_services(entry):  # canWriteDiscoveryChain
            authz.require("service", "read", service)
    written = _entries(request).apply(entry, cas=cas)
    return json_response(written, pretty=flag(request, "pretty"))


@router.endpoint(
    "/v1/config/{kind_and_name:path}",
    "GET",
    "DELETE",
    doc={
        "GET": Op(
            "a config entry (`<kind>/<name>`) or every entry of a kind (`<kind>`)",
            (*READ_OPTIONS, NS, PARTITION),
            answers=(ok({"type": ["object", "array"]}),),
            errors=MAY_BE_MISSING,
        ),
        "DELETE": Op(
            "delete a config entry (`<kind>/<name>`)",
            (CAS, NS, PARTITION, PRETTY),
            answers=(
                ok({"type": ["object", "boolean"]}, "{} or, with ?cas, whether it was deleted"),
            ),
            errors=MAY_BE_MISSING,
        ),
    },
)
async def config_entry(request: Request) -> Response:
    kind_and_name: str = request.path_params["kind_and_name"]
    if request.method == "DELETE":
        return _delete(request, kind_and_name)
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    _refuse_enterprise_meta(request)
    entries = _entries(request)
    kind, slash, name = kind_and_name.partition("/")
    if slash:
        _authorize_entry(request, kind, name, "read")
        index, entry = await blocking(
            request, cluster, opts, lambda: entries.indexed_get(kind, name)
        )
        if entry is None:
            headers = meta_headers(index, opts.consistency)
            body = f"Config entry not found for {go_quote(kind)} / {go_quote(name)}"
            return Response(
                content=body.encode(),
                status_code=404,
                headers=headers,
                media_type="text/plain; charset=utf-8",
            )
        return opts.respond(_render(entry), index)
    if opts.filter and kind != SERVICE_DEFAULTS:
        raise ConsulError(f"filtering not supported for config entry kind={kind}")
    index, listed = await blocking(request, cluster, opts, lambda: entries.indexed_list(kind))
    rendered = apply_filter(opts.filter, [_render(e) for e in listed], lambda e: e)
    return opts.respond(rendered, index)


def _delete(request: Request, kind_and_name: str) -> Response:
    kind, slash, name = kind_and_name.partition("/")
    if not slash:
        raise ConsulError("Must provide both a kind and name to delete", 404)
    entry = make_entry(kind, name)  # an unknown kind is the handler's own 400
    _refuse_enterprise_meta(request)
    cas = _cas(request)
    if entry is not None:
        normalize(entry)
        _authorize_entry(request, entry.kind, entry.entry_name, "write")
    deleted = _entries(request).delete(kind, name, cas=cas)
    body: object = deleted if cas is not None else {}
    return json_response(body, pretty=flag(request, "pretty"))
