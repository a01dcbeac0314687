"""What every endpoint shares: bad input, headers, ?pretty, unknown paths, blocking queries."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from consul_sim.world import Cluster, World
from tests.api.conftest import register
from tests.blocking import wait_until_blocked


def _snapshot(client: httpx.Client) -> tuple[object, ...]:
    """Everything a bad request could have changed, as a client sees it."""
    return (
        client.get("/v1/catalog/nodes").json(),
        client.get("/v1/catalog/services").json(),
        client.get("/v1/health/state/any").json(),
        client.get("/v1/catalog/nodes").headers["X-Consul-Index"],
    )


BAD_INPUTS = [
    # (method, path, body, status, exact body)
    ("PUT", "/v1/catalog/register", b"{", 400, "Request decode failed: unexpected EOF"),
    ("PUT", "/v1/catalog/register", b"", 400, "Request decode failed: EOF"),
    (
        "PUT",
        "/v1/catalog/register",
        b"nope",
        400,
        "Request decode failed: invalid character 'o' in literal null (expecting 'u')",
    ),
    (
        "PUT",
        "/v1/catalog/register",
        b'{"Node": 5, "Address": "a"}',
        400,
        "Request decode failed: json: cannot unmarshal number into Go struct field "
        "RegisterRequest.Node of type string",
    ),
    (
        "PUT",
        "/v1/catalog/register",
        b'{"Node": "n", "Address": "a", "Service": {"Service": "w", "Port": "80"}}',
        400,
        "Request decode failed: json: cannot unmarshal string into Go struct field "
        "RegisterRequest.Service.Port of type int",
    ),
    (
        "PUT",
        "/v1/catalog/register",
        b'{"Node": "n", "Address": "a", "Service": {"Service": "w", "Tags": "x"}}',
        400,
        "Request decode failed: json: cannot unmarshal string into Go struct field "
        "RegisterRequest.Service.Tags of type []string",
    ),
    (
        "PUT",
        "/v1/catalog/register",
        b"[]",
        400,
        "Request decode failed: json: cannot unmarshal array into Go value of type "
        "structs.RegisterRequest",
    ),
    ("PUT", "/v1/catalog/register", b'{"Address": "a"}', 500, "Must provide node"),
    (
        "PUT",
        "/v1/catalog/register",
        b'{"Node": "n", "Address": "a", "Datacenter": "dc9"}',
        500,
        "No path to datacenter",
    ),
    (
        "PUT",
        "/v1/catalog/register?dc=dc9",
        b'{"Node": "n", "Address": "a"}',
        500,
        "No path to datacenter",
    ),
    (
        "PUT",
        "/v1/catalog/register",
        b'{"Node": "n", "Address": "a", "Check": {"Name": "c", "Status": "ok"}}',
        500,
        "Invalid check status: 'ok'",
    ),
    (
        "PUT",
        "/v1/catalog/register",
        b'{"Node": "n", "Address": "a", "Service": {"Service": "w", "Address": "0.0.0.0"}}',
        500,
        "Invalid service address",
    ),
    ("PUT", "/v1/catalog/deregister", b"{}", 500, "Must provide node"),
    ("POST", "/v1/catalog/register", b"{}", 405, "method POST not allowed"),
    ("DELETE", "/v1/catalog/services", b"", 405, "method DELETE not allowed"),
    ("GET", "/v1/catalog/nodes?dc=nowhere", b"", 500, "No path to datacenter"),
    ("GET", "/v1/health/service/web?index=abc", b"", 400, "Invalid index"),
    ("GET", "/v1/health/service/web?index=-1", b"", 400, "Invalid index"),
    ("GET", "/v1/health/service/web?wait=xyz", b"", 400, "Invalid wait time"),
    (
        "GET",
        "/v1/catalog/nodes?stale&consistent",
        b"",
        400,
        "Cannot specify ?stale with ?consistent, conflicting semantics.",
    ),
    ("GET", "/v1/catalog/nodes?max_stale=soon", b"", 400, 'Invalid max_stale value "soon"'),
    (
        "GET",
        "/v1/not/an/endpoint",
        b"",
        404,
        "Invalid URL path: not a recognized HTTP API endpoint",
    ),
    (
        "GET",
        "/v1/catalog/nodes?filter=Node%20==",
        b"",
        500,
        "Failed to create boolean expression evaluator: 1:8 (7): no match found, expected: "
        '"-", "0", "\\"", "`", [ \\t\\r\\n], [1-9] or [a-zA-Z]',
    ),
    (
        "GET",
        "/v1/health/service/web?filter=Nope%20==%20x",
        b"",
        500,
        'Failed to create boolean expression evaluator: Selector "Nope" is not valid',
    ),
    (
        "GET",
        "/v1/catalog/service/web?filter=(ServiceName%20==%20web",
        b"",
        500,
        'Failed to create boolean expression evaluator: 1:20 (19): rule "grouping": '
        "Unmatched parentheses",
    ),
]


@pytest.mark.parametrize("method, path, body, status, message", BAD_INPUTS)
def test_bad_input_gets_consuls_status_and_words_and_changes_nothing(
    client: httpx.Client, method: str, path: str, body: bytes, status: int, message: str
) -> None:
    register(client, {"Node": "n0", "Address": "10.0.0.9", "Service": {"Service": "web"}})
    before = _snapshot(client)
    r = client.request(method, path, content=body)
    assert r.status_code == status
    assert r.text == message
    assert "json" not in r.headers.get("Content-Type", "")
    assert _snapshot(client) == before


def test_wrong_method_lists_allowed_methods_options_first(client: httpx.Client) -> None:
    r = client.post("/v1/catalog/nodes")
    assert r.headers["Allow"] == "OPTIONS,GET"
    r = client.request("OPTIONS", "/v1/catalog/register")
    assert (r.status_code, r.text, r.headers["Allow"]) == (200, "", "OPTIONS,PUT")


def test_paths_outside_the_api_get_go_mux_404(client: httpx.Client) -> None:
    r = client.get("/favicon.ico")
    assert (r.status_code, r.text) == (404, "404 page not found\n")


def test_every_read_has_an_index_of_at_least_one(world: World) -> None:
    fresh = world.add_cluster("fresh")
    for path in (
        "/v1/catalog/nodes",
        "/v1/catalog/services",
        "/v1/health/service/none",
        "/v1/catalog/service/none",
        "/v1/health/state/any",
    ):
        r = fresh.client.get(path)
        assert int(r.headers["X-Consul-Index"]) >= 1, path


def test_pretty_indents_with_four_spaces_and_ends_with_newline(client: httpx.Client) -> None:
    r = client.get("/v1/catalog/datacenters?pretty")
    assert r.text == '[\n    "dc1"\n]\n'
    assert client.get("/v1/catalog/datacenters").text == '["dc1"]'


def test_json_escapes_html_characters_like_go(client: httpx.Client) -> None:
    register(client, {"Node": "n1", "Address": "a", "NodeMeta": {"k": "<b>&"}})
    text = client.get("/v1/catalog/nodes?node-meta=k:<b>%26").text
    assert "\\u003cb\\u003e\\u0026" in text
    assert json.loads(text)[0]["Meta"]["k"] == "<b>&"


# -- blocking queries ---------------------------------------------------------------------------
@pytest.mark.slow
def test_blocking_query_returns_when_the_service_changes(world: World, dc1: Cluster) -> None:
    client = dc1.client
    register(client, {"Node": "n1", "Address": "a", "Service": {"Service": "web"}})
    index = int(client.get("/v1/health/service/web").headers["X-Consul-Index"])

    def change() -> None:
        time.sleep(0.2)
        with httpx.Client(transport=client._transport, base_url=client.base_url) as other:
            register(other, {"Node": "n2", "Address": "b", "Service": {"Service": "web"}})

    writer = threading.Thread(target=change)
    writer.start()
    started = time.monotonic()
    r = client.get(f"/v1/health/service/web?index={index}&wait=30s")
    elapsed = time.monotonic() - started
    writer.join()
    assert int(r.headers["X-Consul-Index"]) > index
    assert len(r.json()) == 2
    assert elapsed < 5


@pytest.mark.slow
def test_blocking_query_on_unrelated_write_keeps_waiting(world: World, dc1: Cluster) -> None:
    """A write to another service wakes the watcher but not the answer: it waits on."""
    client = dc1.client
    register(client, {"Node": "n1", "Address": "a", "Service": {"Service": "web"}})
    index = int(client.get("/v1/health/service/web").headers["X-Consul-Index"])
    results: list[httpx.Response] = []

    def blocked() -> None:
        with httpx.Client(transport=client._transport, base_url=client.base_url) as other:
            results.append(other.get(f"/v1/health/service/web?index={index}&wait=60s"))

    reader = threading.Thread(target=blocked)
    reader.start()
    wait_until_blocked(world)
    register(client, {"Node": "n9", "Address": "z", "Service": {"Service": "db"}})
    time.sleep(0.1)
    assert not results, "an unrelated write must not end the blocking query"
    world.advance(61 + 60 / 16)  # virtual time passes the wait and its largest jitter
    reader.join(timeout=5)
    assert results and results[0].status_code == 200
    assert int(results[0].headers["X-Consul-Index"]) == index


@pytest.mark.slow
def test_blocking_query_times_out_on_the_wall_clock() -> None:
    with World(seed=1) as wall:
        cluster = wall.add_cluster("dc1")
        index = int(cluster.client.get("/v1/catalog/nodes").headers["X-Consul-Index"])
        started = time.monotonic()
        r = cluster.client.get(f"/v1/catalog/nodes?index={index}&wait=1s")
        elapsed = time.monotonic() - started
        assert r.status_code == 200
        assert r.headers["X-Consul-Index"] == str(index)
        assert 1.0 <= elapsed < 1.0 + 1 / 16 + 0.5


@pytest.mark.slow
def test_index_ahead_of_the_store_blocks_until_timeout(world: World, dc1: Cluster) -> None:
    results: list[httpx.Response] = []

    def blocked() -> None:
        results.append(dc1.client.get("/v1/catalog/nodes?index=999&wait=10s"))

    reader = threading.Thread(target=blocked)
    reader.start()
    wait_until_blocked(world)
    assert not results
    world.advance(11)
    reader.join(timeout=5)
    assert results[0].status_code == 200


def test_filter_selects_with_consuls_expression_language(client: httpx.Client) -> None:
    register(
        client,
        {
            "Node": "n1",
            "Address": "a",
            "Service": {"ID": "w1", "Service": "web", "Tags": ["v1"], "Port": 80},
        },
    )
    register(
        client,
        {
            "Node": "n2",
            "Address": "b",
            "Service": {"ID": "w2", "Service": "web", "Tags": ["v2"], "Port": 81},
        },
    )
    picked = client.get("/v1/health/service/web", params={"filter": '"v2" in Service.Tags'}).json()
    assert [e["Service"]["ID"] for e in picked] == ["w2"]
    picked = client.get(
        "/v1/catalog/service/web", params={"filter": "ServicePort == 80 or Node == n2"}
    ).json()
    assert [e["ServiceID"] for e in picked] == ["w1", "w2"]
    picked = client.get(
        "/v1/catalog/nodes", params={"filter": 'Node matches "^n[0-9]$" and not (Address == b)'}
    ).json()
    assert [n["Node"] for n in picked] == ["n1"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/health/node/a%0Ab"),
        ("GET", "/v1/catalog/connect/%0Aweb"),
        ("PUT", "/v1/agent/service/deregister/web%0D%0A"),
        ("DELETE", "/v1/connect/intentions/x%09y"),
        ("GET", "/v1/session/info/%C2%A0"),
        ("GET", "/no/such%01path"),
    ],
)
def test_unprintable_path_is_an_empty_400_before_routing(
    client: httpx.Client, method: str, path: str
) -> None:
    """go-cleanhttp's PrintablePathCheckHandler wraps Consul's whole mux: a newline in an ID is
    refused before any route or ``wrap`` sees it (found by the OpenAPI fuzzer as a 404)."""
    r = client.request(method, path)
    assert (r.status_code, r.content) == (400, b"")
    assert "content-type" not in r.headers
    assert "x-consul-default-acl-policy" not in r.headers
