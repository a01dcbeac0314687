"""POST /_sim/call and world.call: whether a call would go through, and the reasons.

cluster-01 exports (it generates the token), cluster-02 imports (it establishes); each names its
peering after the other cluster. The page's service is ``service-name`` on cluster-01, called by
``frontend`` on cluster-02. Intentions are Consul's, so "deny by default" is a deny-all peer
intention written before the page's allow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consul_sim.testing import peer
from consul_sim.world import Cluster, World

ROOT = Path(__file__).resolve().parents[2]
PAGE_EXPORT = (ROOT / "scenarios" / "peering-config.hcl").read_text()
PAGE_INTENTIONS = (ROOT / "scenarios" / "peering-intentions.hcl").read_text()

DENY_PEER_02 = {
    "Kind": "service-intentions",
    "Name": "*",
    "Sources": [{"Name": "*", "Peer": "cluster-02", "Action": "deny"}],
}

ACTIVE = 'cluster-02\'s peering "cluster-01" is ACTIVE'
EXPORTED = 'cluster-01 exports "service-name" to its peer "cluster-02"'
ONE_PASSING = '"service-name" has 1 passing instance on cluster-01'
DENIED = (
    'cluster-01\'s intentions deny "frontend" from its peer "cluster-02" to call '
    '"service-name": Matched L4 intention: peer(cluster-02)/* => * (Precedence: 5, Action: DENY)'
)
ALLOWED = (
    'cluster-01\'s intentions allow "frontend" from its peer "cluster-02" to call '
    '"service-name": Matched L4 intention: peer(cluster-02)/frontend => service-name '
    "(Precedence: 9, Action: ALLOW)"
)
DEFAULT_ALLOW = (
    'cluster-01\'s intentions allow "frontend" from its peer "cluster-02" to call '
    '"service-name": Default behavior configured by ACLs'
)


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=23)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def c1(world: World) -> Cluster:
    return world.add_cluster("cluster-01")


@pytest.fixture
def c2(world: World, c1: Cluster) -> Cluster:
    return world.add_cluster("cluster-02")


# -- helpers ----------------------------------------------------------------------------------
def register(cluster: Cluster, service: str, status: str = "passing", node: str = "n1") -> None:
    r = cluster.client.put(
        "/v1/catalog/register",
        json={
            "Node": node,
            "Address": "10.0.0.1",
            "Service": {"ID": f"{service}-1", "Service": service},
            "Check": {"CheckID": f"{service}-check", "Status": status, "ServiceID": f"{service}-1"},
        },
    )
    assert (r.status_code, r.text) == (200, "true")


def write(cluster: Cluster, entry: dict[str, Any]) -> None:
    r = cluster.client.put("/v1/config", json=entry)
    assert (r.status_code, r.text) == (200, "true")


def sim_call(
    cluster: Cluster, source: tuple[str, str], destination: tuple[str | None, str]
) -> dict[str, Any]:
    dest: dict[str, str] = {"Service": destination[1]}
    if destination[0] is not None:
        dest["Peer"] = destination[0]
    r = cluster.client.post(
        "/_sim/call",
        json={"Source": {"Cluster": source[0], "Service": source[1]}, "Destination": dest},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body: dict[str, Any] = r.json()
    return body


def authorize(destination: Cluster, caller: Cluster, service: str, target: str) -> dict[str, Any]:
    """Ask the destination's agent, with the certificate the caller's CA would issue."""
    roots = caller.client.get("/v1/connect/ca/roots").json()
    uri = f"spiffe://{roots['TrustDomain']}/ns/default/dc/{caller.datacenter}/svc/{service}"
    r = destination.client.post(
        "/v1/agent/connect/authorize", json={"Target": target, "ClientCertURI": uri}
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture
def page(world: World, c1: Cluster, c2: Cluster) -> World:
    """The page up to "authorize connections from peers": peered, exported, deny by default."""
    peer(c1, c2)
    register(c1, "service-name")
    assert c1.config.write(PAGE_EXPORT) is True
    write(c1, DENY_PEER_02)
    world.settle()
    return world


PAGE_CALL = (("cluster-02", "frontend"), ("cluster-01", "service-name"))


# -- the page's flow ----------------------------------------------------------------------------
def test_page_intentions_file_turns_a_denied_call_into_an_allowed_one(
    page: World, c1: Cluster, c2: Cluster
) -> None:
    assert sim_call(c2, *PAGE_CALL) == {
        "Allowed": False,
        "Reasons": [ACTIVE, EXPORTED, ONE_PASSING, DENIED],
    }
    assert authorize(c1, c2, "frontend", "service-name")["Authorized"] is False

    assert c1.config.write(PAGE_INTENTIONS) is True
    page.settle()

    assert sim_call(c2, *PAGE_CALL) == {
        "Allowed": True,
        "Reasons": [ACTIVE, EXPORTED, ONE_PASSING, ALLOWED],
    }
    assert authorize(c1, c2, "frontend", "service-name")["Authorized"] is True


def test_page_intentions_file_lets_in_only_frontend(page: World, c1: Cluster, c2: Cluster) -> None:
    assert c1.config.write(PAGE_INTENTIONS) is True
    answer = sim_call(c2, ("cluster-02", "other"), ("cluster-01", "service-name"))
    assert answer["Allowed"] is False
    assert answer["Reasons"][-1] == (
        'cluster-01\'s intentions deny "other" from its peer "cluster-02" to call '
        '"service-name": Matched L4 intention: peer(cluster-02)/* => * '
        "(Precedence: 5, Action: DENY)"
    )


def test_any_cluster_answers_for_the_whole_world(page: World, c1: Cluster, c2: Cluster) -> None:
    assert sim_call(c1, *PAGE_CALL) == sim_call(c2, *PAGE_CALL)


def test_world_call_gives_the_http_answer(page: World, c1: Cluster, c2: Cluster) -> None:
    for _ in range(2):
        result = page.call(source=PAGE_CALL[0], destination=PAGE_CALL[1])
        assert result.render() == sim_call(c2, *PAGE_CALL)
        assert bool(result) is result.allowed
        assert c1.config.write(PAGE_INTENTIONS) is True
    assert page.call(*PAGE_CALL).allowed is True


def test_keys_match_case_insensitively(page: World, c2: Cluster) -> None:
    r = c2.client.post(
        "/_sim/call",
        json={
            "source": {"cluster": "cluster-02", "SERVICE": "frontend"},
            "destination": {"peer": "cluster-01", "service": "service-name"},
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == sim_call(c2, *PAGE_CALL)


# -- each failing condition -------------------------------------------------------------------
def test_call_through_an_unknown_peering_is_refused(page: World, c2: Cluster) -> None:
    assert sim_call(c2, ("cluster-02", "frontend"), ("cluster-09", "service-name")) == {
        "Allowed": False,
        "Reasons": ['cluster-02 has no peering named "cluster-09"'],
    }


def test_call_through_a_failing_peering_is_refused(page: World, c2: Cluster) -> None:
    page.partition("cluster-01", "cluster-02")
    page.advance(page.heartbeat_timeout + 1)
    answer = sim_call(c2, *PAGE_CALL)
    assert answer["Allowed"] is False
    assert answer["Reasons"][0] == 'cluster-02\'s peering "cluster-01" is FAILING, not ACTIVE'
    # The rest of the chain still holds, and the answer says so.
    assert answer["Reasons"][1:3] == [EXPORTED, ONE_PASSING]


def test_call_through_a_terminated_peering_is_refused(
    page: World, c1: Cluster, c2: Cluster
) -> None:
    r = c1.client.delete("/v1/peering/cluster-02")
    assert r.status_code == 200, r.text
    page.settle()
    page.advance(1)
    answer = sim_call(c2, *PAGE_CALL)
    assert answer["Allowed"] is False
    assert answer["Reasons"] == [
        'cluster-02\'s peering "cluster-01" is TERMINATED, not ACTIVE',
        'cluster-02\'s peering "cluster-01" leads to no cluster in this world',
    ]


def test_call_through_a_pending_peering_is_refused(world: World, c1: Cluster) -> None:
    world.add_cluster("cluster-02")
    r = c1.client.post("/v1/peering/token", json={"PeerName": "cluster-02"})
    assert r.status_code == 200, r.text
    assert sim_call(c1, ("cluster-01", "web"), ("cluster-02", "db")) == {
        "Allowed": False,
        "Reasons": [
            'cluster-01\'s peering "cluster-02" is PENDING, not ACTIVE',
            'cluster-01\'s peering "cluster-02" leads to no cluster in this world',
        ],
    }


def test_service_exported_to_another_peer_only_is_refused(
    page: World, c1: Cluster, c2: Cluster
) -> None:
    write(
        c1,
        {
            "Kind": "exported-services",
            "Name": "default",
            "Services": [{"Name": "service-name", "Consumers": [{"Peer": "cluster-03"}]}],
        },
    )
    assert c1.config.write(PAGE_INTENTIONS) is True
    page.settle()
    assert sim_call(c2, *PAGE_CALL) == {
        "Allowed": False,
        "Reasons": [
            ACTIVE,
            'cluster-01 does not export "service-name" to its peer "cluster-02"',
            ONE_PASSING,
            ALLOWED,
        ],
    }
    # Not exported, so cluster-02 holds none of it either.
    r = c2.client.get("/v1/health/service/service-name?peer=cluster-01")
    assert (r.status_code, r.json()) == (200, [])


def test_wildcard_export_covers_a_registered_service(page: World, c1: Cluster, c2: Cluster) -> None:
    write(
        c1,
        {
            "Kind": "exported-services",
            "Name": "default",
            "Services": [{"Name": "*", "Consumers": [{"Peer": "cluster-02"}]}],
        },
    )
    assert c1.config.write(PAGE_INTENTIONS) is True
    page.settle()
    assert sim_call(c2, *PAGE_CALL)["Allowed"] is True
    answer = sim_call(c2, ("cluster-02", "frontend"), ("cluster-01", "consul"))
    assert answer["Allowed"] is False
    assert 'cluster-01 does not export "consul" to its peer "cluster-02"' in answer["Reasons"]


def test_service_with_no_passing_instance_is_refused(page: World, c1: Cluster, c2: Cluster) -> None:
    register(c1, "service-name", status="critical")
    assert c1.config.write(PAGE_INTENTIONS) is True
    page.settle()
    assert sim_call(c2, *PAGE_CALL) == {
        "Allowed": False,
        "Reasons": [
            ACTIVE,
            EXPORTED,
            '"service-name" has no passing instance on cluster-01 (1 instance, none passing)',
            ALLOWED,
        ],
    }


def test_exported_service_never_registered_is_refused(
    page: World, c1: Cluster, c2: Cluster
) -> None:
    r = c1.client.put("/v1/catalog/deregister", json={"Node": "n1"})
    assert r.status_code == 200, r.text
    page.settle()
    answer = sim_call(c2, *PAGE_CALL)
    assert answer["Allowed"] is False
    assert answer["Reasons"][2] == '"service-name" has no instance registered on cluster-01'


def test_warning_instance_is_not_passing(page: World, c1: Cluster, c2: Cluster) -> None:
    register(c1, "service-name", status="warning")
    page.settle()
    reasons = sim_call(c2, *PAGE_CALL)["Reasons"]
    assert reasons[2] == (
        '"service-name" has no passing instance on cluster-01 (1 instance, none passing)'
    )


def test_l7_intention_counts_as_deny(page: World, c1: Cluster, c2: Cluster) -> None:
    write(c1, {"Kind": "service-defaults", "Name": "service-name", "Protocol": "http"})
    write(
        c1,
        {
            "Kind": "service-intentions",
            "Name": "service-name",
            "Sources": [
                {
                    "Name": "frontend",
                    "Peer": "cluster-02",
                    "Permissions": [{"Action": "allow", "HTTP": {"PathPrefix": "/"}}],
                }
            ],
        },
    )
    answer = sim_call(c2, *PAGE_CALL)
    assert answer["Allowed"] is False
    assert answer["Reasons"][-1] == (
        'cluster-01\'s intentions deny "frontend" from its peer "cluster-02" to call '
        '"service-name": Matched L7 intention: peer(cluster-02)/frontend => service-name '
        "(Precedence: 9, Permissions: 1)"
    )
    assert authorize(c1, c2, "frontend", "service-name") == {
        "Authorized": False,
        "Reason": answer["Reasons"][-1].split(": ", 1)[1],
    }


def test_local_intention_does_not_let_a_peer_in(page: World, c1: Cluster, c2: Cluster) -> None:
    """A source without Peer is a local service: it never matches the peer's frontend."""
    r = c1.client.delete("/v1/config/service-intentions/*")
    assert r.status_code == 200, r.text
    write(
        c1,
        {
            "Kind": "service-intentions",
            "Name": "service-name",
            "Sources": [
                {"Name": "frontend", "Action": "allow"},
                {"Name": "*", "Peer": "cluster-02", "Action": "deny"},
            ],
        },
    )
    answer = sim_call(c2, *PAGE_CALL)
    assert answer["Allowed"] is False
    assert answer["Reasons"][-1].endswith(
        "Matched L4 intention: peer(cluster-02)/* => service-name (Precedence: 8, Action: DENY)"
    )
    local = sim_call(c1, ("cluster-01", "frontend"), (None, "service-name"))
    assert local == {
        "Allowed": True,
        "Reasons": [
            ONE_PASSING,
            'cluster-01\'s intentions allow "frontend" to call "service-name": Matched L4 '
            "intention: frontend => service-name (Precedence: 9, Action: ALLOW)",
        ],
    }


