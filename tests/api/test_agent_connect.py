"""Connect registrations on the agent and the catalog: nested sidecars, proxy and gateway kinds,
native services and Locality, compared with Consul's agent/sidecar_service.go, agent_endpoint.go
and NodeService.Validate (agent/structs/structs.go).
"""

from __future__ import annotations

from typing import Any

import httpx

from consul_sim.models.agent import ServiceDefinition
from consul_sim.world import Cluster, World

WEB = {
    "Name": "web",
    "ID": "web-1",
    "Port": 8080,
    "Address": "10.0.0.5",
    "Tags": ["v1"],
    "Meta": {"team": "a"},
}


def register(client: httpx.Client, body: dict[str, Any]) -> None:
    r = client.put("/v1/agent/service/register", json=body)
    assert (r.status_code, r.text) == (200, ""), r.text


def refused(client: httpx.Client, body: dict[str, Any]) -> tuple[int, str]:
    r = client.put("/v1/agent/service/register", json=body)
    return r.status_code, r.text


def one_error(text: str) -> str:
    return f"1 error occurred:\n\t* {text}\n\n"


def with_sidecar(sidecar: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {**WEB, **extra, "Connect": {"SidecarService": sidecar or {}}}


# -- the nested sidecar --------------------------------------------------------------------------
def test_nested_sidecar_registers_proxy_with_consul_defaults(client: httpx.Client) -> None:
    register(client, with_sidecar())

    services = client.get("/v1/agent/services").json()
    assert sorted(services) == ["web-1", "web-1-sidecar-proxy"]
    assert services["web-1-sidecar-proxy"] == {
        "Kind": "connect-proxy",
        "ID": "web-1-sidecar-proxy",
        "Service": "web-sidecar-proxy",
        "Tags": ["v1"],
        "Meta": {"team": "a"},
        "Port": 21000,
        "Address": "10.0.0.5",
        "TaggedAddresses": {
            "lan_ipv4": {"Address": "10.0.0.5", "Port": 21000},
            "wan_ipv4": {"Address": "10.0.0.5", "Port": 21000},
        },
        "Weights": {"Passing": 1, "Warning": 1},
        "EnableTagOverride": False,
        "Proxy": {
            "DestinationServiceName": "web",
            "DestinationServiceID": "web-1",
            "LocalServiceAddress": "127.0.0.1",
            "LocalServicePort": 8080,
            "MeshGateway": {},
            "Expose": {},
        },
        "Datacenter": "dc1",
    }
    # The parent keeps no trace of the nested definition.
    assert "Connect" not in services["web-1"]


def test_sidecar_default_checks_are_tcp_listener_and_alias(client: httpx.Client) -> None:
    register(client, with_sidecar())

    checks = {c["CheckID"]: c for c in client.get("/v1/health/checks/web-sidecar-proxy").json()}
    assert sorted(checks) == ["service:web-1-sidecar-proxy:1", "service:web-1-sidecar-proxy:2"]
    listening = checks["service:web-1-sidecar-proxy:1"]
    assert (listening["Name"], listening["Type"], listening["Interval"]) == (
        "Connect Sidecar Listening",
        "tcp",
        "10s",
    )
    assert listening["Definition"]["TCP"] == "10.0.0.5:21000"
    aliasing = checks["service:web-1-sidecar-proxy:2"]
    assert (aliasing["Name"], aliasing["Type"]) == ("Connect Sidecar Aliasing web-1", "alias")


def test_sidecar_ports_are_the_lowest_free_in_range_and_kept_on_update(
    client: httpx.Client,
) -> None:
    register(client, with_sidecar())
    register(client, {**with_sidecar(), "ID": "web-2", "Port": 8081})
    register(client, with_sidecar())  # re-registering keeps the port it holds

    services = client.get("/v1/agent/services").json()
    assert services["web-1-sidecar-proxy"]["Port"] == 21000
    assert services["web-2-sidecar-proxy"]["Port"] == 21001


def test_sidecar_upstreams_keep_destination_peer_and_default_their_type(
    client: httpx.Client,
) -> None:
    sidecar = {
        "Proxy": {
            "Upstreams": [
                {"DestinationName": "api", "DestinationPeer": "cluster-01", "LocalBindPort": 9191}
            ]
        }
    }
    register(client, with_sidecar(sidecar))

    agent_proxy = client.get("/v1/agent/service/web-1-sidecar-proxy").json()["Proxy"]
    assert agent_proxy["Upstreams"] == [
        {
            "DestinationType": "service",
            "DestinationPeer": "cluster-01",
            "DestinationName": "api",
            "LocalBindPort": 9191,
            "MeshGateway": {},
        }
    ]
    [entry] = client.get("/v1/catalog/service/web-sidecar-proxy").json()
    assert entry["ServiceProxy"] == {
        "DestinationServiceName": "web",
        "DestinationServiceID": "web-1",
        "LocalServiceAddress": "127.0.0.1",
        "LocalServicePort": 8080,
        "Mode": "",
        "Upstreams": [
            {
                "DestinationType": "service",
                "DestinationPeer": "cluster-01",
                "DestinationName": "api",
                "Datacenter": "",
                "LocalBindPort": 9191,
                "MeshGateway": {},
            }
        ],
        "MeshGateway": {},
        "Expose": {},
    }


def test_sidecar_own_tags_meta_and_port_win(client: httpx.Client) -> None:
    register(client, with_sidecar({"Tags": ["proxy"], "Meta": {"k": "v"}, "Port": 30000}))

    sidecar = client.get("/v1/agent/service/web-1-sidecar-proxy").json()
    assert (sidecar["Tags"], sidecar["Meta"], sidecar["Port"]) == (["proxy"], {"k": "v"}, 30000)


def test_deregistering_parent_removes_its_sidecar(client: httpx.Client) -> None:
    register(client, with_sidecar())

    r = client.put("/v1/agent/service/deregister/web-1")

    assert (r.status_code, r.text) == (200, "")
    assert client.get("/v1/agent/services").json() == {}
    assert client.get("/v1/health/checks/web-sidecar-proxy").json() == []


def test_sidecar_with_id_is_refused_and_nothing_registered(client: httpx.Client) -> None:
    status, text = refused(client, with_sidecar({"ID": "mine"}))

    assert (status, text) == (
        400,
        "Validation failed: "
        + one_error("A SidecarService cannot specify an ID as this is managed by the agent"),
    )
    assert client.get("/v1/agent/services").json() == {}


def test_nested_sidecar_inside_sidecar_is_refused(client: httpx.Client) -> None:
    status, text = refused(client, with_sidecar({"Connect": {"SidecarService": {}}}))

    assert (status, text) == (
        400,
        "Validation failed: " + one_error("A SidecarService cannot have a nested SidecarService"),
    )


def test_sidecar_upstream_without_bind_port_fails_sidecar_validation(
    client: httpx.Client,
) -> None:
    status, text = refused(
        client, with_sidecar({"Proxy": {"Upstreams": [{"DestinationName": "api"}]}})
    )

    assert (status, text) == (
        400,
        "Failed Validation: "
        + one_error("upstream local bind port or local socket path must be defined and nonzero"),
    )
    assert client.get("/v1/agent/services").json() == {}


def test_sidecar_with_bad_check_is_refused(client: httpx.Client) -> None:
    status, text = refused(client, with_sidecar({"Check": {"HTTP": "http://x"}}))

    assert (status, text) == (
        400,
        "Invalid check in sidecar_service: Interval must be > 0 for Script, HTTP, H2PING, TCP, "
        "UDP or OSService checks",
    )


# -- proxy and gateway kinds ---------------------------------------------------------------------
def test_connect_proxy_needs_destination_and_port(client: httpx.Client) -> None:
    status, text = refused(client, {"Name": "p", "Kind": "connect-proxy"})

    assert (status, text) == (
        400,
        "Validation failed: 2 errors occurred:\n"
        "\t* Port or SocketPath must be set for a connect-proxy\n"
        "\t* Proxy.DestinationServiceName must be non-empty for Connect proxy services\n\n",
    )


def test_gateway_needs_port_and_takes_no_sidecar(client: httpx.Client) -> None:
    status, text = refused(
        client, {"Name": "gw", "Kind": "mesh-gateway", "Connect": {"SidecarService": {}}}
    )

    assert (status, text) == (
        400,
        "Validation failed: 2 errors occurred:\n"
        "\t* Port must be non-zero for a mesh-gateway\n"
        "\t* A mesh-gateway cannot have a sidecar service defined\n\n",
    )


def test_ingress_gateway_may_have_no_port(client: httpx.Client) -> None:
    register(client, {"Name": "ingress", "Kind": "ingress-gateway"})

    svc = client.get("/v1/agent/service/ingress").json()
    assert (svc["Kind"], svc["Port"]) == ("ingress-gateway", 0)
    assert svc["Proxy"] == {"MeshGateway": {}, "Expose": {}}


def test_native_service_needs_a_port(client: httpx.Client) -> None:
    status, text = refused(client, {"Name": "n", "Connect": {"Native": True}})

    assert (status, text) == (
        400,
        "Validation failed: "
        + one_error("Port or SocketPath must be set for a Connect native service."),
    )


def test_locality_is_kept_and_rendered(client: httpx.Client) -> None:
    register(client, {**WEB, "Locality": {"Region": "us-east-1", "Zone": "us-east-1a"}})

    assert client.get("/v1/agent/service/web-1").json()["Locality"] == {
        "Region": "us-east-1",
        "Zone": "us-east-1a",
    }
    [entry] = client.get("/v1/catalog/service/web").json()
    assert entry["ServiceLocality"] == {"Region": "us-east-1", "Zone": "us-east-1a"}
    [csn] = client.get("/v1/health/service/web").json()
    assert csn["Service"]["Locality"] == {"Region": "us-east-1", "Zone": "us-east-1a"}


def test_catalog_register_runs_connect_validation(client: httpx.Client, dc1: Cluster) -> None:
    r = client.put(
        "/v1/catalog/register",
        json={
            "Node": "n1",
            "Address": "10.0.0.9",
            "Service": {"Service": "p", "Kind": "connect-proxy", "Port": 20000},
        },
    )

    assert (r.status_code, r.text) == (
        500,
        one_error("Proxy.DestinationServiceName must be non-empty for Connect proxy services"),
    )
    assert client.get("/v1/catalog/node/n1").json() is None


# -- ACLs ----------------------------------------------------------------------------------------
def test_sidecar_needs_write_on_its_own_name(world: World) -> None:
    cluster = world.add_cluster("acl", acl_default_policy="deny")
    accessor, web_only = cluster.acl.create_token({"service:web": "write"})
    _, both = cluster.acl.create_token(
        {"service:web": "write", "service:web-sidecar-proxy": "write"}
    )

    r = cluster.client.put(
        "/v1/agent/service/register", json=with_sidecar(), headers={"X-Consul-Token": web_only}
    )
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: token with AccessorID '{accessor}' lacks permission "
        "'service:write' on \"web-sidecar-proxy\"",
    )
    admin = {"X-Consul-Token": cluster.acl.management_token}
    assert cluster.client.get("/v1/agent/services", headers=admin).json() == {}

    r = cluster.client.put(
        "/v1/agent/service/register",
        json=with_sidecar({"Token": both}),
        headers={"X-Consul-Token": web_only},
    )
    assert (r.status_code, r.text) == (200, "")


