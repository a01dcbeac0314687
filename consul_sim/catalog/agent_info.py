"""What the local agent reports about itself: its Serf member, ``/v1/agent/self`` and the
health of its local services.

A dev-mode server that bootstrapped itself, described the way Consul's agent endpoints
(``agent/agent_endpoint.go``: ``AgentSelf``, ``AgentMembers``, ``AgentHealthServiceByID`` and
``ByName``) build their answers. The payloads are built here, in the domain, so the handlers only
authorize and render; they read the narrow :class:`AgentHost` view of a cluster.
"""

from __future__ import annotations

from typing import Any, Protocol

from consul_sim.catalog.agent import NODE_MAINT_ID, SERVICE_MAINT_PREFIX, LocalAgent
from consul_sim.models.agent import render_agent_service
from consul_sim.models.catalog import CRITICAL, PASSING, WARNING, HealthCheck, NodeService
from consul_sim.ports import (
    DNS_PORT,
    GRPC_PORT,
    GRPC_TLS_PORT,
    HTTP_PORT,
    SERF_LAN_PORT,
    SERF_WAN_PORT,
    SERVER_RPC_PORT,
)
from consul_sim.store import Store
from consul_sim.version import BUILD_DATE, CONSUL_VERSION, REVISION


class AgentHost(Protocol):
    """The part of a cluster its agent describes itself from."""

    datacenter: str
    node_name: str
    node_id: str
    address: str
    http_address: str | None
    store: Store
    agent: LocalAgent

    @property
    def leader_address(self) -> str: ...


PROTOCOL_VERSION = 2
PROTOCOL_VERSION_MIN = 2
PROTOCOL_VERSION_MAX = 3
RAFT_PROTOCOL = 3
MEMBER_ALIVE = 1
ENVOY_VERSIONS = ["1.34.1", "1.33.2", "1.32.5", "1.31.8"]


def local_check_json(check: HealthCheck) -> dict[str, Any]:
    """A local check as /v1/agent/checks shows it: local state carries no Raft indexes."""
    return {**check.render(), "CreateIndex": 0, "ModifyIndex": 0}


# -- self and members ----------------------------------------------------------------------------
def member(host: AgentHost, *, wan: bool = False) -> dict[str, Any]:
    """The agent's serf.Member: a dev-mode server that bootstrapped itself."""
    tags = {
        "acls": "0",
        "bootstrap": "1",
        "build": f"{CONSUL_VERSION}:{REVISION[:8]}",
        "dc": host.datacenter,
        "ft_fs": "1",
        "ft_si": "1",
        "grpc_port": str(GRPC_PORT),
        "grpc_tls_port": str(GRPC_TLS_PORT),
        "id": host.node_id,
        "port": str(SERVER_RPC_PORT),
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
        "Name": f"{host.node_name}.{host.datacenter}" if wan else host.node_name,
        "Addr": host.address,
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


def _http_port(host: AgentHost) -> int:
    if host.http_address:
        return int(host.http_address.rsplit(":", 1)[1])
    return HTTP_PORT


def _debug_config(host: AgentHost) -> dict[str, Any]:
    """A slice of Consul's sanitized RuntimeConfig: what a dev-mode server would report."""
    addr = host.address
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
        "Datacenter": host.datacenter,
        "DataDir": "",
        "DevMode": True,
        "DNSAddrs": [f"tcp://{addr}:{DNS_PORT}", f"udp://{addr}:{DNS_PORT}"],
        "DNSPort": DNS_PORT,
        "DisableCoordinates": False,
        "EnableRemoteScriptChecks": host.agent.enable_remote_script_checks,
        "GRPCPort": GRPC_PORT,
        "GRPCTLSPort": GRPC_TLS_PORT,
        "HTTPAddrs": [f"tcp://{addr}:{_http_port(host)}"],
        "HTTPPort": _http_port(host),
        "HTTPSPort": -1,
        "NodeID": host.node_id,
        "NodeName": host.node_name,
        "PrimaryDatacenter": host.datacenter,
        "RaftProtocol": RAFT_PROTOCOL,
        "Revision": REVISION,
        "SerfAdvertiseAddrLAN": f"tcp://{addr}:{SERF_LAN_PORT}",
        "SerfAdvertiseAddrWAN": f"tcp://{addr}:{SERF_WAN_PORT}",
        "SerfPortLAN": SERF_LAN_PORT,
        "SerfPortWAN": SERF_WAN_PORT,
        "ServerMode": True,
        "ServerName": "",
        "ServerPort": SERVER_RPC_PORT,
        "Version": CONSUL_VERSION,
        "VersionMetadata": "",
        "VersionPrerelease": "",
    }
    return dict(sorted(config.items()))


