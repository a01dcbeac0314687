"""POST /_sim/call: would a call from one service to another go through, and why.

Not a Consul API: it shows the page's "authorize connections from peers" step as an answer a
person can read, ``{"Allowed": bool, "Reasons": [...]}``. The body names the caller
(``Source``: ``Cluster``, ``Service``) and the callee (``Destination``: ``Peer`` as the caller's
cluster names the peering, left out for a local service, and ``Service``); keys match
case-insensitively as Consul's decoder does. Anything malformed, or a cluster the world does not
have, is a plain-text 400 that says what. The decision is :mod:`consul_sim.calls`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import ConsulRouter, cluster_of, flag, json_response
from consul_sim.api.openapi import (
    BOOL,
    PRETTY,
    STRING,
    STRINGS,
    Body,
    Op,
    ok,
)
from consul_sim.errors import BadRequest
from consul_sim.models.base import DecodeError, parse_json

router = ConsulRouter()

CALL_BODY = {
    "type": "object",
    "required": ["Source", "Destination"],
    "properties": {
        "Source": {
            "type": "object",
            "required": ["Cluster", "Service"],
            "properties": {"Cluster": STRING, "Service": STRING},
        },
        "Destination": {
            "type": "object",
            "required": ["Service"],
            "properties": {"Peer": STRING, "Service": STRING},
        },
    },
}

EXAMPLE = (
    '{"Source": {"Cluster": "cluster-02", "Service": "frontend"}, '
    '"Destination": {"Peer": "cluster-01", "Service": "backend"}}'
)


def _object(value: object, what: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The object's members by lower-cased key; an unknown key is refused, so a typo such as
    ``Peers`` cannot silently turn a peered call into a local one."""
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object, for example {EXAMPLE}")
    known = {k.lower(): k for k in keys}
    out: dict[str, Any] = {}
    for key, member in value.items():
        if str(key).lower() not in known:
            prefix = "" if what == "Request body" else f"{what}."
            raise BadRequest(f'Unknown key "{prefix}{key}" (expected {", ".join(keys)})')
        out[str(key).lower()] = member
    return out


def _string(obj: dict[str, Any], parent: str, key: str, *, required: bool) -> str:
    value = obj.get(key.lower())
    if value is None or value == "":
        if required:
            raise BadRequest(f"Missing {parent}.{key}")
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{parent}.{key} must be a string")
    return value


@router.endpoint(
    "/_sim/call",
    "POST",
    doc=Op(
        "would a call from one service to another go through, and why",
        (PRETTY,),
        Body(schema=CALL_BODY),
        (ok({"type": "object", "properties": {"Allowed": BOOL, "Reasons": STRINGS}}),),
        errors=(400,),
    ),
)
async def sim_call(request: Request) -> Response:
    raw = await request.body()
    if not raw.strip():
        raise BadRequest(f"Request body is required, for example {EXAMPLE}")
    try:
        data = parse_json(raw)
    except DecodeError as exc:
        raise BadRequest(f"Request decode failed: {exc}") from None
    body = _object(data, "Request body", ("Source", "Destination"))
    for key in ("source", "destination"):
        if key not in body:
            raise BadRequest(f"Missing {key.capitalize()}, for example {EXAMPLE}")
    source = _object(body["source"], "Source", ("Cluster", "Service"))
    destination = _object(body["destination"], "Destination", ("Peer", "Service"))
    cluster = _string(source, "Source", "Cluster", required=True)
    service = _string(source, "Source", "Service", required=True)
    peer = _string(destination, "Destination", "Peer", required=False)
    target = _string(destination, "Destination", "Service", required=True)
    result = cluster_of(request).world.call((cluster, service), (peer or None, target))
    return json_response(result.render(), pretty=flag(request, "pretty"))
