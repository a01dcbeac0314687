"""ACL mode on catalog, health and agent endpoints: silent filtering, the filtered header, 403s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consul_sim.world import Cluster, World

ANON_HINT = " The anonymous token is used implicitly when a request does not specify a token."
FILTERED = "X-Consul-Results-Filtered-By-ACLs"


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=21)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def deny(world: World) -> Cluster:
    cluster = world.add_cluster("dc1", acl_default_policy="deny")
    admin = {"X-Consul-Token": cluster.acl.management_token}
    for node, svc in (("n1", "web"), ("n2", "db")):
        body = {"Node": node, "Address": "10.0.0.1", "Service": {"Service": svc, "Port": 80}}
        assert (
            cluster.client.put("/v1/catalog/register", json=body, headers=admin).status_code == 200
        )
    return cluster


def hdr(secret: str) -> dict[str, str]:
    return {"X-Consul-Token": secret}


def test_catalog_reads_drop_what_the_token_cannot_read_and_say_so(deny: Cluster) -> None:
    _, secret = deny.acl.create_token({"node:n1": "read", "service:web": "read"})
    r = deny.client.get("/v1/catalog/nodes", headers=hdr(secret))
    assert [n["Node"] for n in r.json()] == ["n1"]
    assert r.headers[FILTERED] == "true"
    r = deny.client.get("/v1/catalog/services", headers=hdr(secret))
    assert (r.status_code, r.json(), r.headers[FILTERED]) == (200, {"web": []}, "true")
    r = deny.client.get("/v1/health/service/web", headers=hdr(secret))
    assert [c["Node"]["Node"] for c in r.json()] == ["n1"]
    assert FILTERED not in r.headers


def test_anonymous_reads_are_filtered_without_the_header(deny: Cluster) -> None:
    r = deny.client.get("/v1/catalog/services")
    assert (r.status_code, r.json()) == (200, {})
    assert FILTERED not in r.headers
    assert deny.client.get("/v1/health/service/web").json() == []


def test_catalog_node_the_token_cannot_read_is_null(deny: Cluster) -> None:
    _, secret = deny.acl.create_token({"service:web": "read"})
    r = deny.client.get("/v1/catalog/node/n1", headers=hdr(secret))
    assert (r.status_code, r.text, r.headers[FILTERED]) == (200, "null", "true")


def test_health_checks_need_node_and_service_read(deny: Cluster) -> None:
    admin = hdr(deny.acl.management_token)
    check = {"Node": "n1", "Address": "10.0.0.1", "Check": {"Name": "disk", "Status": "passing"}}
    deny.client.put("/v1/catalog/register", json=check, headers=admin)
    _, secret = deny.acl.create_token({"service:web": "read"})
    r = deny.client.get("/v1/health/state/any", headers=hdr(secret))
    assert (r.json(), r.headers[FILTERED]) == ([], "true")
    _, both = deny.acl.create_token({"node:n1": "read"})
    assert [
        c["CheckID"] for c in deny.client.get("/v1/health/node/n1", headers=hdr(both)).json()
    ] == ["disk"]


def test_catalog_register_needs_node_write_for_a_new_node(deny: Cluster) -> None:
    _, secret = deny.acl.create_token({"service:api": "write"})
    body = {"Node": "n3", "Address": "10.0.0.3", "Service": {"Service": "api"}}
    r = deny.client.put("/v1/catalog/register", json=body, headers=hdr(secret))
    assert r.status_code == 403
    assert "lacks permission 'node:write' on \"n3\"" in r.text


def test_service_update_on_a_known_node_needs_no_node_write(deny: Cluster) -> None:
    _, secret = deny.acl.create_token({"service:web": "write"})
    body = {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "web", "Port": 81}}
    r = deny.client.put("/v1/catalog/register", json=body, headers=hdr(secret))
    assert (r.status_code, r.text) == (200, "true")


def test_catalog_register_without_service_write_is_refused(deny: Cluster) -> None:
    r = deny.client.put(
        "/v1/catalog/register",
        json={"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "web"}},
    )
    assert r.status_code == 403
    assert r.text == (
        "Permission denied: anonymous token lacks permission 'service:write' on \"web\"."
        + ANON_HINT
    )


def test_catalog_deregister_takes_node_write_or_the_service_write(deny: Cluster) -> None:
    _, web = deny.acl.create_token({"service:web": "write"})
    r = deny.client.put(
        "/v1/catalog/deregister", json={"Node": "n2", "ServiceID": "db"}, headers=hdr(web)
    )
    assert r.status_code == 403
    r = deny.client.put(
        "/v1/catalog/deregister", json={"Node": "n1", "ServiceID": "web"}, headers=hdr(web)
    )
    assert (r.status_code, r.text) == (200, "true")
    _, node = deny.acl.create_token({"node:n2": "write"})
    r = deny.client.put("/v1/catalog/deregister", json={"Node": "n2"}, headers=hdr(node))
    assert (r.status_code, r.text) == (200, "true")
    nodes = deny.client.get("/v1/catalog/nodes", headers=hdr(deny.acl.management_token)).json()
    assert [n["Node"] for n in nodes] == ["dc1-server", "n1"]


def test_connect_lookup_for_an_unreadable_service_is_empty(deny: Cluster) -> None:
    r = deny.client.get("/v1/health/connect/web")
    assert (r.status_code, r.json(), r.headers["X-Consul-Index"]) == (200, [], "1")


def test_agent_self_needs_agent_read(deny: Cluster) -> None:
    r = deny.client.get("/v1/agent/self")
    assert r.status_code == 403
    assert f"lacks permission 'agent:read' on \"{deny.node_name}\"" in r.text
    _, secret = deny.acl.create_token({"agent:*": "read"})
    assert deny.client.get("/v1/agent/self", headers=hdr(secret)).status_code == 200


def test_agent_services_and_checks_are_filtered(deny: Cluster) -> None:
    admin = hdr(deny.acl.management_token)
    for name in ("web", "db"):
        body = {"Name": name, "Check": {"TTL": "30s"}}
        assert (
            deny.client.put("/v1/agent/service/register", json=body, headers=admin).status_code
            == 200
        )
    _, secret = deny.acl.create_token({"service:web": "read"})
    r = deny.client.get("/v1/agent/services", headers=hdr(secret))
    assert (list(r.json()), r.headers[FILTERED]) == (["web"], "true")
    r = deny.client.get("/v1/agent/checks", headers=hdr(secret))
    assert (list(r.json()), r.headers[FILTERED]) == (["service:web"], "true")


def test_ttl_update_needs_write_on_the_checks_service(deny: Cluster) -> None:
    admin = hdr(deny.acl.management_token)
    deny.client.put(
        "/v1/agent/service/register", json={"Name": "web", "Check": {"TTL": "30s"}}, headers=admin
    )
    _, reader = deny.acl.create_token({"service:web": "read"})
    r = deny.client.put("/v1/agent/check/pass/service:web", headers=hdr(reader))
    assert r.status_code == 403
    assert "lacks permission 'service:write' on \"web\"" in r.text
    _, writer = deny.acl.create_token({"service:web": "write"})
    assert (
        deny.client.put("/v1/agent/check/pass/service:web", headers=hdr(writer)).status_code == 200
    )


def test_node_maintenance_needs_node_write(deny: Cluster) -> None:
    r = deny.client.put("/v1/agent/maintenance", params={"enable": "true"})
    assert r.status_code == 403
    assert f"lacks permission 'node:write' on \"{deny.node_name}\"" in r.text


def test_members_are_filtered_by_node_read(deny: Cluster) -> None:
    _, secret = deny.acl.create_token({"service:web": "read"})
    r = deny.client.get("/v1/agent/members", headers=hdr(secret))
    assert (r.json(), r.headers[FILTERED]) == ([], "true")


def test_status_needs_no_token(deny: Cluster) -> None:
    r = deny.client.get("/v1/status/leader")
    assert (r.status_code, r.json()) == (200, "127.0.0.1:8300")
    r = deny.client.get("/v1/status/peers")
    assert (r.status_code, r.json()) == (200, ["127.0.0.1:8300"])


# -- version and local service health (ACLs off) -------------------------------------------------
def test_agent_version_shape(world: World) -> None:
    cluster = world.add_cluster("dc1")
    assert set(cluster.client.get("/v1/agent/version").json()) == {
        "SHA",
        "BuildDate",
        "HumanVersion",
        "FIPS",
    }


def test_agent_service_health_codes_follow_the_worst_check(world: World) -> None:
    cluster = world.add_cluster("dc1")
    client = cluster.client
    client.put(
        "/v1/agent/service/register", json={"Name": "web", "ID": "w1", "Check": {"TTL": "30s"}}
    )
    client.put(
        "/v1/agent/service/register", json={"Name": "web", "ID": "w2", "Check": {"TTL": "30s"}}
    )
    client.put("/v1/agent/check/pass/service:w1")
    r = client.get("/v1/agent/health/service/id/w1")
    assert (r.status_code, r.json()["AggregatedStatus"], r.headers["X-Consul-Reason"]) == (
        200,
        "passing",
        "passing",
    )
    r = client.get("/v1/agent/health/service/name/web", params={"format": "text"})
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (503, "critical", "text/plain")
    client.put("/v1/agent/check/warn/service:w2")
    assert client.get("/v1/agent/health/service/name/web").status_code == 429
    r = client.get("/v1/agent/health/service/id/nope")
    assert (r.status_code, r.json()) == (
        404,
        {"AggregatedStatus": "critical", "Service": None, "Checks": None},
    )
    r = client.get("/v1/agent/health/service/name/nope", params={"format": "text"})
    assert (r.status_code, r.text) == (404, "ServiceName nope Not Found")
