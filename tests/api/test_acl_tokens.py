"""/v1/acl/bootstrap, /v1/acl/token*, and what a token may do once made (agent/acl_endpoint.go)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consul_sim.world import Cluster, World

ANON = (
    "Permission denied: anonymous token lacks permission 'acl:{}'. The anonymous token is used "
    "implicitly when a request does not specify a token."
)
INITIAL = "9f3f3e1c-5c5e-4e0f-9a55-0a7f5d5e2c11"


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=5)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def dc1(world: World) -> Cluster:
    return world.add_cluster("dc1", acl_default_policy="deny")


def mgmt(cluster: Cluster) -> dict[str, str]:
    return {"X-Consul-Token": cluster.acl.management_token}


def make_policy(cluster: Cluster, name: str, rules: str) -> dict[str, object]:
    r = cluster.client.put(
        "/v1/acl/policy", json={"Name": name, "Rules": rules}, headers=mgmt(cluster)
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def make_token(cluster: Cluster, **body: object) -> dict[str, object]:
    r = cluster.client.put("/v1/acl/token", json=body, headers=mgmt(cluster))
    assert r.status_code == 200, r.text
    out: dict[str, object] = r.json()
    return out


def test_bootstrap_succeeds_once_then_reports_the_reset_index(dc1: Cluster) -> None:
    r = dc1.client.put("/v1/acl/bootstrap")
    assert r.status_code == 200
    token = r.json()
    assert token["ID"] == token["SecretID"]
    assert token["Description"] == "Bootstrap Token (Global Management)"
    assert token["Policies"] == [
        {"ID": "00000000-0000-0000-0000-000000000001", "Name": "global-management"}
    ]
    again = dc1.client.put("/v1/acl/bootstrap")
    assert (again.status_code, again.text) == (
        403,
        f"Permission denied: ACL bootstrap no longer allowed (reset index: {token['CreateIndex']})",
    )
    r = dc1.client.get("/v1/acl/token/self", headers={"X-Consul-Token": token["SecretID"]})
    assert (r.status_code, r.json()["AccessorID"]) == (200, token["AccessorID"])


def test_an_initial_management_token_bootstraps_the_cluster(world: World) -> None:
    c = world.add_cluster("dc2", acl_default_policy="deny", acl_initial_management=INITIAL)
    r = c.client.put("/v1/acl/bootstrap")
    assert r.status_code == 403
    assert r.text.startswith("Permission denied: ACL bootstrap no longer allowed (reset index: ")
    r = c.client.get("/v1/acl/token/self", headers={"Authorization": f"Bearer {INITIAL}"})
    assert (r.status_code, r.json()["Description"]) == (200, "Initial Management Token")
    assert c.acl.management_token == INITIAL


def test_acl_endpoints_answer_401_when_acls_are_off(world: World) -> None:
    c = world.add_cluster("plain")
    for method, path in (("PUT", "/v1/acl/bootstrap"), ("GET", "/v1/acl/tokens"),
                         ("GET", "/v1/acl/policies"), ("PUT", "/v1/acl/role")):  # fmt: skip
        r = c.client.request(method, path)
        assert (r.status_code, r.text) == (401, "ACL support disabled"), path


def test_token_create_needs_acl_write_and_changes_nothing_without_it(dc1: Cluster) -> None:
    before = dc1.client.get("/v1/acl/tokens", headers=mgmt(dc1)).json()
    r = dc1.client.put("/v1/acl/token", json={"Description": "x"})
    assert (r.status_code, r.text) == (403, ANON.format("write"))
    reader = make_token(dc1, Policies=[{"ID": "00000000-0000-0000-0000-000000000002"}])
    r = dc1.client.put(
        "/v1/acl/token",
        json={"Description": "x"},
        headers={"X-Consul-Token": str(reader["SecretID"])},
    )
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: token with AccessorID '{reader['AccessorID']}' lacks permission "
        "'acl:write'",
    )
    after = dc1.client.get("/v1/acl/tokens", headers=mgmt(dc1)).json()
    assert len(after) == len(before) + 1  # only the reader


def test_token_reads_need_acl_read_and_hide_secrets_without_acl_write(dc1: Cluster) -> None:
    reader = make_token(dc1, Policies=[{"Name": "builtin/global-read-only"}])
    hdr = {"X-Consul-Token": str(reader["SecretID"])}
    r = dc1.client.get(f"/v1/acl/token/{reader['AccessorID']}", headers=hdr)
    assert (r.status_code, r.json()["SecretID"]) == (200, "<hidden>")
    assert {t["SecretID"] for t in dc1.client.get("/v1/acl/tokens", headers=hdr).json()} == {
        "<hidden>"
    }
    r = dc1.client.get(f"/v1/acl/token/{reader['AccessorID']}")
    assert (r.status_code, r.text) == (403, ANON.format("read"))


def test_token_crud_round_trip(dc1: Cluster) -> None:
    web = make_policy(dc1, "web", 'service "web" { policy = "write" }')
    token = make_token(dc1, Description="web", Policies=[{"Name": "web"}])
    assert token["Policies"] == [{"ID": web["ID"], "Name": "web"}]
    accessor = token["AccessorID"]
    r = dc1.client.put(
        f"/v1/acl/token/{accessor}",
        json={"Description": "web2", "ServiceIdentities": [{"ServiceName": "api"}]},
        headers=mgmt(dc1),
    )
    assert r.status_code == 200
    updated = r.json()
    assert (updated["SecretID"], updated["Description"]) == (token["SecretID"], "web2")
    assert "Policies" not in updated and updated["ServiceIdentities"] == [{"ServiceName": "api"}]
    assert updated["CreateIndex"] == token["CreateIndex"] < updated["ModifyIndex"]
    clone = dc1.client.put(f"/v1/acl/token/{accessor}/clone", json={}, headers=mgmt(dc1)).json()
    assert clone["AccessorID"] != accessor and clone["Description"] == "web2"
    r = dc1.client.delete(f"/v1/acl/token/{accessor}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (200, "true")
    r = dc1.client.get(f"/v1/acl/token/{accessor}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (403, "Requested token does not exist: ACL not found")
    r = dc1.client.delete(f"/v1/acl/token/{accessor}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (404, "Cannot find token to delete")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"Policies": [{"Name": "nope"}]}, 'No such ACL policy with name "nope"'),
        ({"Roles": [{"ID": "3d9b4a3f-1d5e-4c3b-8f5e-2a1b0c9d8e7f"}]},
         'No such ACL role with ID "3d9b4a3f-1d5e-4c3b-8f5e-2a1b0c9d8e7f"'),
        ({"ServiceIdentities": [{"ServiceName": "Web"}]},
         "Service identity \"Web\" has an invalid name. Only lowercase alphanumeric characters, "
         "'-' and '_' are allowed"),
        ({"NodeIdentities": [{"NodeName": "n1"}]},
         "Node identity is missing the datacenter field on this token"),
        ({"AccessorID": "00000000-0000-0000-0000-000000000009"},
         'Invalid Token: AccessorID - UUIDs with the prefix "00000000-0000-0000-0000-0000000000" '
         "are reserved"),
        ({"ExpirationTTL": "10s"},
         "ExpirationTime cannot be less than 1m0s in the future (was 10s)"),
        ({"ExpirationTTL": "1h", "ExpirationTime": "2026-01-01T02:00:00Z"},
         "Token Expiration TTL and Expiration Time cannot both be set"),
    ],
)  # fmt: skip
def test_token_create_refuses_what_consul_refuses(
    dc1: Cluster, body: dict[str, object], message: str
) -> None:
    r = dc1.client.put("/v1/acl/token", json=body, headers=mgmt(dc1))
    assert (r.status_code, r.text) == (500, message)


def test_token_body_must_decode(dc1: Cluster) -> None:
    r = dc1.client.put("/v1/acl/token", content=b'{"Local": "yes"}', headers=mgmt(dc1))
    assert (r.status_code, r.text) == (
        400,
        "Token decoding failed: json: cannot unmarshal string into Go struct field "
        "ACLToken.Local of type bool",
    )
    r = dc1.client.put(
        "/v1/acl/token/5f2b1f43-3a38-4b5a-9d3a-5f4a7a1c9e10",
        json={"AccessorID": "11111111-3a38-4b5a-9d3a-5f4a7a1c9e10"},
        headers=mgmt(dc1),
    )
    assert (r.status_code, r.text) == (400, "Token Accessor ID in URL and payload do not match")


def test_an_expired_token_stops_resolving_on_the_cluster_clock(world: World, dc1: Cluster) -> None:
    token = make_token(dc1, ExpirationTTL="2m", Policies=[{"Name": "global-management"}])
    hdr = {"X-Consul-Token": str(token["SecretID"])}
    assert token["ExpirationTime"] == "2026-01-01T00:02:00Z"
    assert dc1.client.get("/v1/acl/tokens", headers=hdr).status_code == 200
    world.advance(121)
    r = dc1.client.get("/v1/acl/tokens", headers=hdr)
    assert (r.status_code, r.text) == (
        403,
        "ACL system must be bootstrapped before making any requests that require "
        "authorization: ACL not found",
    )
    listed = dc1.client.get("/v1/acl/tokens", headers=mgmt(dc1)).json()
    assert token["AccessorID"] not in [t["AccessorID"] for t in listed]


def test_token_list_filters_by_policy_role_and_service_name(dc1: Cluster) -> None:
    web = make_policy(dc1, "web", 'service "web" { policy = "write" }')
    role = dc1.client.put("/v1/acl/role", json={"Name": "r", "Policies": [{"ID": web["ID"]}]},
                          headers=mgmt(dc1)).json()  # fmt: skip
    by_policy = make_token(dc1, Policies=[{"ID": web["ID"]}])
    by_role = make_token(dc1, Roles=[{"Name": "r"}])
    by_service = make_token(dc1, ServiceIdentities=[{"ServiceName": "api"}])

    def listed(**params: str) -> list[object]:
        r = dc1.client.get("/v1/acl/tokens", params=params, headers=mgmt(dc1))
        return [t["AccessorID"] for t in r.json()]

    assert listed(policy=str(web["ID"])) == [by_policy["AccessorID"]]
    assert listed(role=str(role["ID"])) == [by_role["AccessorID"]]
    assert listed(servicename="api") == [by_service["AccessorID"]]
    r = dc1.client.get(
        "/v1/acl/tokens", params={"servicename": "api", "authmethod": "a"}, headers=mgmt(dc1)
    )
    assert (r.status_code, r.text) == (
        500,
        "can only filter by one of policy, role, serviceName, or methodName at a time",
    )


def test_a_token_grants_what_its_policies_roles_and_identities_grant(dc1: Cluster) -> None:
    make_policy(dc1, "kv", 'key_prefix "app/" { policy = "write" }')
    dc1.client.put("/v1/acl/role", json={"Name": "kv-role", "Policies": [{"Name": "kv"}]},
                   headers=mgmt(dc1))  # fmt: skip
    token = make_token(dc1, Roles=[{"Name": "kv-role"}], ServiceIdentities=[{"ServiceName": "web"}])
    hdr = {"X-Consul-Token": str(token["SecretID"])}
    assert dc1.client.put("/v1/kv/app/x", content=b"1", headers=hdr).status_code == 200
    r = dc1.client.put("/v1/kv/other", content=b"1", headers=hdr)
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: token with AccessorID '{token['AccessorID']}' lacks permission "
        "'key:write' on \"other\"",
    )
    assert dc1.client.get("/v1/kv/other", headers=mgmt(dc1)).status_code == 404
    r = dc1.client.put("/v1/agent/service/register", json={"Name": "web"}, headers=hdr)
    assert r.status_code == 200
    r = dc1.client.put("/v1/agent/service/register", json={"Name": "db"}, headers=hdr)
    assert r.status_code == 403


def test_deleting_the_anonymous_token_or_ones_own_is_refused(dc1: Cluster) -> None:
    anon = "00000000-0000-0000-0000-000000000002"
    r = dc1.client.delete(f"/v1/acl/token/{anon}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (500, "Delete operation not permitted on the anonymous token")
    r = dc1.client.delete(f"/v1/acl/token/{dc1.acl.management_accessor_id}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (
        500,
        "Deletion of the request's authorization token is not permitted",
    )


def test_token_self_with_an_unknown_secret_is_acl_not_found(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/acl/token/self", params={"token": "nope"})
    assert (r.status_code, r.text) == (403, "ACL not found")


def test_login_names_what_is_not_simulated_and_logout_needs_a_login_token(dc1: Cluster) -> None:
    r = dc1.client.post("/v1/acl/login", json={"AuthMethod": "k8s", "BearerToken": "x"})
    assert (r.status_code, r.text) == (403, 'ACL not found: auth method "k8s" not found')
    r = dc1.client.put("/v1/acl/auth-method", json={"Name": "k8s", "Type": "kubernetes"},
                       headers=mgmt(dc1))  # fmt: skip
    assert r.status_code == 200
    r = dc1.client.post("/v1/acl/login", json={"AuthMethod": "k8s", "BearerToken": "x"})
    assert r.status_code == 500 and "does not simulate login" in r.text
    r = dc1.client.post("/v1/acl/logout", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (403, "Permission denied: token wasn't created via login")


def test_agent_token_needs_agent_write_and_the_default_token_stands_in(dc1: Cluster) -> None:
    reader = make_token(dc1, Policies=[{"Name": "builtin/global-read-only"}])
    r = dc1.client.put("/v1/agent/token/default", json={"Token": str(reader["SecretID"])})
    assert (r.status_code, r.text) == (
        403,
        "Permission denied: anonymous token lacks permission 'agent:write' on \"dc1-server\". "
        "The anonymous token is used implicitly when a request does not specify a token.",
    )
    assert dc1.client.get("/v1/acl/tokens").status_code == 403
    r = dc1.client.put(
        "/v1/agent/token/default", json={"Token": str(reader["SecretID"])}, headers=mgmt(dc1)
    )
    assert (r.status_code, r.text) == (200, "")
    assert dc1.client.get("/v1/acl/tokens").status_code == 200  # no token: the default one
    assert dc1.client.get("/v1/acl/token/self").json()["AccessorID"] == reader["AccessorID"]
    r = dc1.client.put("/v1/agent/token/nope", json={"Token": "x"}, headers=mgmt(dc1))
    assert (r.status_code, r.text) == (404, 'Token "nope" is unknown')
    config = dc1.client.get("/v1/agent/self", headers=mgmt(dc1)).json()["DebugConfig"]
    assert config["ACLsEnabled"] is True
    assert config["ACLResolverSettings"]["ACLDefaultPolicy"] == "deny"
    assert config["ACLTokens"]["ACLDefaultToken"] == "hidden"
    assert config["ACLTokens"]["ACLAgentToken"] == ""


def test_agent_token_and_self_with_acls_off(world: World) -> None:
    plain = world.add_cluster("plain")
    r = plain.client.put("/v1/agent/token/default", json={"Token": "x"})
    assert (r.status_code, r.text) == (401, "ACL support disabled")
    body = plain.client.get("/v1/agent/self").json()
    assert (body["DebugConfig"]["ACLsEnabled"], body["Stats"]["consul"]["acl"]) == (
        False,
        "disabled",
    )


def test_replication_status_of_a_primary_needs_no_token(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/acl/replication")
    assert r.status_code == 200
    assert (r.json()["Enabled"], r.json()["LastSuccess"]) == (False, "0001-01-01T00:00:00Z")


def test_default_policy_allow_still_keeps_acl_and_snapshot_to_managers(world: World) -> None:
    """``StaticAuthorizer`` (acl/static_authorizer.go): ``allow`` grants every resource but
    ``acl`` and snapshots, which only ``allowManage`` grants."""
    dc = world.add_cluster("dc1", acl_default_policy="allow")
    assert dc.client.get("/v1/kv/anything").status_code == 404  # allowed, just missing
    r = dc.client.get("/v1/acl/tokens")
    assert (r.status_code, r.text) == (403, ANON.format("read"))
    r = dc.client.get("/v1/acl/roles")
    assert (r.status_code, r.text) == (403, ANON.format("read"))
    r = dc.client.put("/v1/acl/policy", json={"Name": "p", "Rules": ""})
    assert (r.status_code, r.text) == (403, ANON.format("write"))
    r = dc.client.get("/v1/snapshot", headers={"X-Consul-Token": "anonymous"})
    assert (r.status_code, r.text) == (403, ANON.format("write"))
    assert dc.client.get("/v1/acl/tokens", headers=mgmt(dc)).status_code == 200


def test_reading_a_missing_token_is_403_and_a_missing_policy_404(dc1: Cluster) -> None:
    """A missing token's read is refused like an unknown ACL, a missing policy's is a 404; an ID
    that is not 36 characters fails the state store's UUID index (a 500)."""
    missing = "00000000-dead-beef-0000-000000000000"
    r = dc1.client.get(f"/v1/acl/token/{missing}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (403, "Requested token does not exist: ACL not found")
    r = dc1.client.get(f"/v1/acl/policy/{missing}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (404, "Requested policy does not exist: ACL not found")
    for path in ("/v1/acl/token/unknown", "/v1/acl/policy/unknown", "/v1/acl/role/unknown"):
        r = dc1.client.get(path, headers=mgmt(dc1))
        assert (r.status_code, r.text) == (500, "UUID must be 36 characters")
    r = dc1.client.get("/v1/acl/token/unknown")
    assert (r.status_code, r.text) == (403, ANON.format("read"))


def test_templated_policy_variables_answer_with_a_lower_case_name(dc1: Cluster) -> None:
    """``ACLTemplatedPolicyVariables.Name`` is tagged ``json:"name"`` (agent/structs/acl.go)."""
    token = make_token(
        dc1,
        TemplatedPolicies=[
            {"TemplateName": "builtin/service", "TemplateVariables": {"Name": "api"}}
        ],
    )
    expected = [{"TemplateName": "builtin/service", "TemplateVariables": {"name": "api"}}]
    assert token["TemplatedPolicies"] == expected
    r = dc1.client.get(f"/v1/acl/token/{token['AccessorID']}", headers=mgmt(dc1))
    assert r.json()["TemplatedPolicies"] == expected
