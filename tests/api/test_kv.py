"""/v1/kv: reads, writes, CAS, separators, raw values, blocking queries and Consul's errors."""

from __future__ import annotations

import base64
import threading
import time

import httpx
import pytest

from consul_sim import kvs
from consul_sim.world import Cluster, World
from tests.blocking import wait_until_blocked

TOO_LARGE = (
    "Request body(524289 bytes) too large, max size: 524288 bytes. "
    "See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size."
)


def put(client: httpx.Client, path: str, body: bytes = b"") -> httpx.Response:
    r = client.put(f"/v1/kv/{path}", content=body)
    assert r.status_code == 200, r.text
    return r


def entry(client: httpx.Client, key: str) -> dict[str, object]:
    r = client.get(f"/v1/kv/{key}")
    assert r.status_code == 200, r.text
    (found,) = r.json()
    assert isinstance(found, dict)
    return found


def index_of(r: httpx.Response) -> int:
    return int(r.headers["X-Consul-Index"])


def _snapshot(client: httpx.Client) -> tuple[str, str]:
    """Every entry and the KV index, as a client reads them back."""
    r = client.get("/v1/kv/?recurse")
    return r.text, r.headers["X-Consul-Index"]


# -- bad input ------------------------------------------------------------------------------------
BAD_INPUTS = [
    # (method, path, body, status, exact body)
    ("PUT", "/v1/kv/k?cas=abc", b"v", 500, 'strconv.ParseUint: parsing "abc": invalid syntax'),
    ("PUT", "/v1/kv/k?cas=-1", b"v", 500, 'strconv.ParseUint: parsing "-1": invalid syntax'),
    ("PUT", "/v1/kv/k?cas", b"v", 500, 'strconv.ParseUint: parsing "": invalid syntax'),
    ("DELETE", "/v1/kv/k?cas=x", b"", 500, 'strconv.ParseUint: parsing "x": invalid syntax'),
    ("PUT", "/v1/kv/k?flags=high", b"v", 500, 'strconv.ParseUint: parsing "high": invalid syntax'),
    ("PUT", "/v1/kv/k?flags=%2B1", b"v", 500, 'strconv.ParseUint: parsing "+1": invalid syntax'),
    (
        "PUT",
        "/v1/kv/k?flags=18446744073709551616",
        b"v",
        500,
        'strconv.ParseUint: parsing "18446744073709551616": value out of range',
    ),
    (
        "PUT",
        "/v1/kv/k?flags=1&cas=0&acquire=s",
        b"v",
        400,
        "Conflicting flags: acquire=s&cas=0&flags=1\n",
    ),
    (
        "PUT",
        "/v1/kv/k?release=a%20b&acquire=s",
        b"v",
        400,
        "Conflicting flags: acquire=s&release=a+b\n",
    ),
    ("DELETE", "/v1/kv/k?recurse&cas=3", b"", 400, "Conflicting flags: cas=3&recurse=\n"),
    ("PUT", "/v1/kv/k?acquire=sess-1", b"v", 500, 'invalid session "sess-1"'),
    ("PUT", "/v1/kv/k?acquire", b"v", 500, "missing session"),
    ("PUT", "/v1/kv/k?release=", b"v", 500, "missing session"),
    ("GET", "/v1/kv/", b"", 400, "Missing key name"),
    ("PUT", "/v1/kv/", b"v", 400, "Missing key name"),
    ("DELETE", "/v1/kv/", b"", 400, "Missing key name"),
    ("DELETE", "/v1/kv/?cas=0", b"", 400, "Missing key name"),
    ("GET", "/v1/kv/k?dc=nowhere", b"", 500, "No path to datacenter"),
    ("PUT", "/v1/kv/k?dc=nowhere", b"v", 500, "No path to datacenter"),
    ("DELETE", "/v1/kv/k?recurse&dc=nowhere", b"", 500, "No path to datacenter"),
    # The handler's own checks run before the RPC finds the datacenter unknown.
    ("GET", "/v1/kv/?dc=nowhere", b"", 400, "Missing key name"),
    (
        "PUT",
        "/v1/kv/k?dc=nowhere&flags=x",
        b"v",
        500,
        'strconv.ParseUint: parsing "x": invalid syntax',
    ),
    ("PUT", "/v1/kv/k?dc=nowhere", b"x" * (512 * 1024 + 1), 413, TOO_LARGE),
    ("PUT", "/v1/kv/k", b"x" * (512 * 1024 + 1), 413, TOO_LARGE),
    ("POST", "/v1/kv/k", b"v", 405, "method POST not allowed"),
    ("PATCH", "/v1/kv/k", b"v", 405, "method PATCH not allowed"),
    ("GET", "/v1/kv/k?index=abc", b"", 400, "Invalid index"),
    ("PUT", "/v1/kv/k?wait=soon", b"v", 400, "Invalid wait time"),
    (
        "GET",
        "/v1/kv/k?stale&consistent",
        b"",
        400,
        "Cannot specify ?stale with ?consistent, conflicting semantics.",
    ),
    ("PUT", "/v1/kv/new%0Aline", b"v", 400, ""),
    ("PUT", "/v1/kv/tab%09", b"v", 400, ""),
]


