"""The seed page (cluster-peering-technical-preview.md), walked end to end over HTTP.

Its sections in order: create a peering token on cluster-01, establish ("initiate") from
cluster-02, export a service with the page's exported-services entry, check the status on both
sides, authorize with service-intentions, and remove the peering. Where the page shows a
``consul`` command, the step prints it above the HTTP call that command makes. The config
entries are the corrected copies in ``scenarios/`` (the page's HCL does not parse).
"""

from __future__ import annotations

from typing import Any

from consul_sim.scenarios.base import Answer, Expect, Scenario, Step, scenario

SERVICE = "service-name"


def _peering_status(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a peering read the page talks about, without the certificates."""
    stream = data.get("StreamStatus") or {}
    return {
        "Name": data.get("Name"),
        "State": data.get("State"),
        "PeerCAPems": data.get("PeerCAPems"),
        "StreamStatus": {
            "ImportedServices": stream.get("ImportedServices"),
            "ExportedServices": stream.get("ExportedServices"),
        },
        "status": data.get("status"),
        "connected": data.get("connected"),
    }


def _instances(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each health entry as node, service and check status: what a class needs to see."""
    return [
        {
            "Node": {"Node": e["Node"]["Node"], "PeerName": e["Node"].get("PeerName")},
            "Service": {
                "ID": e["Service"]["ID"],
                "Service": e["Service"]["Service"],
                "Port": e["Service"]["Port"],
                "PeerName": e["Service"].get("PeerName"),
            },
            "Checks": [{"CheckID": c["CheckID"], "Status": c["Status"]} for c in e["Checks"]],
        }
        for e in data
    ]


def _active(a: Answer) -> bool:
    return bool(a.data["status"] == "active" and a.data["connected"] is True)


def _imported(a: Answer) -> bool:
    return bool(a.data) and a.data[0]["Service"]["PeerName"] == "cluster-01"


CALL = {
    "Source": {"Cluster": "cluster-02", "Service": "frontend"},
    "Destination": {"Peer": "cluster-01", "Service": SERVICE},
}


def _allowed(a: Answer) -> bool:
    return a.data["Allowed"] is True


ACTIVE = Expect('"status": "active" and "connected": true', _active)
EMPTY = Expect("an empty list: nothing imported from cluster-01 is left", lambda a: a.data == [])


@scenario("seed")
def seed() -> Scenario:
    return Scenario(
        name="seed",
        summary="the cluster peering page, step by step, on cluster-01 and cluster-02",
        clusters=("cluster-01", "cluster-02"),
        steps=[
            Step(
                "two separate clusters",
                "cluster-02",
                "GET",
                "/v1/catalog/datacenters",
                note="Each cluster is its own datacenter and knows nothing of the other yet.",
            ),
            Step(
                "create a peering token for cluster-02",
                "cluster-01",
                "POST",
                "/v1/peering/token",
                {"PeerName": "cluster-02"},
                section="Create a peering token",
                page='consul peering generate-token -peer="cluster-02"',
                capture={"TOKEN": "PeeringToken"},
                expect=(Expect("a PeeringToken", lambda a: bool(a.data["PeeringToken"])),),
                note=(
                    "The token is base64 JSON: cluster-01's server addresses and server name,\n"
                    "and a one-time secret made for cluster-02 alone."
                ),
            ),
            Step(
                "cluster-02 initiates the peering with the token",
                "cluster-02",
                "POST",
                "/v1/peering/establish",
                {"PeerName": "cluster-01", "PeeringToken": "$TOKEN"},
                section="Establish a connection between clusters",
                page='consul peering initiate -peer="cluster-01" -token="$TOKEN"',
                note=(
                    "The page's `initiate` is Consul's `establish`: cluster-02 dials\n"
                    "cluster-01 and presents the secret; no output, as the page says."
                ),
            ),
            Step(
                "register the service to export, with a passing TTL check",
                "cluster-01",
                "PUT",
                "/v1/agent/service/register",
                {
                    "Name": SERVICE,
                    "ID": f"{SERVICE}-1",
                    "Port": 8080,
                    "Check": {"TTL": "10m", "Status": "passing"},
                },
                section="Connect service endpoints",
                note=(
                    "Agent writes answer 200 with an empty body. The same from a file:\n"
                    "consul-sim services register scenarios/service-name.hcl"
                ),
            ),
            Step(
                "export it to cluster-02 (the page's exported-services entry)",
                "cluster-01",
                "PUT",
                "/v1/config",
                config_file="scenarios/peering-config.hcl",
                page="consul config write peering-config.hcl",
                expect=(Expect("true: the entry is written", lambda a: a.data is True),),
                note=(
                    "The page's HCL does not parse (unclosed brackets); this is the corrected\n"
                    'copy. In Consul CE the entry is named "default".'
                ),
            ),
            Step(
                "cluster-02 sees the service, with its health",
                "cluster-02",
                "GET",
                f"/v1/health/service/{SERVICE}?peer=cluster-01",
                until=Expect("the instance imported from cluster-01", _imported),
                expect=(
                    Expect('"PeerName": "cluster-01" on node and service', _imported),
                    Expect(
                        "its health collapsed into one passing overall-check",
                        lambda a: [c["Status"] for c in a.data[0]["Checks"]] == ["passing"],
                    ),
                ),
                show=_instances,
                note=(
                    "Replication runs in the background: the runner asked again until it\n"
                    "arrived. Fields trimmed; the full answer is Consul's health entry."
                ),
            ),
            Step(
                "without ?peer= it is not listed",
                "cluster-02",
                "GET",
                f"/v1/health/service/{SERVICE}",
                expect=(Expect("an empty list", lambda a: a.data == []),),
                note="Imported services answer only when the query names the peer.",
            ),
            Step(
                "status on cluster-01",
                "cluster-01",
                "GET",
                "/v1/peering/cluster-02",
                section="Check peering connection status",
                until=ACTIVE,
                expect=(
                    Expect(
                        "it exports service-name",
                        lambda a: a.data["StreamStatus"]["ExportedServices"] == [SERVICE],
                    ),
                ),
                show=_peering_status,
            ),
            Step(
                "status on cluster-02",
                "cluster-02",
                "GET",
                "/v1/peering/cluster-01",
                until=ACTIVE,
                expect=(
                    Expect(
                        "it imports service-name",
                        lambda a: a.data["StreamStatus"]["ImportedServices"] == [SERVICE],
                    ),
                    Expect(
                        "it holds cluster-01's CA root", lambda a: len(a.data["PeerCAPems"]) == 1
                    ),
                ),
                show=_peering_status,
                note="Both sides ACTIVE and connected: the peering works.",
            ),
            Step(
                "cluster-02's trust domain, which its services' certificates carry",
                "cluster-02",
                "GET",
                "/v1/connect/ca/roots",
                section="Authorize connections from peers",
                capture={"PEER_TRUST_DOMAIN": "TrustDomain"},
                show=lambda d: {"TrustDomain": d["TrustDomain"]},
            ),
            Step(
                "allow frontend in cluster-02 to call service-name",
                "cluster-01",
                "PUT",
                "/v1/config",
                config_file="scenarios/peering-intentions.hcl",
                page="consul config write peering-intentions.hcl",
                expect=(Expect("true: the intentions are written", lambda a: a.data is True),),
            ),
            Step(
                "cluster-01 decides a call from cluster-02's frontend",
                "cluster-01",
                "POST",
                "/v1/agent/connect/authorize",
                {
                    "Target": SERVICE,
                    "ClientCertURI": (
                        "spiffe://$PEER_TRUST_DOMAIN/ns/default/dc/cluster-02/svc/frontend"
                    ),
                },
                expect=(
                    Expect(
                        "Authorized by the intention with Peer = cluster-02",
                        lambda a: (
                            a.data["Authorized"] is True and "peer(cluster-02)" in a.data["Reason"]
                        ),
                    ),
                ),
                note=(
                    "The certificate's trust domain tells cluster-01 the caller is from its\n"
                    "peer cluster-02. (Dev mode has no ACLs, so a call no intention matches is\n"
                    "allowed by default; a deny intention is what refuses one.)"
                ),
            ),
            Step(
                "would frontend in cluster-02 get through? (the simulator explains)",
                "cluster-02",
                "POST",
                "/_sim/call",
                CALL,
                expect=(Expect("Allowed: every link of the chain holds", _allowed),),
                note=(
                    "Not a Consul API: consul-sim checks each link a real call needs (peering,\n"
                    "export, a passing instance, intentions) and says which holds."
                ),
            ),
            Step(
                "delete the peering on cluster-01",
                "cluster-01",
                "DELETE",
                "/v1/peering/cluster-02",
                section="Remove peering connections",
                page='consul peering delete -name="cluster-02"',
                note="cluster-01 goes DELETING, removes what it imported, then the record.",
            ),
            Step(
                "cluster-01's record is gone",
                "cluster-01",
                "GET",
                "/v1/peering/cluster-02",
                expect_status=404,
                until=Expect("HTTP 404", lambda a: a.status == 404),
            ),
            Step(
                "cluster-02 is told: TERMINATED",
                "cluster-02",
                "GET",
                "/v1/peering/cluster-01",
                until=Expect('"State": "TERMINATED"', lambda a: a.data["State"] == "TERMINATED"),
                expect=(Expect('"connected": false', lambda a: a.data["connected"] is False),),
                show=lambda d: {k: d.get(k) for k in ("Name", "State", "status", "connected")},
                note="cluster-02 keeps a TERMINATED record, so its operator notices.",
            ),
            Step(
                "nothing imported from cluster-01 remains",
                "cluster-02",
                "GET",
                f"/v1/health/service/{SERVICE}?peer=cluster-01",
                expect=(EMPTY,),
            ),
            Step(
                "and frontend's call no longer gets through",
                "cluster-02",
                "POST",
                "/_sim/call",
                CALL,
                expect=(
                    Expect(
                        "not Allowed: the peering is TERMINATED",
                        lambda a: (
                            a.data["Allowed"] is False and "TERMINATED" in a.data["Reasons"][0]
                        ),
                    ),
                ),
            ),
            Step(
                "cluster-02 deletes its side too",
                "cluster-02",
                "DELETE",
                "/v1/peering/cluster-01",
                note=(
                    "Not on the page: a TERMINATED record stays until its own side deletes\n"
                    "it (consul peering delete -name=cluster-01 on cluster-02)."
                ),
            ),
            Step(
                "no peerings left on cluster-02",
                "cluster-02",
                "GET",
                "/v1/peerings",
                until=Expect("an empty list", lambda a: a.data == []),
                note="The service still runs on cluster-01; only the peering is gone.",
            ),
        ],
    )
