"""PUT /v1/txn as Consul's agent/txn_endpoint.go, Txn RPCs and state/txn.go answer it."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from consul_sim.world import World
from tests.api.conftest import register

READ_META = {
    "Index": 0,
    "LastContact": 0,
    "KnownLeader": True,
    "ConsistencyLevel": "",
    "NotModified": False,
    "Backend": 0,
    "ResultsFilteredByACLs": False,
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kv(verb: str, key: str, **fields: Any) -> dict[str, Any]:
    return {"KV": {"Verb": verb, "Key": key, **fields}}


def txn(client: httpx.Client, ops: list[Any], query: str = "") -> httpx.Response:
    return client.put(f"/v1/txn{query}", json=ops)


def entry(key: str, value: bytes | None, index: int, **extra: Any) -> dict[str, Any]:
    return {
        "LockIndex": 0,
        "Key": key,
        "Flags": 0,
        "Value": b64(value) if value is not None else None,
        **extra,
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def kv_index(client: httpx.Client, key: str) -> int:
    index: int = client.get(f"/v1/kv/{key}").json()[0]["ModifyIndex"]
    return index


def test_writes_and_reads_apply_at_one_index(client: httpx.Client) -> None:
    r = txn(
        client,
        [
            kv("set", "app/a", Value=b64(b"one")),
            kv("set", "app/b", Value=b64(b"two"), Flags=7),
            kv("get", "app/a"),
        ],
    )
    assert r.status_code == 200
    index = kv_index(client, "app/a")
    assert kv_index(client, "app/b") == index
    assert r.json() == {
        "Results": [
            {"KV": entry("app/a", None, index)},
            {"KV": {**entry("app/b", None, index), "Flags": 7}},
            {"KV": entry("app/a", b"one", index)},
        ],
        "Errors": None,
    }
    assert "X-Consul-Index" not in r.headers


def test_one_failed_operation_rolls_back_the_whole_transaction(client: httpx.Client) -> None:
    assert client.put("/v1/kv/kept", content=b"v").status_code == 200
    before = kv_index(client, "kept")
    r = txn(
        client,
        [
            kv("set", "new", Value=b64(b"x")),
            kv("delete", "kept"),
            kv("cas", "kept", Index=before + 100, Value=b64(b"y")),
            kv("check-not-exists", "kept"),
        ],
    )
    assert r.status_code == 409
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {
        "Results": None,
        "Errors": [
            {"OpIndex": 2, "What": 'failed to set key "kept", index is stale'},
        ],
    }
    assert client.get("/v1/kv/new").status_code == 404
    assert client.get("/v1/kv/kept?raw").content == b"v"
    assert int(client.get("/v1/kv/new").headers["X-Consul-Index"]) == before


def test_every_failed_operation_is_reported(client: httpx.Client) -> None:
    r = txn(
        client,
        [
            kv("delete-cas", "x", Index=5),
            kv("get", "missing"),
            kv("check-index", "missing", Index=1),
            kv("check-session", "missing", Session="s"),
            kv("explode", "x"),
        ],
    )
    assert r.status_code == 409
    assert r.json() == {
        "Results": None,
        "Errors": [
            {"OpIndex": 1, "What": 'key "missing" doesn\'t exist'},
            {"OpIndex": 2, "What": 'failed to check index, key "missing" doesn\'t exist'},
            {"OpIndex": 3, "What": 'failed to check session, key "missing" doesn\'t exist'},
            {"OpIndex": 4, "What": 'unknown KV verb "explode"'},
        ],
    }


def test_a_read_only_transaction_is_a_read_with_query_meta(client: httpx.Client) -> None:
    assert client.put("/v1/kv/app/a", content=b"1").status_code == 200
    assert client.put("/v1/kv/app/b", content=b"2").status_code == 200
    r = txn(client, [kv("get-tree", "app/"), kv("get-or-empty", "nope")])
    assert r.status_code == 200
    a, b = kv_index(client, "app/a"), kv_index(client, "app/b")
    assert r.json() == {
        "Results": [
            {"KV": entry("app/a", b"1", a)},
            {"KV": entry("app/b", b"2", b)},
            {"KV": entry("nope", None, 0)},
        ],
        "Errors": None,
        **READ_META,
    }
    assert (r.headers["X-Consul-Knownleader"], r.headers["X-Consul-Lastcontact"]) == ("true", "0")
    r = txn(client, [kv("check-index", "app/a", Index=a + 1)])
    assert r.status_code == 409
    assert r.json() == {
        "Results": None,
        "Errors": [
            {
                "OpIndex": 0,
                "What": f'failed index check for key "app/a", current modify index {a} != {a + 1}',
            }
        ],
        **READ_META,
    }


def test_deletes_answer_nothing_and_check_ops_answer_without_values(
    client: httpx.Client,
) -> None:
    assert client.put("/v1/kv/a", content=b"1").status_code == 200
    index = kv_index(client, "a")
    r = txn(
        client,
        [kv("check-index", "a", Index=index), kv("delete-cas", "a", Index=index)],
    )
    assert r.status_code == 200
    assert r.json() == {"Results": [{"KV": entry("a", None, index)}], "Errors": None}
    assert client.get("/v1/kv/a").status_code == 404
    r = txn(client, [kv("delete-tree", "")])
    assert r.json() == {"Results": [], "Errors": None}


def test_locks_need_a_live_session(client: httpx.Client) -> None:
    session = client.put("/v1/session/create", json={}).json()["ID"]
    r = txn(client, [kv("lock", "leader", Value=b64(b"me"), Session=session)])
    assert r.status_code == 200
    result = r.json()["Results"][0]["KV"]
    assert (result["LockIndex"], result["Session"], result["Value"]) == (1, session, None)
    r = txn(client, [kv("check-session", "leader", Session="other")])
    assert r.json()["Errors"] == [
        {
            "OpIndex": 0,
            "What": f'failed session check for key "leader", current session "{session}" '
            '!= "other"',
        }
    ]
    other = client.put("/v1/session/create", json={}).json()["ID"]
    r = txn(
        client,
        [
            kv("lock", "leader", Session=other),
            kv("unlock", "leader", Session=other),
            kv("lock", "x", Session=""),
            kv("lock", "y", Session="nope"),
        ],
    )
    assert r.status_code == 409
    assert r.json()["Errors"] == [
        {"OpIndex": 0, "What": 'failed to lock key "leader", lock is already held'},
        {
            "OpIndex": 1,
            "What": 'failed to unlock key "leader", lock isn\'t held, or is held by another '
            "session",
        },
        {"OpIndex": 2, "What": "missing session"},
        {"OpIndex": 3, "What": 'invalid session "nope"'},
    ]


def test_node_service_and_check_operations(client: httpx.Client) -> None:
    r = txn(
        client,
        [
            {"Node": {"Verb": "set", "Node": {"Node": "n1", "Address": "10.0.0.1"}}},
            {"Service": {"Verb": "set", "Node": "n1", "Service": {"Service": "web", "Port": 80}}},
            {
                "Check": {
                    "Verb": "set",
                    "Check": {"Node": "n1", "Name": "alive", "ServiceID": "web"},
                }
            },
        ],
    )
    assert r.status_code == 200
    node, service, check = (next(iter(x.values())) for x in r.json()["Results"])
    index = node["ModifyIndex"]
    assert node == {
        "ID": "",
        "Node": "n1",
        "Address": "10.0.0.1",
        "Datacenter": "dc1",
        "TaggedAddresses": {},
        "Meta": {},
        "CreateIndex": index,
        "ModifyIndex": index,
    }
    assert (service["ID"], service["Service"], service["Port"]) == ("web", "web", 80)
    # The API's zero weights fail ValidateWeights, so ToServiceNode stores 1/1.
    assert service["Weights"] == {"Passing": 1, "Warning": 1}
    assert (check["CheckID"], check["Status"], check["ServiceName"]) == (
        "alive",
        "critical",
        "web",
    )
    assert service["ModifyIndex"] == check["ModifyIndex"] == index
    health = client.get("/v1/health/service/web").json()
    assert [h["Checks"][0]["CheckID"] for h in health] == ["alive"]
    r = txn(
        client,
        [
            {"Node": {"Verb": "get", "Node": {"Node": "n1"}}},
            {"Service": {"Verb": "get", "Node": "n1", "Service": {"ID": "web"}}},
            {"Check": {"Verb": "get", "Check": {"Node": "n1", "CheckID": "alive"}}},
            {"Node": {"Verb": "get", "Node": {"Node": "n2"}}},
            {"Service": {"Verb": "get", "Node": "n1", "Service": {"ID": "db"}}},
            {"Check": {"Verb": "get", "Check": {"Node": "n1", "CheckID": "dead"}}},
        ],
    )
    assert r.status_code == 409
    assert [e["What"] for e in r.json()["Errors"]] == [
        'node "n2" doesn\'t exist',
        'service "db" on node "n1" doesn\'t exist',
        'check "dead" on node "n1" doesn\'t exist',
    ]


def test_service_tagged_addresses_are_kept_and_unset_check_fields_are_consuls(
    client: httpx.Client,
) -> None:
    """What the Go client's TestAPI_ClientTxn/TestAPI_ClientTxnWrite read back: a service's
    tagged addresses and 1/1 weights, a node check's ServiceTags null, and the check type
    Catalog.Register derives from a definition registered without one."""
    register(
        client,
        {
            "Node": "foo",
            "Address": "2.2.2.2",
            "Checks": [
                {
                    "CheckID": "bar",
                    "Status": "passing",
                    "Definition": {"TCP": "1.1.1.1", "Interval": "5s", "Timeout": "10s"},
                }
            ],
        },
    )
    svc = {
        "ID": "s1",
        "Service": "s1",
        "Port": 12345,
        "TaggedAddresses": {"wlan": {"Address": "1.1.1.1", "Port": 12345}},
        "Weights": {"Passing": 0, "Warning": 0},
    }
    r = txn(
        client,
        [
            {"Service": {"Verb": "set", "Node": "foo", "Service": svc}},
            {"Check": {"Verb": "get", "Check": {"Node": "foo", "CheckID": "bar"}}},
        ],
    )
    assert r.status_code == 200, r.text
    service, check = (next(iter(x.values())) for x in r.json()["Results"])
    assert service["TaggedAddresses"] == {"wlan": {"Address": "1.1.1.1", "Port": 12345}}
    assert service["Weights"] == {"Passing": 1, "Warning": 1}
    assert (check["ServiceTags"], check["Type"]) == (None, "tcp")
    # The health endpoints turn nil tags into [].
    health = client.get("/v1/health/node/foo").json()
    assert [(c["CheckID"], c["ServiceTags"], c["Type"]) for c in health] == [("bar", [], "tcp")]


def test_catalog_cas_and_missing_registrations(client: httpx.Client) -> None:
    register(client, {"Node": "n1", "Address": "10.0.0.1"})
    index = client.get("/v1/catalog/node/n1").json()["Node"]["ModifyIndex"]
    r = txn(
        client,
        [
            {"Node": {"Verb": "cas", "Node": {"Node": "n1", "ModifyIndex": index + 1}}},
            {"Service": {"Verb": "set", "Node": "ghost", "Service": {"Service": "web"}}},
            {"Check": {"Verb": "set", "Check": {"Node": "n1", "Name": "c", "ServiceID": "x"}}},
            {"Node": {"Verb": "delete-cas", "Node": {"Node": "n1", "ModifyIndex": 1}}},
            {
                "Service": {
                    "Verb": "delete-cas",
                    "Node": "n1",
                    "Service": {"ID": "web", "Service": "web"},
                }
            },
        ],
    )
    assert r.status_code == 409
    assert [(e["OpIndex"], e["What"]) for e in r.json()["Errors"]] == [
        (0, 'failed to set node "n1", index is stale'),
        (1, "Missing node registration"),
        (2, "Missing service registration"),
        (3, 'failed to delete node "n1", index is stale'),
        (4, 'failed to delete service "web" on node "n1", index is stale'),
    ]
    r = txn(
        client, [{"Node": {"Verb": "delete-cas", "Node": {"Node": "n1", "ModifyIndex": index}}}]
    )
    assert r.json() == {"Results": [], "Errors": None}
    assert client.get("/v1/catalog/node/n1").text == "null"


def test_pre_checks_refuse_before_anything_applies(client: httpx.Client) -> None:
    r = txn(
        client,
        [
            kv("set", "", Value=b64(b"x")),
            {"Node": {"Verb": "set", "Node": {"Address": "10.0.0.1"}}},
            {"Service": {"Verb": "set", "Node": "n", "Service": {"ID": "web"}}},
            kv("set", "fine", Value=b64(b"x")),
        ],
    )
    assert r.status_code == 409
    assert r.json() == {
        "Results": None,
        "Errors": [
            {"OpIndex": 0, "What": "Must provide key"},
            {"OpIndex": 1, "What": "Must provide node"},
            {"OpIndex": 2, "What": "Must provide service name with ID"},
        ],
    }
    assert client.get("/v1/kv/fine").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (b"", 400, "Failed to parse body: EOF"),
        (b"{", 400, "Failed to parse body: unexpected EOF"),
        (
            b"{}",
            400,
            "Failed to parse body: json: cannot unmarshal object into Go value of type api.TxnOps",
        ),
        (
            b'[{"KV":{"Verb":"set","Key":"k","Value":"aGVsbG8"}}]',
            400,
            "Failed to parse body: illegal base64 data at input byte 4",
        ),
        (
            b'[{"KV":{"Verb":"set","Key":"k","Value":"a$=="}}]',
            400,
            "Failed to parse body: illegal base64 data at input byte 1",
        ),
    ],
)
def test_bodies_are_decoded_as_go_does(
    client: httpx.Client, body: bytes, status: int, text: str
) -> None:
    r = client.put("/v1/txn", content=body)
    assert (r.status_code, r.text) == (status, text)


def test_more_than_64_operations_are_refused(client: httpx.Client) -> None:
    r = txn(client, [kv("set", f"k{i}", Value=b64(b"v")) for i in range(65)])
    assert (r.status_code, r.text) == (413, "Transaction contains too many operations (65 > 64)")
    assert txn(client, [kv("set", f"k{i}", Value=b64(b"v")) for i in range(64)]).status_code == 200


def test_a_body_over_the_request_limit_is_refused(client: httpx.Client) -> None:
    big = b64(b"x" * (400 * 1024))
    r = txn(client, [kv("set", "big", Value=big)])
    assert (r.status_code, r.text) == (413, "Request body too large, max size: 524288 bytes")


def test_a_write_to_another_datacenter_has_no_path(client: httpx.Client) -> None:
    r = txn(client, [kv("set", "k", Value=b64(b"v"))], "?dc=dc9")
    assert (r.status_code, r.text) == (500, "No path to datacenter")


def test_acls_refuse_in_pre_checks_and_filter_results(world: World) -> None:
    cluster = world.add_cluster("secure", acl_default_policy="deny")
    admin = {"X-Consul-Token": cluster.acl.management_token}
    client = cluster.client
    r = client.put(
        "/v1/txn",
        json=[kv("set", "app/a", Value=b64(b"1")), kv("set", "other", Value=b64(b"2"))],
        headers=admin,
    )
    assert r.status_code == 200
    accessor, token = cluster.acl.create_token({"key:app/*": "write"})
    mine = {"X-Consul-Token": token}
    r = client.put("/v1/txn", json=[kv("get", "app/a"), kv("get", "other")], headers=mine)
    assert r.status_code == 200
    assert [res["KV"]["Key"] for res in r.json()["Results"]] == ["app/a"]
    r = client.put("/v1/txn", json=[kv("set", "other", Value=b64(b"x"))], headers=mine)
    assert r.status_code == 409
    assert r.json() == {
        "Results": None,
        "Errors": [
            {
                "OpIndex": 0,
                "What": f"Permission denied: token with AccessorID '{accessor}' lacks "
                "permission 'key:write' on \"other\"",
            }
        ],
    }
