"""``consul operator raft list-peers`` and ``operator autopilot get-config|set-config|state``.

Outputs and messages follow Consul's commands: ``command/operator/raft/listpeers`` (a columnize
table of the Raft configuration joined with autopilot health for the commit index),
``command/operator/autopilot/get`` (``Name = value`` lines, strings Go-quoted),
``command/operator/autopilot/set`` (read, merge the flags given, write back with CAS) and
``command/operator/autopilot/state`` (its pretty formatter, or ``MarshalIndent`` JSON). They take
Consul's client and server HTTP flags and report a bad address as ``Error initializing client``.
"""

from __future__ import annotations

from typing import Any

from consul_sim.cli.command import CommandError, group, register
from consul_sim.cli.commands.peering import columnize
from consul_sim.cli.flags import FlagSet, OptBool, OptString, Value
from consul_sim.cli.http import APIClient, APICommand, APIError
from consul_sim.durations import format_duration, parse_duration
from consul_sim.gostd import parse_uint, quote
from consul_sim.jsonenc import encode_json

group(
    "operator",
    "Provides cluster-level tools for Consul operators",
    """
Usage: consul-sim operator <subcommand> [options]

  Cluster-level tools for operators: the Raft peer set and autopilot.

      $ consul-sim operator raft list-peers
      $ consul-sim operator autopilot get-config

  Each subcommand documents its own options; add -h to see them.
""",
)
group(
    "operator raft",
    "Provides cluster-level tools for Consul operators",
    """
Usage: consul-sim operator raft <subcommand> [options]

  Inspect the Raft subsystem:

      $ consul-sim operator raft list-peers
""",
)
group(
    "operator autopilot",
    "Provides tools for modifying Autopilot configuration",
    """
Usage: consul-sim operator autopilot <subcommand> [options]

  Read and change the autopilot configuration, or show autopilot's state:

      $ consul-sim operator autopilot get-config
      $ consul-sim operator autopilot set-config -cleanup-dead-servers=false
      $ consul-sim operator autopilot state
""",
)

INIT_ERROR = "Error initializing client"


class _OperatorCommand(APICommand[None]):
    """Consul's operator commands merge only the client and server HTTP flags."""

    connect_error = INIT_ERROR

    def register_http_flags(self, fs: FlagSet) -> None:
        self.http.client_flags(fs)
        self.http.server_flags(fs)

    def prepare(self, rest: list[str]) -> None:
        return None

    def get(self, client: APIClient, path: str) -> Any:
        response = client.request("GET", path, stale=self.http.stale_reads)
        client.require_ok(response)
        return response.json()


@register("operator raft list-peers")
class RaftListPeers(_OperatorCommand):
    synopsis = "Display the current Raft peer configuration"
    usage_text = """
Usage: consul-sim operator raft list-peers [options]

  Displays the current Raft peer configuration.
"""

    def call(self, client: APIClient, job: None) -> int:
        try:
            config = self._fetch(client, "/v1/operator/raft/configuration", "raft configuration")
            health = self._fetch(client, "/v1/operator/autopilot/health", "autopilot health")
        except APIError as exc:
            raise CommandError(f"Error getting peers: {exc}") from None
        by_id = {s["ID"]: s for s in health.get("Servers") or []}
        leader_index = 0
        for server in config.get("Servers") or []:
            if server["Leader"] and server["ID"] in by_id:
                leader_index = by_id[server["ID"]]["LastIndex"]
        rows = [
            [
                "Node",
                "ID",
                "Address",
                "State",
                "Voter",
                "RaftProtocol",
                "Commit Index",
                "Trails Leader By",
            ]
        ]
        for server in config.get("Servers") or []:
            state = "leader" if server["Leader"] else "follower"
            row = [
                server["Node"],
                server["ID"],
                server["Address"],
                state,
                "true" if server["Voter"] else "false",
                server["ProtocolVersion"] or "<=1",
            ]
            seen = by_id.get(server["ID"])
            if seen is None:
                rows.append([*row, "_"])
                continue
            trails = leader_index - seen["LastIndex"]
            text = f"{trails} Commits"
            if server["Leader"]:
                text = "_"
            elif trails <= 1:
                text = f"{trails} Commit"
            rows.append([*row, str(seen["LastIndex"]), text])
        self.ui.output(columnize(rows))
        return 0

    def _fetch(self, client: APIClient, path: str, what: str) -> Any:
        try:
            return self.get(client, path)
        except APIError as exc:
            raise APIError(f"Failed to retrieve {what}: {exc}") from None