def _stats(host: AgentHost) -> dict[str, dict[str, str]]:
    agent = host.agent
    index = str(host.store.index)
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
            "leader_addr": host.leader_address,
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
                f"[{{Suffrage:Voter ID:{host.node_id} Address:{host.leader_address}}}]"
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


def self_info(host: AgentHost) -> dict[str, Any]:
    """``/v1/agent/self`` (``AgentSelf`` in agent/agent_endpoint.go): the agent's config, a
    slice of its runtime config, its coordinate, Serf member, stats, node meta and xDS ports."""
    with host.store.lock:
        row = host.store.catalog.row("", host.node_name)
        meta = dict(row.node.meta) if row else {"consul-network-segment": ""}
        return {
            "Config": {
                "Datacenter": host.datacenter,
                "PrimaryDatacenter": host.datacenter,
                "NodeName": host.node_name,
                "NodeID": host.node_id,
                "Revision": REVISION,
                "Server": True,
                "Version": CONSUL_VERSION,
                "BuildDate": BUILD_DATE,
            },
            "DebugConfig": _debug_config(host),
            "Coord": {"Vec": [0] * 8, "Error": 1.5, "Adjustment": 0, "Height": 1e-05},
            "Member": member(host),
            "Stats": _stats(host),
            "Meta": dict(sorted(meta.items())),
            "xDS": {
                "SupportedProxies": {"envoy": list(ENVOY_VERSIONS)},
                "Port": GRPC_TLS_PORT,
                "Ports": {"Plaintext": GRPC_PORT, "TLS": GRPC_TLS_PORT},
            },
        }


def build_info() -> dict[str, Any]:
    """``/v1/agent/version``: ``version.GetBuildInfo()``."""
    return {"SHA": REVISION, "BuildDate": BUILD_DATE, "HumanVersion": CONSUL_VERSION, "FIPS": ""}


# -- local service health -----------------------------------------------------------------------
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


def aggregated_status(checks: list[HealthCheck]) -> str:
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


def service_health(agent: LocalAgent, svc: NodeService) -> tuple[int, str, dict[str, Any]]:
    """One local service's checks (its own and the node's), their worst status and its code."""
    checks = [
        c for c in agent.agent_checks().values() if c.service_id == svc.id or not c.service_id
    ]
    status = aggregated_status(checks)
    body = {
        "AggregatedStatus": status,
        "Service": render_agent_service(svc, agent.datacenter),
        "Checks": [_api_check(c) for c in checks],
    }
    return HEALTH_CODES.get(status, 503), status, body


def unknown_service_health(service_id: str) -> tuple[int, str, dict[str, Any]]:
    """The by-ID answer for a service the agent does not have: 404, critical, no service."""
    empty = {"AggregatedStatus": CRITICAL, "Service": None, "Checks": None}
    return 404, f"ServiceId {service_id} not found", empty


def services_health(agent: LocalAgent, name: str) -> tuple[int, str, list[dict[str, Any]]]:
    """Every local instance of ``name`` with its health; the worst code and status win
    (200 < 429 < 503), and no instance at all is 404 ``ServiceName <name> Not Found``."""
    code, status = 404, f"ServiceName {name} Not Found"
    results: list[dict[str, Any]] = []
    with agent.store.lock:
        for svc in agent.agent_services().values():
            if svc.service != name:
                continue
            scode, sstatus, body = service_health(agent, svc)
            results.append(body)
            if code == 404 or code < scode:
                code, status = scode, sstatus
    return code, status, results