@pytest.mark.parametrize("method, path, body, status, message", BAD_INPUTS)
def test_bad_input_gets_consuls_status_and_words_and_changes_nothing(
    client: httpx.Client, method: str, path: str, body: bytes, status: int, message: str
) -> None:
    put(client, "k", b"original")
    put(client, "other/k", b"x")
    before = _snapshot(client)
    r = client.request(method, path, content=body)
    assert (r.status_code, r.text) == (status, message)
    assert "json" not in r.headers.get("Content-Type", "")
    assert _snapshot(client) == before
    assert base64.b64decode(str(entry(client, "k")["Value"])) == b"original"


def test_wrong_method_lists_kv_methods_options_first(client: httpx.Client) -> None:
    assert client.post("/v1/kv/a").headers["Allow"] == "OPTIONS,GET,PUT,DELETE"
    r = client.request("OPTIONS", "/v1/kv/a")
    assert (r.status_code, r.text, r.headers["Allow"]) == (200, "", "OPTIONS,GET,PUT,DELETE")


def test_value_of_exactly_the_limit_is_stored(client: httpx.Client) -> None:
    value = b"x" * kvs.MAX_VALUE_SIZE
    put(client, "big", value)
    assert client.get("/v1/kv/big?raw").content == value


def test_missing_key_name_comes_before_the_size_check(client: httpx.Client) -> None:
    r = client.put("/v1/kv/", content=b"x" * (512 * 1024 + 1))
    assert (r.status_code, r.text) == (400, "Missing key name")


# -- Go's mux in front of the handler -------------------------------------------------------------
def test_double_slash_is_redirected_to_the_clean_path_keeping_the_query(
    client: httpx.Client,
) -> None:
    r = client.get("/v1/kv//app/cfg?raw")
    assert r.status_code == 301
    assert r.headers["Location"] == "/v1/kv/app/cfg?raw"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.text == '<a href="/v1/kv/app/cfg?raw">Moved Permanently</a>.\n\n'


def test_put_to_an_unclean_path_is_redirected_and_writes_nothing(client: httpx.Client) -> None:
    before = _snapshot(client)
    r = client.put("/v1/kv/a//b", content=b"v")
    assert (r.status_code, r.text, r.headers["Location"]) == (301, "", "/v1/kv/a/b")
    assert "Content-Type" not in r.headers
    assert _snapshot(client) == before
    assert client.get("/v1/kv/a/b").status_code == 404


def test_kv_without_trailing_slash_is_redirected_to_the_subtree(client: httpx.Client) -> None:
    r = client.get("/v1/kv?keys")
    assert (r.status_code, r.headers["Location"]) == (301, "/v1/kv/?keys")


def test_escaped_slashes_are_part_of_the_key(client: httpx.Client) -> None:
    put(client, "a%2F%2Fb", b"v")
    assert client.get("/v1/kv/?keys").json() == ["a//b"]


# -- round trips ----------------------------------------------------------------------------------
def test_put_then_get_returns_the_entry_with_consuls_fields_and_headers(
    client: httpx.Client,
) -> None:
    r = client.put("/v1/kv/app/cfg", content=b"hello")
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (200, "true", "application/json")
    assert "X-Consul-Index" not in r.headers
    r = client.get("/v1/kv/app/cfg")
    i = index_of(r)
    assert r.text == (
        '[{"LockIndex":0,"Key":"app/cfg","Flags":0,"Value":"aGVsbG8=",'
        f'"CreateIndex":{i},"ModifyIndex":{i}}}]'
    )
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["X-Consul-KnownLeader"] == "true"
    assert r.headers["X-Consul-LastContact"] == "0"
    assert "X-Consul-Effective-Consistency" not in r.headers


def test_raw_returns_the_bytes_as_sandboxed_plain_text(client: httpx.Client) -> None:
    put(client, "page", b"<script>alert(1)</script>\x00\xff")
    r = client.get("/v1/kv/page?raw")
    assert r.status_code == 200
    assert r.content == b"<script>alert(1)</script>\x00\xff"
    assert r.headers["Content-Type"] == "text/plain"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Security-Policy"] == "sandbox"
    assert index_of(r) == entry(client, "page")["ModifyIndex"]


