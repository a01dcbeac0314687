"""The operator endpoints of a single-server dev cluster: Raft, autopilot, keyring, usage.

A simulated cluster is one server that is its own Raft leader, so each answer is what Consul
gives for a ``consul agent -dev``:

- Raft configuration (``Operator.RaftGetConfiguration``,
  ``agent/consul/operator_raft_endpoint.go``): one voter whose ID is the node ID, with its Serf
  name, ``<ip>:8300``, leader, Raft protocol "3".
- Peer removal finds the peer by ID or address first and fails with Consul's
  ``id %q was not found in the Raft configuration`` (or ``address %q``); removing the only
  server reaches hashicorp/raft's ``checkConfiguration``, which refuses a configuration without
  a voter (``need at least one voter in configuration: {[]}``), a 500 in Consul too.
- Leadership transfer (``attemptLeadershipTransfer`` in ``agent/consul/leader.go``): with no other
  server hashicorp/raft answers ``cannot find peer``; a named ID that no server has fails in
  ``serverLookup.ServerAddr`` (``Could not find address for server id %v``); the error comes back
  through the agent's gRPC operator client, so it reads as a gRPC status string (assumed code
  ``Unknown``, what grpc-go gives a handler's plain error).
- Autopilot configuration (``structs.AutopilotConfig``, defaults from ``agent/config/default.go``)
  is stored per cluster with its Raft indexes; a CAS write succeeds only on the current
  ``ModifyIndex`` (``AutopilotCASConfig`` in ``agent/consul/state/autopilot.go``).
- Keyring: the dev agent has no gossip key, so Serf's key queries fail on every member
  (``handleListKeys`` / ``handleInstallKey`` in serf's ``internal_query.go``) and Consul folds the
  WAN pool's then the LAN pool's failure into one multierror (``keyringErrorsOrNil``).
- Usage (``agent/consul/operator_usage_endpoint.go``): node, service and instance counts of the
  local catalog (imported services are not this datacenter's).

The domain keeps no HTTP: handlers in ``api/operator.py`` decode, authorize and render.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from consul_sim.clock import rfc3339
from consul_sim.durations import DurationError, format_duration, parse_duration
from consul_sim.errors import BadRequest, ConsulError, RPCError
from consul_sim.gostd import quote
from consul_sim.models.base import json_kind
from consul_sim.store.catalog import SERVICES

if TYPE_CHECKING:
    from consul_sim.store import Store

AUTOPILOT = "autopilot-config"
"""The store table the autopilot configuration's writes stamp."""
RAFT_PROTOCOL = "3"
RAFT_TERM = 2
"""A dev agent elects itself in term 2 (term 1 is the bootstrap's pre-vote)."""
CONNECT_KINDS = (
    "api-gateway",
    "connect-native",
    "connect-proxy",
    "ingress-gateway",
    "mesh-gateway",
    "terminating-gateway",
)
"""``structs.ServiceUsage.ConnectServiceInstances`` keys, in Go's sorted map order."""
NOT_BILLABLE = frozenset(CONNECT_KINDS) - {"connect-native"}


@dataclass(frozen=True)
class AutopilotConfig:
    """``structs.AutopilotConfig`` with Consul's defaults; durations in seconds."""

    cleanup_dead_servers: bool = True
    last_contact_threshold: float = 0.2
    max_trailing_logs: int = 250
    min_quorum: int = 0
    server_stabilization_time: float = 10.0
    redundancy_zone_tag: str = ""
    disable_upgrade_migration: bool = False
    upgrade_version_tag: str = ""
    create_index: int = 1
    modify_index: int = 1

    def render(self) -> dict[str, Any]:
        """``api.AutopilotConfiguration``: durations as Go's ``Duration.String()``."""
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


_FIELDS: dict[str, tuple[str, str]] = {
    "cleanupdeadservers": ("cleanup_dead_servers", "bool"),
    "lastcontactthreshold": ("last_contact_threshold", "duration"),
    "maxtrailinglogs": ("max_trailing_logs", "uint64"),
    "minquorum": ("min_quorum", "uint"),
    "serverstabilizationtime": ("server_stabilization_time", "duration"),
    "redundancyzonetag": ("redundancy_zone_tag", "string"),
    "disableupgrademigration": ("disable_upgrade_migration", "bool"),
    "upgradeversiontag": ("upgrade_version_tag", "string"),
}
"""``api.AutopilotConfiguration``'s settable fields, by Go's case-insensitive JSON name."""
_GO_FIELD = {
    "cleanup_dead_servers": "CleanupDeadServers",
    "max_trailing_logs": "MaxTrailingLogs",
    "min_quorum": "MinQuorum",
    "redundancy_zone_tag": "RedundancyZoneTag",
    "disable_upgrade_migration": "DisableUpgradeMigration",
    "upgrade_version_tag": "UpgradeVersionTag",
}


