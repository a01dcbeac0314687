"""/v1/session and KV locks: sessions' shape, validation, TTLs, invalidation and KV ACLs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from consul_sim.world import Cluster, World
from tests.blocking import wait_until_blocked

ANON_HINT = " The anonymous token is used implicitly when a request does not specify a token."


def create(client: httpx.Client, body: object | None = None, **kw: str) -> str:
    r = client.put("/v1/session/create", json=body, headers=kw or None)
    assert r.status_code == 200, r.text
    session_id = r.json()["ID"]
    assert isinstance(session_id, str)
    return session_id


def kv(client: httpx.Client, key: str) -> dict[str, object]:
    r = client.get(f"/v1/kv/{key}")
    assert r.status_code == 200, r.text
    found = r.json()[0]
    assert isinstance(found, dict)
    return found


def acquire(client: httpx.Client, key: str, session: str, value: bytes = b"v") -> str:
    r = client.put(f"/v1/kv/{key}?acquire={session}", content=value)
    assert r.status_code == 200, r.text
    return r.text


def sessions(client: httpx.Client) -> list[str]:
    return [s["ID"] for s in client.get("/v1/session/list").json()]


# -- shape and reads ------------------------------------------------------------------------------
def test_create_defaults_to_the_agent_node_serf_check_and_release(client: httpx.Client) -> None:
    session_id = create(client, {"Name": "lock"})
    r = client.get(f"/v1/session/info/{session_id}")
    assert r.status_code == 200
    index = int(r.headers["X-Consul-Index"])
    assert r.json() == [
        {
            "ID": session_id,
            "Name": "lock",
            "Node": "dc1-server",
            "LockDelay": 15_000_000_000,
            "Behavior": "release",
            "TTL": "",
            "NodeChecks": ["serfHealth"],
            "ServiceChecks": None,
            "CreateIndex": index,
            "ModifyIndex": index,
        }
    ]


def test_create_without_a_body_uses_the_defaults(client: httpx.Client) -> None:
    r = client.put("/v1/session/create")
    assert r.status_code == 200
    (found,) = client.get(f"/v1/session/info/{r.json()['ID']}").json()
    assert (found["Name"], found["Node"], found["NodeChecks"]) == ("", "dc1-server", ["serfHealth"])


def test_session_ids_replay_with_the_seed() -> None:
    def first_id() -> str:
        with World(clock="virtual", seed=9) as world:
            return create(world.add_cluster("dc1").client)

    assert first_id() == first_id()


def test_info_of_an_unknown_session_is_an_empty_list(client: httpx.Client) -> None:
    r = client.get("/v1/session/info/00000000-0000-0000-0000-000000000000")
    assert (r.status_code, r.json()) == (200, [])
    assert int(r.headers["X-Consul-Index"]) >= 1


@pytest.mark.parametrize(
    ("body", "delay"),
    [
        ({"LockDelay": 5}, 5_000_000_000),
        ({"LockDelay": "20ns"}, 20_000_000_000),
        ({"LockDelay": 2000}, 2000),
        ({"LockDelay": "1m"}, 60_000_000_000),
        ({"lockdelay": "0s"}, 0),
    ],
)
def test_lock_delay_below_1000_nanoseconds_is_read_as_seconds(
    client: httpx.Client, body: dict[str, object], delay: int
) -> None:
    session_id = create(client, body)
    assert client.get(f"/v1/session/info/{session_id}").json()[0]["LockDelay"] == delay


def test_empty_legacy_checks_clear_the_default_node_check(client: httpx.Client) -> None:
    session_id = create(client, {"Checks": []})
    (found,) = client.get(f"/v1/session/info/{session_id}").json()
    assert found["NodeChecks"] == []
    assert "Checks" not in found


def test_list_and_node_sessions_are_ordered_by_id(dc1: Cluster, client: httpx.Client) -> None:
    ids = sorted(create(client) for _ in range(3))
    assert sessions(client) == ids
    r = client.get("/v1/session/node/DC1-SERVER")
    assert [s["ID"] for s in r.json()] == ids
    assert client.get("/v1/session/node/other").json() == []


def test_destroy_removes_the_session_and_answers_true(client: httpx.Client) -> None:
    session_id = create(client)
    r = client.put(f"/v1/session/destroy/{session_id}")
    assert (r.status_code, r.text) == (200, "true")
    assert sessions(client) == []
    assert client.put("/v1/session/destroy/never-was").text == "true"


def test_renew_answers_the_session_and_404_when_it_is_gone(client: httpx.Client) -> None:
    session_id = create(client, {"TTL": "10s"})
    r = client.put(f"/v1/session/renew/{session_id}")
    assert r.status_code == 200
    assert [s["ID"] for s in r.json()] == [session_id]
    r = client.put("/v1/session/renew/gone")
    assert (r.status_code, r.text) == (404, "Session id 'gone' not found")


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("PUT", "/v1/session/destroy/", 400, "Missing session"),
        ("PUT", "/v1/session/renew/", 400, "Missing session"),
        ("GET", "/v1/session/info/", 400, "Missing session"),
        ("GET", "/v1/session/node/", 400, "Missing node name"),
        ("GET", "/v1/session/list?dc=elsewhere", 500, "No path to datacenter"),
        ("GET", "/v1/session/create", 405, "method GET not allowed"),
    ],
)
def test_session_endpoints_refuse_bad_requests(
    client: httpx.Client, method: str, path: str, status: int, body: str
) -> None:
    r = client.request(method, path)
    assert (r.status_code, r.text) == (status, body)


def test_create_is_put_only(client: httpx.Client) -> None:
    r = client.get("/v1/session/create")
    assert r.headers["Allow"] == "OPTIONS,PUT"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"TTL": "5s"}, 500, "Invalid Session TTL '5000000000', must be between [10s=24h0m0s]"),
        (
            {"TTL": "25h"},
            500,
            "Invalid Session TTL '90000000000000', must be between [10s=24h0m0s]",
        ),
        ({"TTL": "soon"}, 500, "Session TTL 'soon' invalid: time: invalid duration \"soon\""),
        ({"Behavior": "keep"}, 500, "Invalid Behavior setting 'keep'"),
        ({"Node": ""}, 500, "Must provide Node"),
        ({"Node": "ghost"}, 500, "apply failed: Missing node registration"),
        ({"NodeChecks": ["nope"]}, 500, "apply failed: Missing check 'nope' registration"),
        ({"LockDelay": "x"}, 400, 'Request decode failed: time: invalid duration "x"'),
        (
            {"Name": 1},
            400,
            "Request decode failed: json: cannot unmarshal number into Go struct field .Name "
            "of type string",
        ),
    ],
)
def test_create_refuses_what_consul_refuses(
    client: httpx.Client, body: dict[str, object], status: int, message: str
) -> None:
    r = client.put("/v1/session/create", json=body)
    assert (r.status_code, r.text) == (status, message)


def test_create_refuses_a_critical_check(client: httpx.Client) -> None:
    r = client.put("/v1/agent/check/register", json={"Name": "beat", "TTL": "10s"})
    assert r.status_code == 200
    r = client.put("/v1/session/create", json={"NodeChecks": ["serfHealth", "beat"]})
    assert (r.status_code, r.text) == (500, "apply failed: Check 'beat' is in critical state")


# -- TTL ------------------------------------------------------------------------------------------
def test_ttl_session_is_invalidated_after_twice_its_ttl(world: World, client: httpx.Client) -> None:
    session_id = create(client, {"TTL": "10s"})
    world.advance(19.9)
    assert sessions(client) == [session_id]
    world.advance(0.2)
    assert sessions(client) == []


def test_renew_restarts_the_ttl_clock(world: World, client: httpx.Client) -> None:
    session_id = create(client, {"TTL": "10s"})
    world.advance(15)
    assert client.put(f"/v1/session/renew/{session_id}").status_code == 200
    world.advance(15)
    assert sessions(client) == [session_id]
    world.advance(6)
    assert sessions(client) == []


@pytest.mark.slow
def test_blocking_info_wakes_when_the_ttl_expires(world: World, client: httpx.Client) -> None:
    session_id = create(client, {"TTL": "10s"})
    index = int(client.get(f"/v1/session/info/{session_id}").headers["X-Consul-Index"])

    def later() -> None:
        wait_until_blocked(world)
        world.advance(25)

    mover = threading.Thread(target=later)
    mover.start()
    r = client.get(f"/v1/session/info/{session_id}?index={index}&wait=60s")
    mover.join()
    assert r.json() == []
    assert int(r.headers["X-Consul-Index"]) > index


# -- KV locks -------------------------------------------------------------------------------------
def test_acquire_sets_session_and_increments_lock_index(client: httpx.Client) -> None:
    first, second = create(client), create(client)
    assert acquire(client, "lead", first) == "true"
    assert (kv(client, "lead")["LockIndex"], kv(client, "lead")["Session"]) == (1, first)
    assert acquire(client, "lead", first, b"again") == "true"
    assert kv(client, "lead")["LockIndex"] == 1
    assert acquire(client, "lead", second) == "false"
    assert client.put(f"/v1/kv/lead?release={second}").text == "false"
    assert client.put(f"/v1/kv/lead?release={first}").text == "true"
    entry = kv(client, "lead")
    assert (entry["LockIndex"], "Session" in entry) == (1, False)
    assert acquire(client, "lead", second) == "true"
    assert kv(client, "lead")["LockIndex"] == 2


def test_acquire_with_an_unknown_session_is_consuls_error(client: httpx.Client) -> None:
    r = client.put("/v1/kv/k?acquire=nobody", content=b"v")
    assert (r.status_code, r.text) == (500, 'invalid session "nobody"')


def test_destroying_a_session_releases_its_keys_and_starts_the_lock_delay(
    world: World, client: httpx.Client
) -> None:
    holder, waiter = create(client), create(client)
    acquire(client, "lead", holder, b"mine")
    client.put(f"/v1/session/destroy/{holder}")
    entry = kv(client, "lead")
    assert (entry["Value"], entry["LockIndex"], "Session" in entry) == ("bWluZQ==", 1, False)
    assert acquire(client, "lead", waiter) == "false"
    assert acquire(client, "lead", "not-even-a-session") == "false"
    world.advance(15.1)
    assert acquire(client, "lead", waiter) == "true"


def test_zero_lock_delay_lets_another_session_acquire_at_once(client: httpx.Client) -> None:
    holder, waiter = create(client, {"LockDelay": "0s"}), create(client)
    acquire(client, "lead", holder)
    client.put(f"/v1/session/destroy/{holder}")
    assert acquire(client, "lead", waiter) == "true"
    entry = kv(client, "lead")
    assert (entry["Session"], entry["LockIndex"]) == (waiter, 2)


def test_delete_behavior_deletes_held_keys(world: World, client: httpx.Client) -> None:
    holder = create(client, {"Behavior": "delete", "TTL": "10s"})
    acquire(client, "ephemeral", holder)
    world.advance(21)
    assert client.get("/v1/kv/ephemeral").status_code == 404


def test_a_check_going_critical_invalidates_its_sessions(
    world: World, client: httpx.Client
) -> None:
    client.put("/v1/agent/check/register", json={"Name": "beat", "TTL": "10s"})
    client.put("/v1/agent/check/pass/beat")
    tied = create(client, {"NodeChecks": ["serfHealth", "beat"]})
    free = create(client)
    acquire(client, "lead", tied)
    world.advance(11)
    assert sessions(client) == [free]
    assert "Session" not in kv(client, "lead")


def test_deregistering_the_node_invalidates_its_sessions(client: httpx.Client) -> None:
    client.put("/v1/catalog/register", json={"Node": "n1", "Address": "10.0.0.1"})
    session_id = create(client, {"Node": "n1", "NodeChecks": []})
    acquire(client, "lead", session_id)
    client.put("/v1/catalog/deregister", json={"Node": "n1"})
    assert sessions(client) == []
    assert "Session" not in kv(client, "lead")


# -- ACLs -----------------------------------------------------------------------------------------
@pytest.fixture
def acl_world() -> Iterator[World]:
    w = World(clock="virtual", seed=5)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def deny(acl_world: World) -> Cluster:
    return acl_world.add_cluster("dc1", acl_default_policy="deny")


def token(cluster: Cluster, rules: dict[str, str]) -> tuple[str, dict[str, str]]:
    accessor, secret = cluster.acl.create_token(rules)
    return accessor, {"X-Consul-Token": secret}


def test_session_create_needs_session_write_on_the_node(deny: Cluster) -> None:
    r = deny.client.put("/v1/session/create")
    assert (r.status_code, r.text) == (
        403,
        "Permission denied: anonymous token lacks permission 'session:write' on "
        f'"dc1-server".{ANON_HINT}',
    )
    _, headers = token(deny, {"session:dc1-": "write"})
    assert deny.client.put("/v1/session/create", headers=headers).status_code == 403
    _, headers = token(deny, {"session:dc1-*": "write"})
    assert deny.client.put("/v1/session/create", headers=headers).status_code == 200


def test_session_lists_leave_out_unreadable_nodes(deny: Cluster) -> None:
    admin = {"X-Consul-Token": deny.acl.management_token}
    deny.client.put(
        "/v1/catalog/register", json={"Node": "n1", "Address": "10.0.0.1"}, headers=admin
    )
    mine = create(deny.client, {"NodeChecks": []}, **admin)
    create(deny.client, {"Node": "n1", "NodeChecks": []}, **admin)
    _, headers = token(deny, {"session:dc1-server": "read"})
    r = deny.client.get("/v1/session/list", headers=headers)
    assert [s["ID"] for s in r.json()] == [mine]
    assert r.headers["X-Consul-Results-Filtered-By-ACLs"] == "true"
    assert r.headers["X-Consul-Default-ACL-Policy"] == "deny"


def test_kv_reads_and_writes_need_key_rules(deny: Cluster) -> None:
    admin = {"X-Consul-Token": deny.acl.management_token}
    for key in ("app/a", "app/secret", "other"):
        deny.client.put(f"/v1/kv/{key}", content=b"v", headers=admin)
    accessor, headers = token(deny, {"key:app/*": "write", "key:app/secret": "deny"})
    r = deny.client.get("/v1/kv/other", headers=headers)
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: token with AccessorID '{accessor}' lacks permission 'key:read' "
        'on "other"',
    )
    r = deny.client.get("/v1/kv/?recurse", headers=headers)
    assert [e["Key"] for e in r.json()] == ["app/a"]
    assert r.headers["X-Consul-Results-Filtered-By-ACLs"] == "true"
    assert deny.client.get("/v1/kv/?keys", headers=headers).json() == ["app/a"]
    assert deny.client.put("/v1/kv/app/b", content=b"v", headers=headers).text == "true"
    r = deny.client.put("/v1/kv/other", content=b"v", headers=headers)
    assert r.status_code == 403
    r = deny.client.delete("/v1/kv/app/?recurse", headers=headers)
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: token with AccessorID '{accessor}' lacks permission 'key:write' "
        'on "app/"',
    )
    assert deny.client.delete("/v1/kv/app/a?recurse", headers=headers).text == "true"


def test_kv_recurse_with_nothing_readable_is_404_for_the_anonymous_token(deny: Cluster) -> None:
    admin = {"X-Consul-Token": deny.acl.management_token}
    deny.client.put("/v1/kv/app/a", content=b"v", headers=admin)
    r = deny.client.get("/v1/kv/app/?recurse")
    assert r.status_code == 404
    assert "X-Consul-Results-Filtered-By-ACLs" not in r.headers
