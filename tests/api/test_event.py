"""/v1/event/fire/:name and /v1/event/list as Consul's agent/event_endpoint.go answers them."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from consul_sim.world import World
from tests.blocking import blocked_get


def fire(client: httpx.Client, path: str, body: bytes = b"") -> dict[str, Any]:
    r = client.put(f"/v1/event/fire/{path}", content=body)
    assert r.status_code == 200, r.text
    assert "X-Consul-Index" not in r.headers
    event: dict[str, Any] = r.json()
    return event


def listed(client: httpx.Client, query: str = "") -> tuple[int, list[dict[str, Any]]]:
    r = client.get(f"/v1/event/list{query}")
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()
    return int(r.headers["X-Consul-Index"]), events


def index_from(uuid: str) -> int:
    """Consul's uuidToUint64, written out from its description: high XOR low 64 bits."""
    digits = uuid.replace("-", "")
    return int(digits[:16], 16) ^ int(digits[16:], 16)


def test_fire_answers_the_event_before_serf_stamps_it(client: httpx.Client) -> None:
    event = fire(client, "deploy?node=dc1-.*&service=web&tag=v1", b"v1.2.3")
    assert event == {
        "ID": event["ID"],
        "Name": "deploy",
        "Payload": base64.b64encode(b"v1.2.3").decode(),
        "NodeFilter": "dc1-.*",
        "ServiceFilter": "web",
        "TagFilter": "v1",
        "Version": 1,
        "LTime": 0,
    }
    assert len(event["ID"]) == 36


def test_an_event_without_a_body_has_a_null_payload(client: httpx.Client) -> None:
    assert fire(client, "ping")["Payload"] is None


def test_list_shows_events_oldest_first_with_lamport_times_from_1(client: httpx.Client) -> None:
    first = fire(client, "deploy", b"a")
    second = fire(client, "restart")
    third = fire(client, "deploy", b"b")
    index, events = listed(client)
    assert [(e["ID"], e["Name"], e["LTime"]) for e in events] == [
        (first["ID"], "deploy", 1),
        (second["ID"], "restart", 2),
        (third["ID"], "deploy", 3),
    ]
    assert events[0] == {**first, "LTime": 1}
    assert index == index_from(third["ID"])
    index, deploys = listed(client, "?name=deploy")
    assert [e["ID"] for e in deploys] == [first["ID"], third["ID"]]
    assert index == index_from(third["ID"])
    index, restarts = listed(client, "?name=restart")
    assert ([e["ID"] for e in restarts], index) == ([second["ID"]], index_from(second["ID"]))


def test_an_empty_list_has_index_1(client: httpx.Client) -> None:
    r = client.get("/v1/event/list")
    assert (r.status_code, r.text, r.headers["X-Consul-Index"]) == (200, "[]", "1")
    fire(client, "deploy")
    assert listed(client, "?name=other") == (1, [])


def test_node_filter_decides_whether_this_agent_keeps_the_event(
    client: httpx.Client,
) -> None:
    kept = fire(client, "a?node=^dc1-server$")
    fire(client, "b?node=elsewhere")
    _, events = listed(client)
    assert [e["ID"] for e in events] == [kept["ID"]]
    assert events[0]["LTime"] == 1


def test_service_and_tag_filters_match_a_local_service(client: httpx.Client) -> None:
    r = client.put(
        "/v1/agent/service/register", json={"ID": "web-1", "Name": "web", "Tags": ["blue"]}
    )
    assert r.status_code == 200
    ok = [
        fire(client, "a?service=web"),
        fire(client, "b?service=^web-1$&tag=bl"),
    ]
    fire(client, "c?service=db")
    fire(client, "d?service=web&tag=green")
    _, events = listed(client)
    assert [e["ID"] for e in events] == [e["ID"] for e in ok]
    assert [e["LTime"] for e in events] == [1, 2]


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("", 400, "Missing name"),
        ("x?tag=v1", 500, "Cannot provide tag filter without service filter"),
        ("x?node=(", 500, "Invalid node filter: error parsing regexp: missing closing ): `(`"),
        (
            "x?service=a**",
            500,
            "Invalid service filter: error parsing regexp: invalid nested repetition operator: "
            "`**`",
        ),
        (
            "x?service=a&tag=[",
            500,
            "Invalid tag filter: error parsing regexp: missing closing ]: `[`",
        ),
        ("x?dc=dc9", 500, "No path to datacenter"),
    ],
)
def test_fire_refuses_with_consuls_words(
    client: httpx.Client, path: str, status: int, text: str
) -> None:
    r = client.put(f"/v1/event/fire/{path}")
    assert (r.status_code, r.text) == (status, text)
    assert listed(client) == (1, [])


def test_fire_is_put_only(client: httpx.Client) -> None:
    r = client.post("/v1/event/fire/x")
    assert r.status_code == 405
    assert listed(client) == (1, [])


def test_the_agent_keeps_the_last_256_events(client: httpx.Client) -> None:
    fired = [fire(client, f"e{i}")["ID"] for i in range(260)]
    _, events = listed(client)
    assert [e["ID"] for e in events] == fired[4:]
    assert (events[0]["LTime"], events[-1]["LTime"]) == (5, 260)


def test_event_acls_guard_fire_and_filter_the_list(world: World) -> None:
    cluster = world.add_cluster("secure", acl_default_policy="deny")
    _, token = cluster.acl.create_token({"event:deploy*": "write"})
    admin = {"X-Consul-Token": cluster.acl.management_token}
    mine = {"X-Consul-Token": token}
    client = cluster.client
    r = client.put("/v1/event/fire/restart", headers=mine)
    assert (r.status_code, r.text) == (403, "Permission denied")
    r = client.put("/v1/event/fire/deploy", headers=mine)
    assert r.status_code == 200
    assert client.put("/v1/event/fire/restart", headers=admin).status_code == 200
    r = client.get("/v1/event/list", headers=mine)
    assert [e["Name"] for e in r.json()] == ["deploy"]
    assert r.headers["X-Consul-Results-Filtered-By-ACLs"] == "true"
    r = client.get("/v1/event/list")
    assert (r.text, r.headers["X-Consul-Index"]) == ("[]", "1")
    assert "X-Consul-Results-Filtered-By-ACLs" not in r.headers
    r = client.put("/v1/event/fire/deploy", headers={"X-Consul-Token": "nobody"})
    assert (r.status_code, r.text) == (
        500,
        "ACL system must be bootstrapped before making any requests that require "
        "authorization: ACL not found",
    )


@pytest.mark.slow
def test_a_blocking_list_waits_while_the_index_is_the_one_asked_for(
    world: World, client: httpx.Client
) -> None:
    fire(client, "deploy")
    index, _ = listed(client)
    with blocked_get(world, client, f"/v1/event/list?index={index}&wait=60s") as results:
        assert not results
        newest = fire(client, "restart")
    assert len(results) == 1
    assert int(results[0].headers["X-Consul-Index"]) == index_from(newest["ID"])
    assert [e["Name"] for e in results[0].json()] == ["deploy", "restart"]
    # Any other index answers at once: the index is not monotonic, only compared for equality.
    r = client.get(f"/v1/event/list?index={index + 1}&wait=60s")
    assert r.status_code == 200
