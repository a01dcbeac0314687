"""Issue 12's "What it must show": the page's walk-through extended to the mesh, over HTTP only.

Two served clusters. cluster-01 runs ``web`` with a sidecar and a mesh gateway, cluster-02 a
mesh gateway and ``frontend`` whose sidecar has an upstream ``web`` in peer ``cluster-01``. Both
turn on ``Peering.PeerThroughMeshGateways`` before the token is made, so the token names the
gateway's WAN address. After establishing and exporting, cluster-02 sees the synthetic
``web-sidecar-proxy`` Consul sends for a connect-enabled export (at cluster-01's gateway, with
``Connect.PeerMeta``); ``frontend``'s leaf certificate chains to cluster-02's roots while
cluster-02 holds cluster-01's root in its trust bundle for the peer; an intention lets
``frontend`` from peer ``cluster-02`` in, and ``/_sim/call`` says why the call goes through.

Every step is a small helper taking the clusters' HTTP clients. The second test builds the same
world plus a third cluster whose ``web`` is all critical and whose ``service-resolver`` fails
over to the peer cluster-01: ``/_sim/call`` follows the failover, and says why it cannot once
cluster-01's ``web`` fails too.

Consul sources the expectations follow: ``agent/sidecar_service.go`` (sidecar defaults),
``agent/grpc-external/services/peerstream/subscription_manager.go`` (``createDiscoChainHealth``:
the synthetic proxy's ID, gateway address and ``PeerMeta``), ``agent/connect/sni.go``
(``PeeredServiceSNI``), ``agent/connect/uri_service.go`` and ``uri_mesh_gateway.go`` (SPIFFE
IDs), ``agent/consul/peering_backend.go`` (``GetServerAddresses`` with
``PeerThroughMeshGateways``).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from consul_sim.server import ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow

T = TypeVar("T")
DEADLINE = 20.0
GATEWAY_01 = {"lan": ("10.0.1.10", 8443), "wan": ("198.51.100.1", 8443)}
GATEWAY_02 = {"lan": ("10.0.2.10", 8443), "wan": ("198.51.100.2", 8443)}


@dataclass
class MeshWorld:
    """The served clusters' HTTP clients, by cluster name."""

    clients: dict[str, httpx.Client]

    def __getitem__(self, name: str) -> httpx.Client:
        return self.clients[name]


@pytest.fixture
def mesh() -> Iterator[MeshWorld]:
    """cluster-01 and cluster-02 served on free loopback ports; stopped afterwards."""
    yield from served_mesh("cluster-01", "cluster-02")


def served_mesh(*names: str, seed: int = 12) -> Iterator[MeshWorld]:
    world = World(seed=seed)
    try:
        for name in names:
            world.add_cluster(name)
        served = ServedWorld(world, dict.fromkeys(names, 0)).start()
        clients = {name: httpx.Client(base_url=served.url(name), timeout=10) for name in names}
        try:
            yield MeshWorld(clients)
        finally:
            for client in clients.values():
                client.close()
            served.stop()
    finally:
        world.close()


# -- polling a served world ---------------------------------------------------------------------
def eventually(read: Callable[[], T | None], what: str) -> T:
    """``read()`` once it answers something truthy; replication runs on the server's ticker."""
    deadline = time.monotonic() + DEADLINE
    while True:
        value = read()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def ok(response: httpx.Response, body: str | None = None) -> httpx.Response:
    assert response.status_code == 200, (response.request.url, response.text)
    if body is not None:
        assert response.text == body
    return response


# -- the world, one step each -------------------------------------------------------------------
def register_mesh_gateway(client: httpx.Client, gateway: dict[str, tuple[str, int]]) -> None:
    """A ``mesh-gateway`` at its LAN address, with the WAN address peers reach it on."""
    (lan, port), (wan, wan_port) = gateway["lan"], gateway["wan"]
    body = {
        "Name": "mesh-gateway",
        "Kind": "mesh-gateway",
        "Address": lan,
        "Port": port,
        "TaggedAddresses": {"wan": {"Address": wan, "Port": wan_port}},
    }
    ok(client.put("/v1/agent/service/register", json=body), "")


def peer_through_mesh_gateways(client: httpx.Client) -> None:
    body = {"Kind": "mesh", "Peering": {"PeerThroughMeshGateways": True}}
    ok(client.put("/v1/config", json=body), "true")


def register_web_with_sidecar(client: httpx.Client) -> None:
    body = {"Name": "web", "Port": 8080, "Connect": {"SidecarService": {}}}
    ok(client.put("/v1/agent/service/register", json=body), "")


