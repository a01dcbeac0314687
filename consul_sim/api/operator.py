"""/v1/operator/raft/configuration: the Raft configuration of the (single-server) cluster.

``OperatorRaftConfiguration`` (agent/operator_endpoint.go) answers
``structs.RaftConfigurationResponse``: one entry per Raft server with its node ID, node name,
RPC address, whether it leads, whether it votes, its Raft protocol version and the last Raft
index it holds, and the index of the configuration. A simulated cluster is one bootstrapped
server, so that server is the only voter and the leader; its protocol version is Consul's
default Raft protocol ("3", agent/config/default.go) and its last index the store's index.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import ConsulRouter, check_dc, cluster_of, flag, json_response
from consul_sim.api.openapi import DC, PRETTY, Op, ok

router = ConsulRouter()

RAFT_PROTOCOL = "3"


@router.endpoint(
    "/v1/operator/raft/configuration",
    "GET",
    doc=Op("the Raft servers and their roles", (DC, PRETTY), answers=(ok({"type": "object"}),)),
)
async def raft_configuration(request: Request) -> Response:
    cluster = cluster_of(request)
    check_dc(request, cluster)
    index = max(cluster.store.index, 1)
    server = {
        "ID": cluster.node_id,
        "Node": cluster.node_name,
        "Address": cluster.leader_address,
        "Leader": True,
        "ProtocolVersion": RAFT_PROTOCOL,
        "Voter": True,
        "LastIndex": index,
    }
    return json_response({"Servers": [server], "Index": index}, pretty=flag(request, "pretty"))
