"""/v1/connect/ca/roots, /v1/agent/connect/ca/roots, /v1/agent/connect/ca/leaf/:service,
/v1/connect/ca/configuration (GET, PUT) and /_sim/trust-bundle/:peer.

Thin, after ``agent/connect_ca_endpoint.go`` and ``agent/agent_endpoint.go``: the roots read is a
blocking query on the CA roots table; ``?pem`` switches to the PEM chain; the configuration read
sets no query meta (Consul's handler never calls ``setMeta`` there). With ``connect.enabled`` off
every endpoint here but the trust bundle answers ``ErrConnectNotEnabled`` (500): Consul's
``ConnectCA`` RPCs return it before forwarding or any ACL check, and the agent's handlers reach
those RPCs only after parsing the request, so malformed input still gets its own 400.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    authorizer,
    blocking,
    check_dc,
    cluster_of,
    flag,
    json_response,
    meta_headers,
    query_options,
)
from consul_sim.api.openapi import (
    JSON,
    OBJECT,
    PRETTY,
    READ_OPTIONS,
    STRING,
    Answer,
    Body,
    Op,
    Param,
    ok,
)
from consul_sim.connect.leaf import IssuedCert, check_service
from consul_sim.errors import CONNECT_NOT_ENABLED, BadRequest, ConsulError, NotFound
from consul_sim.gostd import NumError, parse_bool, quote
from consul_sim.models.base import DecodeError, json_kind, parse_json

if TYPE_CHECKING:
    from consul_sim.world import Cluster

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


def _require_connect(cluster: Cluster) -> None:
    """Each ``ConnectCA`` RPC's first step (``agent/consul/connect_ca_endpoint.go``); the error
    matches none of ``agent/http.go``'s typed cases, so it is a 500 with the sentence as body."""
    if not cluster.connect_enabled:
        raise ConsulError(CONNECT_NOT_ENABLED)


async def _roots(request: Request, *, pem_allowed: bool, extra: dict[str, str]) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    pem = _pem_requested(request) if pem_allowed else False
    _require_connect(cluster)
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


LEAF_CERT = {
    "type": "object",
    "properties": {
        name: STRING
        for name in (
            "SerialNumber",
            "CertPEM",
            "PrivateKeyPEM",
            "Service",
            "ServiceURI",
            "ValidAfter",
            "ValidBefore",
        )
    }
    | {"CreateIndex": {"type": "integer"}, "ModifyIndex": {"type": "integer"}},
}


@router.endpoint(
    "/v1/agent/connect/ca/leaf/{service:path}",
    "GET",
    doc=Op(
        "the service's leaf certificate, signed by the active root (a blocking query)",
        READ_OPTIONS,
        answers=(ok(LEAF_CERT),),
    ),
)
async def agent_leaf_cert(request: Request) -> Response:
    """``AgentConnectCALeafCert``: ``service:write`` on the name (the signing RPC's check,
    ``AuthorizeAndSignCertificate``, made on every read here), then the agent's certificate,
    blocking on ``?index`` until a new one is issued. ``X-Consul-Index`` is the certificate's
    ``ModifyIndex``; the handler sets cache meta, not query meta: ``X-Cache`` is ``HIT`` (with
    ``Age``) only when a blocking read is answered at once from the cache, as the leaf-cert
    manager reports it (``agent/leafcert/leafcert.go``); a plain read always revalidates,
    which the manager reports as a miss."""
    cluster = cluster_of(request)
    service = request.path_params["service"]
    opts = query_options(request, cluster)
    check_service(service)
    # The leaf manager fetches the roots before it asks for a signature, so the disabled
    # error comes before the signing RPC's ACL check.
    _require_connect(cluster)
    authorizer(request, cluster).require("service", "write", service)
    leaves = cluster.ca.leaves
    held = leaves.ahead_of(service, opts.index)
    if held is not None:
        age = f"{leaves.age(held):.0f}"
        headers = {"X-Consul-Index": str(held.modify_index), "X-Cache": "HIT", "Age": age}
        return json_response(held.to_json(), pretty=opts.pretty, headers=headers)

    def read() -> tuple[int, IssuedCert]:
        cert = leaves.get(service)
        return cert.modify_index, cert

    index, cert = await blocking(request, cluster, opts, read)
    headers = {"X-Consul-Index": str(index), "X-Cache": "MISS"}
    return json_response(cert.to_json(), pretty=opts.pretty, headers=headers)