def test_python_api_registration_expands_the_sidecar_too(dc1: Cluster) -> None:
    definition = ServiceDefinition.model_validate(
        {"Name": "db", "Port": 5432, "Connect": {"SidecarService": {}}}
    )

    with dc1.store.lock:
        dc1.agent.register_service(definition, replace_existing_checks=False)

    sidecar = dc1.agent.service("db-sidecar-proxy")
    assert sidecar is not None
    assert (sidecar.kind, sidecar.port, sidecar.proxy["DestinationServiceName"]) == (
        "connect-proxy",
        21000,
        "db",
    )


def test_unknown_field_in_the_sidecar_fails_decoding(client: httpx.Client) -> None:
    status, text = refused(client, with_sidecar({"Bogus": 1}))

    assert (status, text) == (400, 'Request decode failed: json: unknown field "Bogus"')


def test_a_sidecar_re_registered_on_its_own_outlives_its_parent(client: httpx.Client) -> None:
    register(client, with_sidecar())
    register(
        client,
        {
            "Name": "web-sidecar-proxy",
            "ID": "web-1-sidecar-proxy",
            "Kind": "connect-proxy",
            "Port": 21000,
            "Proxy": {"DestinationServiceName": "web"},
        },
    )

    client.put("/v1/agent/service/deregister/web-1")

    assert sorted(client.get("/v1/agent/services").json()) == ["web-1-sidecar-proxy"]