# -- local destinations -------------------------------------------------------------------------
def test_local_call_needs_a_passing_instance(world: World, c1: Cluster) -> None:
    assert sim_call(c1, ("cluster-01", "web"), (None, "db")) == {
        "Allowed": False,
        "Reasons": [
            '"db" has no instance registered on cluster-01',
            'cluster-01\'s intentions allow "web" to call "db": '
            "Default behavior configured by ACLs",
        ],
    }
    register(c1, "db")
    assert sim_call(c1, ("cluster-01", "web"), (None, "db"))["Allowed"] is True
    assert world.call(("cluster-01", "web"), "db").allowed is True
    assert world.call(("cluster-01", "web"), (None, "db")).allowed is True


def test_local_call_denied_by_local_intention(world: World, c1: Cluster) -> None:
    register(c1, "db")
    write(
        c1,
        {
            "Kind": "service-intentions",
            "Name": "db",
            "Sources": [{"Name": "web", "Action": "deny"}],
        },
    )
    assert sim_call(c1, ("cluster-01", "web"), (None, "db")) == {
        "Allowed": False,
        "Reasons": [
            '"db" has 1 passing instance on cluster-01',
            'cluster-01\'s intentions deny "web" to call "db": Matched L4 intention: '
            "web => db (Precedence: 9, Action: DENY)",
        ],
    }
    assert sim_call(c1, ("cluster-01", "api"), (None, "db"))["Allowed"] is True