@router.endpoint(
    "/_sim/trust-bundle/{peer}",
    "GET",
    doc=Op(
        "the trust bundle this cluster holds for a peer (Consul serves it only over gRPC)",
        (PRETTY,),
        answers=(ok(OBJECT),),
        errors=(400, 404),
    ),
)
async def sim_trust_bundle(request: Request) -> Response:
    """``PeeringService.TrustBundleRead``'s bundle, which Consul CE has no HTTP read for:
    ``TrustDomain``, ``PeerName``, ``RootPEMs`` (``consul_sim.connect.bundle``)."""
    cluster = cluster_of(request)
    peer = request.path_params["peer"]
    bundle = cluster.trust_bundle(peer)
    if bundle is None:
        raise NotFound(f"no trust bundle for peer {quote(peer)}")
    return json_response(bundle, pretty=flag(request, "pretty"))


CA_CONFIG = {
    "type": "object",
    "properties": {
        "Provider": STRING,
        "Config": {"type": "object"},
        "State": {"type": "object", "additionalProperties": STRING},
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
            "update the Connect CA configuration; new key settings rotate the root",
            body=Body(schema=CA_CONFIG),
            errors=(400, 403, 500),
        ),
    },
)
async def ca_configuration(request: Request) -> Response:
    """``ConnectCAConfigurationGet``/``Set``. Both RPCs want operator:write: the read's
    comment in ``agent/consul/connect_ca_endpoint.go`` says read access, its code checks
    ``OperatorWriteAllowed`` (the configuration can hold a private key). The read sets no query
    meta (Consul's handler never calls ``setMeta`` there)."""
    cluster = cluster_of(request)
    if request.method == "PUT":
        request_config = _decode_configuration(await request.body())
        _require_connect(cluster)
        check_dc(request, cluster)
        authorizer(request, cluster).require("operator", "write")
        with cluster.store.lock:
            cluster.ca.update_configuration(**request_config)
        return Response(status_code=200)
    opts = query_options(request, cluster)
    _require_connect(cluster)
    authorizer(request, cluster).require("operator", "write")
    body: dict[str, Any] = cluster.ca.configuration()
    return json_response(body, pretty=opts.pretty)


_FIELD_TYPES = {
    "provider": ("Provider", "string", str),
    "config": ("Config", "map[string]interface {}", dict),
    "state": ("State", "map[string]string", dict),
    "forcewithoutcrosssigning": ("ForceWithoutCrossSigning", "bool", bool),
}


def _decode_configuration(raw: bytes) -> dict[str, Any]:
    """``decodeBody`` into ``structs.CAConfiguration``: Go's JSON matches keys without regard
    to case, ignores unknown ones, reads ``null`` as the zero value, and accepts the snake-case
    ``force_without_cross_signing`` too (``CAConfiguration.UnmarshalJSON``)."""
    try:
        data = parse_json(raw) if raw.strip() else {}
    except DecodeError as exc:
        raise BadRequest(f"Request decode failed: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(
            f"Request decode failed: json: cannot unmarshal {json_kind(data)} "
            "into Go value of type structs.CAConfiguration"
        )
    out: dict[str, Any] = {
        "provider": "",
        "config": {},
        "state": None,
        "force_without_cross_signing": False,
    }
    for key, value in data.items():
        lowered = str(key).lower()
        if lowered == "force_without_cross_signing":
            lowered = "forcewithoutcrosssigning"
        if lowered not in _FIELD_TYPES or value is None:
            continue
        name, go_type, kind = _FIELD_TYPES[lowered]
        wrong = None if isinstance(value, kind) else json_kind(value)
        if lowered == "state" and wrong is None:
            # map[string]string: Go names the element's type and the kind of the bad element.
            bad = [v for v in value.values() if v is not None and not isinstance(v, str)]
            wrong, go_type = (json_kind(bad[0]), "string") if bad else (None, go_type)
        if wrong is not None:
            raise BadRequest(
                f"Request decode failed: json: cannot unmarshal {wrong} into Go struct field "
                f"CAConfiguration.{name} of type {go_type}"
            )
        if lowered == "forcewithoutcrosssigning":
            out["force_without_cross_signing"] = out["force_without_cross_signing"] or value
        else:
            out[lowered] = value
    return out