def _config_lines(config: dict[str, Any]) -> list[str]:
    return [
        f"CleanupDeadServers = {_go_bool(config['CleanupDeadServers'])}",
        f"LastContactThreshold = {config['LastContactThreshold']}",
        f"MaxTrailingLogs = {config['MaxTrailingLogs']}",
        f"MinQuorum = {config['MinQuorum']}",
        f"ServerStabilizationTime = {config['ServerStabilizationTime']}",
        f"RedundancyZoneTag = {quote(config['RedundancyZoneTag'])}",
        f"DisableUpgradeMigration = {_go_bool(config['DisableUpgradeMigration'])}",
        f"UpgradeVersionTag = {quote(config['UpgradeVersionTag'])}",
    ]


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


@register("operator autopilot get-config")
class AutopilotGetConfig(_OperatorCommand):
    synopsis = "Display the current Autopilot configuration"
    usage_text = """
Usage: consul-sim operator autopilot get-config [options]

  Displays the current Autopilot configuration.
"""

    def call(self, client: APIClient, job: None) -> int:
        try:
            config = self.get(client, "/v1/operator/autopilot/configuration")
        except APIError as exc:
            raise CommandError(f"Error querying Autopilot configuration: {exc}") from None
        for line in _config_lines(config):
            self.ui.output(line)
        return 0


class OptUint(Value):
    """Consul's ``flags.UintValue``: unset until given; ``strconv.ParseUint(v, 0, 64)``."""

    type_name = "value"

    def __init__(self) -> None:
        self.value: int | None = None

    def set(self, text: str) -> None:
        self.value = parse_uint(text, 0, 64)

    def string(self) -> str:
        return "" if self.value is None else str(self.value)


class OptDuration(Value):
    """Consul's ``flags.DurationValue``: unset until given; ``time.ParseDuration``."""

    type_name = "value"

    def __init__(self) -> None:
        self.value: float | None = None

    def set(self, text: str) -> None:
        self.value = parse_duration(text)

    def string(self) -> str:
        return "" if self.value is None else format_duration(self.value)


