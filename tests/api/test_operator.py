"""/v1/operator over HTTP: a dev server's one-voter Raft configuration, autopilot, the keyring
with gossip encryption off, and usage, with Consul's statuses and sentences
(``agent/operator_endpoint.go`` and the RPCs it calls; see ``consul_sim/api/operator.py``)."""

from __future__ import annotations

import httpx
import pytest

from consul_sim.world import Cluster, World

ANON = ". The anonymous token is used implicitly when a request does not specify a token."


@pytest.fixture
def locked(world: World) -> Cluster:
    return world.add_cluster("secure", acl_default_policy="deny", acl_initial_management="root")


def test_raft_configuration_is_this_one_leading_voter(dc1: Cluster, client: httpx.Client) -> None:
    r = client.get("/v1/operator/raft/configuration")
    assert r.status_code == 200
    body = r.json()
    assert body["Index"] == 0
    [server] = body["Servers"]
    assert server == {
        "ID": dc1.node_id,
        "Node": dc1.node_name,
        "Address": "127.0.0.1:8300",
        "Leader": True,
        "ProtocolVersion": "3",
        "Voter": True,
        "LastIndex": dc1.store.index,
    }


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        (
            "",
            400,
            "Must specify either ?id with the server's ID or ?address with IP:port of peer to "
            "remove",
        ),
        ("?id=a&address=b", 400, "Must specify only one of ?id or ?address"),
        (
            "?address=10.255.255.1:8300",
            500,
            'address "10.255.255.1:8300" was not found in the Raft configuration',
        ),
        ("?id=nope", 500, 'id "nope" was not found in the Raft configuration'),
    ],
)
def test_removing_a_raft_peer_not_in_the_configuration_fails(
    client: httpx.Client, query: str, status: int, text: str
) -> None:
    r = client.delete(f"/v1/operator/raft/peer{query}")
    assert (r.status_code, r.text) == (status, text)
    assert client.get("/v1/operator/raft/configuration").json()["Servers"]


def test_transferring_leadership_with_no_other_server_fails(client: httpx.Client) -> None:
    r = client.post("/v1/operator/raft/transfer-leader")
    assert (r.status_code, r.text) == (500, "rpc error: code = Unknown desc = cannot find peer")
    r = client.post("/v1/operator/raft/transfer-leader?id=abc")
    assert (r.status_code, r.text) == (
        500,
        "rpc error: code = Unknown desc = Could not find address for server id abc",
    )


def test_autopilot_configuration_defaults_and_cas(client: httpx.Client) -> None:
    config = client.get("/v1/operator/autopilot/configuration").json()
    index = config["ModifyIndex"]
    assert config == {
        "CleanupDeadServers": True,
        "LastContactThreshold": "200ms",
        "MaxTrailingLogs": 250,
        "MinQuorum": 0,
        "ServerStabilizationTime": "10s",
        "RedundancyZoneTag": "",
        "DisableUpgradeMigration": False,
        "UpgradeVersionTag": "",
        "CreateIndex": index,
        "ModifyIndex": index,
    }
    url = "/v1/operator/autopilot/configuration"
    stale = client.put(f"{url}?cas={index + 1000}", json={"CleanupDeadServers": False})
    assert (stale.status_code, stale.text) == (200, "false")
    assert client.get(url).json()["CleanupDeadServers"] is True

    r = client.put(url, json={"CleanupDeadServers": False, "MaxTrailingLogs": 10})
    assert (r.status_code, r.text) == (200, "true")
    updated = client.get(url).json()
    assert updated["CleanupDeadServers"] is False
    assert updated["MaxTrailingLogs"] == 10
    assert updated["LastContactThreshold"] == "200ms"  # api.NewAutopilotConfiguration's default
    assert updated["CreateIndex"] == index
    assert updated["ModifyIndex"] > index

    r = client.put(f"{url}?cas={updated['ModifyIndex']}", json={"CleanupDeadServers": True})
    assert (r.status_code, r.text) == (200, "true")
    assert client.get(url).json()["CleanupDeadServers"] is True

    bad = client.put(f"{url}?cas=x", json={})
    assert (bad.status_code, bad.text) == (
        400,
        'Error parsing cas value: strconv.ParseUint: parsing "x": invalid syntax',
    )


