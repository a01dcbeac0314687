"""/v1/catalog, compared with what Consul answers (reference §1 and conformance 1-5)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import register


def test_register_then_list_shows_service_without_peer_name(client: httpx.Client) -> None:
    register(
        client, {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "web", "Port": 80}}
    )
    services = client.get("/v1/catalog/services").json()
    assert services["web"] == []
    [entry] = client.get("/v1/catalog/service/web").json()
    assert entry["ServiceID"] == "web"
    assert entry["ServicePort"] == 80
    assert entry["ServiceTags"] == []
    assert entry["Node"] == "n1"
    assert entry["Datacenter"] == "dc1"
    assert "PeerName" not in entry


def test_register_without_address_is_refused_with_consuls_sentence(client: httpx.Client) -> None:
    r = client.put("/v1/catalog/register", json={"Node": "n1"})
    assert r.status_code == 500
    assert r.text == "Must provide address if SkipNodeUpdate is not set"
    assert client.get("/v1/catalog/node/n1").text == "null"


def test_skip_node_update_on_an_unknown_node_writes_the_node(client: httpx.Client) -> None:
    """ensureRegistrationTxn writes a node it does not find even under SkipNodeUpdate; the Go
    client's own test fixtures register a service that way before its node, in map order."""
    r = client.put(
        "/v1/catalog/register",
        json={"Node": "baz", "SkipNodeUpdate": True, "Service": {"ID": "w2", "Service": "warning"}},
    )
    assert (r.status_code, r.text) == (200, "true")
    node = client.get("/v1/catalog/node/baz").json()
    assert node["Node"]["Address"] == ""
    assert list(node["Services"]) == ["w2"]
    register(client, {"Node": "baz", "Address": "127.0.0.4"})
    node = client.get("/v1/catalog/node/baz").json()
    assert node["Node"]["Address"] == "127.0.0.4"
    assert list(node["Services"]) == ["w2"]


def test_deregister_node_cascades_to_services_and_checks(client: httpx.Client) -> None:
    register(
        client,
        {
            "Node": "n1",
            "Address": "10.0.0.1",
            "Service": {"Service": "web"},
            "Check": {"Name": "web alive", "ServiceID": "web", "Status": "passing"},
        },
    )
    assert len(client.get("/v1/health/checks/web").json()) == 1
    r = client.put("/v1/catalog/deregister", json={"Node": "n1"})
    assert (r.status_code, r.text) == (200, "true")
    r = client.get("/v1/catalog/node/n1")
    assert (r.status_code, r.text) == (200, "null")
    assert client.get("/v1/health/checks/web").json() == []


def test_deregister_service_keeps_node_and_other_services(client: httpx.Client) -> None:
    register(client, {"Node": "n1", "Address": "a", "Service": {"Service": "web"}})
    register(client, {"Node": "n1", "Address": "a", "Service": {"Service": "db"}})
    client.put("/v1/catalog/deregister", json={"Node": "n1", "ServiceID": "web"})
    node = client.get("/v1/catalog/node/n1").json()
    assert list(node["Services"]) == ["db"]


def test_tag_filter_requires_all_tags(client: httpx.Client) -> None:
    register(
        client,
        {
            "Node": "n1",
            "Address": "a",
            "Service": {"ID": "web-1", "Service": "web", "Tags": ["a", "b"]},
        },
    )
    register(
        client,
        {"Node": "n2", "Address": "b", "Service": {"ID": "web-2", "Service": "web", "Tags": ["a"]}},
    )
    both = client.get("/v1/catalog/service/web", params=[("tag", "a"), ("tag", "b")]).json()
    assert [e["ServiceID"] for e in both] == ["web-1"]
    only_a = client.get("/v1/catalog/service/web?tag=a").json()
    assert [e["ServiceID"] for e in only_a] == ["web-1", "web-2"]


