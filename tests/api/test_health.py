"""/v1/health, compared with what Consul answers (reference §3 and conformance 12-13)."""

from __future__ import annotations

import httpx

from tests.api.conftest import register


def _web(client: httpx.Client, node: str, sid: str, status: str) -> None:
    register(
        client,
        {
            "Node": node,
            "Address": "10.0.0.1",
            "Service": {"ID": sid, "Service": "web"},
            "Check": {
                "CheckID": f"{sid}-check",
                "Name": "alive",
                "ServiceID": sid,
                "Status": status,
            },
        },
    )


def test_passing_drops_instances_with_any_non_passing_check(client: httpx.Client) -> None:
    _web(client, "n1", "web-1", "passing")
    _web(client, "n2", "web-2", "warning")
    assert len(client.get("/v1/health/service/web").json()) == 2
    passing = client.get("/v1/health/service/web?passing").json()
    assert [e["Service"]["ID"] for e in passing] == ["web-1"]
    assert len(client.get("/v1/health/service/web?passing=false").json()) == 2
    r = client.get("/v1/health/service/web?passing=maybe")
    assert (r.status_code, r.text) == (400, "Invalid value for ?passing")


def test_node_checks_count_toward_service_health(client: httpx.Client) -> None:
    _web(client, "n1", "web-1", "passing")
    register(
        client,
        {
            "Node": "n1",
            "Address": "10.0.0.1",
            "Check": {"CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "critical"},
        },
    )
    assert client.get("/v1/health/service/web?passing").json() == []
    [entry] = client.get("/v1/health/service/web").json()
    assert [c["CheckID"] for c in entry["Checks"]] == ["serfHealth", "web-1-check"]


def test_health_service_shape_matches_consul(client: httpx.Client) -> None:
    _web(client, "n1", "web-1", "passing")
    r = client.get("/v1/health/service/web")
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["X-Consul-KnownLeader"] == "true"
    assert r.headers["X-Consul-LastContact"] == "0"
    assert r.headers["X-Consul-Effective-Consistency"] == "leader"
    assert r.headers["X-Consul-Query-Backend"] == "blocking-query"
    [entry] = r.json()
    assert set(entry) == {"Node", "Service", "Checks"}
    assert entry["Service"]["PeerName"] == ""
    assert "PeerName" not in entry["Node"]
    check = entry["Checks"][0]
    assert check["ServiceName"] == "web"
    assert check["ServiceTags"] == []
    assert "PeerName" not in check


def test_health_state_filters_by_status(client: httpx.Client) -> None:
    _web(client, "n1", "web-1", "passing")
    _web(client, "n2", "web-2", "critical")
    critical = client.get("/v1/health/state/critical").json()
    assert [c["CheckID"] for c in critical] == ["web-2-check"]
    assert len(client.get("/v1/health/state/any").json()) == 3  # + the agent's serfHealth
    assert client.get("/v1/health/state/bogus").json() == []
    r = client.get("/v1/health/state/")
    assert (r.status_code, r.text) == (400, "Missing check state")


def test_health_checks_lists_service_checks_only(client: httpx.Client) -> None:
    _web(client, "n1", "web-1", "passing")
    checks = client.get("/v1/health/checks/web").json()
    assert [c["CheckID"] for c in checks] == ["web-1-check"]
    r = client.get("/v1/health/checks/")
    assert (r.status_code, r.text) == (400, "Missing service name")


def test_health_node_unknown_is_empty_list(client: httpx.Client) -> None:
    assert client.get("/v1/health/node/ghost").json() == []


def test_check_status_defaults_to_critical(client: httpx.Client) -> None:
    register(client, {"Node": "n1", "Address": "a", "Check": {"Name": "disk"}})
    [check] = client.get("/v1/health/node/n1").json()
    assert check["CheckID"] == "disk"
    assert check["Status"] == "critical"


def test_imported_copy_is_only_seen_with_peer(client: httpx.Client) -> None:
    _web(client, "n1", "web-1", "passing")
    assert client.get("/v1/health/service/web?peer=cluster-02").json() == []
    assert len(client.get("/v1/health/service/web").json()) == 1
