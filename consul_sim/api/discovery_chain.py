"""/v1/discovery-chain/:service: a service's compiled discovery chain.

Consul's ``agent/discovery_chain_endpoint.go`` and ``agent/consul/discovery_chain_endpoint.go``.

GET compiles the chain from the cluster's config entries; POST does the same with the overrides a
proxy may ask for (``OverrideProtocol``, ``OverrideConnectTimeout``, ``OverrideMeshGateway``,
or their snake_case spellings). ``?compile-dc=`` evaluates the chain as if in another
datacenter. The answer is ``{"Chain": ...}`` with the config-entries index in
``X-Consul-Index``. A body Consul cannot decode is a 400 ``Request decoding failed: ...``; an
unknown mesh-gateway mode is a 400 of its own sentence; a chain that cannot compile is the RPC's
500 with the compiler's sentence; the token needs ``service:read`` on the name.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import ConsulRouter, authorizer, blocking, cluster_of, query_options
from consul_sim.api.openapi import MAY_BE_MISSING, READ_OPTIONS, Body, Op, Param, ok
from consul_sim.config.chain_compile import ChainOverrides, read_chain
from consul_sim.durations import DurationError, parse_duration
from consul_sim.errors import BadRequest
from consul_sim.models.base import DecodeError, parse_json

router = ConsulRouter()

COMPILE_DC = Param("compile-dc", "compile the chain as if evaluated in this datacenter")
MESH_GATEWAY_MODES = ("", "none", "local", "remote")
OVERRIDES_BODY = {
    "type": "object",
    "properties": {
        "OverrideProtocol": {"type": "string"},
        "OverrideConnectTimeout": {"type": ["string", "number"]},
        "OverrideMeshGateway": {"type": "object", "properties": {"Mode": {"type": "string"}}},
    },
}
_SNAKE = {
    "override_protocol": "overrideprotocol",
    "override_connect_timeout": "overrideconnecttimeout",
    "override_mesh_gateway": "overridemeshgateway",
}


def _overrides(raw: dict[str, Any] | None) -> ChainOverrides:
    """``decodeDiscoveryChainReadRequest``: keys case-insensitive (snake_case too), weakly
    typed, a duration string or nanoseconds; keys it does not know are ignored."""
    if raw is None:
        return ChainOverrides()
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        folded = str(key).lower()
        folded = _SNAKE.get(folded, folded)
        fields.setdefault(folded, value)
    protocol = fields.get("overrideprotocol")
    timeout = fields.get("overrideconnecttimeout")
    gateway = fields.get("overridemeshgateway")
    out = ChainOverrides()
    if isinstance(protocol, str | int | float | bool) and protocol is not None:
        out.protocol = _weak_string(protocol)
    if isinstance(timeout, str):
        try:
            out.connect_timeout = round(parse_duration(timeout) * 1e9) if timeout else 0
        except DurationError as exc:
            raise BadRequest(f"Request decoding failed: {exc}") from None
    elif isinstance(timeout, int | float) and not isinstance(timeout, bool):
        out.connect_timeout = int(timeout)
    if isinstance(gateway, list) and len(gateway) == 1:
        gateway = gateway[0]
    if isinstance(gateway, dict):
        mode = next((v for k, v in gateway.items() if str(k).lower() == "mode"), "")
        out.mesh_gateway = _weak_string(mode) if mode is not None else ""
    return out


def _json_kind(value: Any) -> str:
    """encoding/json's name for what a body holds instead of an object."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "number"


def _weak_string(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@router.endpoint(
    "/v1/discovery-chain/{service:path}",
    "GET",
    "POST",
    doc={
        "GET": Op(
            "the service's compiled discovery chain",
            (*READ_OPTIONS, COMPILE_DC),
            answers=(ok({"type": "object"}),),
            errors=MAY_BE_MISSING,
        ),
        "POST": Op(
            "the compiled discovery chain with overrides",
            (*READ_OPTIONS, COMPILE_DC),
            Body(schema=OVERRIDES_BODY),
            answers=(ok({"type": "object"}),),
            errors=MAY_BE_MISSING,
        ),
    },
)
async def discovery_chain(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    name: str = request.path_params["service"]
    if name == "":
        raise BadRequest("Missing chain name")
    compile_dc = request.query_params.get("compile-dc", "")
    overrides = ChainOverrides()
    if request.method == "POST":
        try:
            raw = parse_json(await request.body())
        except DecodeError as exc:
            raise BadRequest(f"Request decoding failed: {exc}") from None
        if raw is not None and not isinstance(raw, dict):
            raise BadRequest(
                f"Request decoding failed: json: cannot unmarshal {_json_kind(raw)} into Go "
                "value of type map[string]interface {}"
            )
        overrides = _overrides(raw)
        if overrides.mesh_gateway not in MESH_GATEWAY_MODES:
            raise BadRequest("Invalid OverrideMeshGateway.Mode parameter")
    authorizer(request, cluster).require("service", "read", name)
    datacenter = compile_dc or cluster.datacenter
    trust_domain: str = cluster.ca.trust_domain
    index, chain = await blocking(
        request,
        cluster,
        opts,
        lambda: read_chain(cluster.store, name, datacenter, trust_domain, overrides),
    )
    return opts.respond({"Chain": chain.render()}, index)