def test_service_tags_are_the_union_over_instances(client: httpx.Client) -> None:
    register(
        client,
        {
            "Node": "n1",
            "Address": "a",
            "Service": {"ID": "w1", "Service": "web", "Tags": ["a", "b"]},
        },
    )
    register(
        client,
        {
            "Node": "n2",
            "Address": "b",
            "Service": {"ID": "w2", "Service": "web", "Tags": ["b", "c"]},
        },
    )
    assert sorted(client.get("/v1/catalog/services").json()["web"]) == ["a", "b", "c"]


def test_empty_results_are_empty_arrays(client: httpx.Client) -> None:
    assert client.get("/v1/catalog/service/nope").text == "[]"
    assert client.get("/v1/health/service/nope").text == "[]"


def test_fresh_cluster_looks_like_a_dev_agent(client: httpx.Client) -> None:
    assert client.get("/v1/catalog/datacenters").json() == ["dc1"]
    [node] = client.get("/v1/catalog/nodes").json()
    assert node["Node"] == "dc1-server"
    assert node["TaggedAddresses"]["lan"] == "127.0.0.1"
    assert client.get("/v1/catalog/services").json() == {"consul": []}
    [check] = client.get("/v1/health/node/dc1-server").json()
    assert check["CheckID"] == "serfHealth"
    assert check["Name"] == "Serf Health Status"
    assert check["Status"] == "passing"
    assert check["Output"] == "Agent alive and reachable"


def test_node_meta_query_selects_nodes(client: httpx.Client) -> None:
    register(client, {"Node": "n1", "Address": "a", "NodeMeta": {"env": "prod"}})
    register(client, {"Node": "n2", "Address": "b", "NodeMeta": {"env": "dev"}})
    nodes = client.get("/v1/catalog/nodes?node-meta=env:prod").json()
    assert [n["Node"] for n in nodes] == ["n1"]


def test_reregistering_identical_service_does_not_move_the_index(client: httpx.Client) -> None:
    body = {"Node": "n1", "Address": "a", "Service": {"Service": "web", "Port": 80}}
    register(client, body)
    first = client.get("/v1/catalog/service/web")
    register(client, body)
    second = client.get("/v1/catalog/service/web")
    assert first.headers["X-Consul-Index"] == second.headers["X-Consul-Index"]
    register(client, {**body, "Service": {"Service": "web", "Port": 81}})
    third = client.get("/v1/catalog/service/web")
    assert int(third.headers["X-Consul-Index"]) > int(second.headers["X-Consul-Index"])
    [entry] = third.json()
    assert entry["CreateIndex"] < entry["ModifyIndex"]


def test_catalog_node_lists_services_by_id(client: httpx.Client) -> None:
    register(
        client,
        {"Node": "n1", "Address": "a", "Service": {"ID": "web-1", "Service": "web", "Port": 8080}},
    )
    body = client.get("/v1/catalog/node/n1").json()
    assert body["Node"]["Node"] == "n1"
    svc = body["Services"]["web-1"]
    assert svc["Service"] == "web"
    assert svc["Port"] == 8080
    assert svc["PeerName"] == ""
    assert svc["Proxy"] == {"Mode": "", "MeshGateway": {}, "Expose": {}}


@pytest.mark.parametrize(
    "path, message",
    [
        ("/v1/catalog/service/", "Missing service name"),
        ("/v1/catalog/node/", "Missing node name"),
    ],
)
def test_empty_names_are_bad_requests(client: httpx.Client, path: str, message: str) -> None:
    r = client.get(path)
    assert (r.status_code, r.text) == (400, message)


def test_service_with_id_but_no_name_is_refused(client: httpx.Client) -> None:
    r = client.put(
        "/v1/catalog/register", json={"Node": "n1", "Address": "a", "Service": {"ID": "x"}}
    )
    assert (r.status_code, r.text) == (500, "Must provide service name with ID")
    assert client.get("/v1/catalog/node/n1").text == "null"


