"""/v1/operator: Raft configuration, autopilot, the gossip keyring and usage of a dev server.

Handlers follow ``agent/operator_endpoint.go`` and the RPCs behind it; the cluster is one
server that leads a Raft configuration of one voter:

- ``GET /v1/operator/raft/configuration`` (``Operator.RaftGetConfiguration``, ``operator:read``)
  answers ``structs.RaftConfigurationResponse``: that one server, leader and voter, with Raft
  protocol ``"3"``; ``Index`` is the configuration future's, 0 on a dev agent (py-consul's own
  suite checks the live answer).
- ``DELETE /v1/operator/raft/peer`` needs exactly one of ``?id`` and ``?address`` (the handler's
  two 400 sentences); ``agent/consul/operator_raft_endpoint.go`` refuses a peer not in the
  configuration with ``address %q was not found in the Raft configuration`` / ``id %q ...``
  (500). Removing the only voter is not simulated: it is refused the same way.
- ``POST /v1/operator/raft/transfer-leader`` (``OperatorRaftTransferLeader``, ``operator:write``):
  ``Server.attemptLeadershipTransfer`` looks an ``?id`` up with ``ServerLookup.ServerAddr``
  (``Could not find address for server id X``) and otherwise asks hashicorp/raft to pick a
  peer, which fails with ``cannot find peer`` when there is none. The error crosses Consul's
  own gRPC client, so the 500's text is gRPC's ``rpc error: code = Unknown desc = ...``
  (assumed from the gRPC status rendering; the CLI test ``TestOperatorRaftTransferLeaderWith
  SingleNode`` only checks that the text holds ``cannot find peer``).
- ``GET``/``PUT /v1/operator/autopilot/configuration`` (``operator:read``/``write``): Consul's
  defaults (``agent/config/default.go``: cleanup on, 200ms, 250 logs, 10s); ``?cas`` answers
  ``false`` and changes nothing unless it is the current ``ModifyIndex``; without it, ``true``.
- ``GET /v1/operator/autopilot/health`` (``Operator.ServerHealth``): healthy, so 200 (Consul
  answers 429 with the same body when not).
- ``/v1/operator/keyring`` (``Internal.KeyringOperation``; ``keyring:read`` to list,
  ``keyring:write`` otherwise): gossip encryption is never on here, so each pool's serf answers
  ``Keyring is empty (encryption not enabled)`` (list) or ``No keyring to modify (encryption not
  enabled)`` (install, use, remove) from serf's ``internal_query.go``, and
  ``keyringErrorsOrNil`` joins them, WAN pool first, into go-multierror's list: a 500.
- ``GET /v1/operator/usage`` (``Operator.Usage``, ``operator:read``): ``structs.Usage`` with
  ``QueryMeta``: this datacenter's service and node counts (``agent/consul/state/usage.go``:
  billable instances leave out the ``consul`` service and Connect proxies and gateways).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import (
    ConsulRouter,
    authorizer,
    check_dc,
    cluster_of,
    flag,
    json_response,
    query_options,
    read_json,
)
from consul_sim.api.openapi import (
    BOOL,
    DC,
    OBJECT,
    READ_OPTIONS,
    Answer,
    Op,
    Param,
    ok,
)
from consul_sim.clock import rfc3339
from consul_sim.durations import DurationError, format_duration, parse_duration
from consul_sim.errors import BadRequest, ConsulError
from consul_sim.gostd import quote
from consul_sim.store.catalog import NODES, SERVICES
from consul_sim.version import CONSUL_VERSION

if TYPE_CHECKING:
    from consul_sim.world import Cluster

router = ConsulRouter()

RAFT_PROTOCOL = "3"
TRANSFER_FAILED = "rpc error: code = Unknown desc = "
GATEWAY_KINDS = (
    "api-gateway",
    "connect-native",
    "connect-proxy",
    "ingress-gateway",
    "mesh-gateway",
    "terminating-gateway",
)
"""The keys of ``ConnectServiceInstances`` (``structs.ServiceKind`` values plus native)."""


@dataclass
class Autopilot:
    """``structs.AutopilotConfig``, in Consul's units (durations in seconds)."""

    cleanup_dead_servers: bool = True
    last_contact_threshold: float = 0.2
    max_trailing_logs: int = 250
    min_quorum: int = 0
    server_stabilization_time: float = 10.0
    redundancy_zone_tag: str = ""
    disable_upgrade_migration: bool = False
    upgrade_version_tag: str = ""
    create_index: int = 0
    modify_index: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "CleanupDeadServers": self.cleanup_dead_servers,
            "LastContactThreshold": format_duration(self.last_contact_threshold),
            "MaxTrailingLogs": self.max_trailing_logs,
            "MinQuorum": self.min_quorum,
            "ServerStabilizationTime": format_duration(self.server_stabilization_time),
            "RedundancyZoneTag": self.redundancy_zone_tag,
            "DisableUpgradeMigration": self.disable_upgrade_migration,
            "UpgradeVersionTag": self.upgrade_version_tag,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }


