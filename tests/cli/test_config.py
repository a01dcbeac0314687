"""consul-sim config write|read|list|delete: Consul's outputs, errors and exit codes, with files,
stdin, HCL and JSON, against dc1 in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from consul_sim.cli.commands.config import WARNING_MESH_PERMISSIVE
from consul_sim.world import Cluster
from tests.cli.conftest import Result, Run

ROOT = Path(__file__).resolve().parents[2]
PAGE_CONFIG = ROOT / "scenarios" / "peering-config.hcl"
PAGE_INTENTIONS = ROOT / "scenarios" / "peering-intentions.hcl"
PAGE_BROKEN = ROOT / "tests" / "fixtures" / "page-exported-services-broken.hcl"

EXPORTS_JSON = (
    b'{"Kind":"exported-services","Name":"default","Services":'
    b'[{"Name":"web","Consumers":[{"Peer":"cluster-02"}]}]}'
)


def entry(dc1: Cluster, kind: str, name: str) -> dict[str, Any]:
    response = dc1.client.get(f"/v1/config/{kind}/{name}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def absent(dc1: Cluster, kind: str, name: str) -> bool:
    return dc1.client.get(f"/v1/config/{kind}/{name}").status_code == 404


# -- write ----------------------------------------------------------------------------------------
def test_write_the_corrected_page_file_prints_written_and_stores_it(run: Run, dc1: Cluster) -> None:
    assert run("config", "write", str(PAGE_CONFIG)) == Result(
        0, "Config entry written: exported-services/default\n", ""
    )
    assert entry(dc1, "exported-services", "default")["Services"] == [
        {"Name": "service-name", "Consumers": [{"Peer": "cluster-02"}]}
    ]


def test_write_the_page_intentions_file(run: Run, dc1: Cluster) -> None:
    assert run("config", "write", str(PAGE_INTENTIONS)) == Result(
        0, "Config entry written: service-intentions/service-name\n", ""
    )
    sources = entry(dc1, "service-intentions", "service-name")["Sources"]
    assert [(s["Name"], s["Peer"], s["Action"]) for s in sources] == [
        ("frontend", "cluster-02", "allow")
    ]


def test_write_the_pages_broken_file_gets_the_hcl_decode_error_with_positions(
    run: Run, dc1: Cluster
) -> None:
    result = run("config", "write", str(PAGE_BROKEN))
    assert result == Result(
        1,
        "",
        "Failed to decode config entry input: Failed to decode config entry input: At 4:1: "
        "error while trying to parse object within list: At 16:1: object expected closing "
        "RBRACE got: EOF\n",
    )
    assert dc1.client.get("/v1/config/exported-services").json() == []


def test_write_reads_hcl_from_stdin_with_a_dash(run: Run, dc1: Cluster) -> None:
    result = run("config", "write", "-", stdin=PAGE_INTENTIONS.read_bytes())
    assert result == Result(0, "Config entry written: service-intentions/service-name\n", "")
    assert entry(dc1, "service-intentions", "service-name")["Sources"][0]["Peer"] == "cluster-02"


def test_write_reads_json_from_stdin(run: Run, dc1: Cluster) -> None:
    result = run("config", "write", "-", stdin=b"\n  " + EXPORTS_JSON)
    assert result == Result(0, "Config entry written: exported-services/default\n", "")
    assert entry(dc1, "exported-services", "default")["Services"][0]["Name"] == "web"


def test_write_accepts_snake_case_and_lower_case_keys(run: Run, dc1: Cluster) -> None:
    body = (
        b'{"kind":"exported-services","name":"default","services":'
        b'[{"name":"web","consumers":[{"peer_name":"p1"}]}]}'
    )
    assert run("config", "write", "-", stdin=body).code == 0
    assert entry(dc1, "exported-services", "default")["Services"][0]["Consumers"] == [
        {"Peer": "p1"}
    ]


def test_write_of_the_mesh_entry_prints_mesh_mesh(run: Run, dc1: Cluster) -> None:
    body = b'Kind = "mesh"\nPeering {\n  PeerThroughMeshGateways = true\n}\n'
    assert run("config", "write", "-", stdin=body) == Result(
        0, "Config entry written: mesh/mesh\n", ""
    )
    assert entry(dc1, "mesh", "mesh")["Peering"]["PeerThroughMeshGateways"] is True


def test_write_warns_about_permissive_mtls_on_stderr(run: Run) -> None:
    body = b'{"Kind":"mesh","AllowEnablingPermissiveMutualTLS":true}'
    assert run("config", "write", "-", stdin=body) == Result(
        0, "Config entry written: mesh/mesh\n", f"WARNING: {WARNING_MESH_PERMISSIVE}\n"
    )


def test_write_of_an_unknown_key_is_refused_before_sending(run: Run, dc1: Cluster) -> None:
    body = EXPORTS_JSON[:-1] + b',"Foo":1}'
    assert run("config", "write", "-", stdin=body) == Result(
        1,
        "",
        "Failed to decode config entry input: 1 error occurred:\n"
        '\t* invalid config key "Foo"\n\n\n',
    )
    assert absent(dc1, "exported-services", "default")


def test_write_of_an_unknown_kind_is_a_decode_error(run: Run) -> None:
    assert run("config", "write", "-", stdin=b'Kind = "foo"\nName = "x"\n') == Result(
        1, "", "Failed to decode config entry input: invalid config entry kind: foo\n"
    )


def test_write_without_a_kind_is_a_decode_error(run: Run) -> None:
    assert run("config", "write", "-", stdin=b'Name = "x"\n') == Result(
        1,
        "",
        "Failed to decode config entry input: Payload does not contain a kind/Kind key at the "
        "top level\n",
    )


def test_write_of_malformed_hcl_never_raises(run: Run) -> None:
    result = run("config", "write", "-", stdin=b'Kind = "mesh"\nPeering = {\n  x = ]\n')
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Failed to decode config entry input: Failed to decode config entry input: At "
    )
    assert "Traceback" not in result.stderr


def test_write_validation_failure_is_the_servers_500(run: Run) -> None:
    body = b'{"Kind":"exported-services","Name":"foo","Services":[]}'
    assert run("config", "write", "-", stdin=body) == Result(
        1,
        "",
        "Error writing config entry exported-services/foo: Unexpected response code: 500 "
        '(exported-services Name must be "default")\n',
    )


def test_write_needs_exactly_one_argument(run: Run) -> None:
    message = "Must provide exactly one positional argument to specify the config entry to write\n"
    assert run("config", "write") == Result(1, "", message)
    assert run("config", "write", "a.hcl", "b.hcl") == Result(1, "", message)


def test_write_of_an_empty_argument_doubles_the_load_prefix(run: Run) -> None:
    assert run("config", "write", "") == Result(
        1,
        "",
        "Failed to load data: Failed to load data: must specify a file path or '-' for stdin\n",
    )


def test_write_of_a_missing_file_reports_gos_open_error(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "nope.hcl"
    assert run("config", "write", str(missing)) == Result(
        1,
        "",
        f"Failed to load data: Failed to read file: open {missing}: no such file or directory\n",
    )


def test_write_cas_zero_creates_then_refuses(run: Run, dc1: Cluster) -> None:
    first = run("config", "write", "-cas", "-modify-index=0", "-", stdin=EXPORTS_JSON)
    assert first == Result(0, "Config entry written: exported-services/default\n", "")
    changed = EXPORTS_JSON.replace(b"cluster-02", b"cluster-03")
    second = run("config", "write", "-cas", "-", stdin=changed)
    assert second == Result(1, "", "Config entry not updated: exported-services/default\n")
    consumers = entry(dc1, "exported-services", "default")["Services"][0]["Consumers"]
    assert consumers == [{"Peer": "cluster-02"}]


def test_write_cas_with_the_current_index_writes(run: Run, dc1: Cluster) -> None:
    assert run("config", "write", "-", stdin=EXPORTS_JSON).code == 0
    index = entry(dc1, "exported-services", "default")["ModifyIndex"]
    changed = EXPORTS_JSON.replace(b"cluster-02", b"cluster-03")
    stale = run("config", "write", "-cas", f"-modify-index={index - 1}", "-", stdin=changed)
    assert stale == Result(1, "", "Config entry not updated: exported-services/default\n")
    fresh = run("config", "write", "-cas", "-modify-index", str(index), "-", stdin=changed)
    assert fresh == Result(0, "Config entry written: exported-services/default\n", "")
    assert entry(dc1, "exported-services", "default")["ModifyIndex"] > index


def test_write_bad_http_addr_is_the_connect_error(run: Run) -> None:
    result = run("config", "write", "-http-addr", "ftp://h:1", "-", stdin=EXPORTS_JSON)
    assert result == Result(1, "", "Error connect to Consul agent: Unknown protocol scheme: ftp\n")


# -- read -----------------------------------------------------------------------------------------
def test_read_prints_the_entry_as_indented_json(run: Run, dc1: Cluster) -> None:
    assert run("config", "write", str(PAGE_CONFIG)).code == 0
    stored = entry(dc1, "exported-services", "default")
    result = run("config", "read", "-kind", "exported-services", "-name", "default")
    assert result == Result(
        0,
        "{\n"
        '    "Kind": "exported-services",\n'
        '    "Name": "default",\n'
        '    "Services": [\n'
        "        {\n"
        '            "Name": "service-name",\n'
        '            "Consumers": [\n'
        "                {\n"
        '                    "Peer": "cluster-02"\n'
        "                }\n"
        "            ]\n"
        "        }\n"
        "    ],\n"
        f'    "CreateIndex": {stored["CreateIndex"]},\n'
        f'    "ModifyIndex": {stored["ModifyIndex"]}\n'
        "}\n",
        "",
    )


def test_read_of_a_missing_entry_is_the_404(run: Run) -> None:
    assert run("config", "read", "-kind", "exported-services", "-name", "other") == Result(
        1,
        "",
        "Error reading config entry exported-services/other: Unexpected response code: 404 "
        '(Config entry not found for "exported-services" / "other")\n',
    )


def test_read_of_an_unknown_kind_fails_in_the_client(run: Run) -> None:
    assert run("config", "read", "-kind", "foo", "-name", "bar") == Result(
        1, "", "Error reading config entry foo/bar: invalid config entry kind: foo\n"
    )


def test_read_requires_kind_then_name(run: Run) -> None:
    assert run("config", "read", "-name", "x") == Result(
        1, "", "Must specify the -kind parameter\n"
    )
    assert run("config", "read", "-kind", "mesh") == Result(
        1, "", "Must specify the -name parameter\n"
    )


# -- list -----------------------------------------------------------------------------------------
def test_list_prints_names_one_per_line_case_insensitively_sorted(run: Run) -> None:
    for name in ("db", "Api"):
        body = (
            f'Kind = "service-intentions"\nName = "{name}"\n'
            'Sources = [{ Name = "web", Action = "allow" }]\n'
        ).encode()
        assert run("config", "write", "-", stdin=body).code == 0
    assert run("config", "list", "-kind", "service-intentions") == Result(0, "Api\ndb\n", "")


def test_list_of_no_entries_prints_nothing(run: Run) -> None:
    assert run("config", "list", "-kind", "exported-services") == Result(0, "", "")


def test_list_of_the_mesh_entry_prints_mesh(run: Run) -> None:
    assert run("config", "write", "-", stdin=b'{"Kind":"mesh"}').code == 0
    assert run("config", "list", "-kind", "mesh") == Result(0, "mesh\n", "")


def test_list_of_an_unknown_kind_is_the_servers_500(run: Run) -> None:
    assert run("config", "list", "-kind", "nope") == Result(
        1,
        "",
        'Error listing config entries for kind "nope": Unexpected response code: 500 '
        "(invalid config entry kind: nope)\n",
    )


def test_list_requires_kind(run: Run) -> None:
    assert run("config", "list") == Result(1, "", "Must specify the -kind parameter\n")


# -- delete ---------------------------------------------------------------------------------------
def test_delete_prints_deleted_and_removes_the_entry(run: Run, dc1: Cluster) -> None:
    assert run("config", "write", str(PAGE_INTENTIONS)).code == 0
    result = run("config", "delete", "-kind", "service-intentions", "-name", "service-name")
    assert result == Result(0, "Config entry deleted: service-intentions/service-name\n", "")
    assert absent(dc1, "service-intentions", "service-name")


def test_delete_of_a_missing_entry_succeeds(run: Run) -> None:
    assert run("config", "delete", "-kind", "service-intentions", "-name", "ghost") == Result(
        0, "Config entry deleted: service-intentions/ghost\n", ""
    )


def test_delete_by_filename_uses_the_files_kind_and_name(run: Run, dc1: Cluster) -> None:
    assert run("config", "write", str(PAGE_CONFIG)).code == 0
    assert run("config", "delete", "-filename", str(PAGE_CONFIG)) == Result(
        0, "Config entry deleted: exported-services/default\n", ""
    )
    assert absent(dc1, "exported-services", "default")


def test_delete_cas_with_a_stale_index_keeps_the_entry(run: Run, dc1: Cluster) -> None:
    assert run("config", "write", "-", stdin=EXPORTS_JSON).code == 0
    index = entry(dc1, "exported-services", "default")["ModifyIndex"]
    args = ("config", "delete", "-kind", "exported-services", "-name", "default", "-cas")
    assert run(*args, f"-modify-index={index + 1}") == Result(
        1, "", "Config entry not deleted: exported-services/default\n"
    )
    assert not absent(dc1, "exported-services", "default")
    assert run(*args, f"-modify-index={index}") == Result(
        0, "Config entry deleted: exported-services/default\n", ""
    )
    assert absent(dc1, "exported-services", "default")


def test_delete_argument_errors_in_consuls_order(run: Run) -> None:
    def err(*args: str) -> Result:
        return run("config", "delete", *args)

    assert err() == Result(1, "", "Must specify the -kind or -filename parameter\n")
    assert err("-name", "x") == Result(1, "", "Must specify the -kind parameter\n")
    assert err("-kind", "mesh") == Result(1, "", "Must specify the -name parameter\n")
    assert err("-filename", "f", "-kind", "mesh") == Result(
        1, "", "filename can't be used with kind or name\n"
    )
    assert err("-filename", "f", "-kind", "k", "-name", "n") == Result(
        1, "", "filename can't be used with kind or name\n"
    )
    assert err("-kind", "k", "-name", "n", "-cas") == Result(
        1, "", "Must specify a -modify-index greater than 0 with -cas\n"
    )
    assert err("-kind", "k", "-name", "n", "-modify-index", "3") == Result(
        1, "", "Cannot specify -modify-index without -cas\n"
    )


def test_delete_of_an_unknown_kind_is_the_servers_400(run: Run) -> None:
    assert run("config", "delete", "-kind", "nope", "-name", "x") == Result(
        1,
        "",
        "Error deleting config entry nope/x: Unexpected response code: 400 "
        "(invalid config entry kind: nope)\n",
    )


def test_config_alone_prints_its_help_and_exits_1(run: Run) -> None:
    result = run("config")
    assert result.code == 1
    assert result.stdout.startswith("Usage: consul-sim config <subcommand> [options] [args]\n")
    for sub in ("delete", "list", "read", "write"):
        assert f"\n    {sub}  " in result.stdout
