"""Multi-port services (``Ports`` instead of ``Port``) over /v1/agent, /v1/health and /v1/catalog.

Consul's ``ServicePorts`` (api/agent.go: ``ServicePort{Name, Port, Default}``, ``Validate``) is
what the Go client's TestAPI_AgentServices_MultiPort registers and reads back."""

from __future__ import annotations

import httpx
import pytest

PORTS = [
    {"Name": "http", "Port": 8080, "Default": True},
    {"Name": "metrics", "Port": 9090, "Default": False},
]


def test_ports_come_back_in_order_from_the_agent_and_health(client: httpx.Client) -> None:
    body = {"Name": "srv-1", "ID": "srv-1", "Ports": [PORTS[0], {"Name": "metrics", "Port": 9090}]}
    r = client.put("/v1/agent/service/register", json=body)
    assert (r.status_code, r.text) == (200, "")
    agent = client.get("/v1/agent/services").json()["srv-1"]
    assert (agent["Port"], agent["Ports"]) == (0, PORTS)
    assert client.get("/v1/agent/service/srv-1").json()["Ports"] == PORTS
    [entry] = client.get("/v1/health/service/srv-1").json()
    assert entry["Service"]["Ports"] == PORTS
    assert "Port" not in entry["Service"]


def test_a_single_port_service_shows_no_ports(client: httpx.Client) -> None:
    client.put("/v1/agent/service/register", json={"Name": "web", "Port": 80}).raise_for_status()
    assert "Ports" not in client.get("/v1/agent/services").json()["web"]


@pytest.mark.parametrize(
    ("ports", "problem"),
    [
        ([{"Name": " ", "Port": 1, "Default": True}], "Ports.Name cannot be empty"),
        ([{"Name": "a", "Default": True}], "Ports.Port must be non-zero"),
        (
            [{"Name": "a", "Port": 1, "Default": True}, {"Name": "a", "Port": 2}],
            'Ports.Name "a" has to be unique',
        ),
        (
            [{"Name": "a", "Port": 1, "Default": True}, {"Name": "b", "Port": 2, "Default": True}],
            "only one port can be marked as default",
        ),
        ([{"Name": "a", "Port": 1}], "one of the Ports must be marked as Default"),
    ],
)
def test_invalid_ports_are_refused_and_nothing_is_registered(
    client: httpx.Client, ports: list[dict[str, object]], problem: str
) -> None:
    r = client.put("/v1/agent/service/register", json={"Name": "srv", "Ports": ports})
    assert (r.status_code, r.text) == (400, f"Invalid Service Ports: {problem}")
    assert client.get("/v1/agent/services").json() == {}


def test_the_catalog_lists_the_ports_and_fills_service_port_with_the_default(
    client: httpx.Client,
) -> None:
    body = {"Name": "srv-1", "Ports": PORTS}
    client.put("/v1/agent/service/register", json=body).raise_for_status()
    [node] = client.get("/v1/catalog/service/srv-1").json()
    assert (node["ServicePort"], node["ServicePorts"]) == (8080, PORTS)
    client.put("/v1/agent/service/register", json={"Name": "web", "Port": 80}).raise_for_status()
    [web] = client.get("/v1/catalog/service/web").json()
    assert web["ServicePort"] == 80
    assert "ServicePorts" not in web
