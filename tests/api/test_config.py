"""/v1/config against Consul's answers (config-entries reference §1 and conformance §6)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from consul_sim.config.hcl import DECODE_PREFIX
from consul_sim.errors import BadRequest
from consul_sim.models.config_entries import (
    ExportedServicesConfigEntry,
    ServiceIntentionsConfigEntry,
)
from consul_sim.world import Cluster, World

ROOT = Path(__file__).resolve().parents[2]
EXPORT: dict[str, Any] = {
    "Kind": "exported-services",
    "Name": "default",
    "Services": [{"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}],
}
EXPORT_URL = "/v1/config/exported-services/default"


def put(client: httpx.Client, body: Any, **params: Any) -> httpx.Response:
    return client.put("/v1/config", content=json.dumps(body), params=params)


def put_ok(client: httpx.Client, body: Any, **params: Any) -> None:
    r = put(client, body, **params)
    assert (r.status_code, r.text) == (200, "true")


def exported(*peers: str) -> dict[str, Any]:
    consumers = [{"Peer": p} for p in peers]
    return {**EXPORT, "Services": [{"Name": "web", "Consumers": consumers}]}


def modify_index(client: httpx.Client, url: str = EXPORT_URL) -> int:
    index: int = client.get(url).json()["ModifyIndex"]
    return index


def assert_error(r: httpx.Response, status: int, body: str) -> None:
    assert (r.status_code, r.text) == (status, body)
    assert r.headers["content-type"].startswith("text/plain")


# -- conformance 1-12: write, read, CAS, delete ---------------------------------------------------
def test_put_exported_services_answers_true(client: httpx.Client) -> None:  # 1
    r = put(client, EXPORT)
    assert (r.status_code, r.text) == (200, "true")
    assert r.headers["content-type"] == "application/json"
    assert "X-Consul-Index" not in r.headers


def test_get_returns_entry_with_indexes_and_table_index_header(client: httpx.Client) -> None:  # 2
    put_ok(client, EXPORT)
    r = client.get(EXPORT_URL)
    assert r.status_code == 200
    entry = r.json()
    assert entry == {
        **EXPORT,
        "CreateIndex": entry["CreateIndex"],
        "ModifyIndex": entry["ModifyIndex"],
    }
    assert entry["Services"][0]["Consumers"][0]["Peer"] == "cluster-02"
    assert entry["CreateIndex"] == entry["ModifyIndex"] > 0
    assert int(r.headers["X-Consul-Index"]) >= entry["ModifyIndex"]


def test_get_missing_entry_is_404_with_consuls_body_and_index(client: httpx.Client) -> None:  # 3
    put_ok(client, EXPORT)
    r = client.get("/v1/config/exported-services/other")
    assert_error(r, 404, 'Config entry not found for "exported-services" / "other"')
    assert int(r.headers["X-Consul-Index"]) >= 1


def test_identical_put_answers_true_and_writes_nothing(client: httpx.Client) -> None:  # 4
    put_ok(client, EXPORT)
    before = client.get(EXPORT_URL)
    put_ok(client, EXPORT)
    after = client.get(EXPORT_URL)
    assert after.json()["ModifyIndex"] == before.json()["ModifyIndex"]
    assert after.headers["X-Consul-Index"] == before.headers["X-Consul-Index"]


def test_changed_put_raises_modify_index_and_keeps_create_index(client: httpx.Client) -> None:  # 5
    put_ok(client, EXPORT)
    first = client.get(EXPORT_URL).json()
    put_ok(client, exported("cluster-02", "cluster-03"))
    second = client.get(EXPORT_URL).json()
    assert second["ModifyIndex"] > first["ModifyIndex"]
    assert second["CreateIndex"] == first["CreateIndex"]


def test_put_with_stale_cas_returns_false_and_changes_nothing(client: httpx.Client) -> None:  # 6
    put_ok(client, EXPORT)
    m = modify_index(client)
    r = put(client, exported("cluster-03"), cas=m - 1)
    assert (r.status_code, r.text) == (200, "false")
    assert client.get(EXPORT_URL).json()["Services"] == EXPORT["Services"]


def test_put_with_current_cas_writes(client: httpx.Client) -> None:  # 7
    put_ok(client, EXPORT)
    m = modify_index(client)
    put_ok(client, exported("cluster-03"), cas=m)
    assert modify_index(client) > m


def test_cas_zero_only_creates(client: httpx.Client) -> None:  # 8
    put_ok(client, EXPORT, cas=0)
    r = put(client, exported("cluster-03"), cas=0)
    assert (r.status_code, r.text) == (200, "false")


def test_identical_put_with_stale_cas_is_still_true(client: httpx.Client) -> None:
    """Content identical after normalization: ``true`` and nothing written, indexes kept."""
    put_ok(client, EXPORT)
    before = client.get(EXPORT_URL).json()
    put_ok(client, EXPORT, cas=0)
    put_ok(client, EXPORT, cas=before["ModifyIndex"] - 1)
    assert client.get(EXPORT_URL).json() == before


def test_cas_on_a_missing_entry_is_false(client: httpx.Client) -> None:
    r = put(client, EXPORT, cas=7)
    assert (r.status_code, r.text) == (200, "false")


def test_delete_answers_empty_object_then_get_is_404(client: httpx.Client) -> None:  # 9
    put_ok(client, EXPORT)
    r = client.delete(EXPORT_URL)
    assert (r.status_code, r.text) == (200, "{}")
    assert client.get(EXPORT_URL).status_code == 404


def test_delete_of_missing_entry_answers_empty_object(client: httpx.Client) -> None:  # 10
    r = client.delete(EXPORT_URL)
    assert (r.status_code, r.text) == (200, "{}")


def test_delete_with_cas_only_removes_that_revision(client: httpx.Client) -> None:  # 11
    put_ok(client, EXPORT)
    m = modify_index(client)
    r = client.delete(EXPORT_URL, params={"cas": m + 1})
    assert (r.status_code, r.text) == (200, "false")
    assert client.get(EXPORT_URL).status_code == 200
    r = client.delete(EXPORT_URL, params={"cas": m})
    assert (r.status_code, r.text) == (200, "true")
    assert client.get(EXPORT_URL).status_code == 404


def test_delete_with_cas_zero_never_matches(client: httpx.Client) -> None:  # 12
    put_ok(client, EXPORT)
    r = client.delete(EXPORT_URL, params={"cas": 0})
    assert (r.status_code, r.text) == (200, "false")


def test_delete_with_cas_of_a_missing_entry_is_true(client: httpx.Client) -> None:
    r = client.delete(EXPORT_URL, params={"cas": 5})
    assert (r.status_code, r.text) == (200, "true")


def test_delete_raises_the_table_index(client: httpx.Client) -> None:
    put_ok(client, EXPORT)
    before = int(client.get(EXPORT_URL).headers["X-Consul-Index"])
    client.delete(EXPORT_URL)
    r = client.get("/v1/config/exported-services")
    assert r.text == "[]"
    assert int(r.headers["X-Consul-Index"]) > before


def test_cas_that_is_not_a_number_is_a_500(client: httpx.Client) -> None:
    r = put(client, EXPORT, cas="abc")
    assert_error(r, 500, 'strconv.ParseUint: parsing "abc": invalid syntax')


# -- conformance 13-18: decoding -------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, message",
    [
        ({"Name": "default"}, "Payload does not contain a kind/Kind key at the top level"),  # 13
        ({"KIND": "mesh"}, "Payload does not contain a kind/Kind key at the top level"),
        ({"Kind": 123}, "Kind value in payload is not a string"),  # 14
        ({"Kind": "Exported-Services"}, "invalid config entry kind: Exported-Services"),  # 15
        ({**EXPORT, "Foo": 1}, '1 error occurred:\n\t* invalid config key "Foo"\n\n'),  # 17
        (
            {**EXPORT, "Partition": "partition-name"},
            '1 error occurred:\n\t* invalid config key "Partition"\n\n',
        ),
        (
            {**EXPORT, "A": 1, "B": 2},
            '2 errors occurred:\n\t* invalid config key "A"\n\t* invalid config key "B"\n\n',
        ),
        (
            {
                "Kind": "service-intentions",
                "Name": "db",
                "Sources": [{"Name": "web", "Namespace": "x", "Action": "allow"}],
            },
            '1 error occurred:\n\t* invalid config key "Sources[0].Namespace", '
            "namespaces are a consul enterprise feature\n\n",
        ),
        ({"Kind": "mesh", "Name": "mesh"}, '1 error occurred:\n\t* invalid config key "Name"\n\n'),
    ],
)
def test_undecodable_bodies_are_400_with_consuls_text(
    client: httpx.Client, body: dict[str, Any], message: str
) -> None:
    assert_error(put(client, body), 400, f"Request decoding failed: {message}")


def test_snake_case_and_lower_case_keys_decode_to_camel_case(client: httpx.Client) -> None:  # 16
    body = {
        "kind": "exported-services",
        "name": "default",
        "services": [{"name": "web", "consumers": [{"peer_name": "p1"}]}],
    }
    put_ok(client, body)
    entry = client.get(EXPORT_URL).json()
    assert entry["Kind"] == "exported-services"
    assert entry["Services"] == [{"Name": "web", "Consumers": [{"Peer": "p1"}]}]


def test_camel_case_wins_over_its_snake_case_alias(client: httpx.Client) -> None:
    consumer = {"Peer": "kept", "peer_name": "dropped"}
    put_ok(client, {**EXPORT, "Services": [{"Name": "web", "Consumers": [consumer]}]})
    assert client.get(EXPORT_URL).json()["Services"][0]["Consumers"] == [{"Peer": "kept"}]


def test_peer_name_is_an_unknown_consumer_key(client: httpx.Client) -> None:  # 18
    body = {**EXPORT, "Services": [{"Name": "web", "Consumers": [{"PeerName": "p1"}]}]}
    r = put(client, body)
    assert r.status_code == 400
    assert 'invalid config key "Services[0].Consumers[0].PeerName"' in r.text


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "EOF"),
        (b"x", "invalid character 'x' looking for beginning of value"),
    ],
)
def test_unparseable_body_is_400(client: httpx.Client, raw: bytes, message: str) -> None:
    r = client.put("/v1/config", content=raw)
    assert_error(r, 400, f"Request decoding failed: {message}")


def test_wrong_value_type_is_a_decoding_failure(client: httpx.Client) -> None:
    r = put(client, {**EXPORT, "Services": 5})
    assert r.status_code == 400
    assert r.text.startswith("Request decoding failed: ")


def test_index_fields_in_a_body_are_ignored(client: httpx.Client) -> None:
    put_ok(client, {**EXPORT, "CreateIndex": 999, "ModifyIndex": 999})
    assert modify_index(client) < 999


# -- conformance 19-24: exported-services validation -----------------------------------------------
def _services(*consumers: dict[str, str], name: str = "web") -> dict[str, Any]:
    return {**EXPORT, "Services": [{"Name": name, "Consumers": list(consumers)}]}


@pytest.mark.parametrize(
    "body, message",
    [
        ({**EXPORT, "Name": "foo"}, 'exported-services Name must be "default"'),  # 19
        ({"Kind": "exported-services"}, 'exported-services Name must be "default"'),
        (_services({"Peer": "a"}, name=""), "Services[0]: service name cannot be empty"),  # 20
        ({**EXPORT, "Services": [{"Name": "web"}]}, "Services[0]: must have at least one consumer"),
        (
            _services({"Peer": "a"}, {"Peer": "*"}),
            "Services[0].Consumers[1]: exporting to all peers (wildcard) is not supported",
        ),  # 22
        (
            _services({"Peer": "a", "Partition": "ap"}),
            "Services[0].Consumers[0]: must define at most one of Peer, Partition, or "
            "SamenessGroup",
        ),  # 23
        (
            _services({"SamenessGroup": "sg"}),
            "Services[0].Consumers[0]: sameness-groups are an enterprise-only feature",
        ),  # 24
        (
            {**EXPORT, "Meta": {f"k{i}": "v" for i in range(65)}},
            "1 error occurred:\n\t* Meta exceeds maximum element count 64\n\n",
        ),
    ],
)
def test_invalid_exported_services_are_500_with_consuls_text(
    client: httpx.Client, body: dict[str, Any], message: str
) -> None:
    assert_error(put(client, body), 500, message)
    assert client.get(EXPORT_URL).status_code == 404


def test_empty_consumer_and_missing_services_are_accepted(client: httpx.Client) -> None:
    put_ok(client, _services({}))
    put_ok(client, {"Kind": "exported-services", "Name": "default"})
    assert client.get(EXPORT_URL).json()["Kind"] == "exported-services"


# -- conformance 25-27: lists, kinds, enterprise parameters ----------------------------------------
def intentions(name: str, *sources: dict[str, Any]) -> dict[str, Any]:
    return {"Kind": "service-intentions", "Name": name, "Sources": list(sources)}


ALLOW_WEB = {"Name": "web", "Action": "allow"}


def test_list_is_empty_then_sorted_by_case_insensitive_name(client: httpx.Client) -> None:  # 25
    r = client.get("/v1/config/service-intentions")
    assert (r.status_code, r.text) == (200, "[]")
    put_ok(client, intentions("db", ALLOW_WEB))
    put_ok(client, intentions("Api", ALLOW_WEB))
    names = [e["Name"] for e in client.get("/v1/config/service-intentions").json()]
    assert names == ["Api", "db"]


def test_names_are_looked_up_case_insensitively(client: httpx.Client) -> None:
    put_ok(client, intentions("web", ALLOW_WEB))
    assert client.get("/v1/config/service-intentions/WEB").json()["Name"] == "web"
    put_ok(client, intentions("Web", ALLOW_WEB))
    listed = client.get("/v1/config/service-intentions").json()
    assert [e["Name"] for e in listed] == ["Web"]


def test_unknown_kind_is_500_on_reads_and_400_on_delete(client: httpx.Client) -> None:  # 26
    assert_error(client.get("/v1/config/nope"), 500, "invalid config entry kind: nope")
    assert_error(client.get("/v1/config/nope/x"), 500, "invalid config entry kind: nope")
    assert_error(client.delete("/v1/config/nope/x"), 400, "invalid config entry kind: nope")


@pytest.mark.parametrize(
    "method, url",
    [
        ("GET", EXPORT_URL),
        ("GET", "/v1/config/exported-services"),
        ("DELETE", EXPORT_URL),
        ("PUT", "/v1/config"),
    ],
)
def test_namespace_parameter_is_refused_in_ce(client: httpx.Client, method: str, url: str) -> None:
    body = json.dumps(EXPORT) if method == "PUT" else None
    r = client.request(method, url, params={"ns": "team"}, content=body)  # 27
    assert_error(
        r, 400, 'Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature'
    )


def test_partition_header_is_refused_in_ce(client: httpx.Client) -> None:
    r = client.get(EXPORT_URL, headers={"X-Consul-Partition": "default"})
    assert_error(
        r, 400, 'Invalid header: "X-Consul-Partition" - Partitions are a Consul Enterprise feature'
    )


def test_body_error_wins_over_namespace_parameter(client: httpx.Client) -> None:
    r = client.put("/v1/config", params={"ns": "team"}, content=b"")
    assert_error(r, 400, "Request decoding failed: EOF")


def test_delete_without_a_name_is_404(client: httpx.Client) -> None:
    r = client.delete("/v1/config/exported-services")
    assert (r.status_code, r.text) == (404, "Must provide both a kind and name to delete")


def test_name_is_everything_after_the_kind(client: httpx.Client) -> None:
    put_ok(client, EXPORT)
    r = client.get("/v1/config/exported-services/default/x")
    assert_error(r, 404, 'Config entry not found for "exported-services" / "default/x"')


def test_filter_is_refused_for_kinds_other_than_service_defaults(client: httpx.Client) -> None:
    r = client.get("/v1/config/exported-services", params={"filter": "Name == web"})
    assert_error(r, 500, "filtering not supported for config entry kind=exported-services")


# -- conformance 28-33: service-intentions ---------------------------------------------------------
def test_intention_sources_are_sorted_by_precedence(client: httpx.Client) -> None:  # 28
    put_ok(
        client,
        intentions(
            "db",
            {"Name": "*", "Action": "deny"},
            {"Name": "web", "Peer": "cluster-01", "Action": "allow"},
        ),
    )
    entry = client.get("/v1/config/service-intentions/db").json()
    assert entry["Sources"] == [
        {
            "Name": "web",
            "Peer": "cluster-01",
            "Action": "allow",
            "Precedence": 9,
            "Type": "consul",
        },
        {"Name": "*", "Action": "deny", "Precedence": 8, "Type": "consul"},
    ]


def test_wildcard_destination_has_precedence_six_and_five(client: httpx.Client) -> None:
    put_ok(client, intentions("*", ALLOW_WEB, {"Name": "*", "Action": "deny"}))
    entry = client.get("/v1/config/service-intentions/*").json()
    assert [s["Precedence"] for s in entry["Sources"]] == [6, 5]


@pytest.mark.parametrize(
    "body, message",
    [
        (intentions("db"), "At least one source is required"),  # 29
        ({"Kind": "service-intentions", "Sources": [ALLOW_WEB]}, "Name is required"),
        (
            intentions("we*", ALLOW_WEB),
            "Name: wildcard character '*' cannot be used with partial values",
        ),
        (intentions("db", ALLOW_WEB, ALLOW_WEB), 'Sources[1] defines "web" more than once'),  # 30
        (
            intentions(
                "db",
                {"Name": "web", "Peer": "cluster-01", "Action": "allow"},
                {"Name": "web", "Peer": "cluster-01", "Action": "deny"},
            ),
            'Sources[1] defines peer("cluster-01") "web" more than once',
        ),
        (
            intentions("db", {"Name": "web", "Action": "permit"}),
            "Sources[0].Action must be set to 'allow' or 'deny'",
        ),  # 31
        (
            intentions("db", {"Name": "web", "Action": "Allow"}),
            "Sources[0].Action must be set to 'allow' or 'deny'",
        ),
        (
            intentions("db", {"Name": "web", "Peer": "*", "Action": "allow"}),
            "Sources[0].Peer: cannot use wildcard '*' in peer",
        ),  # 32
        (
            intentions("*", {"Name": "web", "Permissions": [{"Action": "allow", "HTTP": {}}]}),
            "Sources[0].Permissions cannot be specified on intentions with wildcarded destinations",
        ),  # 33
        (
            intentions(
                "db",
                {"Name": "web", "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]},
            ),
            'service "db" has protocol "tcp", which is incompatible with L7 intentions permissions',
        ),
        (
            intentions("db", {"Name": "web", "SamenessGroup": "sg", "Action": "allow"}),
            "Sources[0].SamenessGroup: Sameness groups are a Consul Enterprise feature. ",
        ),
        (
            intentions("db", {"Name": "w*", "Action": "allow"}),
            "Sources[0].Name: wildcard character '*' cannot be used with partial values",
        ),
    ],
)
def test_invalid_intentions_are_500_with_consuls_text(
    client: httpx.Client, body: dict[str, Any], message: str
) -> None:
    assert_error(put(client, body), 500, message)


def test_local_and_peer_sources_of_one_name_are_distinct(client: httpx.Client) -> None:  # 30
    """A local ``web`` and ``web`` from peer cluster-01 are two sources, each with its action."""
    put_ok(
        client, intentions("db", ALLOW_WEB, {"Name": "web", "Peer": "cluster-01", "Action": "deny"})
    )
    assert client.get("/v1/config/service-intentions/db").json()["Sources"] == [
        {"Name": "web", "Action": "allow", "Precedence": 9, "Type": "consul"},
        {"Name": "web", "Peer": "cluster-01", "Action": "deny", "Precedence": 9, "Type": "consul"},
    ]
    listed = client.get("/v1/connect/intentions").json()
    assert [(i["SourceName"], i.get("SourcePeer", ""), i["Action"]) for i in listed] == [
        ("web", "", "allow"),
        ("web", "cluster-01", "deny"),
    ]


def test_l7_permissions_are_allowed_once_the_service_speaks_http(client: httpx.Client) -> None:
    put_ok(client, {"Kind": "service-defaults", "Name": "db", "Protocol": "HTTP"})
    permission = {"Action": "allow", "HTTP": {"PathPrefix": "/v1", "Methods": ["get"]}}
    put_ok(client, intentions("db", {"Name": "web", "Permissions": [permission]}))
    source = client.get("/v1/config/service-intentions/db").json()["Sources"][0]
    assert source["Permissions"] == [
        {"Action": "allow", "HTTP": {"PathPrefix": "/v1", "Methods": ["GET"]}}
    ]
    assert "Action" not in source


# -- conformance 40 and the other kinds ------------------------------------------------------------
def test_mesh_entry_round_trips_under_its_fixed_name(client: httpx.Client) -> None:  # 40
    put_ok(client, {"Kind": "mesh", "Peering": {"PeerThroughMeshGateways": True}})
    r = client.get("/v1/config/mesh/mesh")
    entry = r.json()
    assert entry["Kind"] == "mesh"
    assert entry["Peering"] == {"PeerThroughMeshGateways": True}
    assert entry["TransparentProxy"] == {"MeshDestinationsOnly": False}
    assert "Name" not in entry
    assert (client.delete("/v1/config/mesh/anything").text) == "{}"
    assert client.get("/v1/config/mesh/mesh").status_code == 404


def test_proxy_defaults_name_defaults_to_global_and_no_other(client: httpx.Client) -> None:
    put_ok(client, {"Kind": "proxy-defaults", "Config": {"protocol": "http"}})
    assert client.get("/v1/config/proxy-defaults/global").json()["Config"] == {"protocol": "http"}
    r = put(client, {"Kind": "proxy-defaults", "Name": "foo"})
    assert_error(r, 500, 'invalid name ("foo"), only "global" is supported')
    assert_error(
        client.delete("/v1/config/proxy-defaults/foo"),
        500,
        'invalid name ("foo"), only "global" is supported',
    )


def test_service_defaults_refuses_a_wildcard_and_a_bad_mtls_mode(client: httpx.Client) -> None:
    r = put(client, {"Kind": "service-defaults", "Name": "*"})
    assert_error(r, 500, "service-defaults name must be the name of a service, and not a wildcard")
    r = put(client, {"Kind": "service-defaults", "Name": "web", "MutualTLSMode": "x"})
    assert_error(r, 500, 'Invalid MutualTLSMode "x". Must be one of "", "strict", or "permissive".')


def test_permissive_mtls_needs_the_mesh_entrys_consent(client: httpx.Client) -> None:
    body = {"Kind": "service-defaults", "Name": "web", "MutualTLSMode": "permissive"}
    assert_error(
        put(client, body),
        500,
        "cannot set MutualTLSMode=permissive because AllowEnablingPermissiveMutualTLS=false in "
        "the mesh config entry",
    )
    put_ok(client, {"Kind": "mesh", "allow_enabling_permissive_mutual_tls": True})
    put_ok(client, body)


# -- HTTP plumbing ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, url, allow",
    [
        ("POST", "/v1/config", "OPTIONS,PUT"),
        ("GET", "/v1/config", "OPTIONS,PUT"),
        ("PUT", EXPORT_URL, "OPTIONS,GET,DELETE"),
        ("POST", "/v1/config/exported-services", "OPTIONS,GET,DELETE"),
    ],
)
def test_other_methods_are_405_with_allow(
    client: httpx.Client, method: str, url: str, allow: str
) -> None:
    r = client.request(method, url)
    assert_error(r, 405, f"method {method} not allowed")
    assert r.headers["Allow"] == allow
    options = client.options(url)
    assert (options.status_code, options.headers["Allow"]) == (200, allow)


def test_pretty_output_is_indented_with_a_newline(client: httpx.Client) -> None:
    r = put(client, EXPORT, pretty="")
    assert r.text == "true\n"
    text = client.get(EXPORT_URL, params={"pretty": ""}).text
    assert text.startswith('{\n    "Kind": "exported-services"') and text.endswith("}\n")


def test_blocking_get_wakes_when_an_entry_is_written(world: World, dc1: Cluster) -> None:
    client = dc1.client
    index = int(client.get("/v1/config/exported-services").headers["X-Consul-Index"])
    results: list[httpx.Response] = []
    reader = threading.Thread(
        target=lambda: results.append(
            client.get("/v1/config/exported-services", params={"index": index, "wait": "5m"})
        )
    )
    reader.start()
    dc1.config.write(EXPORT)
    reader.join(timeout=10)
    assert not reader.is_alive()
    [r] = results
    assert int(r.headers["X-Consul-Index"]) > index
    assert [e["Name"] for e in r.json()] == ["default"]


def test_blocking_get_returns_at_the_wait_deadline(world: World, dc1: Cluster) -> None:
    client = dc1.client
    put_ok(client, EXPORT)
    index = int(client.get(EXPORT_URL).headers["X-Consul-Index"])
    results: list[httpx.Response] = []
    reader = threading.Thread(
        target=lambda: results.append(client.get(EXPORT_URL, params={"index": index, "wait": "1s"}))
    )
    reader.start()
    while reader.is_alive():
        world.advance(1)
        reader.join(timeout=0.05)
    [r] = results
    assert r.status_code == 200
    assert int(r.headers["X-Consul-Index"]) == index


# -- the page's files and the Python API -----------------------------------------------------------
def test_corrected_page_file_writes_and_reads_back(dc1: Cluster) -> None:
    text = (ROOT / "scenarios" / "peering-config.hcl").read_text()
    assert dc1.config.write(text) is True
    r = dc1.client.get(EXPORT_URL)
    assert r.status_code == 200
    assert r.json()["Services"] == [{"Name": "service-name", "Consumers": [{"Peer": "cluster-02"}]}]


def test_broken_page_file_gets_the_hcl_decode_error_with_positions(dc1: Cluster) -> None:
    text = (ROOT / "tests" / "fixtures" / "page-exported-services-broken.hcl").read_text()
    with pytest.raises(BadRequest) as caught:
        dc1.config.write(text)
    assert caught.value.message == (
        f"{DECODE_PREFIX}At 4:1: error while trying to parse object within list: "
        "At 16:1: object expected closing RBRACE got: EOF"
    )
    assert dc1.config.list("exported-services") == []


def test_page_intentions_file_allows_frontend_from_the_peer(dc1: Cluster) -> None:
    text = (ROOT / "scenarios" / "peering-intentions.hcl").read_text()
    assert dc1.config.write(text) is True
    entry = dc1.client.get("/v1/config/service-intentions/service-name").json()
    assert entry["Sources"] == [
        {
            "Name": "frontend",
            "Peer": "cluster-02",
            "Action": "allow",
            "Precedence": 9,
            "Type": "consul",
        }
    ]


def test_python_api_round_trip(dc1: Cluster) -> None:
    config = dc1.config
    assert config.write(ExportedServicesConfigEntry.model_validate(EXPORT)) is True
    entry = config.read("exported-services", "default")
    assert isinstance(entry, ExportedServicesConfigEntry)
    assert entry.services[0].consumers[0].peer == "cluster-02"
    assert config.write(exported("cluster-03"), cas=entry.modify_index - 1) is False
    assert config.write(intentions("db", ALLOW_WEB)) is True
    assert [e.entry_name for e in config.list("service-intentions")] == ["db"]
    assert isinstance(config.read("service-intentions", "DB"), ServiceIntentionsConfigEntry)
    assert config.delete("exported-services", "default", cas=entry.modify_index) is True
    assert config.read("exported-services", "default") is None
    assert dc1.client.get(EXPORT_URL).status_code == 404


def test_python_api_refuses_what_http_refuses(dc1: Cluster) -> None:
    with pytest.raises(BadRequest) as caught:
        dc1.config.write({**EXPORT, "Foo": 1})
    assert caught.value.message == '1 error occurred:\n\t* invalid config key "Foo"\n\n'


def test_apply_reads_a_null_list_element_as_its_zero_value(client: httpx.Client) -> None:
    """mapstructure leaves a ``null`` slice element at the element type's zero value: one empty
    expose path here, not a failed answer (found by the OpenAPI fuzzer)."""
    body = {"Kind": "service-defaults", "Name": "web", "Expose": {"Paths": [{"Path": "/a"}, None]}}
    r = client.put("/v1/config", json=body)
    assert (r.status_code, r.text) == (200, "true")
    r = client.get("/v1/config/service-defaults/web")
    assert r.status_code == 200
    assert r.json()["Expose"] == {"Paths": [{"Path": "/a"}, {}]}


def test_apply_validates_a_null_list_element_like_an_empty_one(client: httpx.Client) -> None:
    body = {"Kind": "exported-services", "Name": "default", "Services": [None]}
    r = client.put("/v1/config", json=body)
    assert (r.status_code, r.text) == (500, "Services[0]: service name cannot be empty")
    assert client.get("/v1/config/exported-services/default").status_code == 404