_AUTOPILOT: weakref.WeakKeyDictionary[Cluster, Autopilot] = weakref.WeakKeyDictionary()


def autopilot_of(cluster: Cluster) -> Autopilot:
    """The leader writes the default configuration when it takes office; here, on first use."""
    config = _AUTOPILOT.get(cluster)
    if config is None:
        index = max(cluster.store.index, 1)
        config = _AUTOPILOT[cluster] = Autopilot(create_index=index, modify_index=index)
    return config


def _server(cluster: Cluster) -> dict[str, Any]:
    return {
        "ID": cluster.node_id,
        "Node": cluster.node_name,
        "Address": cluster.leader_address,
        "Leader": True,
        "ProtocolVersion": RAFT_PROTOCOL,
        "Voter": True,
        "LastIndex": cluster.store.index,
    }


@router.endpoint(
    "/v1/operator/raft/configuration",
    "GET",
    doc=Op("the Raft configuration: this one server", READ_OPTIONS, answers=(ok(OBJECT),)),
)
async def raft_configuration(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    authorizer(request, cluster).require("operator", "read")
    return json_response({"Servers": [_server(cluster)], "Index": 0}, pretty=opts.pretty)


@router.endpoint(
    "/v1/operator/raft/peer",
    "DELETE",
    doc=Op(
        "remove a Raft peer by ?id or ?address (only peers in the configuration)",
        (DC, Param("id", "the server's Raft ID"), Param("address", "the server's IP:port")),
        answers=(ok(OBJECT),),
    ),
)
async def raft_remove_peer(request: Request) -> Response:
    cluster = cluster_of(request)
    check_dc(request, cluster)
    q = request.query_params
    has_id, has_address = "id" in q, "address" in q
    if not has_id and not has_address:
        raise BadRequest(
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to "
            "remove"
        )
    if has_id and has_address:
        raise BadRequest("Must specify only one of ?id or ?address")
    authorizer(request, cluster).require("operator", "write")
    if has_address:
        raise ConsulError(f"address {quote(q['address'])} was not found in the Raft configuration")
    raise ConsulError(f"id {quote(q['id'])} was not found in the Raft configuration")


@router.endpoint(
    "/v1/operator/raft/transfer-leader",
    "POST",
    doc=Op(
        "hand the Raft leadership to another server (there is none)",
        (Param("id", "the server to hand it to"),),
        answers=(ok(OBJECT),),
    ),
)
async def raft_transfer_leader(request: Request) -> Response:
    cluster = cluster_of(request)
    authorizer(request, cluster).require("operator", "write")
    server_id = request.query_params.get("id", "")
    if server_id:
        raise ConsulError(f"{TRANSFER_FAILED}Could not find address for server id {server_id}")
    raise ConsulError(f"{TRANSFER_FAILED}cannot find peer")


@router.endpoint(
    "/v1/operator/autopilot/configuration",
    "GET",
    "PUT",
    doc={
        "GET": Op("the autopilot configuration", READ_OPTIONS, answers=(ok(OBJECT),)),
        "PUT": Op(
            "replace the autopilot configuration; with ?cas only at that ModifyIndex",
            (DC, Param("cas", "apply only at this ModifyIndex")),
            answers=(ok(dict(BOOL)),),
        ),
    },
)
async def autopilot_configuration(request: Request) -> Response:
    cluster = cluster_of(request)
    if request.method == "GET":
        opts = query_options(request, cluster)
        authorizer(request, cluster).require("operator", "read")
        return json_response(autopilot_of(cluster).to_json(), pretty=opts.pretty)
    check_dc(request, cluster)
    body = await read_json(request)
    try:
        new = _decode_autopilot(body)
    except (TypeError, ValueError, DurationError) as exc:
        raise BadRequest(f"Error parsing autopilot config: {exc}") from None
    cas: int | None = None
    if "cas" in request.query_params:
        try:
            cas = int(request.query_params["cas"])
            if cas < 0:
                raise ValueError
        except ValueError:
            raw = request.query_params["cas"]
            raise BadRequest(
                f'Error parsing cas value: strconv.ParseUint: parsing "{raw}": invalid syntax'
            ) from None
    authorizer(request, cluster).require("operator", "write")
    current = autopilot_of(cluster)
    if cas is not None and cas != current.modify_index:
        return json_response(False)
    with cluster.store.txn() as txn:
        index = txn.touch("autopilot-config")
    new.create_index, new.modify_index = current.create_index, index
    _AUTOPILOT[cluster] = new
    return json_response(True)


def _decode_autopilot(body: Any) -> Autopilot:
    """``api.NewAutopilotConfiguration()``'s defaults, overwritten by the body's fields."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise TypeError("json: cannot unmarshal into Go value of type api.AutopilotConfiguration")
    out = Autopilot()
    for key, value in body.items():
        name = key.lower()
        if name == "cleanupdeadservers":
            out.cleanup_dead_servers = bool(value)
        elif name == "lastcontactthreshold":
            out.last_contact_threshold = parse_duration(str(value))
        elif name == "maxtrailinglogs":
            out.max_trailing_logs = int(value)
        elif name == "minquorum":
            out.min_quorum = int(value)
        elif name == "serverstabilizationtime":
            out.server_stabilization_time = parse_duration(str(value))
        elif name == "redundancyzonetag":
            out.redundancy_zone_tag = str(value)
        elif name == "disableupgrademigration":
            out.disable_upgrade_migration = bool(value)
        elif name == "upgradeversiontag":
            out.upgrade_version_tag = str(value)
    return out


@router.endpoint(
    "/v1/operator/autopilot/health",
    "GET",
    doc=Op("the servers' health as autopilot sees it", READ_OPTIONS, answers=(ok(OBJECT),)),
)
async def autopilot_health(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    authorizer(request, cluster).require("operator", "read")
    server = {
        "ID": cluster.node_id,
        "Name": cluster.node_name,
        "Address": cluster.leader_address,
        "SerfStatus": "alive",
        "Version": CONSUL_VERSION,
        "Leader": True,
        "LastContact": "0s",
        "LastTerm": 2,
        "LastIndex": cluster.store.index,
        "Healthy": True,
        "Voter": True,
        "StableSince": rfc3339(float(round(cluster.started_at))),
    }
    body = {"Healthy": True, "FailureTolerance": 0, "Servers": [server]}
    return json_response(body, pretty=opts.pretty)


KEYRING = "/v1/operator/keyring"


@router.endpoint(
    KEYRING,
    "GET",
    "POST",
    "PUT",
    "DELETE",
    doc=Op(
        "list, install, use or remove gossip keys (encryption is off: Consul's 500)",
        (Param("relay-factor", "0-5"), Param("local-only", "list this server's keys only")),
        answers=(Answer(200, "never: gossip encryption is off", None),),
        errors=(400, 403, 500),
    ),
)
async def keyring(request: Request) -> Response:
    """``OperatorKeyringEndpoint``: the body and the two query flags are checked first."""
    cluster = cluster_of(request)
    method = request.method
    if method != "GET":
        body = await _keyring_body(request)
        if "Key" in body and not isinstance(body["Key"], str):
            raise BadRequest(
                "Request decode failed: json: cannot unmarshal into Go struct field "
                "keyringArgs.Key of type string"
            )
    q = request.query_params
    relay = q.get("relay-factor", "")
    if relay:
        try:
            n = int(relay)
        except ValueError:
            raise BadRequest(
                f'Error parsing relay factor: strconv.Atoi: parsing "{relay}": invalid syntax'
            ) from None
        if not 0 <= n <= 5:
            raise BadRequest("Invalid relay-factor: Relay factor must be in range: [0, 5]")
    local = q.get("local-only", "")
    if local:
        if local not in _GO_BOOLS:
            raise BadRequest(
                f'Error parsing local-only: strconv.ParseBool: parsing "{local}": invalid syntax'
            )
        if _GO_BOOLS[local] and method != "GET":
            raise BadRequest(
                "Invalid use of local-only: local-only can only be set for list requests"
            )
    authorizer(request, cluster).require("keyring", "read" if method == "GET" else "write")
    message = (
        "Keyring is empty (encryption not enabled)"
        if method == "GET"
        else "No keyring to modify (encryption not enabled)"
    )
    errors = [
        "WAN error: 1/1 nodes reported failure",
        f"{cluster.node_name}.{cluster.datacenter}: {message}",
        f"{cluster.datacenter} (LAN) error: 1/1 nodes reported failure",
        f"{cluster.node_name}: {message}",
    ]
    if flag(request, "local-only"):
        errors = errors[2:]
    points = "\n\t".join(f"* {e}" for e in errors)
    raise ConsulError(f"{len(errors)} errors occurred:\n\t{points}\n\n")


_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
"""``strconv.ParseBool``'s spellings."""


async def _keyring_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = await read_json(request)
    except BadRequest:
        raise BadRequest("Request decode failed: invalid character in JSON body") from None
    if not isinstance(body, dict):
        raise BadRequest(
            "Request decode failed: json: cannot unmarshal into Go value of type agent.keyringArgs"
        )
    return body


@router.endpoint(
    "/v1/operator/usage",
    "GET",
    doc=Op(
        "service and node counts of this datacenter",
        (*READ_OPTIONS, Param("global", "every datacenter (there is one)", flag=True)),
        answers=(ok(OBJECT),),
    ),
)
async def usage(request: Request) -> Response:
    cluster = cluster_of(request)
    opts = query_options(request, cluster)
    authorizer(request, cluster).require("operator", "read")
    rows = cluster.store.catalog.rows("")
    names: set[str] = set()
    instances = 0
    billable = 0
    connect = dict.fromkeys(GATEWAY_KINDS, 0)
    for row in rows:
        for service in row.services.values():
            names.add(service.service)
            instances += 1
            kind = service.kind or ""
            native = bool(service.connect and service.connect.get("Native"))
            if kind in connect:
                connect[kind] += 1
            if native:
                connect["connect-native"] += 1
            if not kind and service.service != "consul":
                billable += 1
    index = cluster.store.max_index((NODES, SERVICES))
    body = {
        "Usage": {
            cluster.datacenter: {
                "Services": len(names),
                "ServiceInstances": instances,
                "ConnectServiceInstances": connect,
                "BillableServiceInstances": billable,
                "Nodes": len(rows),
            }
        },
        "Index": index,
        "LastContact": 0,
        "KnownLeader": True,
        "ConsistencyLevel": opts.consistency,
        "NotModified": False,
        "Backend": 0,
        "ResultsFilteredByACLs": False,
    }
    return opts.respond(body, index)
