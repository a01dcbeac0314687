"""/v1/acl/policy*, /v1/acl/role*, templated policies, auth methods and binding rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consul_sim.world import Cluster, World

GM = "00000000-0000-0000-0000-000000000001"
ANON = (
    "Permission denied: anonymous token lacks permission 'acl:{}'. The anonymous token is used "
    "implicitly when a request does not specify a token."
)


@pytest.fixture
def dc1() -> Iterator[Cluster]:
    w = World(clock="virtual", seed=6)
    try:
        yield w.add_cluster("dc1", acl_default_policy="deny")
    finally:
        w.close()


def mgmt(cluster: Cluster) -> dict[str, str]:
    return {"X-Consul-Token": cluster.acl.management_token}


def test_policy_writes_need_acl_write_and_change_nothing_without_it(dc1: Cluster) -> None:
    r = dc1.client.put("/v1/acl/policy", json={"Name": "p", "Rules": 'acl = "read"'})
    assert (r.status_code, r.text) == (403, ANON.format("write"))
    r = dc1.client.get("/v1/acl/policies")
    assert (r.status_code, r.text) == (403, ANON.format("read"))
    names = [p["Name"] for p in dc1.client.get("/v1/acl/policies", headers=mgmt(dc1)).json()]
    assert names == ["global-management", "builtin/global-read-only"]


def test_policy_crud_round_trip(dc1: Cluster) -> None:
    r = dc1.client.put(
        "/v1/acl/policy",
        json={"Name": "web", "Rules": 'service "web" { policy = "read" }', "Datacenters": ["dc1"]},
        headers=mgmt(dc1),
    )
    assert r.status_code == 200
    policy = r.json()
    assert set(policy) == {"ID", "Name", "Description", "Rules", "Datacenters", "Hash",
                           "CreateIndex", "ModifyIndex"}  # fmt: skip
    by_name = dc1.client.get("/v1/acl/policy/name/web", headers=mgmt(dc1))
    assert by_name.json() == policy
    assert by_name.headers["X-Consul-Index"] == str(policy["ModifyIndex"])
    r = dc1.client.put(f"/v1/acl/policy/{policy['ID']}", json={"Name": "web2"}, headers=mgmt(dc1))
    assert (r.status_code, r.json()["Name"], r.json()["Rules"]) == (200, "web2", "")
    stub = next(p for p in dc1.client.get("/v1/acl/policies", headers=mgmt(dc1)).json()
                if p["ID"] == policy["ID"])  # fmt: skip
    assert "Rules" not in stub and stub["Datacenters"] is None
    r = dc1.client.delete(f"/v1/acl/policy/{policy['ID']}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (200, "true")
    r = dc1.client.get(f"/v1/acl/policy/{policy['ID']}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (404, "Requested policy does not exist: ACL not found")
    r = dc1.client.delete(f"/v1/acl/policy/{policy['ID']}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (404, "Cannot find policy to delete")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"Rules": ""}, 500, "Invalid Policy: no Name is set"),
        ({"Name": "a b"}, 500,
         "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"),
        ({"Name": "global-management"}, 500,
         'Invalid Policy: A Policy with Name "global-management" already exists'),
        ({"Name": "p", "Rules": 'node "n1" { policy = "all" }'}, 500,
         'Invalid node policy: &acl.NodeRule{Name:"n1", Policy:"all", '
         "EnterpriseRule:acl.EnterpriseRule{}}"),
        ({"Name": "p", "ID": "8a4f6b2c-0d1e-4f3a-9b8c-7d6e5f4a3b2c"}, 400,
         "Cannot specify the ID when creating a new policy"),
    ],
)  # fmt: skip
def test_policy_create_refuses_what_consul_refuses(
    dc1: Cluster, body: dict[str, object], status: int, message: str
) -> None:
    r = dc1.client.put("/v1/acl/policy", json=body, headers=mgmt(dc1))
    assert (r.status_code, r.text) == (status, message)


def test_the_global_management_policy_keeps_its_rules_and_stays(dc1: Cluster) -> None:
    r = dc1.client.put(f"/v1/acl/policy/{GM}", json={"Name": "gm", "Rules": ""}, headers=mgmt(dc1))
    assert (r.status_code, r.text) == (
        500,
        "Changing the Rules for the builtin global-management policy is not permitted",
    )
    r = dc1.client.delete(f"/v1/acl/policy/{GM}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (
        500,
        "Delete operation not permitted on the builtin global-management policy",
    )


def test_role_crud_and_lookup_by_name(dc1: Cluster) -> None:
    r = dc1.client.put(
        "/v1/acl/role",
        json={"Name": "ops", "Policies": [{"Name": "global-management"}],
              "NodeIdentities": [{"NodeName": "n1", "Datacenter": "dc1"}]},
        headers=mgmt(dc1),
    )  # fmt: skip
    assert r.status_code == 200
    role = r.json()
    assert role["Policies"] == [{"ID": GM, "Name": "global-management"}]
    assert dc1.client.get("/v1/acl/role/name/ops", headers=mgmt(dc1)).json() == role
    r = dc1.client.put("/v1/acl/role", json={"Name": "ops"}, headers=mgmt(dc1))
    assert (r.status_code, r.text) == (500, 'Invalid Role: A Role with Name "ops" already exists')
    listed = dc1.client.get("/v1/acl/roles", params={"policy": GM}, headers=mgmt(dc1)).json()
    assert [x["ID"] for x in listed] == [role["ID"]]
    r = dc1.client.delete(f"/v1/acl/role/{role['ID']}", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (200, "true")
    r = dc1.client.get("/v1/acl/role/name/ops", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (404, "Requested role does not exist: ACL not found")


def test_role_writes_need_acl_write(dc1: Cluster) -> None:
    r = dc1.client.put("/v1/acl/role", json={"Name": "ops"})
    assert (r.status_code, r.text) == (403, ANON.format("write"))
    assert dc1.client.get("/v1/acl/roles", headers=mgmt(dc1)).json() == []


def test_templated_policies_list_read_and_preview(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/acl/templated-policies", headers=mgmt(dc1))
    assert len(r.json()) == 6
    r = dc1.client.get("/v1/acl/templated-policy/name/builtin/node", headers=mgmt(dc1))
    assert r.json()["Template"].startswith('\nnode "{{.Name}}" {\n\tpolicy = "write"\n}')
    r = dc1.client.post(
        "/v1/acl/templated-policy/preview/builtin/service", json={"Name": "api"}, headers=mgmt(dc1)
    )
    preview = r.json()
    assert (
        preview["Description"]
        == "synthetic policy generated from templated policy: builtin/service"
    )
    assert preview["Name"] == f"synthetic-policy-{preview['ID']}"
    assert 'service "api-sidecar-proxy" {' in preview["Rules"]


def test_a_templated_policy_grants_its_rules(dc1: Cluster) -> None:
    r = dc1.client.put(
        "/v1/acl/token",
        json={"TemplatedPolicies": [{"TemplateName": "builtin/service",
                                     "TemplateVariables": {"Name": "web"}}]},
        headers=mgmt(dc1),
    )  # fmt: skip
    hdr = {"X-Consul-Token": r.json()["SecretID"]}
    assert (
        dc1.client.put("/v1/agent/service/register", json={"Name": "web"}, headers=hdr).status_code
        == 200
    )
    assert (
        dc1.client.put("/v1/agent/service/register", json={"Name": "db"}, headers=hdr).status_code
        == 403
    )


def test_auth_methods_and_binding_rules_crud(dc1: Cluster) -> None:
    r = dc1.client.put("/v1/acl/auth-method", json={"Name": "m", "Type": "ldap"}, headers=mgmt(dc1))
    assert (r.status_code, r.text) == (
        500,
        "Invalid Auth Method: Type should be one of: [aws-iam jwt kubernetes oidc]",
    )
    r = dc1.client.put("/v1/acl/auth-method", json={"Name": "m", "Type": "jwt"}, headers=mgmt(dc1))
    assert r.json()["Type"] == "jwt"
    r = dc1.client.put(
        "/v1/acl/binding-rule",
        json={"AuthMethod": "m", "BindType": "service", "BindName": "${value.name}"},
        headers=mgmt(dc1),
    )
    rule = r.json()
    assert dc1.client.get(f"/v1/acl/binding-rule/{rule['ID']}", headers=mgmt(dc1)).json() == rule
    listed = dc1.client.get("/v1/acl/binding-rules", params={"authmethod": "m"}, headers=mgmt(dc1))
    assert [x["ID"] for x in listed.json()] == [rule["ID"]]
    assert dc1.client.delete("/v1/acl/auth-method/m", headers=mgmt(dc1)).text == "true"
    assert dc1.client.get("/v1/acl/binding-rules", headers=mgmt(dc1)).json() == []
    r = dc1.client.get("/v1/acl/auth-method/m", headers=mgmt(dc1))
    assert (r.status_code, r.text) == (404, "Requested auth method does not exist: ACL not found")


def test_lists_are_filtered_by_a_policys_rules_and_say_so(dc1: Cluster) -> None:
    for name in ("web", "web-admin", "db"):
        dc1.client.put("/v1/agent/service/register", json={"Name": name}, headers=mgmt(dc1))
    rules = 'service_prefix "web" { policy = "read" }\nservice "web-admin" { policy = "deny" }'
    dc1.client.put("/v1/acl/policy", json={"Name": "web-read", "Rules": rules}, headers=mgmt(dc1))
    r = dc1.client.put(
        "/v1/acl/token", json={"Policies": [{"Name": "web-read"}]}, headers=mgmt(dc1)
    )
    hdr = {"X-Consul-Token": r.json()["SecretID"]}
    r = dc1.client.get("/v1/catalog/services", headers=hdr)
    assert sorted(r.json()) == ["web"]
    assert r.headers["X-Consul-Results-Filtered-By-ACLs"] == "true"
    r = dc1.client.get("/v1/catalog/services", headers=mgmt(dc1))
    assert sorted(r.json()) == ["consul", "db", "web", "web-admin"]
    assert "X-Consul-Results-Filtered-By-ACLs" not in r.headers