def test_check_on_unknown_service_is_refused_and_writes_nothing(client: httpx.Client) -> None:
    r = client.put(
        "/v1/catalog/register",
        json={"Node": "n1", "Address": "a", "Check": {"Name": "c", "ServiceID": "ghost"}},
    )
    assert (r.status_code, r.text) == (500, "Missing service registration")
    assert client.get("/v1/catalog/node/n1").text == "null"


def test_catalog_service_with_peer_returns_only_that_peers_copy(client: httpx.Client) -> None:
    register(client, {"Node": "n1", "Address": "a", "Service": {"Service": "web"}})
    assert client.get("/v1/catalog/service/web?peer=cluster-02").json() == []


def test_connect_endpoints_return_sidecar_proxies_and_native_services(
    client: httpx.Client,
) -> None:
    register(client, {"Node": "n1", "Address": "a", "Service": {"ID": "web-1", "Service": "web"}})
    register(
        client,
        {
            "Node": "n1",
            "Address": "a",
            "Service": {
                "Kind": "connect-proxy",
                "ID": "web-1-sidecar-proxy",
                "Service": "web-sidecar-proxy",
                "Port": 21000,
                "Proxy": {"DestinationServiceName": "web", "DestinationServiceID": "web-1"},
            },
        },
    )
    register(
        client,
        {
            "Node": "n2",
            "Address": "b",
            "Service": {"Service": "api", "Port": 8443, "Connect": {"Native": True}},
        },
    )
    [proxy] = client.get("/v1/catalog/connect/web").json()
    assert (proxy["ServiceKind"], proxy["ServiceID"]) == ("connect-proxy", "web-1-sidecar-proxy")
    [entry] = client.get("/v1/health/connect/web").json()
    assert entry["Service"]["Kind"] == "connect-proxy"
    assert [e["ServiceName"] for e in client.get("/v1/catalog/connect/api").json()] == ["api"]
    assert client.get("/v1/catalog/connect/db").json() == []


def test_node_services_lists_a_nodes_services(client: httpx.Client) -> None:
    """CatalogNodeServiceList (agent/catalog_endpoint.go) answers structs.NodeServiceList:
    services as a list with Tags never null, and for an unknown node the empty value."""
    register(
        client, {"Node": "n1", "Address": "10.0.0.1", "Service": {"ID": "w1", "Service": "web"}}
    )
    r = client.get("/v1/catalog/node-services/n1")
    assert r.status_code == 200
    body = r.json()
    assert body["Node"]["Node"] == "n1"
    assert [(s["ID"], s["Service"], s["Tags"]) for s in body["Services"]] == [("w1", "web", [])]
    assert int(r.headers["X-Consul-Index"]) >= 1
    assert client.get("/v1/catalog/node-services/ghost").json() == {"Node": None, "Services": None}
    missing = client.get("/v1/catalog/node-services/")
    assert (missing.status_code, missing.text) == (400, "Missing node name")


def test_a_cached_read_is_a_miss_then_a_hit_of_age_zero(client: httpx.Client) -> None:
    """``?cached`` goes through the agent cache (CatalogServiceNodes, HealthServiceNodes):
    ``X-Cache: MISS`` the first time a query is asked, then ``HIT`` with ``Age: 0`` (a
    background-refreshed entry); each query (path, parameters, token) is its own entry."""
    register(client, {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "web"}})
    for path in ("/v1/catalog/service/web", "/v1/health/service/web"):
        first = client.get(path, params={"cached": ""})
        assert (first.status_code, first.headers["X-Cache"]) == (200, "MISS")
        assert "Age" not in first.headers
        again = client.get(path, params={"cached": ""})
        assert (again.headers["X-Cache"], again.headers["Age"]) == ("HIT", "0")
        assert again.json() == first.json()
        tagged = client.get(path, params={"cached": "", "tag": "x"})
        assert (tagged.headers["X-Cache"], tagged.json()) == ("MISS", [])
        assert "X-Cache" not in client.get(path).headers