def register_frontend_with_upstream(client: httpx.Client, peer: str = "cluster-01") -> None:
    """``frontend`` whose sidecar reaches ``web`` in ``peer`` on local port 9191."""
    upstream = {"DestinationName": "web", "DestinationPeer": peer, "LocalBindPort": 9191}
    body = {
        "Name": "frontend",
        "Port": 9090,
        "Connect": {"SidecarService": {"Proxy": {"Upstreams": [upstream]}}},
    }
    ok(client.put("/v1/agent/service/register", json=body), "")


def token_for(acceptor: httpx.Client, peer_name: str) -> str:
    answer = ok(acceptor.post("/v1/peering/token", json={"PeerName": peer_name})).json()
    token: str = answer["PeeringToken"]
    return token


def establish(dialer: httpx.Client, peer_name: str, token: str) -> None:
    body = {"PeerName": peer_name, "PeeringToken": token}
    ok(dialer.post("/v1/peering/establish", json=body), "{}")


def export(client: httpx.Client, service: str, *consumers: str) -> None:
    body = {
        "Kind": "exported-services",
        "Name": "default",
        "Services": [{"Name": service, "Consumers": [{"Peer": c} for c in consumers]}],
    }
    ok(client.put("/v1/config", json=body), "true")


def allow_from_peer(client: httpx.Client, destination: str, source: str, peer: str) -> None:
    body = {
        "Kind": "service-intentions",
        "Name": destination,
        "Sources": [{"Name": source, "Peer": peer, "Action": "allow"}],
    }
    ok(client.put("/v1/config", json=body), "true")


def active(client: httpx.Client, peer_name: str) -> dict[str, Any] | None:
    answer = client.get(f"/v1/peering/{peer_name}")
    peering: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
    return peering if peering.get("State") == "ACTIVE" else None


def imported(client: httpx.Client, path: str, peer: str) -> list[dict[str, Any]] | None:
    entries: list[dict[str, Any]] = ok(client.get(path, params={"peer": peer})).json()
    return entries or None


def build_mesh_walkthrough(mesh: MeshWorld) -> str:
    """The walk-through up to the intentions: gateways and ``PeerThroughMeshGateways`` in both,
    ``web`` with its sidecar in cluster-01, the peering, the export, ``frontend`` in
    cluster-02; returns the token (its addresses are cluster-01's gateway's)."""
    one, two = mesh["cluster-01"], mesh["cluster-02"]
    register_web_with_sidecar(one)
    register_mesh_gateway(one, GATEWAY_01)
    register_mesh_gateway(two, GATEWAY_02)
    peer_through_mesh_gateways(one)
    peer_through_mesh_gateways(two)
    token = token_for(one, "cluster-02")
    establish(two, "cluster-01", token)
    export(one, "web", "cluster-02")
    register_frontend_with_upstream(two)
    eventually(lambda: active(two, "cluster-01"), "cluster-02's peering to go ACTIVE")
    eventually(lambda: active(one, "cluster-02"), "cluster-01's peering to go ACTIVE")
    return token