# -- the same answer as authorize ---------------------------------------------------------------
INTENTION_SETS: list[list[dict[str, Any]]] = [
    [],
    [{"Name": "svc", "Sources": [{"Name": "caller", "Peer": "PEER", "Action": "allow"}]}],
    [{"Name": "svc", "Sources": [{"Name": "caller", "Peer": "PEER", "Action": "deny"}]}],
    [{"Name": "svc", "Sources": [{"Name": "*", "Peer": "PEER", "Action": "deny"}]}],
    [{"Name": "*", "Sources": [{"Name": "*", "Peer": "PEER", "Action": "deny"}]}],
    [{"Name": "svc", "Sources": [{"Name": "caller", "Peer": "elsewhere", "Action": "deny"}]}],
    [{"Name": "svc", "Sources": [{"Name": "caller", "Action": "deny"}]}],
    [{"Name": "svc", "Sources": [{"Name": "*", "Action": "deny"}]}],
    [
        {"Name": "*", "Sources": [{"Name": "*", "Peer": "PEER", "Action": "deny"}]},
        {"Name": "svc", "Sources": [{"Name": "caller", "Peer": "PEER", "Action": "allow"}]},
    ],
    [
        {"Name": "*", "Sources": [{"Name": "caller", "Peer": "PEER", "Action": "allow"}]},
        {"Name": "svc", "Sources": [{"Name": "*", "Peer": "PEER", "Action": "deny"}]},
    ],
]


