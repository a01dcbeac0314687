"""consul-sim kv get|put|delete: Consul's outputs, errors and exit codes, against dc1 in-process."""

from __future__ import annotations

from pathlib import Path

from consul_sim.world import Cluster
from tests.cli.conftest import Run


def modify_index(dc1: Cluster, key: str) -> int:
    response = dc1.client.get(f"/v1/kv/{key}")
    assert response.status_code == 200, response.text
    return int(response.json()[0]["ModifyIndex"])


def raw(dc1: Cluster, key: str) -> bytes:
    response = dc1.client.get(f"/v1/kv/{key}?raw")
    assert response.status_code == 200, response.text
    return response.content


# -- put ------------------------------------------------------------------------------------------
def test_put_prints_success_and_stores_the_value(run: Run, dc1: Cluster) -> None:
    result = run("kv", "put", "app/cfg", "hello")
    assert (result.code, result.stdout, result.stderr) == (
        0,
        "Success! Data written to: app/cfg\n",
        "",
    )
    assert raw(dc1, "app/cfg") == b"hello"


def test_put_without_data_stores_an_empty_value(run: Run, dc1: Cluster) -> None:
    assert run("kv", "put", "flag/on").code == 0
    assert dc1.client.get("/v1/kv/flag/on").json()[0]["Value"] is None


def test_put_reads_data_from_a_file_with_at_sign(run: Run, dc1: Cluster, tmp_path: Path) -> None:
    source = tmp_path / "license.lic"
    source.write_bytes(b"\x00binary\nlines\n")
    result = run("kv", "put", "app/license", f"@{source}")
    assert result.stdout == "Success! Data written to: app/license\n"
    assert raw(dc1, "app/license") == b"\x00binary\nlines\n"


def test_put_reads_data_from_stdin_with_a_lone_dash(run: Run, dc1: Cluster) -> None:
    assert run("kv", "put", "app/in", "-", stdin=b"abcd1234\n").code == 0
    assert raw(dc1, "app/in") == b"abcd1234\n"


def test_put_stores_dash_prefixed_data_literally(run: Run, dc1: Cluster) -> None:
    assert run("kv", "put", "app/neg", "-5").code == 0
    assert raw(dc1, "app/neg") == b"-5"


def test_put_from_a_missing_file_reports_gos_open_error(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    result = run("kv", "put", "k", f"@{missing}")
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error! Failed to read file: open {missing}: no such file or directory\n"
    )


def test_put_base64_decodes_the_data(run: Run, dc1: Cluster) -> None:
    assert run("kv", "put", "-base64", "b", "aGVsbG8=").code == 0
    assert raw(dc1, "b") == b"hello"


def test_put_bad_base64_reports_the_offset_yet_writes_what_decoded(run: Run, dc1: Cluster) -> None:
    result = run("kv", "put", "-base64", "b", "aGVsb!G8=")
    assert result.code == 0
    assert (
        result.stderr == "Error! Cannot base 64 decode data: illegal base64 data at input byte 5\n"
    )
    assert result.stdout == "Success! Data written to: b\n"
    assert raw(dc1, "b") == b"hel"


def test_put_flags_are_stored_on_the_entry(run: Run, dc1: Cluster) -> None:
    assert run("kv", "put", "-flags=42", "f").code == 0
    assert dc1.client.get("/v1/kv/f").json()[0]["Flags"] == 42


def test_put_argument_count_errors(run: Run) -> None:
    missing = run("kv", "put")
    assert (missing.code, missing.stderr) == (1, "Error! Missing KEY argument\n")
    many = run("kv", "put", "a", "b", "c")
    assert (many.code, many.stderr) == (1, "Error! Too many arguments (expected 1 or 2, got 3)\n")


def test_put_refuses_a_key_with_a_leading_slash_as_gos_client_does(run: Run) -> None:
    result = run("kv", "put", "/bad", "z")
    assert result.code == 1
    assert result.stderr == (
        "Error! Failed writing data: Invalid key. Key must not begin with a '/': /bad\n"
    )


