"""consul-sim peering …: Consul's outputs, errors and exit codes, plus the seed page's spellings,
against in-process clusters (and, once, the page's two commands against served clusters)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from consul_sim.cli.commands.peering import columnize, go_time_string
from consul_sim.cli.main import main
from consul_sim.server import ServedWorld
from consul_sim.world import Cluster, World
from tests.cli.conftest import Result

INVALID_FORMAT = "Invalid format, valid formats are {json|pretty}\n"


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=11)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def c1(world: World) -> Cluster:
    return world.add_cluster("cluster-01")


@pytest.fixture
def c2(world: World) -> Cluster:
    return world.add_cluster("cluster-02")


def run(cluster: Cluster | None, *argv: str, env: Mapping[str, str] | None = None) -> Result:
    """main() with captured streams; ``cluster`` None means a real HTTP client (server mode)."""
    out, err = io.StringIO(), io.StringIO()
    factory = None if cluster is None else (lambda url: cluster.client)
    code = main(
        list(argv),
        client_factory=factory,
        env={} if env is None else env,
        stdout=out,
        stderr=err,
        stdin=io.BytesIO(b""),
    )
    return Result(code, out.getvalue(), err.getvalue())


def token_for(acceptor: Cluster, peer: str) -> str:
    result = run(acceptor, "peering", "generate-token", "-name", peer)
    assert (result.code, result.stderr) == (0, ""), result
    return result.stdout.strip()


def peering(cluster: Cluster, name: str) -> dict[str, Any]:
    response = cluster.client.get(f"/v1/peering/{name}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def peer(c1: Cluster, c2: Cluster) -> None:
    """cluster-01 accepts as "cluster-02"; cluster-02 dials as "cluster-01"."""
    result = run(
        c2,
        "peering",
        "establish",
        "-name",
        "cluster-01",
        "-peering-token",
        token_for(c1, "cluster-02"),
    )
    assert result.code == 0, result


# -- generate-token -------------------------------------------------------------------------------
def test_generate_token_prints_the_token_alone(c1: Cluster) -> None:
    result = run(c1, "peering", "generate-token", "-name", "cluster-02")
    assert (result.code, result.stderr) == (0, "")
    token = result.stdout.removesuffix("\n")
    assert "\n" not in token
    decoded = json.loads(base64.b64decode(token))
    assert decoded["PeerID"] == peering(c1, "cluster-02")["ID"]
    assert peering(c1, "cluster-02")["State"] == "PENDING"


def test_generate_token_json_format_prints_the_response_object(c1: Cluster) -> None:
    result = run(c1, "peering", "generate-token", "-name=cluster-02", "-format=json")
    assert (result.code, result.stderr) == (0, "")
    body = json.loads(result.stdout)
    assert list(body) == ["PeeringToken"]
    assert result.stdout == '{"PeeringToken":"' + body["PeeringToken"] + '"}\n'


def test_generate_token_accepts_the_pages_peer_spelling(c1: Cluster) -> None:
    result = run(c1, "peering", "generate-token", "-peer=cluster-02")
    assert (result.code, result.stderr) == (0, "")
    assert peering(c1, "cluster-02")["Name"] == "cluster-02"


def test_generate_token_sends_meta_and_external_addresses(c1: Cluster) -> None:
    result = run(
        c1,
        "peering",
        "generate-token",
        "--name",
        "cluster-02",
        "-meta",
        "env=prod",
        "-meta=team=a",
        "-server-external-addresses",
        "lb1.example:8502,lb2.example:8502",
    )
    assert result.code == 0, result
    assert peering(c1, "cluster-02")["Meta"] == {"env": "prod", "team": "a"}
    token = json.loads(base64.b64decode(result.stdout.strip()))
    assert token["ManualServerAddresses"] == ["lb1.example:8502", "lb2.example:8502"]


def test_generate_token_without_name_is_consuls_missing_flag_error(c1: Cluster) -> None:
    assert run(c1, "peering", "generate-token") == Result(
        1, "", "Missing the required -name flag\n"
    )


def test_generate_token_with_a_bad_format_is_refused_before_any_call(c1: Cluster) -> None:
    result = run(c1, "peering", "generate-token", "-name", "x", "-format", "yaml")
    assert result == Result(1, "", INVALID_FORMAT)
    assert c1.client.get("/v1/peerings").json() == []


def test_generate_token_meta_without_equals_is_a_flag_error(c1: Cluster) -> None:
    result = run(c1, "peering", "generate-token", "-name", "x", "-meta", "oops")
    assert result.code == 1
    assert result.stderr.startswith(
        'invalid value "oops" for flag -meta: Missing "=" value in argument: oops\nUsage:\n'
    )


def test_generate_token_api_error_is_printed_with_the_status_and_body(c1: Cluster) -> None:
    result = run(c1, "peering", "generate-token", "-name", "Bad_Name")
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error generating peering token for Bad_Name: Unexpected response code: 500 "
        "(rpc error: code = Unknown desc = Bad_Name is not a valid peer name: a valid peering "
        "name must consist of lower case alphanumeric characters or '-', and must start and "
        "end with an alphanumeric character)\n"
    )


def test_generate_token_for_a_dialer_name_is_refused(c1: Cluster, c2: Cluster) -> None:
    peer(c1, c2)
    result = run(c2, "peering", "generate-token", "-name", "cluster-01")
    assert result.code == 1
    assert result.stderr == (
        "Error generating peering token for cluster-01: Unexpected response code: 500 "
        '(rpc error: code = Unknown desc = cannot create peering with name: "cluster-01"; '
        "there is already an established peering)\n"
    )


def test_bad_http_addr_scheme_is_the_connect_error(c1: Cluster) -> None:
    result = run(c1, "peering", "generate-token", "-name", "x", "-http-addr", "ftp://h:1")
    assert result == Result(1, "", "Error connect to Consul agent: Unknown protocol scheme: ftp\n")


# -- establish / initiate -------------------------------------------------------------------------
def test_establish_prints_consuls_success_line(c1: Cluster, c2: Cluster) -> None:
    token = token_for(c1, "cluster-02")
    result = run(c2, "peering", "establish", "-name", "cluster-01", "-peering-token", token)
    assert result == Result(0, "Successfully established peering connection with cluster-01\n", "")
    assert peering(c2, "cluster-01")["State"] in ("ESTABLISHING", "ACTIVE")


def test_establish_checks_name_then_peering_token(c2: Cluster) -> None:
    assert run(c2, "peering", "establish") == Result(1, "", "Missing the required -name flag\n")
    assert run(c2, "peering", "establish", "-name", "x") == Result(
        1, "", "Missing the required -peering-token flag\n"
    )


def test_establish_does_not_know_the_pages_peer_flag(c2: Cluster) -> None:
    result = run(c2, "peering", "establish", "-peer", "cluster-01")
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("flag provided but not defined: -peer\nUsage:\n")


def test_establish_with_a_used_token_reports_the_rpc_error(c1: Cluster, c2: Cluster) -> None:
    token = token_for(c1, "cluster-02")
    assert run(c2, "peering", "establish", "-name", "cluster-01", "-peering-token", token).code == 0
    result = run(c2, "peering", "establish", "-name", "cluster-01", "-peering-token", token)
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error establishing peering for cluster-01: Unexpected response code: 500 (rpc error: "
        "code = PermissionDenied desc = a new peering token must be generated"
    )


def test_establish_with_a_non_base64_token_reports_the_decode_error(c2: Cluster) -> None:
    result = run(c2, "peering", "establish", "-name", "cluster-01", "-peering-token", "!!!")
    assert result.code == 1
    assert result.stderr.startswith(
        "Error establishing peering for cluster-01: Unexpected response code: 500 ("
    )
    assert "illegal base64 data at input byte 0" in result.stderr


def test_initiate_is_establish_with_the_pages_flags_and_prints_nothing(
    c1: Cluster, c2: Cluster
) -> None:
    token = token_for(c1, "cluster-02")
    result = run(c2, "peering", "initiate", "-peer=cluster-01", f"-token={token}")
    assert result == Result(0, "", "")
    assert peering(c2, "cluster-01")["State"] in ("ESTABLISHING", "ACTIVE")


def test_initiate_also_takes_consuls_flag_names(c1: Cluster, c2: Cluster) -> None:
    token = token_for(c1, "cluster-02")
    result = run(c2, "peering", "initiate", "-name", "cluster-01", "-peering-token", token)
    assert result == Result(0, "", "")


def test_initiate_reports_missing_flags_by_the_pages_names(c2: Cluster) -> None:
    assert run(c2, "peering", "initiate") == Result(1, "", "Missing the required -peer flag\n")
    assert run(c2, "peering", "initiate", "-peer", "cluster-01") == Result(
        1, "", "Missing the required -token flag\n"
    )


def test_initiate_failure_goes_to_stderr_with_exit_1(c1: Cluster, c2: Cluster) -> None:
    token = token_for(c1, "cluster-02")
    result = run(c2, "peering", "initiate", "-peer=Cluster-01", f"-token={token}")
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error establishing peering for Cluster-01: Unexpected response code: 500 "
        "(rpc error: code = Unknown desc = Cluster-01 is not a valid peer name"
    )


# -- read -----------------------------------------------------------------------------------------
def test_read_pretty_prints_consuls_layout_for_a_dialer(c1: Cluster, c2: Cluster) -> None:
    peer(c1, c2)
    raw = peering(c2, "cluster-01")
    stream = raw["StreamStatus"]
    result = run(c2, "peering", "read", "-name", "cluster-01")
    addresses = "".join(f"    {a}" for a in raw["PeerServerAddresses"])
    assert result == Result(
        0,
        "Name:         cluster-01\n"
        f"ID:           {raw['ID']}\n"
        f"State:        {raw['State']}\n"
        "\n"
        f"Peer ID:               {raw['PeerID']}\n"
        f"Peer Server Name:      {raw['PeerServerName']}\n"
        f"Peer CA Pems:          {len(raw.get('PeerCAPems') or [])}\n"
        "Peer Server Addresses:\n"
        f"{addresses}\n"
        "Imported Services: 0\n"
        "Exported Services: 0\n"
        "\n"
        f"Last Heartbeat:    {go_time_string(stream['LastHeartbeat'])}\n"
        f"Last Send:         {go_time_string(stream['LastSend'])}\n"
        f"Last Receive:      {go_time_string(stream['LastReceive'])}\n"
        "\n"
        f"Create Index: {raw['CreateIndex']}\n"
        f"Modify Index: {raw['ModifyIndex']}\n"
        "\n",
        "",
    )


def test_read_pretty_for_a_fresh_acceptor_shows_meta_and_nil_times(c1: Cluster) -> None:
    run(c1, "peering", "generate-token", "-name", "cluster-02", "-meta", "env=prod")
    raw = peering(c1, "cluster-02")
    result = run(c1, "peering", "read", "-name", "cluster-02")
    assert result == Result(
        0,
        "Name:         cluster-02\n"
        f"ID:           {raw['ID']}\n"
        "State:        PENDING\n"
        "Meta:\n"
        "    env=prod\n"
        "\n"
        "Peer ID:               \n"
        "Peer Server Name:      \n"
        "Peer CA Pems:          0\n"
        "\n"
        "Imported Services: 0\n"
        "Exported Services: 0\n"
        "\n"
        "Last Heartbeat:    <nil>\n"
        "Last Send:         <nil>\n"
        "Last Receive:      <nil>\n"
        "\n"
        f"Create Index: {raw['CreateIndex']}\n"
        f"Modify Index: {raw['ModifyIndex']}\n"
        "\n",
        "",
    )


def test_read_pretty_of_a_deleted_peering_shows_deleted_at(c1: Cluster) -> None:
    token_for(c1, "cluster-02")
    assert run(c1, "peering", "delete", "-name", "cluster-02").code == 0
    raw = peering(c1, "cluster-02")
    result = run(c1, "peering", "read", "-name", "cluster-02")
    assert result.code == 0
    deleted_at = raw["DeletedAt"].split(".")[0].removesuffix("Z") + "Z"
    assert f"DeletedAt:    {deleted_at}\nState:        DELETING\n" in result.stdout


def test_read_json_is_the_compact_go_api_peering(c1: Cluster, c2: Cluster) -> None:
    peer(c1, c2)
    raw = peering(c2, "cluster-01")
    result = run(c2, "peering", "read", "-name", "cluster-01", "-format", "json")
    assert (result.code, result.stderr) == (0, "")
    assert result.stdout.endswith("}\n") and "\n" not in result.stdout[:-1]
    printed = json.loads(result.stdout)
    # Go's api.Peering has no field for the page's lowercase keys, so the CLI drops them.
    expected = {k: v for k, v in raw.items() if k not in ("status", "connected")}
    assert printed == expected
    assert list(printed) == [k for k in raw if k in expected]


def test_read_of_an_unknown_name_is_not_found_with_exit_1(c1: Cluster) -> None:
    assert run(c1, "peering", "read", "-name", "nope") == Result(
        1, "", "No peering with name nope found.\n"
    )


def test_read_checks_name_then_format(c1: Cluster) -> None:
    assert run(c1, "peering", "read") == Result(1, "", "Missing the required -name flag\n")
    assert run(c1, "peering", "read", "-name", "x", "-format", "xml") == Result(
        1, "", INVALID_FORMAT
    )


def test_read_api_error_is_error_reading_peering(c1: Cluster) -> None:
    result = run(c1, "peering", "read", "-name", "x", "-partition", "ap1")
    assert result == Result(
        1,
        "",
        "Error reading peering: Unexpected response code: 400 (Invalid query parameter: "
        '"partition" - Partitions are a Consul Enterprise feature)\n',
    )


# -- list -----------------------------------------------------------------------------------------
def test_list_with_no_peerings_says_so(c1: Cluster) -> None:
    assert run(c1, "peering", "list") == Result(0, "There are no peering connections.\n", "")


def test_list_json_with_no_peerings_is_an_empty_array(c1: Cluster) -> None:
    assert run(c1, "peering", "list", "-format", "json") == Result(0, "[]\n", "")


def test_list_pretty_is_a_columnized_table_sorted_by_name(c1: Cluster, c2: Cluster) -> None:
    peer(c1, c2)
    run(c1, "peering", "generate-token", "-name", "alpha", "-meta", "env=dev")
    result = run(c1, "peering", "list")
    state = peering(c1, "cluster-02")["State"]
    width = max(len("State"), len(state), len("PENDING"))
    assert result == Result(
        0,
        f"Name        {'State'.ljust(width)}  Imported Svcs  Exported Svcs  Meta\n"
        f"alpha       {'PENDING'.ljust(width)}  0              0              env=dev\n"
        f"cluster-02  {state.ljust(width)}  0              0              \n",
        "",
    )


def test_list_json_is_sorted_go_api_peerings(c1: Cluster) -> None:
    token_for(c1, "zulu")
    token_for(c1, "alpha")
    result = run(c1, "peering", "list", "-format=json")
    assert result.code == 0
    printed = json.loads(result.stdout)
    assert [p["Name"] for p in printed] == ["alpha", "zulu"]
    assert all("status" not in p and "connected" not in p for p in printed)


def test_list_rejects_a_bad_format(c1: Cluster) -> None:
    assert run(c1, "peering", "list", "-format", "table") == Result(1, "", INVALID_FORMAT)


def test_list_reaching_no_agent_is_error_listing_peerings(world: World) -> None:
    result = run(None, "peering", "list", "-http-addr", "127.0.0.1:1")
    assert result.code == 1
    assert result.stderr == (
        'Error listing peerings: Get "http://127.0.0.1:1/v1/peerings": dial tcp 127.0.0.1:1: '
        "connect: connection refused\n"
    )


# -- delete ---------------------------------------------------------------------------------------
def test_delete_prints_submitted_and_marks_the_peering_deleting(c1: Cluster) -> None:
    token_for(c1, "cluster-02")
    result = run(c1, "peering", "delete", "-name", "cluster-02")
    assert result == Result(
        0, "Successfully submitted peering connection, cluster-02, for deletion\n", ""
    )
    assert peering(c1, "cluster-02")["State"] == "DELETING"


def test_delete_of_an_unknown_name_still_succeeds(c1: Cluster) -> None:
    result = run(c1, "peering", "delete", "-name", "ghost")
    assert result == Result(
        0, "Successfully submitted peering connection, ghost, for deletion\n", ""
    )


def test_delete_requires_name(c1: Cluster) -> None:
    assert run(c1, "peering", "delete") == Result(1, "", "Missing the required -name flag\n")


def test_delete_bad_http_addr_is_the_connecting_error(c1: Cluster) -> None:
    result = run(c1, "peering", "delete", "-name", "x", "-http-addr", "gopher://h:1")
    assert result == Result(
        1, "", "Error connecting to Consul agent: Unknown protocol scheme: gopher\n"
    )


# -- exported-services ----------------------------------------------------------------------------
def test_exported_services_reads_the_peering_stream_status(c1: Cluster, c2: Cluster) -> None:
    """Consul's command reads ``GET /v1/peering/<name>`` and lists StreamStatus.ExportedServices
    (command/peering/exportedservices); nothing is exported yet, so pretty prints an empty line
    and json an empty array."""
    peer(c1, c2)
    assert peering(c1, "cluster-02")["StreamStatus"]["ExportedServices"] is None
    assert run(c1, "peering", "exported-services", "-name", "cluster-02") == Result(0, "\n", "")
    assert run(
        c1, "peering", "exported-services", "-name", "cluster-02", "-format", "json"
    ) == Result(0, "[]\n", "")


def test_exported_services_of_an_unknown_name_is_not_found(c1: Cluster) -> None:
    assert run(c1, "peering", "exported-services", "-name", "nope") == Result(
        1, "", "No peering with name nope found.\n"
    )
    assert run(c1, "peering", "exported-services") == Result(
        1, "", "Missing the required -name flag\n"
    )


def test_exported_services_endpoint_lists_each_service_with_its_consumer_peers(
    c1: Cluster,
) -> None:
    """GET /v1/exported-services (1.17.3+) is not what the CLI reads, but the simulator serves
    it in Consul's shape: ``[{"Service", "Consumers": {"Peers"}}]``, empty lists left out."""
    response = c1.client.get("/v1/exported-services")
    assert (response.status_code, response.text) == (200, "[]")
    c1.config.write(
        {
            "Kind": "exported-services",
            "Name": "default",
            "Services": [{"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}],
        }
    )
    response = c1.client.get("/v1/exported-services")
    assert (response.status_code, response.json()) == (
        200,
        [{"Service": "web", "Consumers": {"Peers": ["cluster-02"]}}],
    )


# -- Go formatting helpers ------------------------------------------------------------------------
def test_go_time_string_matches_time_time_string() -> None:
    assert go_time_string(None) == "<nil>"
    assert go_time_string("0001-01-01T00:00:00Z") == "0001-01-01 00:00:00 +0000 UTC"
    assert go_time_string("2024-05-01T12:00:15.100Z") == "2024-05-01 12:00:15.1 +0000 UTC"
    assert go_time_string("2024-05-01T12:00:15+02:00") == "2024-05-01 12:00:15 +0200 +0200"


def test_columnize_pads_every_column_but_the_last() -> None:
    assert columnize([["a", "bb", "c"], ["ccc", "d", ""]]) == "a    bb  c\nccc  d   "


# -- the page, verbatim, in server mode ----------------------------------------------------------
@pytest.fixture
def served() -> Iterator[ServedWorld]:
    world = World(clock="virtual", seed=21)
    world.add_cluster("cluster-01")
    world.add_cluster("cluster-02")
    server = ServedWorld(world, {"cluster-01": 0, "cluster-02": 0})
    try:
        server.start()
        yield server
    finally:
        server.stop()
        world.close()


@pytest.mark.slow
def test_the_pages_two_commands_peer_two_served_clusters(served: ServedWorld) -> None:
    addr1 = f"127.0.0.1:{served.ports['cluster-01']}"
    addr2 = f"127.0.0.1:{served.ports['cluster-02']}"

    # In "cluster-01": consul peering generate-token -peer="cluster-02" (the shell strips quotes)
    generated = run(None, "peering", "generate-token", "-peer=cluster-02", "-http-addr", addr1)
    assert (generated.code, generated.stderr) == (0, "")
    token = generated.stdout.strip()
    assert token and "\n" not in token

    # In "cluster-02": consul peering initiate -peer="cluster-01" -token="<token>"
    initiated = run(
        None, "peering", "initiate", "-peer=cluster-01", f"-token={token}", "-http-addr", addr2
    )
    assert initiated == Result(0, "", "")

    read = run(None, "peering", "read", "-name", "cluster-01", env={"CONSUL_HTTP_ADDR": addr2})
    assert read.code == 0, read
    state_line = read.stdout.splitlines()[2]
    assert state_line in ("State:        ESTABLISHING", "State:        ACTIVE")

    with httpx.Client(base_url=served.url("cluster-02")) as http:
        response = http.get("/v1/peering/cluster-01")
    assert response.status_code == 200
    assert response.json()["connected"] is True


def test_peering_alone_prints_its_help_with_initiate_and_exits_1(c1: Cluster) -> None:
    result = run(c1, "peering")
    assert result.code == 1
    assert result.stdout.startswith("Usage: consul-sim peering <subcommand> [options] [args]\n")
    for sub in ("delete", "establish", "exported-services", "generate-token", "initiate", "list"):
        assert f"\n    {sub} " in result.stdout