@register("operator autopilot set-config")
class AutopilotSetConfig(_OperatorCommand):
    synopsis = "Modify the current Autopilot configuration"
    usage_text = """
Usage: consul-sim operator autopilot set-config [options]

  Modifies the current Autopilot configuration: only the flags given change, and
  the write is a check-and-set on the configuration just read.
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.cleanup = fs.var(
            OptBool(),
            "cleanup-dead-servers",
            "Controls whether Consul will automatically remove dead servers when new ones "
            "are successfully added. Must be one of `true|false`.",
        )
        self.max_trailing = fs.var(
            OptUint(),
            "max-trailing-logs",
            "Controls the maximum number of log entries that a server can trail the leader "
            "by before being considered unhealthy.",
        )
        self.min_quorum = fs.var(
            OptUint(),
            "min-quorum",
            "Sets the minimum number of servers required in a cluster before autopilot is "
            "allowed to prune dead servers.",
        )
        self.last_contact = fs.var(
            OptDuration(),
            "last-contact-threshold",
            "Controls the maximum amount of time a server can go without contact from the "
            "leader before being considered unhealthy. Must be a duration value such as "
            "`200ms`.",
        )
        self.stabilization = fs.var(
            OptDuration(),
            "server-stabilization-time",
            "Controls the minimum amount of time a server must be stable in the 'healthy' "
            "state before being added to the cluster. Must be a duration value such as `10s`.",
        )
        self.zone_tag = fs.var(
            OptString(),
            "redundancy-zone-tag",
            "(Enterprise-only) Controls the node_meta tag name used for separating servers "
            "into different redundancy zones.",
        )
        self.disable_migration = fs.var(
            OptBool(),
            "disable-upgrade-migration",
            "(Enterprise-only) Controls whether Consul will avoid promoting new servers "
            "until it can perform a migration. Must be one of `true|false`.",
        )
        self.version_tag = fs.var(
            OptString(),
            "upgrade-version-tag",
            "(Enterprise-only) The node_meta tag to use for version info when performing "
            "upgrade migrations. If left blank, the Consul version will be used.",
        )

    def call(self, client: APIClient, job: None) -> int:
        try:
            config = self.get(client, "/v1/operator/autopilot/configuration")
        except APIError as exc:
            raise CommandError(f"Error querying Autopilot configuration: {exc}") from None
        changes: dict[str, Any] = {
            "CleanupDeadServers": self.cleanup.value,
            "RedundancyZoneTag": self.zone_tag.value,
            "DisableUpgradeMigration": self.disable_migration.value,
            "UpgradeVersionTag": self.version_tag.value,
            "MinQuorum": self.min_quorum.value,
            "MaxTrailingLogs": self.max_trailing.value,
            "LastContactThreshold": _duration(self.last_contact.value),
            "ServerStabilizationTime": _duration(self.stabilization.value),
        }
        config.update({k: v for k, v in changes.items() if v is not None})
        try:
            response = client.request(
                "PUT",
                "/v1/operator/autopilot/configuration",
                params={"cas": str(config["ModifyIndex"])},
                json_body=config,
            )
            client.require_ok(response)
        except APIError as exc:
            raise CommandError(f"Error setting Autopilot configuration: {exc}") from None
        if response.text.strip() == "true":
            self.ui.output("Configuration updated!")
            return 0
        self.ui.output("Configuration could not be atomically updated, please try again")
        return 1


def _duration(seconds: float | None) -> str | None:
    return None if seconds is None else format_duration(seconds)


PRETTY = "pretty"
JSON = "json"


@register("operator autopilot state")
class AutopilotState(_OperatorCommand):
    synopsis = "Display the current Autopilot state"
    usage_text = """
Usage: consul-sim operator autopilot state [options]

  Displays autopilot's view of the servers: health, failure tolerance, the
  leader and voters, and each server's Raft progress.
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.format = fs.string("format", PRETTY, "Output format {pretty|json}")

    def call(self, client: APIClient, job: None) -> int:
        try:
            state = self.get(client, "/v1/operator/autopilot/state")
        except APIError as exc:
            raise CommandError(f"Error querying Autopilot state: {exc}") from None
        if self.format.value == JSON:
            self.ui.info(encode_json(state, pretty=True).decode().rstrip("\n"))
        elif self.format.value == PRETTY:
            self.ui.info(_pretty_state(state))
        else:
            raise CommandError(f"Unknown format: {self.format.value}")
        return 0


def _pretty_state(state: dict[str, Any]) -> str:
    """The ``prettyFormatter`` of ``command/operator/autopilot/state/formatter.go``."""
    lines = [
        f"Healthy:                      {_go_bool(state['Healthy'])}",
        f"Failure Tolerance:            {state['FailureTolerance']}",
        f"Optimistic Failure Tolerance: {state.get('OptimisticFailureTolerance', 0)}",
        f"Leader:                       {state['Leader']}",
        "Voters:",
        *(f"   {v}" for v in state.get("Voters") or []),
        "Servers:",
    ]
    servers = state.get("Servers") or {}
    for sid in sorted(servers):
        srv = servers[sid]
        lines += [
            f"   {srv['ID']}",
            f"      Name:            {srv['Name']}",
            f"      Address:         {srv['Address']}",
            f"      Version:         {srv['Version']}",
            f"      Status:          {srv['Status']}",
            f"      Node Type:       {srv['NodeType']}",
            f"      Node Status:     {srv['NodeStatus']}",
            f"      Healthy:         {_go_bool(srv['Healthy'])}",
            f"      Last Contact:    {srv['LastContact']}",
            f"      Last Term:       {srv['LastTerm']}",
            f"      Last Index:      {srv['LastIndex']}",
        ]
        meta = srv.get("Meta") or {}
        if meta:
            lines.append("      Meta")
            lines += [f"         {quote(k)}: {quote(meta[k])}" for k in sorted(meta)]
    return "\n".join(lines) + "\n"