def test_raw_is_ignored_with_recurse(client: httpx.Client) -> None:
    put(client, "dir/a", b"1")
    r = client.get("/v1/kv/dir/?recurse&raw")
    assert r.headers["Content-Type"] == "application/json"
    assert [e["Key"] for e in r.json()] == ["dir/a"]


def test_missing_key_is_404_with_no_body_but_an_index(client: httpx.Client) -> None:
    put(client, "present", b"x")
    r = client.get("/v1/kv/missing")
    assert (r.status_code, r.content) == (404, b"")
    assert "Content-Type" not in r.headers
    assert index_of(r) == entry(client, "present")["ModifyIndex"]
    assert client.get("/v1/kv/missing?raw").status_code == 404
    assert client.get("/v1/kv/missing/?recurse").status_code == 404


def test_keys_on_the_empty_prefix_is_an_empty_list_not_404(client: httpx.Client) -> None:
    r = client.get("/v1/kv/?keys")
    assert (r.status_code, r.text) == (200, "[]")
    assert index_of(r) >= 1
    r = client.get("/v1/kv/x?keys")
    assert (r.status_code, r.content) == (404, b"")
    assert index_of(r) >= 1


def test_empty_body_with_flags_stores_flags_and_a_null_value(client: httpx.Client) -> None:
    put(client, "f?flags=42")
    r = client.get("/v1/kv/f")
    assert '"Value":null' in r.text
    found = r.json()[0]
    assert (found["Flags"], found["Value"]) == (42, None)
    assert client.get("/v1/kv/f?raw").content == b""


def test_flags_take_the_full_uint64_range(client: httpx.Client) -> None:
    put(client, "f?flags=18446744073709551615", b"v")
    assert entry(client, "f")["Flags"] == 2**64 - 1


def test_first_value_of_a_repeated_parameter_wins(client: httpx.Client) -> None:
    put(client, "f?flags=1&flags=2", b"v")
    assert entry(client, "f")["Flags"] == 1


def test_pretty_indents_reads_and_writes(client: httpx.Client) -> None:
    r = client.put("/v1/kv/p?pretty", content=b"v")
    assert r.text == "true\n"
    assert client.get("/v1/kv/?keys&pretty").text == '[\n    "p"\n]\n'


def test_keys_are_taken_as_given(client: httpx.Client) -> None:
    """Released versions accept any printable key; only the newest refuses extensions and dots.
    Go's mux cleans the escaped path, so an escaped ``..`` segment stays in the key."""
    for path in ("with%20space", "file.json", "ключ", "a/%2E%2E/b"):
        assert client.put(f"/v1/kv/{path}", content=b"v").text == "true"
    assert client.get("/v1/kv/?keys").json() == ["a/../b", "file.json", "with space", "ключ"]


# -- writes and their indexes --------------------------------------------------------------------
def test_overwrite_keeps_create_index_and_moves_modify_index(client: httpx.Client) -> None:
    put(client, "k", b"one")
    first = entry(client, "k")
    put(client, "k", b"two")
    second = entry(client, "k")
    assert second["CreateIndex"] == first["CreateIndex"]
    assert int(str(second["ModifyIndex"])) > int(str(first["ModifyIndex"]))


def test_put_of_an_unchanged_entry_keeps_its_modify_index(client: httpx.Client) -> None:
    """Consul >= 1.6 skips writing an entry equal to the stored one (hashicorp/consul#5885)."""
    put(client, "k?flags=3", b"same")
    first = client.get("/v1/kv/k")
    put(client, "k?flags=3", b"same")
    again = client.get("/v1/kv/k")
    assert again.text == first.text
    assert index_of(again) == index_of(first)
    put(client, "k?flags=4", b"same")
    assert int(str(entry(client, "k")["ModifyIndex"])) > index_of(first)


def test_cas_zero_creates_only_when_absent(client: httpx.Client) -> None:
    assert client.put("/v1/kv/c?cas=0", content=b"first").text == "true"
    assert client.put("/v1/kv/c?cas=0", content=b"second").text == "false"
    assert client.get("/v1/kv/c?raw").content == b"first"