# -- the walk -----------------------------------------------------------------------------------
def test_mesh_walkthrough_end_to_end(mesh: MeshWorld) -> None:
    one, two = mesh["cluster-01"], mesh["cluster-02"]
    token = build_mesh_walkthrough(mesh)
    trust_domain_01 = ok(one.get("/v1/connect/ca/roots")).json()["TrustDomain"]

    # The token names cluster-01's gateway, not its servers.
    decoded = json.loads(base64.b64decode(token))
    assert decoded["ServerAddresses"] == ["198.51.100.1:8443"]
    assert decoded["ManualServerAddresses"] is None
    peering = eventually(lambda: active(two, "cluster-01"), "the peering")
    assert peering["PeerServerAddresses"] == ["198.51.100.1:8443"]

    # frontend's sidecar, as cluster-02's agent made it from Connect.SidecarService.
    sidecar = ok(two.get("/v1/agent/service/frontend-sidecar-proxy")).json()
    assert (sidecar["Kind"], sidecar["Port"]) == ("connect-proxy", 21000)
    assert sidecar["Proxy"]["DestinationServiceName"] == "frontend"
    assert sidecar["Proxy"]["Upstreams"] == [
        {
            "DestinationType": "service",
            "DestinationPeer": "cluster-01",
            "DestinationName": "web",
            "LocalBindPort": 9191,
            "MeshGateway": {},
        }
    ]

    # cluster-02 imports the synthetic web-sidecar-proxy, at cluster-01's gateway.
    [entry] = eventually(
        lambda: imported(two, "/v1/health/connect/web", "cluster-01"),
        "web's connect instances to reach cluster-02",
    )
    assert ok(two.get("/v1/health/service/web-sidecar-proxy?peer=cluster-01")).json() == [entry]
    service = entry["Service"]
    assert {k: service[k] for k in ("Kind", "ID", "Service", "Address", "Port", "PeerName")} == {
        "Kind": "connect-proxy",
        "ID": "web-sidecar-proxy-instance-0",
        "Service": "web-sidecar-proxy",
        "Address": "10.0.1.10",
        "Port": 8443,
        "PeerName": "cluster-01",
    }
    assert service["TaggedAddresses"]["wan"] == {"Address": "198.51.100.1", "Port": 8443}
    assert service["Proxy"]["DestinationServiceName"] == "web"
    assert service["Proxy"]["DestinationServiceID"] == "web-instance-0"
    assert service["Connect"] == {
        "PeerMeta": {
            "SNI": [f"web.default.default.cluster-02.external.{trust_domain_01}"],
            "SpiffeID": [
                f"spiffe://{trust_domain_01}/ns/default/dc/cluster-01/svc/web",
                f"spiffe://{trust_domain_01}/gateway/mesh/dc/cluster-01",
            ],
            "Protocol": "tcp",
        }
    }
    assert entry["Node"]["PeerName"] == "cluster-01"
    assert [(c["CheckID"], c["Status"]) for c in entry["Checks"]] == [
        ("web-sidecar-proxy-instance-0:overall-check", "passing")
    ]
    # The node they run on is listed among cluster-02's nodes from that peer only.
    [node] = ok(two.get("/v1/catalog/nodes?peer=cluster-01")).json()
    assert (node["Node"], node["PeerName"]) == (entry["Node"]["Node"], "cluster-01")
    assert "PeerName" not in ok(two.get("/v1/catalog/nodes")).json()[0]
    # web itself is imported too, as a typical service.
    [web] = ok(two.get("/v1/health/service/web?peer=cluster-01")).json()
    assert (web["Service"]["ID"], web["Service"]["Port"]) == ("web", 8080)

    # frontend's leaf certificate chains to cluster-02's own roots ...
    roots_02 = ok(two.get("/v1/connect/ca/roots")).json()
    trust_domain_02 = roots_02["TrustDomain"]
    leaf = ok(two.get("/v1/agent/connect/ca/leaf/frontend")).json()
    spiffe = f"spiffe://{trust_domain_02}/ns/default/dc/cluster-02/svc/frontend"
    assert (leaf["Service"], leaf["ServiceURI"]) == ("frontend", spiffe)
    verify_leaf(leaf["CertPEM"], [r["RootCert"] for r in roots_02["Roots"]], spiffe)
    # ... and not to cluster-01's: the peers' CAs are separate.
    roots_01 = ok(one.get("/v1/connect/ca/roots")).json()
    with pytest.raises(x509.verification.VerificationError):
        verify_leaf(leaf["CertPEM"], [r["RootCert"] for r in roots_01["Roots"]], spiffe)

    # cluster-02 trusts cluster-01's active root for that peer.
    [active_01] = [r["RootCert"] for r in roots_01["Roots"] if r["Active"]]
    bundle = ok(two.get("/_sim/trust-bundle/cluster-01")).json()
    assert bundle == {
        "TrustDomain": trust_domain_01,
        "PeerName": "cluster-01",
        "RootPEMs": [active_01],
    }

    # Intentions in cluster-01 let frontend from peer cluster-02 call web ...
    call = {
        "Source": {"Cluster": "cluster-02", "Service": "frontend"},
        "Destination": {"Peer": "cluster-01", "Service": "web"},
    }
    # With ACLs off nothing denies yet (Consul's default intention policy follows the ACL
    # default, allow); the intention is what the page asks for and what a deny-by-default
    # cluster needs, and the reason then names the intention that matched.
    before = ok(two.post("/_sim/call", json=call)).json()
    assert before["Reasons"][-1] == (
        'cluster-01\'s intentions allow "frontend" from its peer "cluster-02" to call '
        '"web": Default behavior configured by ACLs'
    )
    allow_from_peer(one, "web", "frontend", "cluster-02")

    # ... and the call goes through, every link of the chain named.
    assert ok(two.post("/_sim/call", json=call)).json() == {
        "Allowed": True,
        "Reasons": [
            'cluster-02\'s peering "cluster-01" is ACTIVE',
            'cluster-01 exports "web" to its peer "cluster-02"',
            '"web" has 1 passing instance on cluster-01',
            'cluster-01\'s intentions allow "frontend" from its peer "cluster-02" to call '
            '"web": Matched L4 intention: peer(cluster-02)/frontend => web '
            "(Precedence: 9, Action: ALLOW)",
        ],
    }
    # The failover half of the story: test_a_third_cluster_fails_over_to_the_peer.


