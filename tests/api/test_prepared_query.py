"""/v1/query over HTTP: definitions, validation, execution, failover to a peer's imported data.

Numbers in docstrings refer to the conformance list of catalog-health-replication.md (§9); §8
describes the endpoints.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from consul_sim.catalog import prepared
from consul_sim.world import Cluster, World
from tests.api.conftest import register

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
META = {
    "Index": 0,
    "LastContact": 0,
    "KnownLeader": True,
    "ConsistencyLevel": "leader",
    "NotModified": False,
    "Backend": 0,
    "ResultsFilteredByACLs": False,
}


def create(client: httpx.Client, body: dict[str, Any]) -> str:
    r = client.post("/v1/query", json=body)
    assert r.status_code == 200, r.text
    query_id: str = r.json()["ID"]
    assert UUID.match(query_id)
    return query_id


def instance(
    client: httpx.Client,
    node: str,
    sid: str,
    status: str = "passing",
    *,
    tags: list[str] | None = None,
    node_meta: dict[str, str] | None = None,
    service_meta: dict[str, str] | None = None,
    service: str = "web",
) -> None:
    register(
        client,
        {
            "Node": node,
            "Address": "10.0.0.1",
            "NodeMeta": node_meta or {},
            "Service": {
                "ID": sid,
                "Service": service,
                "Tags": tags or [],
                "Meta": service_meta or {},
            },
            "Check": {"CheckID": f"{sid}-check", "Name": "c", "ServiceID": sid, "Status": status},
        },
    )


def execute(client: httpx.Client, query: str, **params: str) -> dict[str, Any]:
    r = client.get(f"/v1/query/{query}/execute", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def service_ids(body: dict[str, Any]) -> list[str]:
    return sorted(n["Service"]["ID"] for n in body["Nodes"])


# -- 38: failover to a peer's imported instances ---------------------------------------------
@pytest.fixture
def peered(world: World) -> Iterator[tuple[Cluster, Cluster]]:
    """cluster-01 exports ``web`` to cluster-02, which names its peering ``cluster-01``."""
    a, b = world.add_cluster("cluster-01"), world.add_cluster("cluster-02")
    r = a.client.post("/v1/peering/token", json={"PeerName": "cluster-02"})
    token = r.json()["PeeringToken"]
    r = b.client.post(
        "/v1/peering/establish", json={"PeerName": "cluster-01", "PeeringToken": token}
    )
    assert r.status_code == 200, r.text
    instance(a.client, "a-node", "web-a1")
    instance(a.client, "a-node", "web-a2")
    r = a.client.put(
        "/v1/config",
        json={
            "Kind": "exported-services",
            "Name": "default",
            "Services": [{"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}],
        },
    )
    assert (r.status_code, r.text) == (200, "true")
    world.settle()
    imported = b.client.get("/v1/health/service/web", params={"peer": "cluster-01"}).json()
    assert sorted(e["Service"]["ID"] for e in imported) == ["web-a1", "web-a2"]
    yield a, b


FAILOVER_TO_A = {
    "Name": "web-q",
    "Service": {"Service": "web", "Failover": {"Targets": [{"Peer": "cluster-01"}]}},
}


def test_execute_fails_over_to_the_peers_imported_instances(
    peered: tuple[Cluster, Cluster],
) -> None:
    """38: no healthy local ``web`` -> the instances imported from the peer, stamped with it."""
    _, b = peered
    instance(b.client, "b-node", "web-b1", "critical")
    create(b.client, FAILOVER_TO_A)
    body = execute(b.client, "web-q")
    assert service_ids(body) == ["web-a1", "web-a2"]
    assert (body["PeerName"], body["Datacenter"], body["Failovers"]) == ("cluster-01", "", 1)
    assert {n["Service"]["PeerName"] for n in body["Nodes"]} == {"cluster-01"}
    assert {n["Node"]["Datacenter"] for n in body["Nodes"]} == {"cluster-01"}


def test_execute_answers_locally_when_a_local_instance_is_healthy(
    peered: tuple[Cluster, Cluster],
) -> None:
    """38: a healthy local instance means no failover and the local datacenter."""
    _, b = peered
    instance(b.client, "b-node", "web-b1")
    create(b.client, FAILOVER_TO_A)
    body = execute(b.client, "web-q")
    assert service_ids(body) == ["web-b1"]
    assert (body["PeerName"], body["Datacenter"], body["Failovers"]) == ("", "cluster-02", 0)


def test_peer_failover_applies_the_query_filters(peered: tuple[Cluster, Cluster]) -> None:
    _, b = peered
    create(
        b.client,
        {
            "Name": "v9",
            "Service": {
                "Service": "web",
                "Tags": ["v9"],
                "Failover": {"Targets": [{"Peer": "cluster-01"}]},
            },
        },
    )
    body = execute(b.client, "v9")
    assert (body["Nodes"], body["PeerName"], body["Failovers"]) == ([], "cluster-01", 1)


def test_query_bound_to_a_peer_answers_from_its_imported_data(
    peered: tuple[Cluster, Cluster],
) -> None:
    _, b = peered
    create(b.client, {"Name": "remote-web", "Service": {"Service": "web", "Peer": "cluster-01"}})
    body = execute(b.client, "remote-web", limit="1")
    assert len(body["Nodes"]) == 1
    assert (body["PeerName"], body["Datacenter"], body["Failovers"]) == ("cluster-01", "", 0)


# -- failover order and skipped datacenters ---------------------------------------------------
def test_datacenter_targets_are_skipped_and_peer_targets_counted(client: httpx.Client) -> None:
    """Without WAN federation no datacenter is known, so only peer targets are tried."""
    create(
        client,
        {
            "Name": "q",
            "Service": {
                "Service": "web",
                "Failover": {
                    "Targets": [{"Datacenter": "dc2"}, {"Peer": "nobody"}, {"Datacenter": "dc1"}]
                },
            },
        },
    )
    body = execute(client, "q")
    assert (body["Nodes"], body["Failovers"]) == ([], 1)
    assert (body["Datacenter"], body["PeerName"]) == ("", "nobody")


def test_empty_answer_without_targets_has_empty_nodes_and_no_failovers(
    client: httpx.Client,
) -> None:
    create(client, {"Name": "q", "Service": {"Service": "web", "Failover": {"NearestN": 3}}})
    r = client.get("/v1/query/q/execute")
    assert r.status_code == 200
    assert r.json() == {
        "Service": "web",
        "Nodes": [],
        "DNS": {"TTL": ""},
        "Datacenter": "dc1",
        "PeerName": "",
        "Failovers": 0,
        **META,
    }
    assert r.headers["X-Consul-Index"] == "1"
    assert r.headers["X-Consul-Effective-Consistency"] == "leader"
    assert r.headers["X-Consul-Query-Backend"] == "blocking-query"


# -- 39 and other bad input --------------------------------------------------------------------
def test_targets_with_nearest_n_are_refused(client: httpx.Client) -> None:
    """39."""
    body = {
        "Name": "q",
        "Service": {
            "Service": "web",
            "Failover": {"NearestN": 1, "Targets": [{"Peer": "cluster-01"}]},
        },
    }
    r = client.post("/v1/query", json=body)
    assert (r.status_code, r.text) == (
        500,
        "Invalid prepared query: Targets cannot be populated with NearestN or Datacenters",
    )
    assert client.get("/v1/query").json() == []


def test_executing_an_unknown_query_is_404_query_not_found(client: httpx.Client) -> None:
    """39."""
    for path in ("/v1/query/nope/execute", "/v1/query/nope/explain"):
        r = client.get(path)
        assert (r.status_code, r.text) == (404, "Query not found")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"Service": {"Service": "web"}}, "Invalid prepared query: Must be bound to a session"),
        ({"Name": "q"}, "Invalid prepared query: Must provide a Service name to query"),
        (
            {"Name": "q", "Service": {"Service": "web", "Failover": {"NearestN": -1}}},
            "Invalid prepared query: Bad NearestN '-1', must be >= 0",
        ),
        (
            {
                "Name": "q",
                "Service": {
                    "Service": "web",
                    "Failover": {"Datacenters": ["dc2"], "Targets": [{"Peer": "p"}]},
                },
            },
            "Invalid prepared query: Targets cannot be populated with NearestN or Datacenters",
        ),
        (
            {"Name": "q", "Service": {"Service": "web"}, "DNS": {"TTL": "soon"}},
            "Invalid prepared query: Bad DNS TTL 'soon': time: invalid duration \"soon\"",
        ),
        (
            {"Name": "q", "Token": "<hidden>", "Service": {"Service": "web"}},
            "Invalid prepared query: Bad Token '<hidden>', it looks like a query definition "
            "with a redacted token was submitted",
        ),
        (
            {"ID": "x", "Name": "q", "Service": {"Service": "web"}},
            "ID must be empty when creating a new prepared query",
        ),
        (
            {"Name": "q", "Service": {"Service": "web"}, "Template": {"Type": "regexp"}},
            "raft apply failed: failed compiling template: Bad Template.Type 'regexp'",
        ),
    ],
)
def test_invalid_definitions_are_500_with_consuls_sentence(
    client: httpx.Client, body: dict[str, Any], message: str
) -> None:
    r = client.post("/v1/query", json=body)
    assert (r.status_code, r.text) == (500, message)


def test_names_are_unique_ignoring_case(client: httpx.Client) -> None:
    create(client, {"Name": "web-q", "Service": {"Service": "web"}})
    r = client.post("/v1/query", json={"Name": "WEB-Q", "Service": {"Service": "web"}})
    assert (r.status_code, r.text) == (
        500,
        "raft apply failed: name 'WEB-Q' aliases an existing query name",
    )


def test_a_name_may_not_alias_another_querys_id(client: httpx.Client) -> None:
    other = create(client, {"Name": "a", "Service": {"Service": "web"}})
    r = client.post("/v1/query", json={"Name": other, "Service": {"Service": "web"}})
    assert (r.status_code, r.text) == (
        500,
        f"raft apply failed: name '{other}' aliases an existing query ID",
    )


def test_bad_bodies_are_400_request_decode_failed(client: httpx.Client) -> None:
    r = client.post("/v1/query", content=b"{")
    assert (r.status_code, r.text) == (400, "Request decode failed: unexpected EOF")
    r = client.post("/v1/query", json={"Name": "q", "Service": {"Failover": {"NearestN": "1"}}})
    assert (r.status_code, r.text) == (
        400,
        "Request decode failed: json: cannot unmarshal string into Go struct field "
        "PreparedQuery.Service.Failover.NearestN of type int",
    )


def test_bad_limit_is_500(client: httpx.Client) -> None:
    create(client, {"Name": "q", "Service": {"Service": "web"}})
    r = client.get("/v1/query/q/execute", params={"limit": "abc"})
    assert (r.status_code, r.text) == (
        500,
        'Bad limit: strconv.Atoi: parsing "abc": invalid syntax',
    )


def test_methods_are_guarded_per_path(client: httpx.Client) -> None:
    r = client.put("/v1/query")
    assert (r.status_code, r.text, r.headers["Allow"]) == (
        405,
        "method PUT not allowed",
        "OPTIONS,GET,POST",
    )
    r = client.post("/v1/query/q/execute")
    assert (r.status_code, r.headers["Allow"]) == (405, "OPTIONS,GET")
    r = client.options("/v1/query/q")
    assert (r.status_code, r.headers["Allow"]) == (200, "OPTIONS,GET,PUT,DELETE")


# -- CRUD ----------------------------------------------------------------------------------------
def test_create_get_update_delete_round_trip(client: httpx.Client) -> None:
    definition = {
        "Name": "web-q",
        "Service": {
            "Service": "web",
            "Tags": ["v1", "!canary"],
            "Failover": {"Targets": [{"Peer": "cluster-a"}, {"Datacenter": "dc2"}]},
        },
        "DNS": {"TTL": "10s"},
    }
    query_id = create(client, definition)
    r = client.get(f"/v1/query/{query_id}")
    assert r.status_code == 200
    [stored] = r.json()
    assert stored == {
        "ID": query_id,
        "Name": "web-q",
        "Session": "",
        "Token": "",
        "Template": {"Type": "", "Regexp": "", "RemoveEmptyTags": False},
        "Service": {
            "Service": "web",
            "SamenessGroup": "",
            "Failover": {
                "NearestN": 0,
                "Datacenters": None,
                "Targets": [
                    {"Peer": "cluster-a", "Datacenter": ""},
                    {"Peer": "", "Datacenter": "dc2"},
                ],
            },
            "OnlyPassing": False,
            "IgnoreCheckIDs": None,
            "Near": "",
            "Tags": ["v1", "!canary"],
            "NodeMeta": None,
            "ServiceMeta": None,
            "Connect": False,
            "Peer": "",
        },
        "DNS": {"TTL": "10s"},
        "CreateIndex": stored["CreateIndex"],
        "ModifyIndex": stored["CreateIndex"],
    }
    assert r.headers["X-Consul-Index"] == str(stored["ModifyIndex"])

    r = client.put(f"/v1/query/{query_id}", json={"Name": "web-q2", "Service": {"Service": "api"}})
    assert (r.status_code, r.text) == (200, "")
    [updated] = client.get(f"/v1/query/{query_id}").json()
    assert (updated["Name"], updated["Service"]["Service"]) == ("web-q2", "api")
    assert updated["CreateIndex"] == stored["CreateIndex"]
    assert updated["ModifyIndex"] > stored["ModifyIndex"]
    assert [q["ID"] for q in client.get("/v1/query").json()] == [query_id]

    r = client.delete(f"/v1/query/{query_id}")
    assert (r.status_code, r.text) == (200, "")
    r = client.get(f"/v1/query/{query_id}")
    assert (r.status_code, r.text) == (404, "Query not found")
    r = client.get("/v1/query")
    assert r.json() == []
    assert int(r.headers["X-Consul-Index"]) > updated["ModifyIndex"]


def test_changing_a_missing_query_is_500(client: httpx.Client) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    body = {"Name": "q", "Service": {"Service": "web"}}
    for r in (client.put(f"/v1/query/{missing}", json=body), client.delete(f"/v1/query/{missing}")):
        assert (r.status_code, r.text) == (
            500,
            f"Cannot modify non-existent prepared query: '{missing}'",
        )


def test_ids_go_through_a_uuid_index(client: httpx.Client) -> None:
    """GET takes only IDs; one that is not a UUID is a lookup error, not a miss."""
    create(client, {"Name": "web-q", "Service": {"Service": "web"}})
    r = client.get("/v1/query/web-q")
    assert (r.status_code, r.text) == (
        500,
        "failed prepared query lookup: UUID must be 36 characters",
    )
    r = client.get("/v1/query/0000000z-0000-4000-8000-000000000000")
    assert (r.status_code, r.text) == (
        500,
        "failed prepared query lookup: Invalid UUID: encoding/hex: invalid byte: U+007A 'z'",
    )


def test_update_with_no_body_clears_the_definition(client: httpx.Client) -> None:
    query_id = create(client, {"Name": "q", "Service": {"Service": "web"}})
    r = client.put(f"/v1/query/{query_id}")
    assert (r.status_code, r.text) == (500, "Invalid prepared query: Must be bound to a session")


def test_ids_are_reproducible_from_the_seed() -> None:
    ids = []
    for _ in range(2):
        with World(clock="virtual", seed=99) as w:
            ids.append(
                create(w.add_cluster("dc1").client, {"Name": "q", "Service": {"Service": "x"}})
            )
    assert ids[0] == ids[1]


def test_list_blocks_until_a_query_is_written(world: World, dc1: Cluster) -> None:
    client = dc1.client
    index = int(client.get("/v1/query").headers["X-Consul-Index"])
    results: list[httpx.Response] = []
    reader = threading.Thread(
        target=lambda: results.append(
            client.get("/v1/query", params={"index": index, "wait": "5m"})
        )
    )
    reader.start()
    prepared.create(
        dc1.store, dc1.rand, prepared.decode_definition({"Name": "q", "Service": {"Service": "w"}})
    )
    reader.join(timeout=10)
    assert not reader.is_alive()
    [r] = results
    assert int(r.headers["X-Consul-Index"]) > index
    assert [q["Name"] for q in r.json()] == ["q"]


# -- local filtering, limit, order ---------------------------------------------------------------
def test_critical_instances_are_dropped_and_warning_kept(client: httpx.Client) -> None:
    instance(client, "n1", "web-1", "passing")
    instance(client, "n2", "web-2", "warning")
    instance(client, "n3", "web-3", "critical")
    create(client, {"Name": "any", "Service": {"Service": "web"}})
    create(client, {"Name": "strict", "Service": {"Service": "web", "OnlyPassing": True}})
    create(
        client,
        {"Name": "ignoring", "Service": {"Service": "web", "IgnoreCheckIDs": ["web-3-check"]}},
    )
    assert service_ids(execute(client, "any")) == ["web-1", "web-2"]
    assert service_ids(execute(client, "strict")) == ["web-1"]
    assert service_ids(execute(client, "ignoring")) == ["web-1", "web-2", "web-3"]


def test_tags_match_ignoring_case_and_bang_excludes(client: httpx.Client) -> None:
    instance(client, "n1", "web-1", tags=["V1"])
    instance(client, "n2", "web-2", tags=["v1", "Canary"])
    instance(client, "n3", "web-3", tags=["v2"])
    create(client, {"Name": "q", "Service": {"Service": "web", "Tags": ["v1", "!canary"]}})
    assert service_ids(execute(client, "q")) == ["web-1"]


def test_node_and_service_meta_must_all_match(client: httpx.Client) -> None:
    instance(client, "n1", "web-1", node_meta={"rack": "a"}, service_meta={"ver": "1"})
    instance(client, "n2", "web-2", node_meta={"rack": "a"}, service_meta={"ver": "2"})
    instance(client, "n3", "web-3", node_meta={"rack": "b"}, service_meta={"ver": "1"})
    create(
        client,
        {
            "Name": "q",
            "Service": {"Service": "web", "NodeMeta": {"rack": "a"}, "ServiceMeta": {"ver": "1"}},
        },
    )
    assert service_ids(execute(client, "q")) == ["web-1"]


def test_limit_trims_and_order_is_a_seeded_shuffle(client: httpx.Client) -> None:
    for i in range(8):
        instance(client, f"n{i}", f"web-{i}")
    create(client, {"Name": "q", "Service": {"Service": "web"}})
    assert len(execute(client, "q", limit="3")["Nodes"]) == 3
    assert len(execute(client, "q", limit="-1")["Nodes"]) == 8
    orders = {tuple(service_ids_in_order(execute(client, "q"))) for _ in range(5)}
    assert len(orders) > 1


def service_ids_in_order(body: dict[str, Any]) -> list[str]:
    return [n["Service"]["ID"] for n in body["Nodes"]]


def test_the_same_seed_gives_the_same_order() -> None:
    orders = []
    for _ in range(2):
        with World(clock="virtual", seed=5) as w:
            client = w.add_cluster("dc1").client
            for i in range(8):
                instance(client, f"n{i}", f"web-{i}")
            create(client, {"Name": "q", "Service": {"Service": "web"}})
            orders.append(service_ids_in_order(execute(client, "q")))
    assert orders[0] == orders[1]


def test_near_moves_the_named_node_first(client: httpx.Client) -> None:
    for i in range(6):
        instance(client, f"n{i}", f"web-{i}")
    create(client, {"Name": "q", "Service": {"Service": "web"}})
    for _ in range(5):
        assert execute(client, "q", near="n4")["Nodes"][0]["Node"]["Node"] == "n4"


def test_execute_by_id_and_by_name_ignoring_case(client: httpx.Client) -> None:
    instance(client, "n1", "web-1")
    query_id = create(client, {"Name": "Web-Q", "Service": {"Service": "web"}})
    assert service_ids(execute(client, query_id)) == ["web-1"]
    assert service_ids(execute(client, "web-q")) == ["web-1"]


# -- explain and templates -----------------------------------------------------------------------
def test_explain_shows_the_resolved_query_with_query_meta(client: httpx.Client) -> None:
    query_id = create(client, {"Name": "q", "Service": {"Service": "web"}})
    r = client.get("/v1/query/q/explain", params={"stale": ""})
    assert r.status_code == 200
    body = r.json()
    assert body["Query"]["ID"] == query_id
    assert {k: body[k] for k in META} == {**META, "ConsistencyLevel": "stale"}


def test_a_name_prefix_template_renders_the_suffix(client: httpx.Client) -> None:
    instance(client, "n1", "api-1", service="api")
    create(
        client,
        {
            "Name": "geo-",
            "Template": {"Type": "name_prefix_match"},
            "Service": {"Service": "${name.suffix}"},
        },
    )
    assert client.get("/v1/query/geo-api/explain").json()["Query"]["Service"]["Service"] == "api"
    body = execute(client, "geo-api")
    assert (body["Service"], service_ids(body)) == ("api", ["api-1"])


def test_query_bound_to_a_live_session_is_created_and_an_unknown_one_is_refused(
    client: httpx.Client,
) -> None:
    session = client.put("/v1/session/create", json={"Name": "owner"}).json()["ID"]
    r = client.post("/v1/query", json={"Session": session, "Service": {"Service": "web"}})
    assert r.status_code == 200, r.text
    [query] = client.get(f"/v1/query/{r.json()['ID']}").json()
    assert query["Session"] == session
    ghost = "11111111-2222-3333-4444-555555555555"
    r = client.post("/v1/query", json={"Session": ghost, "Service": {"Service": "web"}})
    assert (r.status_code, r.text) == (500, f'raft apply failed: invalid session "{ghost}"')


def test_a_template_regexp_captures_groups_with_gos_regexp(client: httpx.Client) -> None:
    instance(client, "n1", "api-1", service="api")
    create(
        client,
        {
            "Name": "geo-",
            "Template": {"Type": "name_prefix_match", "Regexp": r"^geo-(\p{L}+)-(x)?"},
            "Service": {"Service": "${match(1)}"},
        },
    )
    # \p{L} is Go (RE2) syntax Python's re refuses; an unmatched group renders as "".
    assert client.get("/v1/query/geo-api-eu/explain").json()["Query"]["Service"]["Service"] == (
        "api"
    )


def test_a_template_regexp_go_refuses_gets_gos_parse_error(client: httpx.Client) -> None:
    r = client.post(
        "/v1/query",
        json={
            "Name": "geo-",
            "Template": {"Type": "name_prefix_match", "Regexp": "(geo"},
            "Service": {"Service": "${name.suffix}"},
        },
    )
    assert (r.status_code, r.text) == (
        500,
        "raft apply failed: failed compiling template: Bad Regexp: "
        "error parsing regexp: missing closing ): `(geo`",
    )
    assert client.get("/v1/query").json() == []


def test_a_backtracking_template_regexp_runs_in_linear_time(client: httpx.Client) -> None:
    """Go's regexp never backtracks; a name of 20,000 characters is one linear scan."""
    create(
        client,
        {
            "Name": "a",
            "Template": {"Type": "name_prefix_match", "Regexp": "^(a+)+$"},
            "Service": {"Service": "${match(1)}"},
        },
    )
    name = "a" * 20_000 + "!"
    r = client.get(f"/v1/query/{name}/explain")
    assert r.status_code == 200
    # no match: ${match(1)} renders empty, so the service name falls back to ""
    assert r.json()["Query"]["Service"]["Service"] == ""
