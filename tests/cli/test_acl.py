"""``consul-sim acl ...``: Consul's flags, messages and pretty printer, against a live cluster."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from consul_sim.cli.main import main
from consul_sim.world import Cluster, World

from .conftest import Result, Run


@pytest.fixture
def acl_dc(world: World) -> Cluster:
    return world.add_cluster("acl1", acl_default_policy="deny")


@pytest.fixture
def acl(acl_dc: Cluster) -> Run:
    def invoke(*argv: str, env: Mapping[str, str] | None = None, stdin: bytes = b"") -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main(
            list(argv),
            client_factory=lambda url: acl_dc.client,
            env={"CONSUL_HTTP_TOKEN": acl_dc.acl.management_token} if env is None else env,
            stdout=out,
            stderr=err,
            stdin=io.BytesIO(stdin),
        )
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


def test_bootstrap_prints_the_token_then_refuses(acl: Run) -> None:
    first = acl("acl", "bootstrap", env={})
    assert first.code == 0, first.stderr
    lines = first.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:5]] == [
        "AccessorID", "SecretID", "Description", "Local", "Create Time",
    ]  # fmt: skip
    assert lines[2] == "Description:      Bootstrap Token (Global Management)"
    assert lines[4] == "Create Time:      2026-01-01 00:00:00 +0000 UTC"
    assert lines[5:7] == [
        "Policies:",
        "   00000000-0000-0000-0000-000000000001 - global-management",
    ]
    second = acl("acl", "bootstrap", env={})
    assert second.code == 1
    assert second.stderr.startswith(
        "Failed ACL bootstrapping: Unexpected response code: 403 (Permission denied: ACL "
        "bootstrap no longer allowed (reset index: "
    )


def test_policy_create_reads_rules_from_a_file(acl: Run, tmp_path: Path) -> None:
    rules = tmp_path / "web.hcl"
    rules.write_text('service "web" { policy = "write" }\n')
    r = acl("acl", "policy", "create", "-name", "web", "-description", "Web", "-rules", f"@{rules}")
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1:4] == ["Name:         web", "Description:  Web", "Datacenters:  "]
    assert lines[4:] == ["Rules:", 'service "web" { policy = "write" }', ""]
    r = acl("acl", "policy", "read", "-name", "web", "-format", "json")
    assert json.loads(r.stdout)["Rules"] == 'service "web" { policy = "write" }\n'


def test_policy_create_without_name_or_permission_fails(acl: Run) -> None:
    r = acl("acl", "policy", "create", "-rules", 'acl = "read"')
    assert (r.code, r.stderr) == (1, "Missing required '-name' flag\n")
    r = acl("acl", "policy", "create", "-name", "x", env={})
    assert r.code == 1
    assert r.stderr.startswith(
        "Failed to create new policy: Unexpected response code: 403 (Permission denied: "
        "anonymous token lacks permission 'acl:write'."
    )


def test_token_create_read_update_clone_delete(acl: Run) -> None:
    acl("acl", "policy", "create", "-name", "web", "-rules", 'service "web" { policy = "read" }')
    r = acl(
        "acl", "token", "create", "-description", "web token", "-policy-name", "web",
        "-service-identity", "api:dc1,dc2", "-node-identity", "n1:dc1", "-format", "json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    token = json.loads(r.stdout)
    assert token["ServiceIdentities"] == [{"ServiceName": "api", "Datacenters": ["dc1", "dc2"]}]
    short = token["AccessorID"][:8]
    r = acl("acl", "token", "read", "-accessor-id", short)
    assert r.code == 0, r.stderr
    assert "Service Identities:\n   api (Datacenters: dc1, dc2)\n" in r.stdout
    assert "Node Identities:\n   n1 (Datacenter: dc1)\n" in r.stdout
    r = acl("acl", "token", "update", "-id", token["AccessorID"], "-description", "renamed")
    assert r.code == 0 and "Description:      renamed" in r.stdout
    assert r.stderr == "Use the -accessor-id parameter to specify token by Accessor ID\n"
    assert "Policies:\n" in r.stdout  # kept: no -policy-* flag was given
    r = acl("acl", "token", "clone", "-accessor-id", token["AccessorID"], "-format", "json")
    assert json.loads(r.stdout)["Description"] == "renamed"
    r = acl("acl", "token", "delete", "-accessor-id", token["AccessorID"])
    assert (r.code, r.stdout) == (0, f'Token "{token["AccessorID"]}" deleted successfully\n')
    r = acl("acl", "token", "read", "-accessor-id", token["AccessorID"])
    assert r.code == 1
    assert r.stderr == (
        f'Error reading token "{token["AccessorID"]}": Unexpected response code: 403 '
        "(Requested token does not exist: ACL not found)\n"
    )


def test_token_read_needs_an_accessor_that_names_one_token(acl: Run) -> None:
    r = acl("acl", "token", "read")
    assert (r.code, r.stderr) == (1, "Must specify the -accessor-id parameter\n")
    r = acl("acl", "token", "read", "-accessor-id", "zz-z")
    assert (r.code, r.stderr) == (
        1,
        "Error determining token ID: No such token ID with prefix: zzz\n",
    )


def test_role_create_list_delete(acl: Run) -> None:
    r = acl("acl", "role", "create", "-name", "ops", "-policy-name", "global-management")
    assert r.code == 0, r.stderr
    assert r.stdout.splitlines()[1:] == [
        "Name:         ops",
        "Description:  ",
        "Policies:",
        "   00000000-0000-0000-0000-000000000001 - global-management",
        "",
    ]
    r = acl("acl", "role", "list")
    assert r.stdout.splitlines()[0] == "ops:"
    r = acl("acl", "role", "delete", "-name", "ops")
    assert r.code == 0 and r.stdout.endswith(" deleted successfully\n")
    assert acl("acl", "role", "list").stdout == ""  # an empty output is not printed


def test_json_output_is_the_go_clients_token_and_list_meta_precedes_grants(acl: Run) -> None:
    r = acl("acl", "token", "read", "-accessor-id", "anonymous", "-format", "json")
    assert list(json.loads(r.stdout))[:3] == ["CreateIndex", "ModifyIndex", "AccessorID"]
    acl("acl", "role", "create", "-name", "ops", "-policy-name", "global-management")
    lines = acl("acl", "role", "list", "-meta").stdout.splitlines()
    assert [line.split(":")[0].strip() for line in lines[3:7]] == [
        "Hash", "Create Index", "Modify Index", "Policies",
    ]  # fmt: skip


def test_token_update_appends_or_replaces_as_consuls_flags_say(acl: Run) -> None:
    """``command/acl/token/update/token_update.go``: ``-append-*`` keeps what the token has,
    a service identity of the same name is replaced, a plain flag with its append twin fails."""
    for name in ("a", "b"):
        acl("acl", "policy", "create", "-name", name, "-rules", "")
    r = acl(
        "acl", "token", "create", "-policy-name", "a", "-service-identity", "web",
        "-node-identity", "n1:dc1", "-format", "json",
    )  # fmt: skip
    accessor = json.loads(r.stdout)["AccessorID"]
    r = acl(
        "acl", "token", "update", "-accessor-id", accessor, "-append-policy-name", "b",
        "-append-service-identity", "web:dc2", "-append-service-identity", "api",
        "-append-node-identity", "n1:dc1", "-append-node-identity", "n2:dc1",
        "-append-templated-policy", "builtin/service", "-var", "name:db", "-format", "json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    token = json.loads(r.stdout)
    assert [p["Name"] for p in token["Policies"]] == ["a", "b"]
    assert token["ServiceIdentities"] == [
        {"ServiceName": "web", "Datacenters": ["dc2"]},
        {"ServiceName": "api"},
    ]
    assert token["NodeIdentities"] == [
        {"NodeName": "n1", "Datacenter": "dc1"},
        {"NodeName": "n2", "Datacenter": "dc1"},
    ]
    assert token["TemplatedPolicies"] == [
        {"TemplateName": "builtin/service", "TemplateVariables": {"name": "db"}}
    ]
    r = acl("acl", "token", "update", "-accessor-id", accessor, "-policy-name", "b")
    assert r.code == 0, r.stderr
    assert "Policies:\n" in r.stdout and " - a\n" not in r.stdout and " - b\n" in r.stdout
    r = acl(
        "acl", "token", "update", "-accessor-id", accessor, "-role-name", "x",
        "-append-role-name", "y",
    )  # fmt: skip
    assert (r.code, r.stderr) == (
        1,
        "Cannot combine the use of role-id/role-name flags with append- variants. To set or "
        "overwrite existing roles, use -role-id or -role-name. To append to existing roles, "
        "use -append-role-id or -append-role-name.\n",
    )
    r = acl(
        "acl", "token", "update", "-accessor-id", accessor, "-node-identity", "n3:dc1",
        "-append-node-identity", "n4:dc1",
    )  # fmt: skip
    assert (r.code, r.stderr) == (
        1,
        "Cannot combine the use of node-identity flag with append-node-identity. To set or "
        "overwrite existing node identities, use -node-identity. To append to existing node "
        "identities, use -append-node-identity.\n",
    )


def test_token_update_merge_policies_warns_and_keeps_existing_links(acl: Run) -> None:
    for name in ("a", "b"):
        acl("acl", "policy", "create", "-name", name, "-rules", "")
    r = acl("acl", "token", "create", "-policy-name", "a", "-format", "json")
    accessor = json.loads(r.stdout)["AccessorID"]
    r = acl(
        "acl", "token", "update", "-accessor-id", accessor, "-merge-policies",
        "-policy-name", "a", "-policy-name", "b", "-format", "json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    assert r.stderr == (
        "merge-policies is deprecated and will be removed in a future Consul version. "
        "Use `append-policy-name` or `append-policy-id` instead.\n"
    )
    assert [p["Name"] for p in json.loads(r.stdout)["Policies"]] == ["a", "b"]


def test_token_read_expanded_prints_consuls_layers(acl: Run, acl_dc: Cluster) -> None:
    """``FormatTokenExpanded`` (command/acl/token/formatter.go)."""
    acl("acl", "policy", "create", "-name", "p", "-rules", 'key "a" {\n policy = "read"\n}')
    r = acl("acl", "token", "create", "-policy-name", "p", "-format", "json")
    token = json.loads(r.stdout)
    r = acl("acl", "token", "read", "-expanded", "-accessor-id", token["AccessorID"])
    assert r.code == 0, r.stderr
    policy_id = token["Policies"][0]["ID"]
    assert r.stdout == (
        f"AccessorID:       {token['AccessorID']}\n"
        f"SecretID:         {token['SecretID']}\n"
        "Description:      \n"
        "Local:            false\n"
        "Create Time:      2026-01-01 00:00:00 +0000 UTC\n"
        "Policies:\n"
        "\tPolicy Name: p\n"
        f"\t\tID: {policy_id}\n"
        "\t\tDescription: \n"
        "\t\tRules:\n"
        '\t\t\tkey "a" {\n\t\t\t policy = "read"\n\t\t\t}\n\n'
        "=== End of Authorizer Layer 0: Token ===\n"
        "=== Start of Authorizer Layer 2: Agent Configuration Defaults (Inherited) ===\n"
        "Description: Defined at request-time by the agent that resolves the ACL token; other "
        "agents may have different configuration defaults\n"
        f'Resolved By Agent: "{acl_dc.node_name}"\n\n'
        "Default Policy: deny\n"
        "\tDescription: Backstop rule used if no preceding layer has a matching rule (refer to "
        "default_policy option in agent configuration)\n\n"
        "Down Policy: extend-cache\n"
        "\tDescription: Defines what to do if this Token's information cannot be read from the "
        "primary_datacenter (refer to down_policy option in agent configuration)\n\n\n"
    )


def test_role_update_merges_its_flags_into_the_role_unless_no_merge(acl: Run) -> None:
    """``command/acl/role/update/role_update.go``: policies and identities are added."""
    for name in ("a", "b"):
        acl("acl", "policy", "create", "-name", name, "-rules", "")
    r = acl(
        "acl", "role", "create", "-name", "r", "-policy-name", "a", "-service-identity", "web",
        "-format", "json",
    )  # fmt: skip
    role_id = json.loads(r.stdout)["ID"]
    r = acl(
        "acl", "role", "update", "-id", role_id, "-policy-name", "b", "-policy-name", "a",
        "-service-identity", "web:dc2", "-node-identity", "n1:dc1", "-format", "json",
    )  # fmt: skip
    assert r.code == 0, r.stderr
    role = json.loads(r.stdout)
    assert [p["Name"] for p in role["Policies"]] == ["a", "b"]
    assert role["ServiceIdentities"] == [{"ServiceName": "web", "Datacenters": ["dc2"]}]
    assert role["NodeIdentities"] == [{"NodeName": "n1", "Datacenter": "dc1"}]
    r = acl(
        "acl", "role", "update", "-id", role_id, "-no-merge", "-name", "r2",
        "-policy-name", "b", "-format", "json",
    )  # fmt: skip
    role = json.loads(r.stdout)
    assert (role["Name"], [p["Name"] for p in role["Policies"]]) == ("r2", ["b"])
    assert "ServiceIdentities" not in role and "NodeIdentities" not in role