def test_proxy_keys_match_without_case_and_unknown_ones_are_refused(client: httpx.Client) -> None:
    upstream = {"destinationName": "api", "LOCALBINDPORT": 9191}
    register(
        client,
        {
            "Name": "p",
            "Kind": "connect-proxy",
            "Port": 21000,
            "Proxy": {"destinationServiceName": "web", "upstreams": [upstream]},
        },
    )
    proxy = client.get("/v1/agent/service/p").json()["Proxy"]
    assert proxy["DestinationServiceName"] == "web"
    assert proxy["Upstreams"][0]["LocalBindPort"] == 9191

    status, text = refused(client, with_sidecar({"Proxy": {"Upstream": []}}))
    assert (status, text) == (400, 'Request decode failed: json: unknown field "Upstream"')


def test_catalog_register_refuses_unknown_proxy_keys(client: httpx.Client) -> None:
    r = client.put(
        "/v1/catalog/register",
        json={
            "Node": "n1",
            "Address": "10.0.0.9",
            "Service": {
                "Service": "p",
                "Kind": "connect-proxy",
                "Port": 20000,
                "Proxy": {"DestinationServiceName": "web", "Upstreams": [{"Nope": 1}]},
            },
        },
    )

    assert (r.status_code, r.text) == (400, 'Request decode failed: json: unknown field "Nope"')
