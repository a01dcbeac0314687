"""/v1/operator/* as Consul answers a single-server dev agent (agent/operator_endpoint.go and
the Operator RPCs in agent/consul/operator_*_endpoint.go)."""

from __future__ import annotations

import json

import httpx
import pytest

from consul_sim.world import Cluster, World
from tests.api.conftest import register
from tests.blocking import blocked_get

AUTOPILOT_DEFAULTS = (
    '{"CleanupDeadServers":true,"LastContactThreshold":"200ms","MaxTrailingLogs":250,'
    '"MinQuorum":0,"ServerStabilizationTime":"10s","RedundancyZoneTag":"",'
    '"DisableUpgradeMigration":false,"UpgradeVersionTag":"","CreateIndex":1,"ModifyIndex":1}'
)


def test_raft_configuration_lists_the_one_voting_leader(dc1: Cluster, client: httpx.Client) -> None:
    r = client.get("/v1/operator/raft/configuration")
    assert r.status_code == 200
    assert r.text == (
        f'{{"Servers":[{{"ID":"{dc1.node_id}","Node":"dc1-server","Address":"127.0.0.1:8300",'
        f'"Leader":true,"ProtocolVersion":"3","Voter":true,"LastIndex":{dc1.store.index}}}],'
        '"Index":0}'
    )
    assert "X-Consul-Index" not in r.headers


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        (
            "",
            400,
            "Must specify either ?id with the server's ID or ?address with IP:port of peer "
            "to remove",
        ),
        ("?id=a&address=b", 400, "Must specify only one of ?id or ?address"),
        ("?id=nope", 500, 'id "nope" was not found in the Raft configuration'),
        (
            "?address=10.0.0.9:8300",
            500,
            'address "10.0.0.9:8300" was not found in the Raft configuration',
        ),
        ("?address=127.0.0.1:8300", 500, "need at least one voter in configuration: {[]}"),
    ],
)
def test_removing_a_raft_peer_fails_as_consul_fails(
    client: httpx.Client, query: str, status: int, text: str
) -> None:
    before = client.get("/v1/operator/raft/configuration").text
    r = client.delete(f"/v1/operator/raft/peer{query}")
    assert (r.status_code, r.text) == (status, text)
    assert client.get("/v1/operator/raft/configuration").text == before


def test_removing_the_leader_by_id_is_refused(dc1: Cluster, client: httpx.Client) -> None:
    r = client.delete(f"/v1/operator/raft/peer?id={dc1.node_id}")
    assert (r.status_code, r.text) == (500, "need at least one voter in configuration: {[]}")


def test_transfer_leader_has_no_peer_to_hand_to(dc1: Cluster, client: httpx.Client) -> None:
    r = client.post("/v1/operator/raft/transfer-leader")
    assert (r.status_code, r.text) == (500, "rpc error: code = Unknown desc = cannot find peer")
    r = client.post("/v1/operator/raft/transfer-leader?id=other")
    assert (r.status_code, r.text) == (
        500,
        "rpc error: code = Unknown desc = Could not find address for server id other",
    )


def test_autopilot_configuration_starts_at_consuls_defaults(client: httpx.Client) -> None:
    r = client.get("/v1/operator/autopilot/configuration")
    assert (r.status_code, r.text) == (200, AUTOPILOT_DEFAULTS)


def test_autopilot_put_replaces_the_configuration_and_cas_guards_it(
    dc1: Cluster, client: httpx.Client
) -> None:
    r = client.put(
        "/v1/operator/autopilot/configuration",
        json={"MaxTrailingLogs": 300, "lastcontactthreshold": "1s", "CleanupDeadServers": False},
    )
    assert (r.status_code, r.text) == (200, "true")
    first = client.get("/v1/operator/autopilot/configuration").json()
    index = dc1.store.index
    assert first == {
        **json.loads(AUTOPILOT_DEFAULTS),
        "CleanupDeadServers": False,
        "LastContactThreshold": "1s",
        "MaxTrailingLogs": 300,
        "ModifyIndex": index,
    }
    r = client.put("/v1/operator/autopilot/configuration?cas=1", json={"MinQuorum": 3})
    assert (r.status_code, r.text) == (200, "false")
    assert client.get("/v1/operator/autopilot/configuration").json() == first
    r = client.put(f"/v1/operator/autopilot/configuration?cas={index}", json={"MinQuorum": 3})
    assert (r.status_code, r.text) == (200, "true")
    after = client.get("/v1/operator/autopilot/configuration").json()
    assert (after["MinQuorum"], after["MaxTrailingLogs"]) == (3, 250)
    assert after["ModifyIndex"] > index


def test_autopilot_configuration_is_kept_per_cluster(world: World, client: httpx.Client) -> None:
    other = world.add_cluster("dc2")
    assert client.put("/v1/operator/autopilot/configuration", json={"MinQuorum": 5}).text == "true"
    assert other.client.get("/v1/operator/autopilot/configuration").json()["MinQuorum"] == 0