def decode_autopilot(body: Any) -> dict[str, Any]:
    """The fields a PUT sets, over ``api.NewAutopilotConfiguration()``'s defaults.

    Go's decoder matches names case-insensitively, ignores unknown ones, leaves a plain field
    alone on ``null`` (a duration is a pointer: ``null`` makes it 0) and refuses a value of
    the wrong JSON type; a duration is a ``time.ParseDuration`` string, else whatever
    ``strconv.ParseFloat`` reads as nanoseconds (``ReadableDuration.UnmarshalJSON`` in
    ``api/api.go``). Errors carry Consul's ``Error parsing autopilot config:`` prefix
    (``agent/operator_endpoint.go``)."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest(
            f"Error parsing autopilot config: json: cannot unmarshal {json_kind(body)} "
            "into Go value of type api.AutopilotConfiguration"
        )
    out: dict[str, Any] = {}
    for key, value in body.items():
        known = _FIELDS.get(key.lower())
        if known is None or (value is None and known[1] != "duration"):
            continue
        attr, kind = known
        out[attr] = _field(attr, kind, value)
    return out


def _field(attr: str, kind: str, value: Any) -> Any:
    if kind == "duration":
        if value is None:
            return 0.0
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except DurationError as exc:
                raise BadRequest(f"Error parsing autopilot config: {exc}") from None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value / 1e9
        raw = json.dumps(value, separators=(",", ":"))
        raise BadRequest(
            f"Error parsing autopilot config: strconv.ParseFloat: parsing {quote(raw)}: "
            "invalid syntax"
        )
    wanted = {"bool": "bool", "string": "string"}.get(kind, "number")
    got = json_kind(value)
    if got == "number" and wanted == "number" and (value != int(value) or value < 0):
        got = f"number {json.dumps(value)}"
    if got != wanted:
        raise BadRequest(
            f"Error parsing autopilot config: json: cannot unmarshal {got} into Go struct field "
            f"AutopilotConfiguration.{_GO_FIELD[attr]} of type {kind}"
        )
    return int(value) if wanted == "number" else value


class Operator:
    """``cluster.operator``: the one server's Raft view, autopilot, keyring and usage."""

    def __init__(
        self,
        store: Store,
        *,
        node_id: str,
        node_name: str,
        datacenter: str,
        raft_address: str,
        version: str,
        started_at: float,
    ) -> None:
        self.store = store
        self.node_id = node_id
        self.node_name = node_name
        self.datacenter = datacenter
        self.raft_address = raft_address
        self.version = version
        self.started_at = started_at
        self.autopilot = AutopilotConfig()

    # -- Raft ---------------------------------------------------------------------------------
    def raft_configuration(self) -> dict[str, Any]:
        """``structs.RaftConfigurationResponse``; ``LastIndex`` is the log's last index.
        ``Index`` is the future's ``Index()``, always 0: hashicorp/raft's ``GetConfiguration``
        (``api.go``) fills only ``latest`` of its configurations, never ``latestIndex``."""
        return {
            "Servers": [
                {
                    "ID": self.node_id,
                    "Node": self.node_name,
                    "Address": self.raft_address,
                    "Leader": True,
                    "ProtocolVersion": RAFT_PROTOCOL,
                    "Voter": True,
                    "LastIndex": self.store.index,
                }
            ],
            "Index": 0,
        }

    def remove_peer(self, *, peer_id: str | None = None, address: str | None = None) -> None:
        """``RaftRemovePeerByID`` / ``ByAddress``: unknown peers are refused before anything
        changes; the one server is the last voter, which Raft will not remove."""
        if address is not None and address != self.raft_address:
            raise ConsulError(f"address {quote(address)} was not found in the Raft configuration")
        if peer_id is not None and peer_id != self.node_id:
            raise ConsulError(f"id {quote(peer_id)} was not found in the Raft configuration")
        raise ConsulError("need at least one voter in configuration: {[]}")

    def transfer_leader(self, peer_id: str) -> None:
        """``attemptLeadershipTransfer``: no other server to hand leadership to."""
        if peer_id and peer_id != self.node_id:
            raise RPCError("Unknown", f"Could not find address for server id {peer_id}")
        if peer_id:
            raise RPCError("Unknown", "cannot transfer leadership to itself")
        raise RPCError("Unknown", "cannot find peer")

    # -- autopilot ----------------------------------------------------------------------------
    def set_autopilot(self, fields: dict[str, Any], cas: int | None) -> bool:
        """Replace the configuration (unset fields take ``NewAutopilotConfiguration``'s
        defaults); with ``cas``, only when it equals the current ``ModifyIndex``."""
        if cas is not None and cas != self.autopilot.modify_index:
            return False
        with self.store.txn() as txn:
            index = txn.touch(AUTOPILOT)
            self.autopilot = replace(
                AutopilotConfig(**fields),
                create_index=self.autopilot.create_index,
                modify_index=index,
            )
        return True

    def _server(self) -> dict[str, Any]:
        return {
            "ID": self.node_id,
            "Name": self.node_name,
            "Address": self.raft_address,
        }

    def server_health(self) -> dict[str, Any]:
        """``api.OperatorHealthReply``: the leader is healthy and tolerates no failure."""
        server = {
            **self._server(),
            "SerfStatus": "alive",
            "Version": self.version,
            "Leader": True,
            "LastContact": "0s",
            "LastTerm": RAFT_TERM,
            "LastIndex": self.store.index,
            "Healthy": True,
            "Voter": True,
            "StableSince": rfc3339(round(self.started_at)),
        }
        return {"Healthy": True, "FailureTolerance": 0, "Servers": [server]}

    def autopilot_state(self, node_meta: dict[str, str]) -> dict[str, Any]:
        """``api.AutopilotState`` (``autopilotToAPIState`` in ``agent/operator_endpoint.go``):
        the server keyed by ID, its catalog node meta as ``Meta``."""
        server = {
            **self._server(),
            "NodeStatus": "alive",
            "Version": self.version,
            "LastContact": "0s",
            "LastTerm": RAFT_TERM,
            "LastIndex": self.store.index,
            "Healthy": True,
            "StableSince": rfc3339(self.started_at),
            "Status": "leader",
            "Meta": dict(sorted(node_meta.items())),
            "NodeType": "voter",
        }
        return {
            "Healthy": True,
            "FailureTolerance": 0,
            "OptimisticFailureTolerance": 0,
            "Servers": {self.node_id: server},
            "Leader": self.node_id,
            "Voters": [self.node_id],
        }

    # -- keyring ------------------------------------------------------------------------------
    def keyring(self, operation: str) -> None:
        """Every keyring operation fails: gossip encryption is off. The WAN pool names the
        server ``<node>.<dc>``, the LAN pool ``<node>``."""
        message = (
            "Keyring is empty (encryption not enabled)"
            if operation == "list"
            else "No keyring to modify (encryption not enabled)"
        )
        errors = [
            "WAN error: 1/1 nodes reported failure",
            f"{self.node_name}.{self.datacenter}: {message}",
            f"{self.datacenter} (LAN) error: 1/1 nodes reported failure",
            f"{self.node_name}: {message}",
        ]
        raise ConsulError(multierror(errors))

    # -- usage --------------------------------------------------------------------------------
    def usage(self) -> tuple[int, dict[str, Any]]:
        """``structs.ServiceUsage`` of this datacenter and the services table's index
        (``Store.ServiceUsage`` in ``agent/consul/state/usage.go``): the local nodes (the
        ``Nodes`` field first, as ``api/operator_usage.go`` mirrors it), unique names, instances,
        instances per Connect kind, and the billable ones (typical or Connect-native, not the
        ``consul`` service). Call under the store lock."""
        names: set[str] = set()
        instances = billable = 0
        kinds = dict.fromkeys(CONNECT_KINDS, 0)
        rows = self.store.catalog.rows("")
        for row in rows:
            for svc in row.services.values():
                names.add(svc.service)
                instances += 1
                if svc.kind in kinds:
                    kinds[svc.kind] += 1
                if svc.connect.get("Native"):
                    kinds["connect-native"] += 1
                if svc.kind not in NOT_BILLABLE and svc.service != "consul":
                    billable += 1
        usage = {
            "Nodes": len(rows),
            "Services": len(names),
            "ServiceInstances": instances,
            "ConnectServiceInstances": kinds,
            "BillableServiceInstances": billable,
        }
        return self.store.max_index((SERVICES,)), {self.datacenter: usage}


def multierror(errors: list[str]) -> str:
    """go-multierror's ``ListFormatFunc``."""
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t".join(f"* {e}" for e in errors)
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"