def test_cas_replaces_only_the_revision_it_names(client: httpx.Client) -> None:
    put(client, "c", b"v1")
    m = int(str(entry(client, "c")["ModifyIndex"]))
    assert client.put(f"/v1/kv/c?cas={m - 1}", content=b"stale").text == "false"
    assert client.get("/v1/kv/c?raw").content == b"v1"
    assert client.put(f"/v1/kv/c?cas={m}", content=b"v2").text == "true"
    after = entry(client, "c")
    assert base64.b64decode(str(after["Value"])) == b"v2"
    assert int(str(after["ModifyIndex"])) > m
    assert client.put(f"/v1/kv/c?cas={m}", content=b"v3").text == "false"


def test_cas_on_a_missing_key_with_an_index_creates_nothing(client: httpx.Client) -> None:
    assert client.put("/v1/kv/nope?cas=7", content=b"v").text == "false"
    assert client.get("/v1/kv/nope").status_code == 404


def test_delete_cas_with_a_stale_index_keeps_the_key(client: httpx.Client) -> None:
    put(client, "d", b"v")
    m = int(str(entry(client, "d")["ModifyIndex"]))
    assert client.delete(f"/v1/kv/d?cas={m - 1}").text == "false"
    assert client.get("/v1/kv/d").status_code == 200
    assert client.delete(f"/v1/kv/d?cas={m}").text == "true"
    assert client.get("/v1/kv/d").status_code == 404


def test_delete_cas_of_a_key_already_gone_is_true(client: httpx.Client) -> None:
    r = client.delete("/v1/kv/ghost?cas=12")
    assert (r.status_code, r.text) == (200, "true")
    assert (client.get("/v1/kv/ghost").status_code, client.get("/v1/kv/?keys").json()) == (404, [])


def test_release_with_a_session_that_holds_nothing_is_false(client: httpx.Client) -> None:
    put(client, "lock", b"v")
    before = _snapshot(client)
    assert client.put("/v1/kv/lock?release=sess-1", content=b"other").text == "false"
    assert client.put("/v1/kv/unheld?release=sess-1").text == "false"
    assert _snapshot(client) == before


def test_delete_answers_true_and_moves_the_index_reads_report(client: httpx.Client) -> None:
    put(client, "k", b"v")
    before = index_of(client.get("/v1/kv/k"))
    r = client.delete("/v1/kv/k")
    assert (r.status_code, r.text) == (200, "true")
    r = client.get("/v1/kv/k")
    assert r.status_code == 404
    assert index_of(r) > before


def test_delete_of_a_missing_key_is_true_and_writes_nothing(client: httpx.Client) -> None:
    put(client, "k", b"v")
    before = _snapshot(client)
    assert client.delete("/v1/kv/missing").text == "true"
    assert _snapshot(client) == before


# -- prefixes -------------------------------------------------------------------------------------
@pytest.fixture
def tree(client: httpx.Client) -> httpx.Client:
    for key in ("a/c/d", "ab", "a/b", "b/x"):
        put(client, key, key.encode())
    return client


def test_keys_with_separator_cut_after_the_first_separator_past_the_prefix(
    tree: httpx.Client,
) -> None:
    assert tree.get("/v1/kv/?keys&separator=/").json() == ["a/", "ab", "b/"]
    assert tree.get("/v1/kv/a/?keys&separator=/").json() == ["a/b", "a/c/"]
    assert tree.get("/v1/kv/a?keys").json() == ["a/b", "a/c/d", "ab"]
    assert tree.get("/v1/kv/a/?keys&seperator=/").json() == ["a/b", "a/c/"]


def test_recurse_lists_the_prefix_sorted_by_key(tree: httpx.Client) -> None:
    r = tree.get("/v1/kv/a?recurse")
    assert [e["Key"] for e in r.json()] == ["a/b", "a/c/d", "ab"]
    assert index_of(r) == max(int(e["ModifyIndex"]) for e in r.json())
    assert [e["Key"] for e in tree.get("/v1/kv/?recurse").json()] == ["a/b", "a/c/d", "ab", "b/x"]


def test_recursive_delete_removes_only_the_prefix(tree: httpx.Client) -> None:
    assert tree.delete("/v1/kv/a/?recurse").text == "true"
    assert tree.get("/v1/kv/?keys").json() == ["ab", "b/x"]


def test_recursive_delete_of_the_empty_key_removes_everything(tree: httpx.Client) -> None:
    assert tree.delete("/v1/kv/?recurse").text == "true"
    r = tree.get("/v1/kv/?keys")
    assert r.json() == []
    assert tree.get("/v1/kv/?recurse").status_code == 404


