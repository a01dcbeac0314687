"""/v1/agent, compared with what Consul answers (reference §2 and conformance 6-11).

Every write answers 200 with an empty body; refusals answer Consul's status and sentence and leave
the agent and the catalog exactly as they were.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from consul_sim.world import Cluster, World
from tests.blocking import wait_until_blocked

TTL_CHECK = {"TTL": "10s"}


def put(client: httpx.Client, path: str, body: Any = None) -> httpx.Response:
    return client.put(path, json=body) if body is not None else client.put(path)


def register_service(client: httpx.Client, body: dict[str, Any], query: str = "") -> None:
    r = client.put(f"/v1/agent/service/register{query}", json=body)
    assert (r.status_code, r.text) == (200, ""), r.text


def checks_of(client: httpx.Client, service: str) -> dict[str, dict[str, Any]]:
    return {c["CheckID"]: c for c in client.get(f"/v1/health/checks/{service}").json()}


# -- conformance 6-8: checks embedded in a service registration ---------------------------------
def test_service_check_gets_derived_id_name_and_starts_critical(
    client: httpx.Client, dc1: Cluster
) -> None:
    r = client.put(
        "/v1/agent/service/register", json={"Name": "api", "ID": "api-1", "Check": TTL_CHECK}
    )

    assert r.status_code == 200
    assert r.content == b""
    [check] = client.get("/v1/health/checks/api").json()
    assert check["CheckID"] == "service:api-1"
    assert check["Name"] == "Service 'api' check"
    assert check["Status"] == "critical"
    assert check["Type"] == "ttl"
    assert check["Node"] == dc1.node_name
    assert check["ServiceID"] == "api-1"
    assert check["ServiceName"] == "api"
    assert check["Output"] == ""


def test_several_service_checks_are_numbered_from_one(client: httpx.Client) -> None:
    register_service(client, {"Name": "api", "ID": "api-1", "Checks": [TTL_CHECK, {"TTL": "20s"}]})

    assert sorted(checks_of(client, "api")) == ["service:api-1:1", "service:api-1:2"]


def test_ttl_pass_sets_the_note_and_expiry_makes_the_check_critical(
    world: World, client: httpx.Client
) -> None:
    register_service(client, {"Name": "api", "ID": "api-1", "Check": TTL_CHECK})

    r = client.put("/v1/agent/check/pass/service:api-1?note=ok")

    assert (r.status_code, r.content) == (200, b"")
    check = checks_of(client, "api")["service:api-1"]
    assert (check["Status"], check["Output"]) == ("passing", "ok")
    world.advance(10.1)
    check = checks_of(client, "api")["service:api-1"]
    assert check["Status"] == "critical"
    assert check["Output"].startswith("TTL expired")
    assert check["Output"] == "TTL expired (last output before timeout follows): ok"


def test_ttl_that_never_got_an_update_expires_with_the_bare_sentence(
    world: World, client: httpx.Client
) -> None:
    register_service(
        client, {"Name": "api", "ID": "api-1", "Check": {"TTL": "5s", "Status": "passing"}}
    )
    assert checks_of(client, "api")["service:api-1"]["Status"] == "passing"

    world.advance(5.5)

    check = checks_of(client, "api")["service:api-1"]
    assert (check["Status"], check["Output"]) == ("critical", "TTL expired")


def test_each_ttl_update_restarts_the_timer(world: World, client: httpx.Client) -> None:
    register_service(client, {"Name": "api", "ID": "api-1", "Check": TTL_CHECK})
    put(client, "/v1/agent/check/warn/service:api-1?note=slow")
    world.advance(9)
    put(client, "/v1/agent/check/pass/service:api-1")
    world.advance(9)

    check = checks_of(client, "api")["service:api-1"]
    assert (check["Status"], check["Output"]) == ("passing", "")


def test_fail_and_warn_set_their_status(client: httpx.Client) -> None:
    register_service(client, {"Name": "api", "ID": "api-1", "Check": TTL_CHECK})

    put(client, "/v1/agent/check/warn/service:api-1?note=slow")
    assert checks_of(client, "api")["service:api-1"]["Status"] == "warning"
    put(client, "/v1/agent/check/fail/service:api-1?note=down")
    check = checks_of(client, "api")["service:api-1"]
    assert (check["Status"], check["Output"]) == ("critical", "down")


def test_ttl_output_is_cut_at_four_kilobytes(client: httpx.Client) -> None:
    register_service(client, {"Name": "api", "ID": "api-1", "Check": TTL_CHECK})

    put(client, "/v1/agent/check/pass/service:api-1?note=" + "x" * 5000)

    output = checks_of(client, "api")["service:api-1"]["Output"]
    assert output == "x" * 4096 + " ... (captured 4096 of 5000 bytes)"


def test_check_update_sets_status_and_output(client: httpx.Client) -> None:
    register_service(client, {"Name": "api", "ID": "api-1", "Check": TTL_CHECK})

    r = client.put(
        "/v1/agent/check/update/service:api-1", json={"Status": "warning", "Output": "busy"}
    )

    assert (r.status_code, r.content) == (200, b"")
    check = checks_of(client, "api")["service:api-1"]
    assert (check["Status"], check["Output"]) == ("warning", "busy")


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"Status": "ok"}, 400, "Invalid check status: 'ok'"),
        ({"Output": "no status"}, 400, "Invalid check status: ''"),
        (
            {"Status": "passing", "Note": "x"},
            400,
            'Request decode failed: json: unknown field "Note"',
        ),
        (
            {"Status": 1},
            400,
            "Request decode failed: json: cannot unmarshal number into Go struct field "
            "checkUpdate.Status of type string",
        ),
    ],
)
def test_check_update_refuses_bad_bodies(
    client: httpx.Client, body: dict[str, Any], status: int, text: str
) -> None:
    register_service(client, {"Name": "api", "ID": "api-1", "Check": TTL_CHECK})

    r = client.put("/v1/agent/check/update/service:api-1", json=body)

    assert (r.status_code, r.text) == (status, text)
    assert checks_of(client, "api")["service:api-1"]["Status"] == "critical"


# -- conformance 9-11: unknown IDs, non-TTL checks, method guards --------------------------------
UNKNOWN_CHECK = 'Unknown check ID "nope". Ensure that the check ID is passed, not the check name.'
UNKNOWN_SERVICE = (
    'Unknown service ID "nope". Ensure that the service ID is passed, not the service name.'
)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (
            "/v1/agent/check/pass/nope",
            UNKNOWN_CHECK,
        ),
        (
            "/v1/agent/check/fail/nope",
            UNKNOWN_CHECK,
        ),
        (
            "/v1/agent/check/deregister/nope",
            UNKNOWN_CHECK,
        ),
        (
            "/v1/agent/service/deregister/nope",
            UNKNOWN_SERVICE,
        ),
        (
            "/v1/agent/service/maintenance/nope?enable=true",
            UNKNOWN_SERVICE,
        ),
    ],
)
def test_unknown_check_or_service_is_404_with_consuls_sentence(
    client: httpx.Client, path: str, text: str
) -> None:
    r = client.put(path)

    assert (r.status_code, r.text) == (404, text)


def test_check_update_of_unknown_check_is_404(client: httpx.Client) -> None:
    r = client.put("/v1/agent/check/update/nope", json={"Status": "passing"})

    assert r.status_code == 404
    assert (
        r.text == 'Unknown check ID "nope". Ensure that the check ID is passed, not the check name.'
    )


def test_ttl_update_of_a_check_without_ttl_is_500(client: httpx.Client) -> None:
    r = client.put(
        "/v1/agent/check/register",
        json={"Name": "c1", "HTTP": "http://127.0.0.1:1/health", "Interval": "10s"},
    )
    assert (r.status_code, r.content) == (200, b"")

    r = client.put("/v1/agent/check/pass/c1")

    assert (r.status_code, r.text) == (500, 'CheckID "c1" does not have associated TTL')


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/v1/agent/check/pass/x", "OPTIONS,PUT"),
        ("GET", "/v1/agent/check/update/x", "OPTIONS,PUT"),
        ("POST", "/v1/agent/check/register", "OPTIONS,PUT"),
        ("GET", "/v1/agent/service/register", "OPTIONS,PUT"),
        ("GET", "/v1/agent/service/deregister/x", "OPTIONS,PUT"),
        ("GET", "/v1/agent/maintenance", "OPTIONS,PUT"),
        ("PUT", "/v1/agent/services", "OPTIONS,GET"),
        ("DELETE", "/v1/agent/service/web", "OPTIONS,GET"),
        ("PUT", "/v1/agent/self", "OPTIONS,GET"),
    ],
)
def test_wrong_method_is_405_with_the_allowed_methods(
    client: httpx.Client, method: str, path: str, allow: str
) -> None:
    r = client.request(method, path)

    assert (r.status_code, r.text) == (405, f"method {method} not allowed")
    assert r.headers["Allow"] == allow


# -- bad registrations change nothing ------------------------------------------------------------
BAD_REGISTRATIONS = [
    pytest.param(b"{", 400, "Request decode failed: unexpected EOF", id="bad-json"),
    pytest.param(b"", 400, "Request decode failed: EOF", id="empty-body"),
    pytest.param(
        b'{"Name":"web","Port":"80"}',
        400,
        "Request decode failed: json: cannot unmarshal string into Go struct field .Port "
        "of type int",
        id="port-as-string",
    ),
    pytest.param(
        b'{"Name":"web","Service":"web"}',
        400,
        'Request decode failed: json: unknown field "Service"',
        id="unknown-field",
    ),
    pytest.param(
        b'{"Name":"web","Check":{"TTL":"soon"}}',
        400,
        'Request decode failed: time: invalid duration "soon"',
        id="bad-duration",
    ),
    pytest.param(b'{"Port":80}', 400, "Missing service name", id="missing-name"),
    pytest.param(
        b'{"Name":"web","Address":"0.0.0.0"}', 400, "Invalid service address", id="any-address"
    ),
    pytest.param(
        b'{"Name":"web","Weights":{"Passing":0,"Warning":1}}',
        400,
        "Invalid Weights: Passing must be greater than 0",
        id="zero-weight",
    ),
    pytest.param(
        b'{"Name":"web","Meta":{"consul-version":"1"}}',
        400,
        "Invalid Service Meta: Couldn't load metadata pair ('consul-version', '1'): "
        "Key prefix 'consul-' is reserved for internal use",
        id="reserved-meta",
    ),
    pytest.param(
        b'{"Name":"web","Meta":{"bad key":"1"}}',
        400,
        "Invalid Service Meta: Couldn't load metadata pair ('bad key', '1'): "
        "Key contains invalid characters",
        id="bad-meta-key",
    ),
    pytest.param(
        b'{"Name":"web","Kind":"connect-proxy"}',
        400,
        "Validation failed: 2 errors occurred:\n"
        "\t* Port or SocketPath must be set for a connect-proxy\n"
        "\t* Proxy.DestinationServiceName must be non-empty for Connect proxy services\n\n",
        id="proxy-without-destination",
    ),
    pytest.param(
        b'{"Name":"web","Check":{"HTTP":"http://127.0.0.1:1/"}}',
        400,
        "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService "
        "checks",
        id="http-check-without-interval",
    ),
    pytest.param(
        b'{"Name":"web","Checks":[{"TTL":"10s"},{"TTL":"10s","Interval":"10s"}]}',
        400,
        "Invalid check: Interval and TTL cannot both be specified",
        id="ttl-and-interval",
    ),
    pytest.param(
        b'{"Name":"web","Check":{"Notes":"no mechanism"}}',
        400,
        "Invalid check: TTL must be > 0 for TTL checks",
        id="check-without-mechanism",
    ),
    pytest.param(
        b'{"Name":"web","Check":{"TTL":"10s","Status":"up"}}',
        400,
        "Status for checks must 'passing', 'warning', 'critical'",
        id="invalid-status",
    ),
    pytest.param(
        b'{"Name":"web","Checks":[{"TTL":"10s"},{"Args":["/bin/true"],"Interval":"10s"}]}',
        500,
        "Scripts are disabled on this agent from remote calls; to enable, configure "
        "'enable_script_checks' to true",
        id="script-check",
    ),
    pytest.param(
        b'{"Name":"web","TaggedAddresses":{"lan_ipv4":{"Address":"::1","Port":1}}}',
        500,
        'Service tagged address "lan_ipv4" must be a valid ipv4 address',
        id="tagged-address-family",
    ),
]


@pytest.mark.parametrize(("body", "status", "text"), BAD_REGISTRATIONS)
def test_bad_registration_is_refused_and_changes_nothing(
    client: httpx.Client, body: bytes, status: int, text: str
) -> None:
    register_service(client, {"Name": "api", "ID": "api-1", "Check": TTL_CHECK})
    services_before = client.get("/v1/agent/services").json()
    checks_before = client.get("/v1/health/state/any")

    r = client.put("/v1/agent/service/register", content=body)

    assert (r.status_code, r.text) == (status, text)
    assert client.get("/v1/agent/services").json() == services_before
    assert client.get("/v1/health/checks/web").json() == []
    assert client.get("/v1/health/checks/api").json() == [
        c for c in checks_before.json() if c["ServiceName"] == "api"
    ]
    checks_after = client.get("/v1/health/state/any")
    assert checks_after.json() == checks_before.json()
    assert checks_after.headers["X-Consul-Index"] == checks_before.headers["X-Consul-Index"]


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"TTL": "10s"}, 400, "Missing check name"),
        ({"Name": "c", "TTL": "10s", "Status": "up"}, 400, "Bad check status"),
        ({"Name": "c"}, 400, "Invalid check: TTL must be > 0 for TTL checks"),
        ({"Name": "c", "TTL": "10s", "ServiceID": "nope"}, 404, 'ServiceID "nope" does not exist'),
        (
            {"Name": "c", "TTL": "10s", "Color": "red"},
            400,
            'Request decode failed: json: unknown field "Color"',
        ),
    ],
)
def test_bad_check_registration_is_refused_and_changes_nothing(
    client: httpx.Client, body: dict[str, Any], status: int, text: str
) -> None:
    before = client.get("/v1/health/state/any").json()

    r = client.put("/v1/agent/check/register", json=body)

    assert (r.status_code, r.text) == (status, text)
    assert client.get("/v1/agent/checks").json() == {}
    assert client.get("/v1/health/state/any").json() == before


# -- what registration does to the catalog ---------------------------------------------------------
def test_registered_service_appears_in_catalog_and_health_on_the_agent_node(
    client: httpx.Client, dc1: Cluster
) -> None:
    register_service(
        client,
        {"Name": "web", "ID": "web-1", "Port": 8080, "Tags": ["v1"], "Meta": {"team": "a"}},
    )

    [node] = client.get("/v1/catalog/service/web").json()
    assert node["Node"] == dc1.node_name
    assert node["Address"] == "127.0.0.1"
    assert node["Datacenter"] == "dc1"
    assert node["ServiceID"] == "web-1"
    assert node["ServicePort"] == 8080
    assert node["ServiceTags"] == ["v1"]
    assert node["ServiceMeta"] == {"team": "a"}
    [entry] = client.get("/v1/health/service/web").json()
    assert entry["Node"]["Node"] == dc1.node_name
    assert entry["Service"]["ID"] == "web-1"
    assert [c["CheckID"] for c in entry["Checks"]] == ["serfHealth"]
    assert client.get("/v1/catalog/services").json()["web"] == ["v1"]


def test_agent_services_shows_the_agent_service_shape(client: httpx.Client) -> None:
    register_service(client, {"Name": "web", "Port": 80, "Address": "10.0.0.5"})

    services = client.get("/v1/agent/services").json()

    assert services == {
        "web": {
            "ID": "web",
            "Service": "web",
            "Tags": [],
            "Meta": {},
            "Port": 80,
            "Address": "10.0.0.5",
            "TaggedAddresses": {
                "lan_ipv4": {"Address": "10.0.0.5", "Port": 80},
                "wan_ipv4": {"Address": "10.0.0.5", "Port": 80},
            },
            "Weights": {"Passing": 1, "Warning": 1},
            "EnableTagOverride": False,
            "Datacenter": "dc1",
        }
    }
    [node] = client.get("/v1/catalog/service/web").json()
    assert node["ServiceTaggedAddresses"] == services["web"]["TaggedAddresses"]


def test_fresh_agent_has_no_local_services_or_checks(client: httpx.Client) -> None:
    services = client.get("/v1/agent/services")
    checks = client.get("/v1/agent/checks")

    assert (services.status_code, services.json()) == (200, {})
    assert (checks.status_code, checks.json()) == (200, {})
    assert "X-Consul-Index" not in services.headers


def test_agent_checks_lists_local_checks_by_id(client: httpx.Client, dc1: Cluster) -> None:
    register_service(client, {"Name": "api", "ID": "api-1", "Tags": ["v1"], "Check": TTL_CHECK})
    put(client, "/v1/agent/check/pass/service:api-1?note=ok")

    checks = client.get("/v1/agent/checks").json()

    assert list(checks) == ["service:api-1"]
    check = checks["service:api-1"]
    assert check["Node"] == dc1.node_name
    assert check["Status"] == "passing"
    assert check["Output"] == "ok"
    assert check["ServiceTags"] == ["v1"]
    assert check["Type"] == "ttl"


def test_agent_services_filter_selects_with_the_expression(client: httpx.Client) -> None:
    register_service(client, {"Name": "web", "Tags": ["v1"]})
    register_service(client, {"Name": "db", "Tags": ["v2"]})

    r = client.get("/v1/agent/services", params={"filter": '"v1" in Tags'})

    assert r.status_code == 200
    assert list(r.json()) == ["web"]


def test_reregistering_keeps_the_status_of_existing_checks(client: httpx.Client) -> None:
    register_service(client, {"Name": "api", "ID": "api-1", "Check": TTL_CHECK})
    put(client, "/v1/agent/check/pass/service:api-1?note=ok")

    register_service(client, {"Name": "api", "ID": "api-1", "Tags": ["v2"], "Check": TTL_CHECK})

    check = checks_of(client, "api")["service:api-1"]
    assert (check["Status"], check["Output"], check["ServiceTags"]) == ("passing", "ok", ["v2"])


def test_replace_existing_checks_drops_checks_missing_from_the_new_registration(
    client: httpx.Client,
) -> None:
    register_service(client, {"Name": "api", "ID": "api-1", "Checks": [TTL_CHECK, TTL_CHECK]})

    register_service(client, {"Name": "api", "ID": "api-1", "Check": TTL_CHECK})
    assert sorted(checks_of(client, "api")) == [
        "service:api-1",
        "service:api-1:1",
        "service:api-1:2",
    ]
    register_service(
        client, {"Name": "api", "ID": "api-1", "Check": TTL_CHECK}, "?replace-existing-checks"
    )
    assert sorted(checks_of(client, "api")) == ["service:api-1"]


def test_deregister_removes_the_service_and_its_checks(client: httpx.Client) -> None:
    register_service(client, {"Name": "web", "ID": "web-1", "Checks": [TTL_CHECK, TTL_CHECK]})

    r = client.put("/v1/agent/service/deregister/web-1")

    assert (r.status_code, r.content) == (200, b"")
    assert client.get("/v1/agent/services").json() == {}
    assert client.get("/v1/agent/checks").json() == {}
    assert client.get("/v1/health/checks/web").json() == []
    assert client.get("/v1/catalog/service/web").json() == []


def test_check_register_and_deregister_a_node_check(client: httpx.Client, dc1: Cluster) -> None:
    r = client.put(
        "/v1/agent/check/register", json={"Name": "disk", "TTL": "30s", "Notes": "free space"}
    )
    assert (r.status_code, r.content) == (200, b"")
    health = {c["CheckID"]: c for c in client.get(f"/v1/health/node/{dc1.node_name}").json()}
    assert health["disk"]["Name"] == "disk"
    assert health["disk"]["Notes"] == "free space"
    assert health["disk"]["Status"] == "critical"
    assert health["disk"]["ServiceID"] == ""

    r = client.put("/v1/agent/check/deregister/disk")

    assert (r.status_code, r.content) == (200, b"")
    assert "disk" not in {
        c["CheckID"] for c in client.get(f"/v1/health/node/{dc1.node_name}").json()
    }


def test_service_critical_past_deregister_after_is_reaped(
    world: World, client: httpx.Client
) -> None:
    register_service(
        client,
        {
            "Name": "api",
            "ID": "api-1",
            "Check": {"TTL": "10s", "DeregisterCriticalServiceAfter": "30s"},
        },
    )

    world.advance(59)  # Consul raises the timeout to its one-minute minimum
    assert list(client.get("/v1/agent/services").json()) == ["api-1"]
    world.advance(2)

    assert client.get("/v1/agent/services").json() == {}
    assert client.get("/v1/health/service/api").json() == []


def test_passing_check_is_not_reaped(world: World, client: httpx.Client) -> None:
    register_service(
        client,
        {
            "Name": "api",
            "ID": "api-1",
            "Check": {"TTL": "90s", "DeregisterCriticalServiceAfter": "1m"},
        },
    )
    put(client, "/v1/agent/check/pass/service:api-1")

    world.advance(80)

    assert list(client.get("/v1/agent/services").json()) == ["api-1"]


# -- maintenance -----------------------------------------------------------------------------------
def test_service_maintenance_adds_and_removes_a_critical_check(client: httpx.Client) -> None:
    register_service(
        client, {"Name": "web", "ID": "web-1", "Check": {"TTL": "1m", "Status": "passing"}}
    )
    assert len(client.get("/v1/health/service/web?passing").json()) == 1

    r = client.put("/v1/agent/service/maintenance/web-1?enable=true&reason=upgrading")

    assert (r.status_code, r.content) == (200, b"")
    [entry] = client.get("/v1/health/service/web").json()
    maint = {c["CheckID"]: c for c in entry["Checks"]}["_service_maintenance:web-1"]
    assert maint["Status"] == "critical"
    assert maint["Name"] == "Service Maintenance Mode"
    assert maint["Notes"] == "upgrading"
    assert maint["Type"] == "maintenance"
    assert maint["ServiceID"] == "web-1"
    assert client.get("/v1/health/service/web?passing").json() == []

    r = client.put("/v1/agent/service/maintenance/web-1?enable=false")

    assert (r.status_code, r.content) == (200, b"")
    [entry] = client.get("/v1/health/service/web").json()
    assert "_service_maintenance:web-1" not in {c["CheckID"] for c in entry["Checks"]}
    assert len(client.get("/v1/health/service/web?passing").json()) == 1


def test_service_maintenance_without_reason_uses_consuls_default_note(client: httpx.Client) -> None:
    register_service(client, {"Name": "web", "ID": "web-1"})

    put(client, "/v1/agent/service/maintenance/web-1?enable=true")

    maint = checks_of(client, "web")["_service_maintenance:web-1"]
    assert maint["Notes"] == (
        "Maintenance mode is enabled for this service, but no reason was provided. "
        "This is a default message."
    )


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/v1/agent/service/maintenance/web-1", "Missing value for enable"),
        ("/v1/agent/service/maintenance/web-1?enable=maybe", 'Invalid value for enable: "maybe"'),
        ("/v1/agent/service/maintenance/web-1?enable=", 'Invalid value for enable: ""'),
        ("/v1/agent/service/maintenance/", "Missing service ID"),
        ("/v1/agent/maintenance", "Missing value for enable"),
        ("/v1/agent/maintenance?enable=yes", 'Invalid value for enable: "yes"'),
    ],
)
def test_maintenance_refuses_a_missing_or_bad_enable(
    client: httpx.Client, path: str, text: str
) -> None:
    register_service(client, {"Name": "web", "ID": "web-1"})

    r = client.put(path)

    assert (r.status_code, r.text) == (400, text)
    assert "_service_maintenance:web-1" not in checks_of(client, "web")


def test_node_maintenance_fails_every_service_on_the_node(
    client: httpx.Client, dc1: Cluster
) -> None:
    register_service(client, {"Name": "web", "ID": "web-1"})

    r = client.put("/v1/agent/maintenance?enable=true&reason=reboot")

    assert (r.status_code, r.content) == (200, b"")
    node_checks = {c["CheckID"]: c for c in client.get(f"/v1/health/node/{dc1.node_name}").json()}
    maint = node_checks["_node_maintenance"]
    assert (maint["Status"], maint["Name"], maint["Notes"], maint["ServiceID"]) == (
        "critical",
        "Node Maintenance Mode",
        "reboot",
        "",
    )
    assert client.get("/v1/health/service/web?passing").json() == []
    assert client.get("/v1/health/service/consul?passing").json() == []

    put(client, "/v1/agent/maintenance?enable=false")

    assert "_node_maintenance" not in {
        c["CheckID"] for c in client.get(f"/v1/health/node/{dc1.node_name}").json()
    }
    assert len(client.get("/v1/health/service/web?passing").json()) == 1


# -- single service read with hash blocking -------------------------------------------------------
def test_single_service_read_carries_its_content_hash(client: httpx.Client) -> None:
    register_service(client, {"Name": "web", "ID": "web-1", "Port": 80})

    r = client.get("/v1/agent/service/web-1")

    assert r.status_code == 200
    body = r.json()
    assert body["ID"] == "web-1"
    assert body["Datacenter"] == "dc1"
    assert body["ContentHash"] == r.headers["X-Consul-ContentHash"]
    assert client.get("/v1/agent/service/web-1").json()["ContentHash"] == body["ContentHash"]


def test_single_service_read_of_unknown_id_is_404(client: httpx.Client) -> None:
    r = client.get("/v1/agent/service/nope")

    assert (r.status_code, r.text) == (404, "unknown service ID: nope")


@pytest.mark.slow
def test_hash_blocking_returns_when_the_service_changes(client: httpx.Client) -> None:
    register_service(client, {"Name": "web", "ID": "web-1", "Port": 80})
    digest = client.get("/v1/agent/service/web-1").headers["X-Consul-ContentHash"]
    results: list[httpx.Response] = []

    def blocked() -> None:
        with httpx.Client(transport=client._transport, base_url=client.base_url) as other:
            results.append(other.get(f"/v1/agent/service/web-1?hash={digest}&wait=60s"))

    reader = threading.Thread(target=blocked)
    reader.start()
    time.sleep(0.1)
    assert not results, "an unchanged service must keep the reader waiting"
    register_service(client, {"Name": "web", "ID": "web-1", "Port": 81})
    reader.join(timeout=5)

    assert results and results[0].json()["Port"] == 81
    assert results[0].headers["X-Consul-ContentHash"] != digest


@pytest.mark.slow
def test_hash_blocking_times_out_with_the_same_hash(world: World, client: httpx.Client) -> None:
    register_service(client, {"Name": "web", "ID": "web-1"})
    digest = client.get("/v1/agent/service/web-1").headers["X-Consul-ContentHash"]
    results: list[httpx.Response] = []

    def blocked() -> None:
        with httpx.Client(transport=client._transport, base_url=client.base_url) as other:
            results.append(other.get(f"/v1/agent/service/web-1?hash={digest}&wait=10s"))

    reader = threading.Thread(target=blocked)
    reader.start()
    wait_until_blocked(world)
    assert not results
    world.advance(10 + 10 / 16 + 0.1)
    reader.join(timeout=5)

    assert results and results[0].status_code == 200
    assert results[0].headers["X-Consul-ContentHash"] == digest


def test_single_service_read_refuses_a_bad_wait(client: httpx.Client) -> None:
    register_service(client, {"Name": "web", "ID": "web-1"})

    r = client.get("/v1/agent/service/web-1?hash=abc&wait=soon")

    assert (r.status_code, r.text) == (400, "Invalid wait time")


# -- self and members ------------------------------------------------------------------------------
def test_agent_self_describes_the_dev_server(client: httpx.Client, dc1: Cluster) -> None:
    from consul_sim.version import BUILD_DATE, CONSUL_VERSION, REVISION

    r = client.get("/v1/agent/self")

    assert r.status_code == 200
    body = r.json()
    assert body["Config"] == {
        "Datacenter": "dc1",
        "PrimaryDatacenter": "dc1",
        "NodeName": dc1.node_name,
        "NodeID": dc1.node_id,
        "Revision": REVISION,
        "Server": True,
        "Version": CONSUL_VERSION,
        "BuildDate": BUILD_DATE,
    }
    debug = body["DebugConfig"]
    assert (debug["Datacenter"], debug["NodeName"], debug["ClientAddrs"]) == (
        "dc1",
        dc1.node_name,
        ["127.0.0.1"],
    )
    assert (debug["ServerPort"], debug["SerfPortLAN"], debug["GRPCPort"]) == (8300, 8301, 8502)
    assert body["Member"]["Name"] == dc1.node_name
    assert (body["Member"]["Addr"], body["Member"]["Port"]) == ("127.0.0.1", 8301)
    assert body["Member"]["Tags"]["role"] == "consul"
    assert body["Member"]["Tags"]["dc"] == "dc1"
    assert body["Member"]["Tags"]["id"] == dc1.node_id
    assert body["Meta"]["consul-network-segment"] == ""
    assert body["xDS"]["Ports"] == {"Plaintext": 8502, "TLS": 8503}
    assert set(body["Coord"]) == {"Vec", "Error", "Adjustment", "Height"}
    assert body["Stats"]["consul"]["leader"] == "true"


def test_agent_members_lists_the_agent_as_an_alive_server(
    client: httpx.Client, dc1: Cluster
) -> None:
    r = client.get("/v1/agent/members")

    assert r.status_code == 200
    [member] = r.json()
    assert member == client.get("/v1/agent/self").json()["Member"]
    assert (member["Name"], member["Addr"], member["Port"], member["Status"]) == (
        dc1.node_name,
        "127.0.0.1",
        8301,
        1,
    )
    assert member["Tags"]["port"] == "8300"
    assert member["Tags"]["bootstrap"] == "1"


def test_agent_members_wan_names_the_server_with_its_datacenter(
    client: httpx.Client, dc1: Cluster
) -> None:
    [member] = client.get("/v1/agent/members?wan=1").json()

    assert (member["Name"], member["Port"]) == (f"{dc1.node_name}.dc1", 8302)
    r = client.get("/v1/agent/members?wan=1&segment=alpha")
    assert (r.status_code, r.text) == (400, "Cannot provide a segment with wan=true")


def test_agent_endpoints_ignore_dc(client: httpx.Client) -> None:
    r = client.put(
        "/v1/agent/service/register?dc=elsewhere", json={"Name": "web", "Check": TTL_CHECK}
    )

    assert (r.status_code, r.content) == (200, b"")
    assert client.get("/v1/agent/services?dc=elsewhere").status_code == 200


def test_health_reason_carries_a_non_latin_service_id_as_utf8(client: httpx.Client) -> None:
    """Go writes a header value's bytes as they are: a service ID from the path that is not
    Latin-1 still gets its 404, with the reason in UTF-8 (found by the OpenAPI fuzzer)."""
    r = client.get("/v1/agent/health/service/id/caf%C3%A9-%E2%9C%93")
    assert r.status_code == 404
    reason = dict(r.headers.raw)[b"x-consul-reason"]
    assert reason == "ServiceId café-✓ not found".encode()
    r = client.get("/v1/agent/health/service/name/%E2%9C%93?format=text")
    assert (r.status_code, r.text) == (404, "ServiceName ✓ Not Found")
    assert dict(r.headers.raw)[b"x-consul-reason"] == "ServiceName ✓ Not Found".encode()