def test_put_cas_with_current_index_writes(run: Run, dc1: Cluster) -> None:
    run("kv", "put", "k", "one")
    index = modify_index(dc1, "k")
    result = run("kv", "put", "-cas", f"-modify-index={index}", "k", "two")
    assert (result.code, result.stdout) == (0, "Success! Data written to: k\n")
    assert raw(dc1, "k") == b"two"


def test_put_cas_with_stale_index_fails_and_keeps_the_value(run: Run, dc1: Cluster) -> None:
    run("kv", "put", "k", "one")
    stale = modify_index(dc1, "k") - 1
    result = run("kv", "put", "-cas", "-modify-index", str(stale), "k", "two")
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == "Error! Did not write to k: CAS failed\n"
    assert raw(dc1, "k") == b"one"


def test_put_cas_index_zero_creates_only_if_absent(run: Run, dc1: Cluster) -> None:
    assert run("kv", "put", "-cas", "fresh", "v").stdout == "Success! Data written to: fresh\n"
    again = run("kv", "put", "-cas", "fresh", "w")
    assert again.code == 1
    assert again.stderr == (
        "Error! Did not write to fresh: CAS performed with index=0 and key already exists.\n"
    )
    assert raw(dc1, "fresh") == b"v"


def test_put_acquire_without_session_is_refused(run: Run) -> None:
    result = run("kv", "put", "-acquire", "lock", "v")
    assert (result.code, result.stderr) == (
        1,
        "Error! Missing -session (required with -acquire and -release)\n",
    )


# -- get ------------------------------------------------------------------------------------------
def test_get_prints_the_raw_value(run: Run) -> None:
    run("kv", "put", "app/cfg", "hello")
    result = run("kv", "get", "app/cfg")
    assert (result.code, result.stdout, result.stderr) == (0, "hello\n", "")


def test_get_drops_one_leading_slash(run: Run) -> None:
    run("kv", "put", "app/cfg", "hello")
    assert run("kv", "get", "/app/cfg").stdout == "hello\n"


def test_get_of_an_empty_value_prints_an_empty_line(run: Run) -> None:
    run("kv", "put", "empty")
    assert run("kv", "get", "empty").stdout == "\n"


def test_get_missing_key_is_an_error(run: Run) -> None:
    result = run("kv", "get", "missing")
    assert (result.code, result.stdout, result.stderr) == (
        1,
        "",
        "Error! No key exists at: missing\n",
    )


def test_get_argument_errors(run: Run) -> None:
    assert run("kv", "get").stderr == "Error! Missing KEY argument\n"
    many = run("kv", "get", "a", "b")
    assert (many.code, many.stderr) == (1, "Too many arguments (expected 1, got 2)\n")


def test_get_base64_encodes_the_value(run: Run) -> None:
    run("kv", "put", "k", "hello")
    assert run("kv", "get", "-base64", "k").stdout == "aGVsbG8=\n"


def test_get_detailed_prints_the_metadata_table(run: Run, dc1: Cluster) -> None:
    run("kv", "put", "-flags", "42", "app/cfg", "hello")
    index = modify_index(dc1, "app/cfg")
    result = run("kv", "get", "-detailed", "app/cfg")
    assert result.code == 0
    assert result.stdout == (
        f"CreateIndex      {index}\n"
        "Flags            42\n"
        "Key              app/cfg\n"
        "LockIndex        0\n"
        f"ModifyIndex      {index}\n"
        "Session          -\n"
        "Value            hello\n"
    )


def test_get_recurse_prints_key_colon_value_in_key_order(run: Run) -> None:
    run("kv", "put", "app/b", "2")
    run("kv", "put", "app/a", "1")
    run("kv", "put", "other", "x")
    result = run("kv", "get", "-recurse", "app/")
    assert (result.code, result.stdout) == (0, "app/a:1\napp/b:2\n")


def test_get_recurse_with_no_match_prints_nothing_and_succeeds(run: Run) -> None:
    result = run("kv", "get", "-recurse", "nothing/")
    assert (result.code, result.stdout, result.stderr) == (0, "", "")


