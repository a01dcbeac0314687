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

from consul_sim.acl import Authorizer
from consul_sim.api.catalog import filtered_headers, read_authorizer
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
    read_json,
    wait_for,
)
from consul_sim.catalog.agent import (
    NODE_MAINT_ID,
    SERVICE_MAINT_PREFIX,
    STATUS_FOR_ENDPOINT,
    truncate_output,
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
from consul_sim.models.catalog import (
    CHECK_STATUSES,
    CRITICAL,
    PASSING,
    WARNING,
    HealthCheck,
    NodeService,
)
from consul_sim.version import BUILD_DATE, CONSUL_VERSION, REVISION

if TYPE_CHECKING:
    from consul_sim.world import Cluster

router = ConsulRouter()

SERF_LAN_PORT = 8301
SERF_WAN_PORT = 8302
SERVER_PORT = 8300
HTTP_PORT = 8500
DNS_PORT = 8600
GRPC_PORT = 8502
GRPC_TLS_PORT = 8503
PROTOCOL_VERSION = 2
PROTOCOL_VERSION_MIN = 2
PROTOCOL_VERSION_MAX = 3
RAFT_PROTOCOL = 3
MEMBER_ALIVE = 1
ENVOY_VERSIONS = ["1.34.1", "1.33.2", "1.32.5", "1.31.8"]


def _decode_error(exc: DecodeError) -> BadRequest:
    return BadRequest(f"Request decode failed: {exc}")


def _pretty(request: Request) -> bool:
    return flag(request, "pretty")


def _agent_check_json(check: HealthCheck) -> dict[str, Any]:
    """A local check as /v1/agent/checks shows it: local state carries no Raft indexes."""
    return {**check.render(), "CreateIndex": 0, "ModifyIndex": 0}


# -- services ------------------------------------------------------------------------------------
@router.endpoint("/v1/agent/services", "GET")
async def services(request: Request) -> Response:
    cluster = cluster_of(request)
    expression = request.query_params.get("filter", "")
    authz = read_authorizer(request, cluster)
    with cluster.store.lock:
        found = list(cluster.agent.agent_services().values())

    def render(svc: NodeService) -> dict[str, Any]:
        return render_agent_service(svc, cluster.datacenter)

    filtered = False
    if authz is not None:  # before ?filter: an expression only sees what the token may read
        readable = [svc for svc in found if authz.allowed("service", "read", svc.service)]
        filtered, found = len(readable) != len(found), readable
    kept = apply_filter(expression, found, render, AGENT_SERVICE_FIELDS)
    return json_response(
        {svc.id: render(svc) for svc in kept},
        pretty=_pretty(request),
        headers=filtered_headers(request, filtered),
    )


@router.endpoint("/v1/agent/service/register", "PUT")
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
        _vet_service_register(request, cluster, sd)
    with cluster.store.lock:
        cluster.agent.register_service(sd, replace_existing_checks=replace)
    return empty_response()


def _vet_service_register(request: Request, cluster: Cluster, sd: ServiceDefinition) -> None:
    """Consul's vetServiceRegister: ``service:write`` on the name, on the service this
    registration would overwrite, and for a connect proxy on its destination too."""
    authz = authorizer(request, cluster)
    authz.require("service", "write", sd.name)
    existing = cluster.agent.local_services.get(sd.id or sd.name)
    if existing is not None:
        authz.require("service", "write", existing.service)
    destination = (sd.proxy or {}).get("DestinationServiceName")
    if sd.kind == "connect-proxy" and isinstance(destination, str):
        authz.require("service", "write", destination)


@router.endpoint("/v1/agent/service/deregister/{service_id:path}", "PUT")
async def deregister_service(request: Request) -> Response:
    cluster = cluster_of(request)
    existing = cluster.agent.local_services.get(request.path_params["service_id"])
    if existing is not None:  # Consul's vetServiceUpdate: write on the service it removes
        authorizer(request, cluster).require("service", "write", existing.service)
    with cluster.store.lock:
        cluster.agent.deregister_service(request.path_params["service_id"])
    return empty_response()


@router.endpoint("/v1/agent/service/maintenance/{service_id:path}", "PUT")
async def service_maintenance(request: Request) -> Response:
    cluster = cluster_of(request)
    service_id = request.path_params["service_id"]
    if not service_id:
        raise BadRequest("Missing service ID")
    enable = _enable_param(request)
    _vet_service_update(request, cluster, service_id)
    with cluster.store.lock:
        cluster.agent.set_service_maintenance(
            service_id, enable, request.query_params.get("reason", "")
        )
    return empty_response()


@router.endpoint("/v1/agent/maintenance", "PUT")
async def node_maintenance(request: Request) -> Response:
    cluster = cluster_of(request)
    enable = _enable_param(request)
    if cluster.acl.enabled:
        authorizer(request, cluster).require("node", "write", cluster.node_name)
    with cluster.store.lock:
        cluster.agent.set_node_maintenance(enable, request.query_params.get("reason", ""))
    return empty_response()


def _vet_service_update(request: Request, cluster: Cluster, service_id: str) -> None:
    """Consul's vetServiceUpdate: write on the service being changed (an unknown ID is the
    domain's 404)."""
    if not cluster.acl.enabled:
        return
    authz = authorizer(request, cluster)
    existing = cluster.agent.local_services.get(service_id)
    if existing is not None:
        authz.require("service", "write", existing.service)


def _vet_check_update(request: Request, cluster: Cluster, check_id: str) -> None:
    """Consul's vetCheckUpdate: write on the check's service, or node:write for a node check
    (an unknown check is the domain's 404)."""
    if not cluster.acl.enabled:
        return
    authz = authorizer(request, cluster)
    local = cluster.agent.checks.get(check_id)
    if local is not None:
        _require_check_write(authz, cluster, local.definition.service_id)


def _require_check_write(authz: Authorizer, cluster: Cluster, service_id: str) -> None:
    owner = cluster.agent.local_services.get(service_id) if service_id else None
    if owner is not None:
        authz.require("service", "write", owner.service)
    else:
        authz.require("node", "write", cluster.node_name)


def _enable_param(request: Request) -> bool:
    q = request.query_params
    if "enable" not in q:
        raise BadRequest("Missing value for enable")
    raw = q["enable"]
    try:
        return parse_bool(raw)
    except NumError:
        raise BadRequest(f"Invalid value for enable: {quote(raw)}") from None


@router.endpoint("/v1/agent/service/{service_id:path}", "GET")
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
@router.endpoint("/v1/agent/checks", "GET")
async def checks(request: Request) -> Response:
    cluster = cluster_of(request)
    expression = request.query_params.get("filter", "")
    authz = read_authorizer(request, cluster)
    with cluster.store.lock:
        found = list(cluster.agent.agent_checks().values())
    filtered = False
    if authz is not None:  # service checks need service:read, node checks node:read
        node_ok = authz.allowed("node", "read", cluster.node_name)
        readable = [
            c
            for c in found
            if (authz.allowed("service", "read", c.service_name) if c.service_name else node_ok)
        ]
        filtered, found = len(readable) != len(found), readable
    kept = apply_filter(expression, found, _agent_check_json)
    return json_response(
        {c.check_id: _agent_check_json(c) for c in kept},
        pretty=_pretty(request),
        headers=filtered_headers(request, filtered),
    )


@router.endpoint("/v1/agent/check/register", "PUT")
async def register_check(request: Request) -> Response:
    cluster = cluster_of(request)
    data = await read_json(request)
    try:
        ct = decode_body(CheckType, data, root="", strict=True)
    except DecodeError as exc:
        raise _decode_error(exc) from None
    if cluster.acl.enabled:
        _vet_check_register(request, cluster, ct)
    with cluster.store.lock:
        cluster.agent.register_check(ct)
    return empty_response()


def _vet_check_register(request: Request, cluster: Cluster, ct: CheckType) -> None:
    """Consul's vetCheckRegister, asked after the registration's own validation (whose errors
    the domain raises first): write on the check's service or the node, and on the check it
    would overwrite."""
    authz = authorizer(request, cluster)
    if not ct.name or (ct.status and ct.status not in CHECK_STATUSES) or ct.problem():
        return
    if ct.service_id and ct.service_id not in cluster.agent.local_services:
        return
    _require_check_write(authz, cluster, ct.service_id)
    existing = cluster.agent.checks.get(ct.check_id or ct.id or ct.name)
    if existing is not None:
        _require_check_write(authz, cluster, existing.definition.service_id)


@router.endpoint("/v1/agent/check/deregister/{check_id:path}", "PUT")
async def deregister_check(request: Request) -> Response:
    cluster = cluster_of(request)
    _vet_check_update(request, cluster, request.path_params["check_id"])
    with cluster.store.lock:
        cluster.agent.deregister_check(request.path_params["check_id"])
    return empty_response()


async def _ttl_update(request: Request, endpoint: str) -> Response:
    cluster = cluster_of(request)
    note = request.query_params.get("note", "")
    _vet_check_update(request, cluster, request.path_params["check_id"])
    with cluster.store.lock:
        cluster.agent.update_ttl(
            request.path_params["check_id"], STATUS_FOR_ENDPOINT[endpoint], note
        )
    return empty_response()


@router.endpoint("/v1/agent/check/pass/{check_id:path}", "PUT")
async def check_pass(request: Request) -> Response:
    return await _ttl_update(request, "pass")


@router.endpoint("/v1/agent/check/warn/{check_id:path}", "PUT")
async def check_warn(request: Request) -> Response:
    return await _ttl_update(request, "warn")


@router.endpoint("/v1/agent/check/fail/{check_id:path}", "PUT")
async def check_fail(request: Request) -> Response:
    return await _ttl_update(request, "fail")


@router.endpoint("/v1/agent/check/update/{check_id:path}", "PUT")
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
    _vet_check_update(request, cluster, request.path_params["check_id"])
    with cluster.store.lock:
        cluster.agent.update_ttl(request.path_params["check_id"], update.status, output)
    return empty_response()


# -- self and members ----------------------------------------------------------------------------
def _member(cluster: Cluster, *, wan: bool = False) -> dict[str, Any]:
    """The agent's serf.Member: a dev-mode server that bootstrapped itself."""
    tags = {
        "acls": "0",
        "bootstrap": "1",
        "build": f"{CONSUL_VERSION}:{REVISION[:8]}",
        "dc": cluster.datacenter,
        "ft_fs": "1",
        "ft_si": "1",
        "grpc_port": str(GRPC_PORT),
        "grpc_tls_port": str(GRPC_TLS_PORT),
        "id": cluster.node_id,
        "port": str(SERVER_PORT),
        "raft_vsn": str(RAFT_PROTOCOL),
        "role": "consul",
        "segment": "",
        "vsn": str(PROTOCOL_VERSION),
        "vsn_max": str(PROTOCOL_VERSION_MAX),
        "vsn_min": str(PROTOCOL_VERSION_MIN),
    }
    if not wan:
        tags["wan_join_port"] = str(SERF_WAN_PORT)
    return {
        "Name": f"{cluster.node_name}.{cluster.datacenter}" if wan else cluster.node_name,
        "Addr": cluster.address,
        "Port": SERF_WAN_PORT if wan else SERF_LAN_PORT,
        "Tags": dict(sorted(tags.items())),
        "Status": MEMBER_ALIVE,
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 4,
    }


@router.endpoint("/v1/agent/members", "GET")
async def members(request: Request) -> Response:
    cluster = cluster_of(request)
    q = request.query_params
    wan = bool(q.get("wan", ""))
    segment = q.get("segment", "")
    if wan and segment not in ("", "_all"):
        raise BadRequest("Cannot provide a segment with wan=true")
    found = [_member(cluster, wan=wan)]
    filtered = False
    if cluster.acl.enabled:
        authz = authorizer(request, cluster)
        readable = [m for m in found if authz.allowed("node", "read", m["Name"])]
        filtered, found = len(readable) != len(found), readable
    return json_response(
        found, pretty=_pretty(request), headers=filtered_headers(request, filtered)
    )


def _http_port(cluster: Cluster) -> int:
    if cluster.http_address:
        return int(cluster.http_address.rsplit(":", 1)[1])
    return HTTP_PORT


def _debug_config(cluster: Cluster) -> dict[str, Any]:
    """A slice of Consul's sanitized RuntimeConfig: what a dev-mode server would report."""
    addr = cluster.address
    config: dict[str, Any] = {
        "ACLsEnabled": False,
        "AdvertiseAddrLAN": addr,
        "AdvertiseAddrWAN": addr,
        "BindAddr": addr,
        "Bootstrap": True,
        "BootstrapExpect": 0,
        "BuildDate": BUILD_DATE,
        "ClientAddrs": [addr],
        "ConnectEnabled": True,
        "Datacenter": cluster.datacenter,
        "DataDir": "",
        "DevMode": True,
        "DNSAddrs": [f"tcp://{addr}:{DNS_PORT}", f"udp://{addr}:{DNS_PORT}"],
        "DNSPort": DNS_PORT,
        "DisableCoordinates": False,
        "EnableRemoteScriptChecks": cluster.agent.enable_remote_script_checks,
        "GRPCPort": GRPC_PORT,
        "GRPCTLSPort": GRPC_TLS_PORT,
        "HTTPAddrs": [f"tcp://{addr}:{_http_port(cluster)}"],
        "HTTPPort": _http_port(cluster),
        "HTTPSPort": -1,
        "NodeID": cluster.node_id,
        "NodeName": cluster.node_name,
        "PrimaryDatacenter": cluster.datacenter,
        "RaftProtocol": RAFT_PROTOCOL,
        "Revision": REVISION,
        "SerfAdvertiseAddrLAN": f"tcp://{addr}:{SERF_LAN_PORT}",
        "SerfAdvertiseAddrWAN": f"tcp://{addr}:{SERF_WAN_PORT}",
        "SerfPortLAN": SERF_LAN_PORT,
        "SerfPortWAN": SERF_WAN_PORT,
        "ServerMode": True,
        "ServerName": "",
        "ServerPort": SERVER_PORT,
        "Version": CONSUL_VERSION,
        "VersionMetadata": "",
        "VersionPrerelease": "",
    }
    return dict(sorted(config.items()))


def _stats(cluster: Cluster) -> dict[str, dict[str, str]]:
    agent = cluster.agent
    index = str(cluster.store.index)
    serf = {
        "coordinate_resets": "0",
        "encrypted": "false",
        "event_queue": "0",
        "event_time": "1",
        "failed": "0",
        "health_score": "0",
        "intent_queue": "0",
        "left": "0",
        "member_time": "1",
        "members": "1",
        "query_queue": "0",
        "query_time": "1",
    }
    return {
        "agent": {
            "check_monitors": "0",
            "check_ttls": str(agent.ttl_check_count()),
            "checks": str(len(agent.checks)),
            "services": str(len(agent.local_services)),
        },
        "build": {
            "prerelease": "",
            "revision": REVISION,
            "version": CONSUL_VERSION,
            "version_metadata": "",
        },
        "consul": {
            "acl": "disabled",
            "bootstrap": "true",
            "known_datacenters": "1",
            "leader": "true",
            "leader_addr": cluster.leader_address,
            "server": "true",
        },
        "raft": {
            "applied_index": index,
            "commit_index": index,
            "fsm_pending": "0",
            "last_log_index": index,
            "last_log_term": "2",
            "last_snapshot_index": "0",
            "last_snapshot_term": "0",
            "latest_configuration": (
                f"[{{Suffrage:Voter ID:{cluster.node_id} Address:{cluster.leader_address}}}]"
            ),
            "latest_configuration_index": "0",
            "num_peers": "0",
            "protocol_version": "3",
            "protocol_version_max": "3",
            "protocol_version_min": "0",
            "snapshot_version_max": "1",
            "snapshot_version_min": "0",
            "state": "Leader",
            "term": "2",
        },
        "runtime": {
            "arch": "amd64",
            "cpu_count": "1",
            "goroutines": "1",
            "max_procs": "1",
            "os": "linux",
            "version": "go1.23.8",
        },
        "serf_lan": dict(serf),
        "serf_wan": dict(serf),
    }


@router.endpoint("/v1/agent/self", "GET")
async def self_(request: Request) -> Response:
    cluster = cluster_of(request)
    if cluster.acl.enabled:
        authorizer(request, cluster).require("agent", "read", cluster.node_name)
    with cluster.store.lock:
        row = cluster.store.catalog.row("", cluster.node_name)
        meta = dict(row.node.meta) if row else {"consul-network-segment": ""}
        body = {
            "Config": {
                "Datacenter": cluster.datacenter,
                "PrimaryDatacenter": cluster.datacenter,
                "NodeName": cluster.node_name,
                "NodeID": cluster.node_id,
                "Revision": REVISION,
                "Server": True,
                "Version": CONSUL_VERSION,
                "BuildDate": BUILD_DATE,
            },
            "DebugConfig": _debug_config(cluster),
            "Coord": {"Vec": [0] * 8, "Error": 1.5, "Adjustment": 0, "Height": 1e-05},
            "Member": _member(cluster),
            "Stats": _stats(cluster),
            "Meta": dict(sorted(meta.items())),
            "xDS": {
                "SupportedProxies": {"envoy": list(ENVOY_VERSIONS)},
                "Port": GRPC_TLS_PORT,
                "Ports": {"Plaintext": GRPC_PORT, "TLS": GRPC_TLS_PORT},
            },
        }
    return json_response(body, pretty=_pretty(request))


# -- version and local service health -------------------------------------------------------------
@router.endpoint("/v1/agent/version", "GET")
async def version(request: Request) -> Response:
    """``version.GetBuildInfo()``; the handler asks for no token."""
    body = {"SHA": REVISION, "BuildDate": BUILD_DATE, "HumanVersion": CONSUL_VERSION, "FIPS": ""}
    return json_response(body, pretty=_pretty(request))


HEALTH_CODES = {PASSING: 200, WARNING: 429}
"""What a local service's aggregated status answers with; anything else is 503."""
EMPTY_CHECK_DEFINITION: dict[str, Any] = {
    "Interval": "0s",
    "Timeout": "0s",
    "DeregisterCriticalServiceAfter": "0s",
    "HTTP": "",
    "Header": None,
    "Method": "",
    "Body": "",
    "TLSServerName": "",
    "TLSSkipVerify": False,
    "TCP": "",
    "TCPUseTLS": False,
    "UDP": "",
    "GRPC": "",
    "OSService": "",
    "GRPCUseTLS": False,
}
"""``api.HealthCheckDefinition`` at its zero value: the handler copies no definition."""


def _aggregated_status(checks: list[HealthCheck]) -> str:
    """``HealthChecks.AggregatedStatus``: maintenance wins, then critical, warning, passing."""
    if any(
        c.check_id == NODE_MAINT_ID or c.check_id.startswith(SERVICE_MAINT_PREFIX) for c in checks
    ):
        return "maintenance"
    statuses = {c.status for c in checks}
    for status in (CRITICAL, WARNING):
        if status in statuses:
            return status
    return PASSING


def _api_check(check: HealthCheck) -> dict[str, Any]:
    """The ``api.HealthCheck`` the handler builds: it copies only the identity, status and
    service fields, so Type, ExposedPort, Definition and the indexes are zero."""
    return {
        "Node": check.node,
        "CheckID": check.check_id,
        "Name": check.name,
        "Status": check.status,
        "Notes": check.notes,
        "Output": check.output,
        "ServiceID": check.service_id,
        "ServiceName": check.service_name,
        "ServiceTags": list(check.service_tags),
        "Type": "",
        "ExposedPort": 0,
        "Definition": dict(EMPTY_CHECK_DEFINITION),
        "CreateIndex": 0,
        "ModifyIndex": 0,
    }


def _service_health(cluster: Cluster, svc: NodeService) -> tuple[int, str, dict[str, Any]]:
    """One local service's checks (its own and the node's), their worst status and its code."""
    checks = [
        c
        for c in cluster.agent.agent_checks().values()
        if c.service_id == svc.id or not c.service_id
    ]
    status = _aggregated_status(checks)
    body = {
        "AggregatedStatus": status,
        "Service": render_agent_service(svc, cluster.datacenter),
        "Checks": [_api_check(c) for c in checks],
    }
    return HEALTH_CODES.get(status, 503), status, body


def _wants_text(request: Request) -> bool:
    """Consul's returnTextPlain: an ``Accept: text/plain…`` header, else ``?format=text``."""
    if request.headers.get("Accept", "").startswith("text/plain"):
        return True
    return request.query_params.get("format", "") == "text"


def _health_answer(request: Request, code: int, reason: str, body: Any) -> Response:
    """A CodeWithPayloadError answer: the status code, ``X-Consul-Reason``, and the body as
    JSON or, for text, the reason alone."""
    headers = {"X-Consul-Reason": reason}
    if _wants_text(request):
        headers["Content-Type"] = "text/plain"  # exactly, with no charset, as Consul sets it
        return Response(content=reason.encode(), status_code=code, headers=headers)
    return json_response(body, pretty=_pretty(request), status_code=code, headers=headers)


@router.endpoint("/v1/agent/health/service/id/{service_id:path}", "GET")
async def health_service_by_id(request: Request) -> Response:
    cluster = cluster_of(request)
    service_id = request.path_params["service_id"]
    if not service_id:
        raise BadRequest("Missing serviceID")
    authz = read_authorizer(request, cluster)
    with cluster.store.lock:
        svc = cluster.agent.service(service_id)
        if svc is None:
            reason = f"ServiceId {service_id} not found"
            empty = {"AggregatedStatus": CRITICAL, "Service": None, "Checks": None}
            return _health_answer(request, 404, reason, empty)
        if authz is not None:
            authz.require("service", "read", svc.service)
        code, status, body = _service_health(cluster, svc)
    return _health_answer(request, code, status, body)


@router.endpoint("/v1/agent/health/service/name/{service_name:path}", "GET")
async def health_service_by_name(request: Request) -> Response:
    cluster = cluster_of(request)
    name = request.path_params["service_name"]
    if not name:
        raise BadRequest("Missing service Name")
    authz = read_authorizer(request, cluster)
    if authz is not None:
        authz.require("service", "read", name)
    code, status = 404, f"ServiceName {name} Not Found"
    results: list[dict[str, Any]] = []
    with cluster.store.lock:
        for svc in cluster.agent.agent_services().values():
            if svc.service != name:
                continue
            scode, sstatus, body = _service_health(cluster, svc)
            results.append(body)
            if code == 404 or code < scode:  # the worst wins: 200 < 429 < 503
                code, status = scode, sstatus
    return _health_answer(request, code, status, results)