def _with_peer(entry: dict[str, Any], peer_name: str) -> dict[str, Any]:
    sources = [{**s, "Peer": peer_name} if s.get("Peer") == "PEER" else s for s in entry["Sources"]]
    return {"Kind": "service-intentions", "Name": entry["Name"], "Sources": sources}


@pytest.mark.parametrize("exporter_dials", [False, True], ids=["acceptor", "dialer"])
@pytest.mark.parametrize("intentions", INTENTION_SETS, ids=[str(i) for i in range(10)])
def test_call_gives_the_same_decision_as_authorize_on_the_destination(
    world: World, intentions: list[dict[str, Any]], exporter_dials: bool
) -> None:
    """With the peering, export and instance in place, the intention step alone decides, and
    it is the destination agent's authorize decision, word for word."""
    exporter = world.add_cluster("east")
    importer = world.add_cluster("west")
    # Peer names that differ from cluster names: the exporter's name for the caller counts.
    if exporter_dials:
        importer.peering.verify_peer_name = False
        token = importer.peering.generate_token(peer="east-alias")
        exporter.peering.establish(peer="west-alias", token=token)
    else:
        exporter.peering.verify_peer_name = False
        token = exporter.peering.generate_token(peer="west-alias")
        importer.peering.establish(peer="east-alias", token=token)
    register(exporter, "svc")
    write(
        exporter,
        {
            "Kind": "exported-services",
            "Name": "default",
            "Services": [{"Name": "svc", "Consumers": [{"Peer": "west-alias"}]}],
        },
    )
    for entry in intentions:
        write(exporter, _with_peer(entry, "west-alias"))
    world.settle()

    answer = sim_call(importer, ("west", "caller"), ("east-alias", "svc"))
    decision = authorize(exporter, importer, "caller", "svc")
    assert answer["Allowed"] is decision["Authorized"], (answer, decision)
    assert answer["Reasons"][:3] == [
        'west\'s peering "east-alias" is ACTIVE',
        'east exports "svc" to its peer "west-alias"',
        '"svc" has 1 passing instance on east',
    ]
    verb = "allow" if decision["Authorized"] else "deny"
    assert answer["Reasons"][3] == (
        f'east\'s intentions {verb} "caller" from its peer "west-alias" to call "svc": '
        + decision["Reason"]
    )


