"""Every builtin templated policy Consul CE ships, over HTTP (agent/structs/acl_templated_policy.go
and its acltemplatedpolicy/policies/ce/*.hcl)."""

from __future__ import annotations

from consul_sim.world import Cluster
from tests.api.test_acl_policies import dc1, mgmt

__all__ = ["dc1"]

NAME_SCHEMA = (
    '{\n\t"type": "object",\n\t"properties": {\n\t\t"name": { "type": "string", "$ref": '
    '"#/definitions/min-length-one" }\n\t},\n\t"required": ["name"],\n\t"definitions": {\n'
    '\t\t"min-length-one": {\n\t\t\t\t"type": "string",\n\t\t\t\t"minLength": 1\n\t\t}\n\t}\n}'
)


def test_the_list_names_all_six_ce_templates(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/acl/templated-policies", headers=mgmt(dc1))
    assert sorted(r.json()) == [
        "builtin/api-gateway",
        "builtin/dns",
        "builtin/node",
        "builtin/nomad-client",
        "builtin/nomad-server",
        "builtin/service",
    ]
    assert r.json()["builtin/service"]["Schema"] == NAME_SCHEMA
    assert r.json()["builtin/dns"]["Schema"] == ""


def test_the_api_gateway_template_reads_as_consul_ships_it(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/acl/templated-policy/name/builtin/api-gateway", headers=mgmt(dc1))
    assert r.json() == {
        "TemplateName": "builtin/api-gateway",
        "Schema": NAME_SCHEMA,
        "Template": 'mesh = "read"\nnode_prefix "" {\n\tpolicy = "read"\n}\nservice_prefix "" {\n'
        '\tpolicy = "read"\n}\nservice "{{.Name}}" {\n\tpolicy = "write"\n}',
        "Description": "Gives the token or role permissions for a Consul api gateway",
    }


def test_the_nomad_templates_take_no_variables(dc1: Cluster) -> None:
    r = dc1.client.get("/v1/acl/templated-policy/name/builtin/nomad-client", headers=mgmt(dc1))
    assert r.json() == {
        "TemplateName": "builtin/nomad-client",
        "Schema": "",
        "Template": 'agent_prefix "" {\n  policy = "read"\n}\nnode_prefix "" {\n'
        '  policy = "read"\n}\nservice_prefix "" {\n  policy = "write"\n}\nkey_prefix "" {\n'
        '  policy = "read"\n}',
        "Description": "Gives the token or role permissions required for integration with a "
        "nomad client.",
    }
    r = dc1.client.post(
        "/v1/acl/templated-policy/preview/builtin/nomad-server", json={}, headers=mgmt(dc1)
    )
    assert r.status_code == 200
    assert r.json()["Rules"] == (
        '\nacl = "write"\nagent_prefix "" {\n  policy = "read"\n}\nnode_prefix "" {\n'
        '  policy = "read"\n}\nservice_prefix "" {\n  policy = "write"\n}'
    )


def test_an_api_gateway_token_needs_a_name_and_then_writes_only_its_service(dc1: Cluster) -> None:
    r = dc1.client.put(
        "/v1/acl/token",
        json={"TemplatedPolicies": [{"TemplateName": "builtin/api-gateway"}]},
        headers=mgmt(dc1),
    )
    assert (r.status_code, r.text) == (
        500,
        "name: String length must be greater than or equal to 1",
    )
    r = dc1.client.put(
        "/v1/acl/token",
        json={"TemplatedPolicies": [{"TemplateName": "builtin/api-gateway",
                                     "TemplateVariables": {"Name": "gw"}}]},
        headers=mgmt(dc1),
    )  # fmt: skip
    hdr = {"X-Consul-Token": r.json()["SecretID"]}
    register = dc1.client.put
    assert (
        register("/v1/agent/service/register", json={"Name": "gw"}, headers=hdr).status_code == 200
    )
    assert (
        register("/v1/agent/service/register", json={"Name": "x"}, headers=hdr).status_code == 403
    )
    assert dc1.client.get("/v1/config/mesh/mesh", headers=hdr).status_code == 404


def test_a_nomad_server_role_grants_acl_write(dc1: Cluster) -> None:
    r = dc1.client.put(
        "/v1/acl/role",
        json={"Name": "nomad", "TemplatedPolicies": [{"TemplateName": "builtin/nomad-server"}]},
        headers=mgmt(dc1),
    )
    role_id = r.json()["ID"]
    r = dc1.client.put("/v1/acl/token", json={"Roles": [{"ID": role_id}]}, headers=mgmt(dc1))
    hdr = {"X-Consul-Token": r.json()["SecretID"]}
    r = dc1.client.put("/v1/acl/policy", json={"Name": "p", "Rules": ""}, headers=hdr)
    assert (r.status_code, r.json()["Name"]) == (200, "p")


def test_a_node_template_with_a_bad_name_gets_consuls_double_spaced_error(dc1: Cluster) -> None:
    r = dc1.client.put(
        "/v1/acl/token",
        json={"TemplatedPolicies": [{"TemplateName": "builtin/node",
                                     "TemplateVariables": {"Name": "A b"}}]},
        headers=mgmt(dc1),
    )  # fmt: skip
    assert (r.status_code, r.text) == (
        500,
        'node identity "A b"  has an invalid name. Only lowercase alphanumeric characters, '
        "'-' and '_' are allowed",
    )


def test_token_read_expanded_adds_every_policy_the_token_resolves_to(dc1: Cluster) -> None:
    """``?expanded``: ``ACLTokenExpanded`` (agent/consul/acl_endpoint.go
    lookupExpandedTokenInfo): linked and role policies, then identities' synthetic ones."""
    h = mgmt(dc1)
    p = dc1.client.put("/v1/acl/policy", json={"Name": "p", "Rules": ""}, headers=h).json()
    role = dc1.client.put(
        "/v1/acl/role", json={"Name": "r", "Policies": [{"ID": p["ID"]}]}, headers=h
    ).json()
    body = {
        "Roles": [{"ID": role["ID"]}],
        "NodeIdentities": [{"NodeName": "n", "Datacenter": "dc1"}],
    }
    token = dc1.client.put("/v1/acl/token", json=body, headers=h).json()
    plain = dc1.client.get(f"/v1/acl/token/{token['AccessorID']}", headers=h).json()
    r = dc1.client.get(f"/v1/acl/token/{token['AccessorID']}?expanded", headers=h)
    got = r.json()
    assert {k: got[k] for k in plain} == plain
    rules = '\nnode "n" {\n\tpolicy = "write"\n}\nservice_prefix "" {\n\tpolicy = "read"\n}'
    synthetic = got["ExpandedPolicies"][1]
    assert [x["Name"] for x in got["ExpandedPolicies"]] == ["p", synthetic["Name"]]
    assert synthetic["Name"] == f"synthetic-policy-{synthetic['ID']}"
    assert (synthetic["Description"], synthetic["Rules"], synthetic["Datacenters"]) == (
        'synthetic policy for node identity "n"',
        rules,
        ["dc1"],
    )
    assert [x["Name"] for x in got["ExpandedRoles"]] == ["r"]
    assert list(got)[len(plain) :] == [
        "ExpandedPolicies",
        "ExpandedRoles",
        "NamespaceDefaultPolicyIDs",
        "NamespaceDefaultRoleIDs",
        "AgentACLDefaultPolicy",
        "AgentACLDownPolicy",
        "ResolvedByAgent",
    ]
    assert [got[k] for k in list(got)[len(plain) + 2 :]] == [
        None, None, "deny", "extend-cache", "dc1-server",
    ]  # fmt: skip