def test_prefix_index_moves_when_a_key_under_it_is_deleted(tree: httpx.Client) -> None:
    before = index_of(tree.get("/v1/kv/a/?recurse"))
    tree.delete("/v1/kv/a/b")
    r = tree.get("/v1/kv/a/?recurse")
    assert [e["Key"] for e in r.json()] == ["a/c/d"]
    assert index_of(r) > before
    assert index_of(tree.get("/v1/kv/a/?keys")) == index_of(r)


def test_prefix_index_ignores_writes_elsewhere(tree: httpx.Client) -> None:
    before = index_of(tree.get("/v1/kv/a/?recurse"))
    put(tree, "b/y", b"v")
    assert index_of(tree.get("/v1/kv/a/?recurse")) == before
    assert index_of(tree.get("/v1/kv/a/b")) == entry(tree, "a/b")["ModifyIndex"]


# -- blocking queries -----------------------------------------------------------------------------
@pytest.mark.slow
def test_blocking_get_returns_when_another_thread_puts_the_key() -> None:
    with World(seed=3) as wall:
        cluster = wall.add_cluster("dc1")
        client = cluster.client
        put(client, "watched", b"old")
        index = index_of(client.get("/v1/kv/watched"))

        def change() -> None:
            time.sleep(0.2)
            with httpx.Client(transport=client._transport, base_url=client.base_url) as other:
                put(other, "watched", b"new")

        writer = threading.Thread(target=change)
        writer.start()
        started = time.monotonic()
        r = client.get(f"/v1/kv/watched?index={index}&wait=30s")
        elapsed = time.monotonic() - started
        writer.join()
        assert r.status_code == 200
        assert index_of(r) > index
        assert base64.b64decode(r.json()[0]["Value"]) == b"new"
        assert 0.2 <= elapsed < 5


@pytest.mark.slow
def test_blocking_get_times_out_with_the_same_index_on_the_wall_clock() -> None:
    with World(seed=4) as wall:
        client = wall.add_cluster("dc1").client
        put(client, "quiet", b"v")
        index = index_of(client.get("/v1/kv/quiet"))
        started = time.monotonic()
        r = client.get(f"/v1/kv/quiet?index={index}&wait=1s")
        elapsed = time.monotonic() - started
        assert r.status_code == 200
        assert index_of(r) == index
        assert 1.0 <= elapsed < 1.0 + 1 / 16 + 0.5


@pytest.mark.slow
def test_blocking_get_wakes_when_the_key_is_deleted(world: World, dc1: Cluster) -> None:
    client = dc1.client
    put(client, "doomed", b"v")
    index = index_of(client.get("/v1/kv/doomed"))

    def remove() -> None:
        time.sleep(0.1)
        kvs.apply(dc1.store, world.scheduler, kvs.KVSRequest(op=kvs.Op.DELETE, key="doomed"))

    writer = threading.Thread(target=remove)
    writer.start()
    r = client.get(f"/v1/kv/doomed?index={index}&wait=60s")
    writer.join()
    assert (r.status_code, r.content) == (404, b"")
    assert index_of(r) > index


@pytest.mark.slow
def test_blocking_get_on_a_key_sleeps_through_writes_to_other_keys(
    world: World, dc1: Cluster
) -> None:
    client = dc1.client
    put(client, "mine", b"v")
    index = index_of(client.get("/v1/kv/mine"))
    results: list[httpx.Response] = []

    def blocked() -> None:
        with httpx.Client(transport=client._transport, base_url=client.base_url) as other:
            results.append(other.get(f"/v1/kv/mine?index={index}&wait=60s"))

    reader = threading.Thread(target=blocked)
    reader.start()
    wait_until_blocked(world)
    put(client, "theirs", b"v")
    put(client, "mine", b"v")  # unchanged: Consul writes nothing
    time.sleep(0.1)
    assert not results, "a write that leaves the key as it was must not end the query"
    world.advance(61 + 60 / 16)
    reader.join(timeout=5)
    assert results and results[0].status_code == 200
    assert index_of(results[0]) == index


@pytest.mark.slow
def test_blocking_keys_query_wakes_when_a_key_appears_under_the_prefix(
    world: World, dc1: Cluster
) -> None:
    client = dc1.client
    r = client.get("/v1/kv/svc/?keys")
    assert r.status_code == 404
    index = index_of(r)

    def add() -> None:
        time.sleep(0.1)
        kvs.apply(
            dc1.store, world.scheduler, kvs.KVSRequest(op=kvs.Op.SET, key="svc/web", value=b"v")
        )

    writer = threading.Thread(target=add)
    writer.start()
    r = client.get(f"/v1/kv/svc/?keys&index={index}&wait=60s")
    writer.join()
    assert (r.status_code, r.json()) == (200, ["svc/web"])
    assert index_of(r) > index
