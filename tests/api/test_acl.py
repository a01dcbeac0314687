"""ACL mode: Consul's 403s, the default policy header and the intentions default decision."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from consul_sim.acl import ACLError
from consul_sim.world import Cluster, World

ANON_HINT = " The anonymous token is used implicitly when a request does not specify a token."
EXPORTED = {
    "Kind": "exported-services",
    "Name": "default",
    "Services": [{"Name": "web", "Consumers": [{"Peer": "east"}]}],
}
ALLOW_WEB_TO_DB = {
    "Kind": "service-intentions",
    "Name": "db",
    "Sources": [{"Name": "web", "Action": "allow"}],
}


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=11)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def deny(world: World) -> Cluster:
    return world.add_cluster("dc1", acl_default_policy="deny")


def admin(cluster: Cluster) -> dict[str, str]:
    return {"X-Consul-Token": cluster.acl.management_token}


def token_header(secret: str) -> dict[str, str]:
    return {"X-Consul-Token": secret}


def authorize(cluster: Cluster, target: str, source: str, **kw: object) -> dict[str, object]:
    uri = f"spiffe://{cluster.trust_domain}/ns/default/dc/{cluster.datacenter}/svc/{source}"
    r = cluster.client.post(
        "/v1/agent/connect/authorize",
        json={"Target": target, "ClientCertURI": uri},
        headers=admin(cluster),
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


# -- conformance items ----------------------------------------------------------------------------
def test_anonymous_peering_token_is_refused_with_peering_write(deny: Cluster) -> None:
    r = deny.client.post("/v1/peering/token", json={"PeerName": "east"})
    assert r.status_code == 403
    assert r.text == (
        "rpc error: code = Unknown desc = Permission denied: anonymous token lacks "
        "permission 'peering:write'." + ANON_HINT
    )


def test_anonymous_peering_read_and_list_are_refused_with_peering_read(deny: Cluster) -> None:
    for path in ("/v1/peering/east", "/v1/peerings"):
        r = deny.client.get(path)
        assert r.status_code == 403, path
        assert "lacks permission 'peering:read'" in r.text


def test_anonymous_peering_establish_and_delete_need_peering_write(deny: Cluster) -> None:
    r = deny.client.post("/v1/peering/establish", json={"PeerName": "east", "PeeringToken": "e30K"})
    assert (r.status_code, "lacks permission 'peering:write'" in r.text) == (403, True)
    r = deny.client.delete("/v1/peering/east")
    assert (r.status_code, "lacks permission 'peering:write'" in r.text) == (403, True)


def test_anonymous_service_register_is_refused_with_consul_text(deny: Cluster) -> None:
    r = deny.client.put("/v1/agent/service/register", json={"Name": "web"})
    assert r.status_code == 403
    assert r.text == (
        "Permission denied: anonymous token lacks permission 'service:write' on \"web\"."
        + ANON_HINT
    )


def test_body_errors_still_come_before_the_token(deny: Cluster) -> None:
    r = deny.client.post("/v1/peering/token", json={})
    assert r.status_code == 400
    r = deny.client.put("/v1/agent/service/register", json={})
    assert (r.status_code, r.text) == (400, "Missing service name")


# -- tokens with grants ---------------------------------------------------------------------------
def test_token_with_service_grant_registers_only_its_service(deny: Cluster) -> None:
    accessor, secret = deny.acl.create_token({"service:web": "write"})
    r = deny.client.put(
        "/v1/agent/service/register", json={"Name": "web"}, headers=token_header(secret)
    )
    assert r.status_code == 200, r.text
    r = deny.client.put(
        "/v1/agent/service/register", json={"Name": "api"}, headers=token_header(secret)
    )
    assert r.status_code == 403
    assert r.text == (
        f"Permission denied: token with AccessorID '{accessor}' lacks permission "
        "'service:write' on \"api\""
    )


def test_prefix_grant_covers_names_that_start_with_it(deny: Cluster) -> None:
    _, secret = deny.acl.create_token({"service:web*": "write", "service:web-admin": "deny"})
    ok = deny.client.put(
        "/v1/agent/service/register", json={"Name": "web-1"}, headers=token_header(secret)
    )
    refused = deny.client.put(
        "/v1/agent/service/register", json={"Name": "web-admin"}, headers=token_header(secret)
    )
    assert (ok.status_code, refused.status_code) == (200, 403)


def test_peering_read_grant_reads_but_cannot_write(deny: Cluster) -> None:
    accessor, secret = deny.acl.create_token({"peering": "read"})
    assert deny.client.get("/v1/peerings", headers=token_header(secret)).json() == []
    r = deny.client.post(
        "/v1/peering/token", json={"PeerName": "east"}, headers=token_header(secret)
    )
    assert r.status_code == 403
    assert r.text == (
        "rpc error: code = Unknown desc = Permission denied: token with AccessorID "
        f"'{accessor}' lacks permission 'peering:write'"
    )


def test_operator_write_covers_peering_and_mesh(deny: Cluster) -> None:
    _, secret = deny.acl.create_token({"operator": "write"})
    r = deny.client.post(
        "/v1/peering/token", json={"PeerName": "east"}, headers=token_header(secret)
    )
    assert r.status_code == 200, r.text
    r = deny.client.put("/v1/config", json=EXPORTED, headers=token_header(secret))
    assert (r.status_code, r.text) == (200, "true")


def test_exported_services_write_needs_mesh_write(deny: Cluster) -> None:
    accessor, secret = deny.acl.create_token({"mesh": "read"})
    r = deny.client.put("/v1/config", json=EXPORTED, headers=token_header(secret))
    assert r.status_code == 403
    assert r.text == (
        f"Permission denied: token with AccessorID '{accessor}' lacks permission 'mesh:write'"
    )
    r = deny.client.put("/v1/config", json=EXPORTED, headers=admin(deny))
    assert r.status_code == 200
    r = deny.client.get("/v1/config/exported-services/default", headers=token_header(secret))
    assert r.status_code == 200
    assert r.json()["Services"] == EXPORTED["Services"]
    assert deny.client.get("/v1/config/exported-services/default").status_code == 403


def test_service_intentions_need_intentions_write_on_the_destination(deny: Cluster) -> None:
    accessor, secret = deny.acl.create_token({"intentions:db": "write"})
    r = deny.client.put("/v1/config", json=ALLOW_WEB_TO_DB, headers=token_header(secret))
    assert (r.status_code, r.text) == (200, "true")
    other = {**ALLOW_WEB_TO_DB, "Name": "api"}
    r = deny.client.put("/v1/config", json=other, headers=token_header(secret))
    assert r.status_code == 403
    assert r.text == (
        f"Permission denied: token with AccessorID '{accessor}' lacks permission "
        "'intentions:write' on \"api\""
    )
    r = deny.client.delete("/v1/config/service-intentions/api", headers=token_header(secret))
    assert r.status_code == 403


def test_service_read_implies_intentions_read(deny: Cluster) -> None:
    deny.client.put("/v1/config", json=ALLOW_WEB_TO_DB, headers=admin(deny))
    _, secret = deny.acl.create_token({"service:db": "read"})
    r = deny.client.get("/v1/config/service-intentions/db", headers=token_header(secret))
    assert r.status_code == 200, r.text
    assert r.json()["Sources"] == [
        {"Name": "web", "Action": "allow", "Precedence": 9, "Type": "consul"}
    ]


def test_config_validation_errors_come_before_the_token(deny: Cluster) -> None:
    bad = {"Kind": "exported-services", "Name": "nope"}
    r = deny.client.put("/v1/config", json=bad)
    assert (r.status_code, r.text) == (500, 'exported-services Name must be "default"')


def test_mesh_entry_reads_need_no_token(deny: Cluster) -> None:
    r = deny.client.put("/v1/config", json={"Kind": "mesh"})
    assert r.status_code == 403
    assert "lacks permission 'mesh:write'" in r.text
    deny.client.put("/v1/config", json={"Kind": "mesh"}, headers=admin(deny))
    r = deny.client.get("/v1/config/mesh/mesh")
    assert (r.status_code, r.json()["Kind"]) == (200, "mesh")


def test_create_token_rejects_malformed_grants(deny: Cluster) -> None:
    with pytest.raises(ACLError):
        deny.acl.create_token({"service": "write"})
    with pytest.raises(ACLError):
        deny.acl.create_token({"peering": "admin"})


# -- token resolution -----------------------------------------------------------------------------
NOT_BOOTSTRAPPED = (
    "ACL system must be bootstrapped before making any requests that require authorization: "
    "ACL not found"
)


def test_unknown_token_is_acl_not_found_wrapped_until_bootstrap(deny: Cluster) -> None:
    """``ResolveIdentityFromToken`` (agent/consul/acl_server.go) wraps ``ACL not found`` while
    the ACL system can still be bootstrapped (the Go client's TestAPI_ACLBootstrap)."""
    r = deny.client.put(
        "/v1/agent/service/register", json={"Name": "web"}, headers=token_header("nope")
    )
    assert (r.status_code, r.text) == (403, NOT_BOOTSTRAPPED)
    r = deny.client.get("/v1/peerings", headers=token_header("nope"))
    assert (r.status_code, r.text) == (403, f"rpc error: code = Unknown desc = {NOT_BOOTSTRAPPED}")
    assert deny.client.put("/v1/acl/bootstrap").status_code == 200
    r = deny.client.put(
        "/v1/agent/service/register", json={"Name": "web"}, headers=token_header("nope")
    )
    assert (r.status_code, r.text) == (403, "ACL not found")
    r = deny.client.get("/v1/peerings", headers=token_header("nope"))
    assert (r.status_code, r.text) == (403, "rpc error: code = Unknown desc = ACL not found")


ALLOWED = (200, "[]")
UNKNOWN_TOKEN = (403, f"rpc error: code = Unknown desc = {NOT_BOOTSTRAPPED}")
ANONYMOUS = (
    403,
    "rpc error: code = Unknown desc = Permission denied: anonymous token lacks permission "
    "'peering:read'." + ANON_HINT,
)


@pytest.mark.parametrize(
    ("params", "headers", "answer"),
    [
        ({"token": "GOOD"}, {"X-Consul-Token": "bad", "Authorization": "Bearer bad"}, ALLOWED),
        ({"token": "bad"}, {"X-Consul-Token": "GOOD"}, UNKNOWN_TOKEN),
        ({}, {"X-Consul-Token": "GOOD", "Authorization": "Bearer bad"}, ALLOWED),
        ({}, {"X-Consul-Token": "bad", "Authorization": "Bearer GOOD"}, UNKNOWN_TOKEN),
        ({}, {"Authorization": "bearer GOOD"}, ALLOWED),
        ({}, {"Authorization": "Basic GOOD"}, ANONYMOUS),
    ],
)
def test_token_precedence_is_query_then_header_then_bearer(
    deny: Cluster, params: dict[str, str], headers: dict[str, str], answer: tuple[int, str]
) -> None:
    """The first token found decides: a bad one is not found, a non-Bearer scheme is no token."""
    _, secret = deny.acl.create_token({"peering": "read"})
    good = {k: v.replace("GOOD", secret) for k, v in params.items()}
    hdrs = {k: v.replace("GOOD", secret) for k, v in headers.items()}
    r = deny.client.get("/v1/peerings", params=good, headers=hdrs)
    assert (r.status_code, r.text) == answer


def test_management_token_is_seeded(world: World) -> None:
    first = world.add_cluster("dc1", acl_default_policy="deny").acl
    again = World(clock="virtual", seed=11)
    try:
        second = again.add_cluster("dc1", acl_default_policy="deny").acl
        assert (first.management_token, first.management_accessor_id) == (
            second.management_token,
            second.management_accessor_id,
        )
    finally:
        again.close()


def test_bad_default_policy_is_refused(world: World) -> None:
    with pytest.raises(ValueError, match="allow"):
        world.add_cluster("dc1", acl_default_policy="maybe")


# -- default policy header ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("policy", "header"), [(None, "allow"), ("allow", "allow"), ("deny", "deny")]
)
def test_default_acl_policy_header_follows_the_cluster(
    world: World, policy: str | None, header: str
) -> None:
    cluster = world.add_cluster("dc1", acl_default_policy=policy)
    responses: list[httpx.Response] = [
        cluster.client.get("/v1/catalog/services"),
        cluster.client.get("/v1/peerings"),
        cluster.client.put("/v1/agent/service/register", json={"Name": "web"}),
        cluster.client.get("/v1/config/mesh/nope"),
    ]
    for r in responses:
        assert r.headers["X-Consul-Default-ACL-Policy"] == header, r.request.url


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/v1/catalog/nodes", "OPTIONS,GET"),
        ("DELETE", "/v1/agent/self", "OPTIONS,GET"),
        ("POST", "/v1/kv/web", "OPTIONS,GET,PUT,DELETE"),
    ],
)
def test_wrong_method_405_carries_the_default_acl_policy(
    deny: Cluster, method: str, path: str, allow: str
) -> None:
    """Consul's wrap (agent/http.go) sets X-Consul-Default-ACL-Policy before it checks the
    method, so its 405 carries the header like every other error."""
    r = deny.client.request(method, path)
    assert (r.status_code, r.text) == (405, f"method {method} not allowed")
    assert r.headers["Allow"] == allow
    assert r.headers["X-Consul-Default-ACL-Policy"] == "deny"