@pytest.mark.parametrize(
    ("query", "body", "text"),
    [
        ("", "", "Error parsing autopilot config: EOF"),
        (
            "",
            '{"MaxTrailingLogs":"many"}',
            "Error parsing autopilot config: json: cannot unmarshal string into Go struct field "
            "AutopilotConfiguration.MaxTrailingLogs of type uint64",
        ),
        (
            "",
            '{"ServerStabilizationTime":"soon"}',
            'Error parsing autopilot config: time: invalid duration "soon"',
        ),
        (
            "",
            '{"MinQuorum":-1}',
            "Error parsing autopilot config: json: cannot unmarshal number -1 into Go struct "
            "field AutopilotConfiguration.MinQuorum of type uint",
        ),
        (
            "",
            '{"LastContactThreshold":true}',
            'Error parsing autopilot config: strconv.ParseFloat: parsing "true": invalid syntax',
        ),
        (
            "",
            "[]",
            (
                "Error parsing autopilot config: json: cannot unmarshal array into Go value "
                "of type api.AutopilotConfiguration"
            ),
        ),
        (
            "?cas=x",
            "{}",
            'Error parsing cas value: strconv.ParseUint: parsing "x": invalid syntax',
        ),
    ],
)
def test_autopilot_put_rejects_bad_input_and_changes_nothing(
    client: httpx.Client, query: str, body: str, text: str
) -> None:
    r = client.put(f"/v1/operator/autopilot/configuration{query}", content=body)
    assert (r.status_code, r.text) == (400, text)
    assert client.get("/v1/operator/autopilot/configuration").text == AUTOPILOT_DEFAULTS


def test_autopilot_health_and_state_show_the_healthy_leader(
    dc1: Cluster, client: httpx.Client
) -> None:
    last = dc1.store.index
    server = {
        "ID": dc1.node_id,
        "Name": "dc1-server",
        "Address": "127.0.0.1:8300",
    }
    r = client.get("/v1/operator/autopilot/health")
    assert r.status_code == 200
    version = r.json()["Servers"][0]["Version"]
    assert r.json() == {
        "Healthy": True,
        "FailureTolerance": 0,
        "Servers": [
            {
                **server,
                "SerfStatus": "alive",
                "Version": version,
                "Leader": True,
                "LastContact": "0s",
                "LastTerm": 2,
                "LastIndex": last,
                "Healthy": True,
                "Voter": True,
                "StableSince": "2026-01-01T00:00:00Z",
            }
        ],
    }
    r = client.get("/v1/operator/autopilot/state")
    assert r.status_code == 200
    assert r.json() == {
        "Healthy": True,
        "FailureTolerance": 0,
        "OptimisticFailureTolerance": 0,
        "Servers": {
            dc1.node_id: {
                **server,
                "NodeStatus": "alive",
                "Version": version,
                "LastContact": "0s",
                "LastTerm": 2,
                "LastIndex": last,
                "Healthy": True,
                "StableSince": "2026-01-01T00:00:00Z",
                "Status": "leader",
                "Meta": {"consul-network-segment": "", "consul-version": version},
                "NodeType": "voter",
            }
        },
        "Leader": dc1.node_id,
        "Voters": [dc1.node_id],
    }


def _keyring_error(message: str) -> str:
    return (
        "4 errors occurred:\n"
        "\t* WAN error: 1/1 nodes reported failure\n"
        f"\t* dc1-server.dc1: {message}\n"
        "\t* dc1 (LAN) error: 1/1 nodes reported failure\n"
        f"\t* dc1-server: {message}\n\n"
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_keyring_changes_fail_without_gossip_encryption(client: httpx.Client, method: str) -> None:
    key = {"Key": "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="}
    r = client.request(method, "/v1/operator/keyring", json=key)
    assert (r.status_code, r.text) == (
        500,
        _keyring_error("No keyring to modify (encryption not enabled)"),
    )


def test_keyring_list_fails_without_gossip_encryption(client: httpx.Client) -> None:
    r = client.get("/v1/operator/keyring")
    assert (r.status_code, r.text) == (
        500,
        _keyring_error("Keyring is empty (encryption not enabled)"),
    )


@pytest.mark.parametrize(
    ("method", "query", "body", "text"),
    [
        ("GET", "?relay-factor=x", None, (
            'Error parsing relay factor: strconv.Atoi: parsing "x": invalid syntax'
        )),
        ("GET", "?relay-factor=6", None, (
            "Invalid relay-factor: Relay factor must be in range: [0, 5]"
        )),
        ("GET", "?local-only=maybe", None, (
            'Error parsing local-only: strconv.ParseBool: parsing "maybe": invalid syntax'
        )),
        ("POST", "", '{"Key":5}', (
            "Request decode failed: json: cannot unmarshal number into Go struct field "
            "keyringArgs.Key of type string"
        )),
        ("PUT", "", "[]", (
            "Request decode failed: json: cannot unmarshal array into Go value of type "
            "agent.keyringArgs"
        )),
        ("POST", "?local-only=true", '{"Key":"k"}', (
            "Invalid use of local-only: local-only can only be set for list requests"
        )),
    ],
)  # fmt: skip
def test_keyring_rejects_bad_parameters(
    client: httpx.Client, method: str, query: str, body: str | None, text: str
) -> None:
    r = client.request(method, f"/v1/operator/keyring{query}", content=body)
    assert (r.status_code, r.text) == (400, text)


def test_usage_counts_this_datacenters_nodes_and_services(client: httpx.Client) -> None:
    register(
        client,
        {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "web", "Port": 80}},
    )
    register(
        client,
        {
            "Node": "n1",
            "Address": "10.0.0.1",
            "Service": {
                "ID": "web-proxy",
                "Service": "web-sidecar-proxy",
                "Kind": "connect-proxy",
                "Port": 21000,
                "Proxy": {"DestinationServiceName": "web"},
            },
        },
    )
    for query in ("", "?global"):
        r = client.get(f"/v1/operator/usage{query}")
        assert r.status_code == 200
        index = r.headers["X-Consul-Index"]
        assert r.text == (
            '{"Usage":{"dc1":{"Nodes":2,"Services":3,"ServiceInstances":3,"ConnectServiceInstances":'
            '{"api-gateway":0,"connect-native":0,"connect-proxy":1,"ingress-gateway":0,'
            '"mesh-gateway":0,"terminating-gateway":0},"BillableServiceInstances":1}},'
            f'"Index":{index},"LastContact":0,"KnownLeader":true,'
            '"ConsistencyLevel":"leader","NotModified":false,"Backend":0,'
            '"ResultsFilteredByACLs":false}'
        )