@pytest.mark.parametrize("intentions", INTENTION_SETS, ids=[str(i) for i in range(10)])
def test_local_call_gives_the_same_decision_as_authorize(
    world: World, c1: Cluster, intentions: list[dict[str, Any]]
) -> None:
    register(c1, "svc")
    for entry in intentions:
        write(c1, _with_peer(entry, "some-peer"))
    answer = sim_call(c1, ("cluster-01", "caller"), (None, "svc"))
    decision = authorize(c1, c1, "caller", "svc")
    assert answer["Allowed"] is decision["Authorized"]
    assert answer["Reasons"][-1].endswith(": " + decision["Reason"])


# -- bad requests -------------------------------------------------------------------------------
EXAMPLE = (
    '{"Source": {"Cluster": "cluster-02", "Service": "frontend"}, '
    '"Destination": {"Peer": "cluster-01", "Service": "backend"}}'
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", f"Request body is required, for example {EXAMPLE}"),
        (b"{", "Request decode failed: unexpected EOF"),
        (b"[]", f"Request body must be a JSON object, for example {EXAMPLE}"),
        (
            b'{"Source": {"Cluster": "cluster-01", "Service": "a"}}',
            f"Missing Destination, for example {EXAMPLE}",
        ),
        (b'{"Destination": {"Service": "a"}}', f"Missing Source, for example {EXAMPLE}"),
        (
            b'{"Source": "cluster-01/a", "Destination": {"Service": "b"}}',
            f"Source must be a JSON object, for example {EXAMPLE}",
        ),
        (
            b'{"Source": {"Cluster": "cluster-01"}, "Destination": {"Service": "b"}}',
            "Missing Source.Service",
        ),
        (
            b'{"Source": {"Cluster": "cluster-01", "Service": "a"}, "Destination": {}}',
            "Missing Destination.Service",
        ),
        (
            b'{"Source": {"Service": "a"}, "Destination": {"Service": "b"}}',
            "Missing Source.Cluster",
        ),
        (
            b'{"Source": {"Cluster": 1, "Service": "a"}, "Destination": {"Service": "b"}}',
            "Source.Cluster must be a string",
        ),
        (
            b'{"Source": {"Cluster": "cluster-01", "Service": "a"},'
            b' "Destination": {"Peers": "cluster-02", "Service": "b"}}',
            'Unknown key "Destination.Peers" (expected Peer, Service)',
        ),
        (
            b'{"Source": {"Cluster": "cluster-01", "Service": "a"},'
            b' "Destination": {"Service": "b"}, "Extra": 1}',
            'Unknown key "Extra" (expected Source, Destination)',
        ),
        (
            b'{"Source": {"Cluster": "cluster-07", "Service": "a"},'
            b' "Destination": {"Service": "b"}}',
            'Unknown Source cluster "cluster-07" (known: cluster-01)',
        ),
    ],
)
def test_bad_body_is_a_plain_400(c1: Cluster, body: bytes, message: str) -> None:
    r = c1.client.post("/_sim/call", content=body)
    assert (r.status_code, r.text) == (400, message)
    assert r.headers["content-type"].startswith("text/plain")


