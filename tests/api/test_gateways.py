"""Gateway config entries, /v1/catalog/gateway-services and /v1/health/ingress.

Expected bodies follow agent/structs/config_entry_gateways.go (fields, Normalize, Validate
sentences) and agent/consul/catalog_endpoint_test.go (``TestCatalog_GatewayServices_*``: the
rows a terminating gateway with a wildcard answers, the ingress row of a default listener).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from consul_sim.world import World


def register(client: httpx.Client, body: dict[str, Any]) -> None:
    r = client.put("/v1/catalog/register", json=body)
    assert (r.status_code, r.text) == (200, "true")


def write(client: httpx.Client, entry: dict[str, Any]) -> httpx.Response:
    return client.put("/v1/config", json=entry)


def service(client: httpx.Client, name: str, **extra: Any) -> None:
    register(
        client,
        {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": name, "Port": 80, **extra}},
    )


def ingress_gateway(client: httpx.Client, node: str, status: str) -> None:
    register(
        client,
        {
            "Node": node,
            "Address": "10.0.0.2",
            "Service": {"Service": "ingress", "Kind": "ingress-gateway", "Port": 8443},
            "Check": {"Name": "alive", "Status": status, "ServiceID": "ingress"},
        },
    )


TERMINATING = {
    "Kind": "terminating-gateway",
    "Name": "gateway",
    "Services": [
        {
            "Name": "api",
            "CAFile": "api/ca.crt",
            "CertFile": "api/client.crt",
            "KeyFile": "api/client.key",
            "SNI": "my-domain",
        },
        {"Name": "db"},
        {
            "Name": "*",
            "CAFile": "ca.crt",
            "CertFile": "client.crt",
            "KeyFile": "client.key",
            "SNI": "my-alt-domain",
        },
    ],
}
INGRESS = {
    "Kind": "ingress-gateway",
    "Name": "ingress",
    "Listeners": [{"Port": 8888, "Services": [{"Name": "db"}]}],
}


# -- config entries ------------------------------------------------------------------------------
def test_ingress_entry_reads_back_normalized(client: httpx.Client) -> None:
    assert write(client, INGRESS).text == "true"

    entry = client.get("/v1/config/ingress-gateway/ingress").json()
    assert entry == {
        "Kind": "ingress-gateway",
        "Name": "ingress",
        "TLS": {"Enabled": False},
        "Listeners": [
            {"Port": 8888, "Protocol": "tcp", "Services": [{"Name": "db", "Hosts": None}]}
        ],
        "CreateIndex": entry["CreateIndex"],
        "ModifyIndex": entry["ModifyIndex"],
    }


def test_terminating_entry_reads_back_with_linked_services(client: httpx.Client) -> None:
    assert write(client, TERMINATING).text == "true"

    entry = client.get("/v1/config/terminating-gateway/gateway").json()
    assert entry["Services"][0] == TERMINATING["Services"][0]
    assert entry["Services"][1] == {"Name": "db"}


@pytest.mark.parametrize(
    ("listeners", "message"),
    [
        (
            [{"Port": 1, "Services": [{"Name": "a"}]}, {"Port": 1, "Services": [{"Name": "b"}]}],
            "port 1 declared on two listeners",
        ),
        (
            [{"Port": 1, "Protocol": "udp", "Services": [{"Name": "a"}]}],
            "protocol must be 'tcp', 'http', 'http2', or 'grpc'. 'udp' is an unsupported protocol",
        ),
        ([{"Port": 1}], "No service declared for listener with port 1"),
        (
            [{"Port": 1, "Services": [{"Name": "a"}, {"Name": "b"}]}],
            "Multiple services per listener are only supported for L7 protocols, 'http', 'grpc' "
            "and 'http2' (listener on port 1)",
        ),
        (
            [{"Port": 1, "Services": [{"Name": "*"}]}],
            "Wildcard service name is only valid for protocol = 'http' (listener on port 1)",
        ),
        (
            [{"Port": 1, "Protocol": "http", "Services": [{"Name": "*", "Hosts": ["a.com"]}]}],
            "Associating hosts to a wildcard service is not supported (listener on port 1)",
        ),
        (
            [
                {
                    "Port": 1,
                    "Protocol": "http",
                    "Services": [
                        {"Name": "a", "Hosts": ["x.com"]},
                        {"Name": "b", "Hosts": ["x.com"]},
                    ],
                }
            ],
            "Hosts must be unique within a specific listener (listener on port 1)",
        ),
        (
            [{"Port": 1, "Protocol": "http", "Services": [{"Name": "a", "Hosts": ["a.*.com"]}]}],
            'Host "a.*.com" is not valid, a wildcard specifier is only allowed as the leftmost '
            "label",
        ),
    ],
)
def test_ingress_validation_errors(
    client: httpx.Client, listeners: list[dict[str, Any]], message: str
) -> None:
    r = write(client, {"Kind": "ingress-gateway", "Name": "ing", "Listeners": listeners})

    assert (r.status_code, r.text) == (500, message)
    assert client.get("/v1/config/ingress-gateway/ing").status_code == 404


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ([{"CAFile": "x"}], "Service name cannot be blank."),
        (
            [{"Name": "a"}, {"Name": "a"}],
            'Service "a" was specified more than once within a namespace',
        ),
        (
            [{"Name": "a", "CertFile": "c"}],
            'Service "a" must have a CertFile, CAFile, and KeyFile specified for TLS origination',
        ),
    ],
)
def test_terminating_validation_errors(
    client: httpx.Client, services: list[dict[str, Any]], message: str
) -> None:
    r = write(client, {"Kind": "terminating-gateway", "Name": "t", "Services": services})

    assert (r.status_code, r.text) == (500, message)


# -- /v1/catalog/gateway-services ----------------------------------------------------------------
def test_terminating_gateway_services_expand_the_wildcard(client: httpx.Client) -> None:
    for name in ("api", "db", "redis"):
        service(client, name)
    service(client, "gateway", Kind="terminating-gateway", Port=443)
    write(client, TERMINATING)

    r = client.get("/v1/catalog/gateway-services/gateway")

    index = int(r.headers["X-Consul-Index"])
    gateway = {"Name": "gateway"}
    assert r.json() == [
        {
            "Gateway": gateway,
            "Service": {"Name": "api"},
            "GatewayKind": "terminating-gateway",
            "CAFile": "api/ca.crt",
            "CertFile": "api/client.crt",
            "KeyFile": "api/client.key",
            "SNI": "my-domain",
            "ServiceKind": "service",
            "CreateIndex": index,
            "ModifyIndex": index,
        },
        {
            "Gateway": gateway,
            "Service": {"Name": "db"},
            "GatewayKind": "terminating-gateway",
            "ServiceKind": "service",
            "CreateIndex": index,
            "ModifyIndex": index,
        },
        {
            "Gateway": gateway,
            "Service": {"Name": "redis"},
            "GatewayKind": "terminating-gateway",
            "CAFile": "ca.crt",
            "CertFile": "client.crt",
            "KeyFile": "client.key",
            "SNI": "my-alt-domain",
            "FromWildcard": True,
            "CreateIndex": index,
            "ModifyIndex": index,
        },
    ]


def test_a_later_registration_joins_the_wildcard_at_its_index(client: httpx.Client) -> None:
    write(client, TERMINATING)
    service(client, "late")

    r = client.get("/v1/catalog/gateway-services/gateway")

    late = [row for row in r.json() if row["Service"]["Name"] == "late"]
    assert [(row["FromWildcard"], row["ModifyIndex"]) for row in late] == [
        (True, int(r.headers["X-Consul-Index"]))
    ]
    # Named but not registered: no ServiceKind.
    db = [row for row in r.json() if row["Service"]["Name"] == "db"]
    assert "ServiceKind" not in db[0]


def test_ingress_gateway_services_carry_listener_port_and_protocol(client: httpx.Client) -> None:
    write(client, INGRESS)

    [row] = client.get("/v1/catalog/gateway-services/ingress").json()

    assert {k: v for k, v in row.items() if not k.endswith("Index")} == {
        "Gateway": {"Name": "ingress"},
        "Service": {"Name": "db"},
        "GatewayKind": "ingress-gateway",
        "Port": 8888,
        "Protocol": "tcp",
    }


def test_unknown_gateway_answers_empty_list_and_blank_name_is_refused(
    client: httpx.Client,
) -> None:
    r = client.get("/v1/catalog/gateway-services/nope")
    assert (r.status_code, r.text) == (200, "[]")
    assert int(r.headers["X-Consul-Index"]) > 0

    r = client.get("/v1/catalog/gateway-services/")
    assert (r.status_code, r.text) == (400, "Missing gateway name")


# -- /v1/health/ingress --------------------------------------------------------------------------
def test_health_ingress_lists_the_gateways_exposing_a_service(client: httpx.Client) -> None:
    ingress_gateway(client, "gw-1", "passing")
    ingress_gateway(client, "gw-2", "critical")
    write(client, INGRESS)

    every = client.get("/v1/health/ingress/db").json()
    assert [(e["Node"]["Node"], e["Service"]["Kind"]) for e in every] == [
        ("gw-1", "ingress-gateway"),
        ("gw-2", "ingress-gateway"),
    ]
    healthy = client.get("/v1/health/ingress/db?passing").json()
    assert [e["Node"]["Node"] for e in healthy] == ["gw-1"]
    assert client.get("/v1/health/ingress/api").json() == []


# -- ACLs ----------------------------------------------------------------------------------------
def test_gateway_services_need_gateway_read_and_filter_by_service(world: World) -> None:
    cluster = world.add_cluster("acl", acl_default_policy="deny")
    admin = {"X-Consul-Token": cluster.acl.management_token}
    assert cluster.client.put("/v1/config", json=TERMINATING, headers=admin).text == "true"
    accessor, services_only = cluster.acl.create_token({"service:db": "read"})
    _, both = cluster.acl.create_token({"service:db": "read", "service:gateway": "read"})

    r = cluster.client.get(
        "/v1/catalog/gateway-services/gateway", headers={"X-Consul-Token": services_only}
    )
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: token with AccessorID '{accessor}' lacks permission "
        "'service:read' on \"gateway\"",
    )
    r = cluster.client.get("/v1/catalog/gateway-services/gateway", headers={"X-Consul-Token": both})
    assert [row["Service"]["Name"] for row in r.json()] == ["db"]
    assert r.headers["X-Consul-Results-Filtered-By-ACLs"] == "true"


def test_http_listener_needs_http_services(client: httpx.Client) -> None:
    listener = {"Port": 80, "Protocol": "http", "Services": [{"Name": "web", "Hosts": ["*"]}]}
    entry = {"Kind": "ingress-gateway", "Name": "ing", "Listeners": [listener]}

    r = write(client, entry)
    assert (r.status_code, r.text) == (
        500,
        'service "web" has protocol "tcp", which does not match defined listener protocol "http"',
    )

    defaults = {"Kind": "service-defaults", "Name": "web", "Protocol": "http"}
    assert write(client, defaults).text == "true"
    assert write(client, entry).text == "true"


def test_tcp_listener_takes_an_http_service(client: httpx.Client) -> None:
    assert write(client, {"Kind": "service-defaults", "Name": "db", "Protocol": "http"}).text == (
        "true"
    )
    assert write(client, INGRESS).text == "true"