OPERATOR_CALLS = [
    ("GET", "/v1/operator/raft/configuration", "operator:read"),
    ("DELETE", "/v1/operator/raft/peer?id=x", "operator:write"),
    ("POST", "/v1/operator/raft/transfer-leader", "operator:write"),
    ("GET", "/v1/operator/autopilot/configuration", "operator:read"),
    ("PUT", "/v1/operator/autopilot/configuration", "operator:write"),
    ("GET", "/v1/operator/autopilot/health", "operator:read"),
    ("GET", "/v1/operator/autopilot/state", "operator:read"),
    ("GET", "/v1/operator/usage", "operator:read"),
    ("GET", "/v1/operator/keyring", "keyring:read"),
    ("POST", "/v1/operator/keyring", "keyring:write"),
]


@pytest.mark.parametrize(("method", "path", "permission"), OPERATOR_CALLS)
def test_operator_endpoints_need_their_permission(
    world: World, method: str, path: str, permission: str
) -> None:
    cluster = world.add_cluster("secure", acl_default_policy="deny")
    resource, access = permission.split(":")
    weaker = {resource: "read"} if access == "write" else {"node:*": "read"}
    accessor, token = cluster.acl.create_token(weaker)
    body = {"Key": "k"} if "keyring" in path else {"MinQuorum": 2}
    content = json.dumps(body) if method in ("PUT", "POST") else None
    before = cluster.client.get(
        "/v1/operator/autopilot/configuration",
        headers={"X-Consul-Token": cluster.acl.management_token},
    ).text
    r = cluster.client.request(method, path, content=content, headers={"X-Consul-Token": token})
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: token with AccessorID '{accessor}' lacks permission '{permission}'",
    )
    accessor, token = cluster.acl.create_token({resource: access})
    r = cluster.client.request(method, path, content=content, headers={"X-Consul-Token": token})
    assert r.status_code != 403
    if method != "GET" and "autopilot" not in path:
        after = cluster.client.get(
            "/v1/operator/autopilot/configuration",
            headers={"X-Consul-Token": cluster.acl.management_token},
        ).text
        assert after == before


@pytest.mark.slow
def test_a_blocking_usage_read_wakes_on_a_registration(world: World, client: httpx.Client) -> None:
    index = int(client.get("/v1/operator/usage").headers["X-Consul-Index"])
    with blocked_get(world, client, f"/v1/operator/usage?index={index}&wait=60s") as results:
        register(client, {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "web"}})
    assert len(results) == 1
    assert int(results[0].headers["X-Consul-Index"]) > index
    assert results[0].json()["Usage"]["dc1"]["Services"] == 2


def test_autopilot_put_null_keeps_plain_fields_and_zeroes_durations(
    client: httpx.Client,
) -> None:
    r = client.put(
        "/v1/operator/autopilot/configuration",
        content='{"MaxTrailingLogs":null,"LastContactThreshold":null,"ServerStabilizationTime":5e9}',
    )
    assert (r.status_code, r.text) == (200, "true")
    config = client.get("/v1/operator/autopilot/configuration").json()
    assert (
        config["MaxTrailingLogs"],
        config["LastContactThreshold"],
        config["ServerStabilizationTime"],
    ) == (250, "0s", "5s")