def test_get_is_not_allowed(c1: Cluster) -> None:
    r = c1.client.get("/_sim/call")
    assert r.status_code == 405
    assert r.headers["Allow"] == "OPTIONS,POST"


def test_world_call_refuses_an_unknown_cluster(world: World, c1: Cluster) -> None:
    from consul_sim.errors import BadRequest

    with pytest.raises(BadRequest, match='Unknown Source cluster "nowhere"'):
        world.call(("nowhere", "web"), (None, "db"))


def test_call_follows_the_destinations_acl_default_policy_like_authorize() -> None:
    """With ACLs on and default deny, a call no intention matches is refused, as authorize says."""
    with World(clock="virtual", seed=5) as world:
        cluster = world.add_cluster("dc1", acl_default_policy="deny")
        management = {"X-Consul-Token": cluster.acl.management_token}
        r = cluster.client.put(
            "/v1/agent/service/register",
            json={"Name": "backend", "Check": {"TTL": "60s", "Status": "passing"}},
            headers=management,
        )
        assert r.status_code == 200, r.text
        answer = world.call(source=("dc1", "frontend"), destination=(None, "backend"))
        assert not answer.allowed
        assert answer.reasons[-1].endswith("Default behavior configured by ACLs")
        authorize = cluster.client.post(
            "/v1/agent/connect/authorize",
            json={
                "Target": "backend",
                "ClientCertURI": f"spiffe://{cluster.trust_domain}/ns/default/dc/dc1/svc/frontend",
            },
            headers=management,
        ).json()
        assert authorize["Authorized"] is False
