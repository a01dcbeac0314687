"""/v1/connect/ca/roots, /v1/agent/connect/ca/roots and /v1/connect/ca/configuration (GET, PUT).

Thin, after ``agent/connect_ca_endpoint.go`` and ``agent/agent_endpoint.go``: the roots read is a
blocking query on the CA roots table; ``?pem`` switches to the PEM chain; the configuration read
sets no query meta (Consul's handler never calls ``setMeta`` there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    blocking,
    cluster_of,
    json_response,
    meta_headers,
    query_options,
)
from consul_sim.api.openapi import (
    JSON,
    OBJECT,
    READ_OPTIONS,
    STRING,
    Answer,
    Body,
    Op,
    Param,
    ok,
)
from consul_sim.connect.ca import ConnectCA
from consul_sim.errors import BadRequest
from consul_sim.gostd import NumError, parse_bool
from consul_sim.models.base import DecodeError, parse_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

router = ConsulRouter()

PEM_CHAIN = "application/pem-certificate-chain"


def _pem_requested(request: Request) -> bool:
    """Consul reads ``pem`` with ``strconv.ParseBool`` and only when it is non-empty."""
    raw = request.query_params.get("pem", "")
    if raw == "":
        return False
    try:
        return parse_bool(raw)
    except NumError:
        raise BadRequest("The 'pem' query parameter must be a boolean value") from None


async def _roots(request: Request, *, pem_allowed: bool, extra: dict[str, str]) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    pem = _pem_requested(request) if pem_allowed else False
    index, body = await blocking(request, cluster, opts, cluster.ca.indexed_roots)
    if pem:
        chain: list[str] = []
        for root in body["Roots"]:
            chain.append(root["RootCert"])
            chain.extend(root["IntermediateCerts"] or [])
        return Response(
            content="".join(chain).encode(),
            headers=meta_headers(index, opts.consistency),
            media_type=PEM_CHAIN,
        )
    return opts.respond(body, index, headers=extra)


@router.endpoint(
    "/v1/connect/ca/roots",
    "GET",
    doc=Op(
        "the Connect CA roots",
        (*READ_OPTIONS, Param("pem", "answer the PEM chain (Go's ParseBool)")),
        answers=(
            Answer(
                200,
                "the roots, or with ?pem the PEM chain",
                JSON,
                OBJECT,
                ((PEM_CHAIN, dict(STRING)),),
            ),
        ),
    ),
)
async def ca_roots(request: Request) -> Response:
    return await _roots(request, pem_allowed=True, extra={})


@router.endpoint(
    "/v1/agent/connect/ca/roots",
    "GET",
    doc=Op("the Connect CA roots, from the agent's cache", READ_OPTIONS, answers=(ok(OBJECT),)),
)
async def agent_ca_roots(request: Request) -> Response:
    """The agent serves the roots from its cache: the same body, plus the cache's header. It
    has no ``?pem`` option."""
    return await _roots(request, pem_allowed=False, extra={"X-Cache": "MISS"})


CA_CONFIG = {
    "type": "object",
    "properties": {
        "Provider": STRING,
        "Config": {"type": "object"},
        "ForceWithoutCrossSigning": {"type": "boolean"},
    },
}


@router.endpoint(
    "/v1/connect/ca/configuration",
    "GET",
    "PUT",
    doc={
        "GET": Op("the Connect CA configuration", READ_OPTIONS, answers=(ok(OBJECT),)),
        "PUT": Op(
            "update the Connect CA configuration; a new PrivateKey rotates the root",
            body=Body(schema=CA_CONFIG),
            errors=(400, 500),
        ),
    },
)
async def ca_configuration(request: Request) -> Response:
    cluster = cluster_of(request)
    if request.method == "PUT":
        _set_configuration(cluster.ca, await request.body())
        return Response(status_code=200)
    opts = query_options(request, cluster)
    body: dict[str, Any] = cluster.ca.configuration()
    return json_response(body, pretty=opts.pretty)


def _set_configuration(ca: ConnectCA, raw: bytes) -> None:
    """``ConnectCAConfigurationSet``: decode a ``structs.CAConfiguration`` and apply it.

    After ``agent/consul/leader_connect_ca.go`` (``UpdateConfiguration``): the built-in
    provider's state is keyed by its key settings, so only a new ``PrivateKey`` makes a new root,
    which then rotates in, cross-signed by the old one; the same key, or a config with no key,
    leaves the root as it is. Assumed where the simulator stops short of Consul, with a 400 that
    says so: only the built-in ``consul`` provider, only EC P-256 keys, and no ``RootCert`` of
    the caller's own (the simulator issues its roots itself).
    """
    try:
        data = parse_json(raw) if raw.strip() else {}
    except DecodeError as exc:
        raise BadRequest(f"Request decode failed: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("Request decode failed: the body must be a JSON object")
    fields = {str(k).lower(): v for k, v in data.items()}
    provider = fields.get("provider")
    if provider != "consul":
        raise BadRequest(
            f'consul-sim simulates only the built-in "consul" CA provider, not {provider!r}'
        )
    config = fields.get("config") or {}
    if not isinstance(config, dict):
        raise BadRequest("Request decode failed: Config must be an object")
    options = {str(k).lower(): v for k, v in config.items()}
    if options.get("rootcert"):
        raise BadRequest("consul-sim issues its own root: give a PrivateKey without a RootCert")
    pem = options.get("privatekey")
    if not pem:
        return
    key = _ec_p256_key(pem)
    if not ca.signs_with(key):
        ca.rotate(key)


def _ec_p256_key(pem: object) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(str(pem).encode(), password=None)
    except (ValueError, TypeError):
        raise BadRequest("error parsing private key: not a PEM-encoded private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise BadRequest("consul-sim's built-in CA signs with EC P-256 keys only")
    return key
