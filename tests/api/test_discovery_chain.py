"""GET|POST /v1/discovery-chain/:service: the compiled chain in Consul's JSON shape.

Shapes follow ``agent/structs/discovery_chain.go`` (target IDs, peer targets without datacenter
or SNI), compilation ``agent/consul/discoverychain/compile.go``, the handler and its override
decoding ``agent/discovery_chain_endpoint.go``.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from consul_sim.world import Cluster, World
from tests.blocking import wait_until_blocked


def trust_domain(client: httpx.Client) -> str:
    domain: str = client.get("/v1/connect/ca/roots").json()["TrustDomain"]
    return domain


def write(client: httpx.Client, entry: dict[str, Any]) -> None:
    r = client.put("/v1/config", json=entry)
    assert (r.status_code, r.text) == (200, "true")


def chain(client: httpx.Client, name: str, **kwargs: Any) -> dict[str, Any]:
    r = client.get(f"/v1/discovery-chain/{name}", **kwargs)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert list(body) == ["Chain"]
    found: dict[str, Any] = body["Chain"]
    return found


def local_target(service: str, dc: str, domain: str, timeout: str = "5s") -> dict[str, Any]:
    sni = f"{service}.default.{dc}.internal.{domain}"
    return {
        "ConnectTimeout": timeout,
        "ID": f"{service}.default.default.{dc}",
        "Service": service,
        "Namespace": "default",
        "Partition": "default",
        "Datacenter": dc,
        "MeshGateway": {},
        "Subset": {},
        "TransparentProxy": {},
        "SNI": sni,
        "Name": sni,
    }


def test_default_chain_is_one_resolver_of_the_local_service(client: httpx.Client) -> None:
    domain = trust_domain(client)
    r = client.get("/v1/discovery-chain/web")
    assert r.status_code == 200
    index = client.get("/v1/config/service-defaults").headers["X-Consul-Index"]
    assert r.headers["X-Consul-Index"] == index
    assert r.json() == {
        "Chain": {
            "ServiceName": "web",
            "Namespace": "default",
            "Partition": "default",
            "Datacenter": "dc1",
            "Default": True,
            "Protocol": "tcp",
            "StartNode": "resolver:web.default.default.dc1",
            "Nodes": {
                "resolver:web.default.default.dc1": {
                    "Type": "resolver",
                    "Name": "web.default.default.dc1",
                    "Resolver": {
                        "ConnectTimeout": "5s",
                        "Default": True,
                        "Target": "web.default.default.dc1",
                    },
                }
            },
            "Targets": {"web.default.default.dc1": local_target("web", "dc1", domain)},
            "AutoVirtualIPs": None,
            "ManualVirtualIPs": None,
        }
    }


def test_failover_to_a_peer_names_the_peer_target(client: httpx.Client) -> None:
    domain = trust_domain(client)
    write(
        client,
        {
            "Kind": "service-resolver",
            "Name": "web",
            "ConnectTimeout": "3s",
            "Failover": {"*": {"Targets": [{"Peer": "cluster-01"}]}},
        },
    )
    found = chain(client, "web")
    assert "Default" not in found
    assert found["Nodes"] == {
        "resolver:web.default.default.dc1": {
            "Type": "resolver",
            "Name": "web.default.default.dc1",
            "Resolver": {
                "ConnectTimeout": "3s",
                "Target": "web.default.default.dc1",
                "Failover": {"Targets": ["web.default.default.external.cluster-01"]},
            },
        }
    }
    assert found["Targets"] == {
        "web.default.default.dc1": local_target("web", "dc1", domain, "3s"),
        "web.default.default.external.cluster-01": {
            "ConnectTimeout": "3s",
            "ID": "web.default.default.external.cluster-01",
            "Service": "web",
            "Namespace": "default",
            "Partition": "default",
            "Peer": "cluster-01",
            "MeshGateway": {},
            "Subset": {},
            "TransparentProxy": {},
        },
    }


def test_redirect_to_a_peer_starts_at_the_peer_target(client: httpx.Client) -> None:
    write(
        client,
        {"Kind": "service-resolver", "Name": "web", "Redirect": {"Service": "api", "Peer": "p1"}},
    )
    found = chain(client, "web")
    assert found["StartNode"] == "resolver:api.default.default.external.p1"
    assert list(found["Targets"]) == ["api.default.default.external.p1"]
    assert found["Targets"]["api.default.default.external.p1"]["Peer"] == "p1"


def test_router_and_splitter_nodes(client: httpx.Client) -> None:
    for name in ("web", "admin"):
        write(client, {"Kind": "service-defaults", "Name": name, "Protocol": "http"})
    write(
        client,
        {
            "Kind": "service-resolver",
            "Name": "web",
            "Subsets": {"v2": {"Filter": "Service.Meta.version == v2"}},
        },
    )
    write(
        client,
        {
            "Kind": "service-splitter",
            "Name": "web",
            "Splits": [{"Weight": 90}, {"Weight": 10, "ServiceSubset": "v2"}],
        },
    )
    write(
        client,
        {
            "Kind": "service-router",
            "Name": "web",
            "Routes": [
                {"Match": {"HTTP": {"PathPrefix": "/admin"}}, "Destination": {"Service": "admin"}}
            ],
        },
    )
    found = chain(client, "web")
    assert (found["Protocol"], found["StartNode"]) == ("http", "router:web.default.default")
    assert found["Nodes"]["router:web.default.default"]["Routes"] == [
        {
            "Definition": {
                "Match": {"HTTP": {"PathPrefix": "/admin"}},
                "Destination": {"Service": "admin"},
            },
            "NextNode": "resolver:admin.default.default.dc1",
        },
        {
            "Definition": {
                "Match": {"HTTP": {"PathPrefix": "/"}},
                "Destination": {"Service": "web", "Namespace": "default", "Partition": "default"},
            },
            "NextNode": "splitter:web.default.default",
        },
    ]
    assert found["Nodes"]["splitter:web.default.default"]["Splits"] == [
        {
            "Definition": {"Weight": 90},
            "Weight": 90,
            "NextNode": "resolver:web.default.default.dc1",
        },
        {
            "Definition": {"Weight": 10, "ServiceSubset": "v2"},
            "Weight": 10,
            "NextNode": "resolver:v2.web.default.default.dc1",
        },
    ]
    assert found["Targets"]["v2.web.default.default.dc1"]["Subset"] == {
        "Filter": "Service.Meta.version == v2"
    }
    assert sorted(found["Targets"]) == [
        "admin.default.default.dc1",
        "v2.web.default.default.dc1",
        "web.default.default.dc1",
    ]


def test_compile_dc_evaluates_in_another_datacenter(client: httpx.Client) -> None:
    found = chain(client, "web", params={"compile-dc": "dc9"})
    assert found["Datacenter"] == "dc9"
    assert found["StartNode"] == "resolver:web.default.default.dc9"


def test_post_overrides_protocol_and_connect_timeout(client: httpx.Client) -> None:
    r = client.post(
        "/v1/discovery-chain/web",
        json={"OverrideProtocol": "http", "override_connect_timeout": "2s"},
    )
    assert r.status_code == 200, r.text
    found = r.json()["Chain"]
    assert found["Protocol"] == "http"
    assert len(found["CustomizationHash"]) == 8
    resolver = found["Nodes"]["resolver:web.default.default.dc1"]["Resolver"]
    assert resolver["ConnectTimeout"] == "2s"
    plain = chain(client, "web")
    assert "CustomizationHash" not in plain


def test_post_with_mesh_gateway_override_sets_each_target(client: httpx.Client) -> None:
    r = client.post("/v1/discovery-chain/web", json={"OverrideMeshGateway": {"Mode": "local"}})
    assert r.status_code == 200, r.text
    target = r.json()["Chain"]["Targets"]["web.default.default.dc1"]
    assert target["MeshGateway"] == {"Mode": "local"}


def test_post_errors_are_consuls_400s(client: httpx.Client) -> None:
    cases = [
        (
            {"OverrideMeshGateway": {"Mode": "sideways"}},
            "Invalid OverrideMeshGateway.Mode parameter",
        ),
        (
            {"OverrideConnectTimeout": "soon"},
            'Request decoding failed: time: invalid duration "soon"',
        ),
    ]
    for body, message in cases:
        r = client.post("/v1/discovery-chain/web", json=body)
        assert (r.status_code, r.text) == (400, message)
    r = client.post("/v1/discovery-chain/web", content=b"")
    assert (r.status_code, r.text) == (400, "Request decoding failed: EOF")
    r = client.post("/v1/discovery-chain/web", content=b"[]")
    assert (r.status_code, r.text) == (
        400,
        "Request decoding failed: json: cannot unmarshal array into Go value of type "
        "map[string]interface {}",
    )


def test_missing_chain_name_is_a_400(client: httpx.Client) -> None:
    r = client.get("/v1/discovery-chain/")
    assert (r.status_code, r.text) == (400, "Missing chain name")


def test_reading_a_chain_needs_service_read(dc1: Cluster) -> None:
    world = dc1.world
    secure = world.add_cluster("dc2", acl_default_policy="deny")
    r = secure.client.get("/v1/discovery-chain/web")
    assert (r.status_code, r.text) == (
        403,
        "Permission denied: anonymous token lacks permission 'service:read' on \"web\". The "
        "anonymous token is used implicitly when a request does not specify a token.",
    )
    _, secret = secure.acl.create_token({"service:web": "read"})
    r = secure.client.get("/v1/discovery-chain/web", headers={"X-Consul-Token": secret})
    assert r.status_code == 200, r.text


@pytest.mark.slow
def test_blocking_read_wakes_when_a_resolver_is_written(
    world: World, dc1: Cluster, client: httpx.Client
) -> None:
    index = client.get("/v1/discovery-chain/web").headers["X-Consul-Index"]

    def later() -> None:
        wait_until_blocked(world)
        assert dc1.config.write({"Kind": "service-resolver", "Name": "web", "ConnectTimeout": "9s"})

    writer = threading.Thread(target=later)
    writer.start()
    r = client.get("/v1/discovery-chain/web", params={"index": index, "wait": "5m"})
    writer.join()
    assert r.status_code == 200
    assert int(r.headers["X-Consul-Index"]) > int(index)
    resolver = r.json()["Chain"]["Nodes"]["resolver:web.default.default.dc1"]["Resolver"]
    assert resolver["ConnectTimeout"] == "9s"