def test_autopilot_health_is_one_healthy_leader(dc1: Cluster, client: httpx.Client) -> None:
    r = client.get("/v1/operator/autopilot/health")
    assert r.status_code == 200
    body = r.json()
    assert (body["Healthy"], body["FailureTolerance"]) == (True, 0)
    [server] = body["Servers"]
    assert server["ID"] == dc1.node_id
    assert server["Name"] == dc1.node_name
    assert (server["Leader"], server["Healthy"], server["Voter"]) == (True, True, True)
    assert server["SerfStatus"] == "alive"


def test_keyring_without_gossip_encryption_is_consuls_500(
    dc1: Cluster, client: httpx.Client
) -> None:
    node, dc = dc1.node_name, dc1.datacenter
    r = client.get("/v1/operator/keyring")
    assert (r.status_code, r.text) == (
        500,
        "4 errors occurred:\n"
        "\t* WAN error: 1/1 nodes reported failure\n"
        f"\t* {node}.{dc}: Keyring is empty (encryption not enabled)\n"
        f"\t* {dc} (LAN) error: 1/1 nodes reported failure\n"
        f"\t* {node}: Keyring is empty (encryption not enabled)\n\n",
    )
    key = {"Key": "8CooQRX1+VK7MsQQK6lx2LhumpSfQzUjE63HdAu2hgA="}
    for method in ("POST", "PUT", "DELETE"):
        r = client.request(method, "/v1/operator/keyring", json=key)
        assert r.status_code == 500
        assert r.text.endswith(f"\t* {node}: No keyring to modify (encryption not enabled)\n\n")
    r = client.request("PUT", "/v1/operator/keyring?local-only=true", json=key)
    assert (r.status_code, r.text) == (
        400,
        "Invalid use of local-only: local-only can only be set for list requests",
    )
    r = client.get("/v1/operator/keyring?relay-factor=9")
    assert (r.status_code, r.text) == (
        400,
        "Invalid relay-factor: Relay factor must be in range: [0, 5]",
    )


def test_usage_counts_this_datacenters_services_and_nodes(client: httpx.Client) -> None:
    client.put("/v1/agent/service/register", json={"Name": "web"})
    client.put(
        "/v1/agent/service/register",
        json={
            "Name": "web-proxy",
            "Kind": "connect-proxy",
            "Port": 21000,
            "Proxy": {"DestinationServiceName": "web"},
        },
    )
    r = client.get("/v1/operator/usage")
    assert r.status_code == 200
    assert int(r.headers["X-Consul-Index"]) == r.json()["Index"]
    body = r.json()
    usage = body["Usage"]["dc1"]
    assert usage["Nodes"] == 1
    assert usage["Services"] == 3  # consul, web, web-proxy
    assert usage["ServiceInstances"] == 3
    assert usage["BillableServiceInstances"] == 1
    assert usage["ConnectServiceInstances"]["connect-proxy"] == 1
    assert body["KnownLeader"] is True


@pytest.mark.parametrize(
    ("method", "path", "rule"),
    [
        ("GET", "/v1/operator/raft/configuration", "operator:read"),
        ("POST", "/v1/operator/raft/transfer-leader", "operator:write"),
        ("GET", "/v1/operator/autopilot/configuration", "operator:read"),
        ("GET", "/v1/operator/usage", "operator:read"),
        ("GET", "/v1/operator/keyring", "keyring:read"),
    ],
)
def test_operator_endpoints_need_their_permission(
    locked: Cluster, method: str, path: str, rule: str
) -> None:
    r = locked.client.request(method, path)
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: anonymous token lacks permission '{rule}'{ANON}",
    )
    ok = locked.client.request(method, path, headers={"X-Consul-Token": "root"})
    assert ok.status_code != 403