def test_get_recurse_detailed_separates_entries_with_a_blank_line(run: Run, dc1: Cluster) -> None:
    run("kv", "put", "p/a", "1")
    run("kv", "put", "p/b", "2")
    ia, ib = modify_index(dc1, "p/a"), modify_index(dc1, "p/b")
    result = run("kv", "get", "-recurse", "-detailed", "p/")
    block = (
        "CreateIndex      {i}\nFlags            0\nKey              {k}\nLockIndex        0\n"
        "ModifyIndex      {i}\nSession          -\nValue            {v}\n"
    )
    assert result.stdout == (
        block.format(i=ia, k="p/a", v="1") + "\n" + block.format(i=ib, k="p/b", v="2")
    )


def test_get_keys_stops_at_the_separator(run: Run) -> None:
    for key in ("a/b", "a/c/d", "ab"):
        run("kv", "put", key, "x")
    assert run("kv", "get", "-keys").stdout == "a/\nab\n"
    assert run("kv", "get", "-keys", "a/").stdout == "a/b\na/c/\n"
    assert run("kv", "get", "-keys", "-separator=", "a/").stdout == "a/b\na/c/d\n"


def test_get_keys_with_recurse_lists_every_key(run: Run) -> None:
    for key in ("a/b", "a/c/d"):
        run("kv", "put", key, "x")
    assert run("kv", "get", "-keys", "-recurse", "a").stdout == "a/b\na/c/d\n"


def test_get_from_an_unknown_datacenter_reports_the_agents_error(run: Run) -> None:
    result = run("kv", "get", "-datacenter", "nowhere", "k")
    assert result.code == 1
    assert result.stderr == (
        "Error querying Consul agent: Unexpected response code: 500 (No path to datacenter)\n"
    )


# -- delete ---------------------------------------------------------------------------------------
def test_delete_removes_the_key(run: Run, dc1: Cluster) -> None:
    run("kv", "put", "k", "v")
    result = run("kv", "delete", "k")
    assert (result.code, result.stdout, result.stderr) == (0, "Success! Deleted key: k\n", "")
    assert dc1.client.get("/v1/kv/k").status_code == 404


def test_delete_of_a_missing_key_still_succeeds(run: Run) -> None:
    assert run("kv", "delete", "ghost").stdout == "Success! Deleted key: ghost\n"


def test_delete_recurse_removes_the_prefix(run: Run, dc1: Cluster) -> None:
    for key in ("app/a", "app/b/c", "apple", "other"):
        run("kv", "put", key, "x")
    result = run("kv", "delete", "-recurse", "app")
    assert result.stdout == "Success! Deleted keys with prefix: app\n"
    assert dc1.client.get("/v1/kv/?keys").json() == ["other"]


def test_delete_cas_with_stale_index_fails(run: Run, dc1: Cluster) -> None:
    run("kv", "put", "k", "v")
    stale = modify_index(dc1, "k") - 1
    result = run("kv", "delete", "-cas", "-modify-index", str(stale), "k")
    assert (result.code, result.stderr) == (1, "Error! Did not delete key k: CAS failed\n")
    good = run("kv", "delete", "-cas", "-modify-index", str(stale + 1), "k")
    assert (good.code, good.stdout) == (0, "Success! Deleted key: k\n")


def test_delete_flag_combinations_are_refused_before_any_request(run: Run) -> None:
    assert run("kv", "delete").stderr == "Error! Missing KEY argument\n"
    assert run("kv", "delete", "-cas", "k").stderr == (
        "Cannot delete a key that does not exist. Provide a -modify-index greater than than 0.\n"
    )
    assert run("kv", "delete", "-modify-index=3", "k").stderr == (
        "Cannot specify -modify-index without -cas!\n"
    )
    assert run("kv", "delete", "-cas", "-modify-index=3", "-recurse", "k").stderr == (
        "Cannot specify both -cas and -recurse!\n"
    )
    many = run("kv", "delete", "a", "b")
    assert (many.code, many.stderr) == (1, "Too many arguments (expected 1, got 2)\n")


def test_get_follows_the_agents_redirect_for_an_unclean_path_as_gos_client_does(run: Run) -> None:
    run("kv", "put", "a/b", "v")
    assert run("kv", "get", "a//b").stdout == "v\n"
    assert run("kv", "get", "//a/b").stdout == "v\n"
