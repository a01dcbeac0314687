"""/v1/operator/raft/configuration, as HashiCorp's Go client reads it (RaftGetConfiguration)."""

from __future__ import annotations

import httpx

from consul_sim.world import Cluster
from tests.api.conftest import register


def test_raft_configuration_is_the_one_server_leading_and_voting(
    dc1: Cluster, client: httpx.Client
) -> None:
    register(client, {"Node": "n1", "Address": "10.0.0.1"})
    r = client.get("/v1/operator/raft/configuration")
    assert r.status_code == 200
    body = r.json()
    assert body == {
        "Servers": [
            {
                "ID": dc1.node_id,
                "Node": dc1.node_name,
                "Address": dc1.leader_address,
                "Leader": True,
                "ProtocolVersion": "3",
                "Voter": True,
                "LastIndex": body["Index"],
            }
        ],
        "Index": body["Index"],
    }
    assert body["Index"] >= 2


def test_raft_configuration_of_another_datacenter_has_no_path(client: httpx.Client) -> None:
    r = client.get("/v1/operator/raft/configuration", params={"dc": "elsewhere"})
    assert (r.status_code, r.text) == (500, "No path to datacenter")
