"""``consul-sim operator raft list-peers`` and ``operator autopilot ...`` print what Consul's
commands print (command/operator/raft/listpeers, command/operator/autopilot/*)."""

from __future__ import annotations

import io
import json

from consul_sim.cli.main import main
from consul_sim.world import Cluster, World
from tests.cli.conftest import Run

DEFAULT_CONFIG = (
    "CleanupDeadServers = true\n"
    "LastContactThreshold = 200ms\n"
    "MaxTrailingLogs = 250\n"
    "MinQuorum = 0\n"
    "ServerStabilizationTime = 10s\n"
    'RedundancyZoneTag = ""\n'
    "DisableUpgradeMigration = false\n"
    'UpgradeVersionTag = ""\n'
)


def test_list_peers_prints_the_leader_row(run: Run, dc1: Cluster) -> None:
    result = run("operator", "raft", "list-peers")
    index = dc1.store.index
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout == (
        "Node        ID                                    Address         State   Voter  "
        "RaftProtocol  Commit Index  Trails Leader By\n"
        f"dc1-server  {dc1.node_id}  127.0.0.1:8300  leader  true   3             "
        f"{index:<12}  _\n"
    )


def test_get_config_prints_the_defaults(run: Run) -> None:
    result = run("operator", "autopilot", "get-config")
    assert (result.code, result.stdout, result.stderr) == (0, DEFAULT_CONFIG, "")


def test_set_config_changes_only_the_flags_given(run: Run) -> None:
    result = run(
        "operator",
        "autopilot",
        "set-config",
        "-min-quorum=3",
        "-last-contact-threshold=1s",
        "-redundancy-zone-tag=zone",
        "-cleanup-dead-servers=false",
    )
    assert (result.code, result.stdout, result.stderr) == (0, "Configuration updated!\n", "")
    result = run("operator", "autopilot", "get-config")
    assert result.stdout == (
        DEFAULT_CONFIG.replace("CleanupDeadServers = true", "CleanupDeadServers = false")
        .replace("200ms", "1s")
        .replace("MinQuorum = 0", "MinQuorum = 3")
        .replace('RedundancyZoneTag = ""', 'RedundancyZoneTag = "zone"')
    )


def test_set_config_refuses_a_bad_number_and_changes_nothing(run: Run) -> None:
    result = run("operator", "autopilot", "set-config", "-min-quorum=x")
    assert result.code == 1
    assert result.stderr.startswith(
        'invalid value "x" for flag -min-quorum: strconv.ParseUint: parsing "x": invalid syntax\n'
    )
    assert run("operator", "autopilot", "get-config").stdout == DEFAULT_CONFIG


def test_state_pretty_and_json(run: Run, dc1: Cluster) -> None:
    index = dc1.store.index
    result = run("operator", "autopilot", "state")
    version = dc1.client.get("/v1/operator/autopilot/health").json()["Servers"][0]["Version"]
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout == (
        "Healthy:                      true\n"
        "Failure Tolerance:            0\n"
        "Optimistic Failure Tolerance: 0\n"
        f"Leader:                       {dc1.node_id}\n"
        "Voters:\n"
        f"   {dc1.node_id}\n"
        "Servers:\n"
        f"   {dc1.node_id}\n"
        "      Name:            dc1-server\n"
        "      Address:         127.0.0.1:8300\n"
        f"      Version:         {version}\n"
        "      Status:          leader\n"
        "      Node Type:       voter\n"
        "      Node Status:     alive\n"
        "      Healthy:         true\n"
        "      Last Contact:    0s\n"
        "      Last Term:       2\n"
        f"      Last Index:      {index}\n"
        "      Meta\n"
        '         "consul-network-segment": ""\n'
        f'         "consul-version": "{version}"\n'
        "\n"
    )
    result = run("operator", "autopilot", "state", "-format=json")
    assert result.code == 0
    assert result.stdout.startswith('{\n    "Healthy": true,\n    "FailureTolerance": 0,\n')
    assert json.loads(result.stdout) == dc1.client.get("/v1/operator/autopilot/state").json()
    result = run("operator", "autopilot", "state", "-format=yaml")
    assert (result.code, result.stdout, result.stderr) == (1, "", "Unknown format: yaml\n")


def test_operator_commands_report_a_denied_token(world: World) -> None:
    cluster = world.add_cluster("secure", acl_default_policy="deny")
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["operator", "raft", "list-peers"],
        client_factory=lambda url: cluster.client,
        env={},
        stdout=out,
        stderr=err,
        stdin=io.BytesIO(b""),
    )
    assert (code, out.getvalue()) == (1, "")
    assert err.getvalue() == (
        "Error getting peers: Failed to retrieve raft configuration: Unexpected response code: "
        "403 (Permission denied: anonymous token lacks permission 'operator:read'. The "
        "anonymous token is used implicitly when a request does not specify a token.)\n"
    )