@pytest.fixture
def mesh3() -> Iterator[MeshWorld]:
    """The walk-through's two clusters and a third, cluster-03, served; stopped afterwards."""
    yield from served_mesh("cluster-01", "cluster-02", "cluster-03")


FAILOVER_TO_CLUSTER_01 = {
    "Kind": "service-resolver",
    "Name": "web",
    "Failover": {"*": {"Targets": [{"Peer": "cluster-01"}]}},
}


def test_a_third_cluster_fails_over_to_the_peer(mesh3: MeshWorld) -> None:
    """cluster-03 runs its own ``web``, every instance critical, and a ``service-resolver``
    whose failover target is the peer cluster-01 (``Failover.Targets[].Peer``,
    ``agent/structs/config_entry_discoverychain.go``): its ``frontend``'s call to ``web``
    goes to cluster-01's ``web`` and ``/_sim/call`` says so, until that one fails too."""
    one, three = mesh3["cluster-01"], mesh3["cluster-03"]
    build_mesh_walkthrough(mesh3)
    establish(three, "cluster-01", token_for(one, "cluster-03"))
    export(one, "web", "cluster-02", "cluster-03")
    eventually(lambda: active(three, "cluster-01"), "cluster-03's peering to go ACTIVE")
    critical_web = {"Name": "web", "Port": 8080, "Check": {"TTL": "30s", "Status": "critical"}}
    ok(three.put("/v1/agent/service/register", json=critical_web), "")
    register_frontend_with_upstream(three)
    ok(three.put("/v1/config", json=FAILOVER_TO_CLUSTER_01), "true")
    allow_from_peer(one, "web", "frontend", "cluster-03")
    eventually(lambda: imported(three, "/v1/health/service/web", "cluster-01"), "web in cluster-03")

    chain = ok(three.get("/v1/discovery-chain/web")).json()["Chain"]
    failover = chain["Nodes"]["resolver:web.default.default.cluster-03"]["Resolver"]["Failover"]
    assert failover["Targets"] == ["web.default.default.external.cluster-01"]
    assert chain["Targets"]["web.default.default.external.cluster-01"]["Peer"] == "cluster-01"

    call = {
        "Source": {"Cluster": "cluster-03", "Service": "frontend"},
        "Destination": {"Service": "web"},
    }
    local_down = '"web" on cluster-03 has no passing instance (1 instance, none passing)'
    target = "web.default.default.external.cluster-01"
    assert ok(three.post("/_sim/call", json=call)).json() == {
        "Allowed": True,
        "Reasons": [
            local_down,
            f'cluster-03\'s service-resolver for "web" fails over to target {target}, since no '
            'instance of "web" on cluster-03 passes: "web" imported from peer "cluster-01" on '
            "cluster-03 has 1 passing instance",
            'cluster-03\'s peering "cluster-01" is ACTIVE',
            'cluster-01 exports "web" to its peer "cluster-03"',
            '"web" has 1 passing instance on cluster-01',
            'cluster-01\'s intentions allow "frontend" from its peer "cluster-03" to call "web": '
            "Matched L4 intention: peer(cluster-03)/frontend => web (Precedence: 9, Action: ALLOW)",
        ],
    }

    # cluster-01's web goes into maintenance: nothing is left to fail over to.
    ok(one.put("/v1/agent/service/maintenance/web?enable=true&reason=drill"), "")
    passing = {"peer": "cluster-01", "passing": "true"}
    eventually(
        lambda: ok(three.get("/v1/health/service/web", params=passing)).json() == [],
        "cluster-03 to see cluster-01's web critical",
    )
    assert ok(three.post("/_sim/call", json=call)).json() == {
        "Allowed": False,
        "Reasons": [
            local_down,
            'cluster-03\'s service-resolver for "web" has no failover target to take the call: '
            f'{target} ("web" imported from peer "cluster-01" on cluster-03 has no passing '
            "instance (1 instance, none passing))",
        ],
    }


def verify_leaf(cert_pem: str, root_pems: list[str], spiffe: str) -> None:
    """Path validation as a TLS peer would do it: the leaf chains to one of ``root_pems`` at
    the present time, for a client whose URI SAN is ``spiffe``."""
    leaf = x509.load_pem_x509_certificate(cert_pem.encode())
    roots = [x509.load_pem_x509_certificate(pem.encode()) for pem in root_pems]
    verifier = PolicyBuilder().store(Store(roots)).time(datetime.now(UTC)).build_client_verifier()
    verified = verifier.verify(leaf, [])
    assert verified.subjects is not None
    assert x509.UniformResourceIdentifier(spiffe) in verified.subjects