# -- intentions default decision ------------------------------------------------------------------
@pytest.mark.parametrize(("policy", "allowed"), [("deny", False), ("allow", True)])
def test_intentions_default_follows_the_acl_default_policy(
    world: World, policy: str, allowed: bool
) -> None:
    cluster = world.add_cluster("dc1", acl_default_policy=policy)
    r = cluster.client.get(
        "/v1/connect/intentions/check",
        params={"source": "web", "destination": "db"},
        headers=admin(cluster),
    )
    assert r.json() == {"Allowed": allowed}
    assert authorize(cluster, "db", "web") == {
        "Authorized": allowed,
        "Reason": "Default behavior configured by ACLs",
    }


def test_matching_intention_wins_over_default_deny(deny: Cluster) -> None:
    deny.client.put("/v1/config", json=ALLOW_WEB_TO_DB, headers=admin(deny))
    assert authorize(deny, "db", "web")["Authorized"] is True
    assert authorize(deny, "db", "api")["Authorized"] is False


def test_intentions_check_and_authorize_need_service_permissions(deny: Cluster) -> None:
    r = deny.client.get(
        "/v1/connect/intentions/check", params={"source": "web", "destination": "db"}
    )
    assert r.status_code == 403
    assert "lacks permission 'service:read' on \"db\"" in r.text
    uri = f"spiffe://{deny.trust_domain}/ns/default/dc/dc1/svc/web"
    r = deny.client.post("/v1/agent/connect/authorize", json={"Target": "db", "ClientCertURI": uri})
    assert r.status_code == 403
    assert "lacks permission 'service:write' on \"db\"" in r.text


# -- ACLs disabled --------------------------------------------------------------------------------
def test_without_acls_tokens_are_ignored_and_default_allows(world: World) -> None:
    cluster = world.add_cluster("dc1")
    hdrs = token_header("no-such-token")
    assert (
        cluster.client.post(
            "/v1/peering/token", json={"PeerName": "east"}, headers=hdrs
        ).status_code
        == 200
    )
    assert (
        cluster.client.put(
            "/v1/agent/service/register", json={"Name": "web"}, headers=hdrs
        ).status_code
        == 200
    )
    assert authorize(cluster, "db", "web") == {
        "Authorized": True,
        "Reason": "Default behavior configured by ACLs",
    }


def test_create_token_takes_consuls_rule_language(deny: Cluster) -> None:
    _, secret = deny.acl.create_token('service_prefix "" { policy = "read" }\npeering = "read"')
    r = deny.client.get("/v1/peerings", headers=token_header(secret))
    assert (r.status_code, r.text) == (200, "[]")
    r = deny.client.put(
        "/v1/agent/service/register", json={"Name": "web"}, headers=token_header(secret)
    )
    assert r.status_code == 403
    with pytest.raises(ACLError, match='^Invalid peering policy: "all"$'):
        deny.acl.create_token('peering = "all"')
