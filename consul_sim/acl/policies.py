"""Policy and role operations, as ``agent/consul/acl_endpoint.go`` does them.

``PolicySet``/``RoleSet`` need ``acl:write``: a name (policy names ``[A-Za-z0-9-_]{1,128}``),
unique; an ID, when given, an existing one; a policy's rules must parse (``Failed to parse ACL
rules: ...`` or ``Invalid <kind> policy: ...``); the builtin global-management policy may be
renamed but not given other rules or datacenters, nor deleted. A role's policy links and
identities are checked as a token's are. Reads need ``acl:read``; a missing policy or role is
404 ``Requested policy does not exist: ACL not found``; deleting a missing one is 404 ``Cannot
find policy to delete``. Deleting a policy or role leaves the links to it dangling, and reads
drop them, as Consul does.
"""

from __future__ import annotations

from typing import Any

from consul_sim.acl import checks
from consul_sim.acl.authorizer import ACL_NOT_FOUND, Authorizer
from consul_sim.acl.identities import GLOBAL_MANAGEMENT_ID, GLOBAL_READ_ONLY_ID
from consul_sim.acl.objects import Grants, Policy, Role
from consul_sim.acl.resolver import POLICIES, ROLES, ACLResolver
from consul_sim.acl.rules import READ, WRITE, ACLError, parse_rules
from consul_sim.errors import NotFound
from consul_sim.gostd import quote
from consul_sim.models.acl import PolicyBody, RoleBody

BUILTIN_NAMES = {GLOBAL_MANAGEMENT_ID: "global-management", GLOBAL_READ_ONLY_ID: "global-read-only"}


def set_policy(acl: ACLResolver, authz: Authorizer, body: PolicyBody) -> dict[str, Any]:
    """``ACL.PolicySet``: create (no ID) or update (ID)."""
    authz.require("acl", WRITE)
    if not body.name:
        raise checks.rpc_error("Invalid Policy: no Name is set")
    if not checks.POLICY_NAME.match(body.name):
        raise checks.rpc_error(
            "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"
        )
    existing: Policy | None = None
    if body.id:
        if not checks.valid_uuid(body.id):
            raise checks.rpc_error("Policy ID invalid UUID")
        existing = acl.tables.policies.get(body.id)
    same_name = acl.policy_by_name(body.name)
    if existing is None and body.id:
        raise checks.rpc_error(f"cannot find policy {body.id}")
    if existing is None and same_name is not None:
        raise checks.rpc_error(
            f"Invalid Policy: A Policy with Name {quote(body.name)} already exists"
        )
    if existing is not None:
        if same_name is not None and same_name.id != existing.id:
            raise checks.rpc_error(
                f"Invalid Policy: A policy with name {quote(body.name)} already exists"
            )
        if existing.id in BUILTIN_NAMES:
            label = BUILTIN_NAMES[existing.id]
            if body.rules != existing.rules:
                raise checks.rpc_error(
                    f"Changing the Rules for the builtin {label} policy is not permitted"
                )
            if body.datacenters != existing.datacenters:
                raise checks.rpc_error(
                    f"Changing the Datacenters of the builtin {label} policy is not permitted"
                )
    try:
        parsed = parse_rules(body.rules)
    except ACLError as exc:
        raise checks.rpc_error(str(exc)) from None
    policy = Policy(
        existing.id if existing else acl.rand.uuid(),
        body.name,
        body.description,
        body.rules,
        list(body.datacenters),
        parsed=parsed,
    )
    with acl.write(POLICIES) as txn:
        policy.create_index = existing.create_index if existing else txn.index
        policy.modify_index = txn.index
        acl.tables.policies[policy.id] = policy
    return policy.render()


def read_policy(acl: ACLResolver, authz: Authorizer, *, pid: str = "", name: str = "") -> Policy:
    authz.require("acl", READ)
    if pid:
        checks.uuid_index_arg(pid)
    policy = acl.tables.policies.get(pid) if pid else acl.policy_by_name(name)
    if policy is None:
        raise NotFound(f"Requested policy does not exist: {ACL_NOT_FOUND}")
    return policy


def delete_policy(acl: ACLResolver, authz: Authorizer, pid: str) -> None:
    authz.require("acl", WRITE)
    policy = acl.tables.policies.get(pid)
    if policy is None:
        raise NotFound("Cannot find policy to delete")
    if pid in BUILTIN_NAMES:
        raise checks.rpc_error(
            f"Delete operation not permitted on the builtin {BUILTIN_NAMES[pid]} policy"
        )
    with acl.write(POLICIES):
        del acl.tables.policies[pid]


def list_policies(acl: ACLResolver, authz: Authorizer) -> list[dict[str, Any]]:
    authz.require("acl", READ)
    return [acl.tables.policies[pid].stub() for pid in sorted(acl.tables.policies)]


def set_role(acl: ACLResolver, authz: Authorizer, body: RoleBody) -> dict[str, Any]:
    """``ACL.RoleSet``: create (no ID) or update (ID)."""
    authz.require("acl", WRITE)
    if not body.name:
        raise checks.rpc_error("Invalid Role: no Name is set")
    if not checks.ROLE_NAME.match(body.name):
        raise checks.rpc_error(
            "Invalid Role: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"
        )
    existing: Role | None = None
    same_name = acl.role_by_name(body.name)
    if not body.id:
        if same_name is not None:
            raise checks.rpc_error(
                f"Invalid Role: A Role with Name {quote(body.name)} already exists"
            )
    else:
        if not checks.valid_uuid(body.id):
            raise checks.rpc_error("Role ID invalid UUID")
        existing = acl.tables.roles.get(body.id)
        if existing is None:
            raise checks.rpc_error(f"cannot find role {body.id}")
        if existing.name != body.name and same_name is not None:
            raise checks.rpc_error(
                f"Invalid Role: A role with name {quote(body.name)} already exists"
            )
    grants = Grants(
        policies=checks.policy_links(acl, body.policies),
        service_identities=checks.service_identities(body.service_identities, "role"),
        node_identities=checks.node_identities(body.node_identities, "role"),
        templated_policies=checks.templated_policies(body.templated_policies),
    )
    role = Role(existing.id if existing else acl.rand.uuid(), body.name, body.description, grants)
    with acl.write(ROLES) as txn:
        role.create_index = existing.create_index if existing else txn.index
        role.modify_index = txn.index
        acl.tables.roles[role.id] = role
    return acl.render_role(role)


def read_role(acl: ACLResolver, authz: Authorizer, *, rid: str = "", name: str = "") -> Role:
    authz.require("acl", READ)
    if rid:
        checks.uuid_index_arg(rid)
    role = acl.tables.roles.get(rid) if rid else acl.role_by_name(name)
    if role is None:
        raise NotFound(f"Requested role does not exist: {ACL_NOT_FOUND}")
    return role


def delete_role(acl: ACLResolver, authz: Authorizer, rid: str) -> None:
    authz.require("acl", WRITE)
    if rid not in acl.tables.roles:
        raise NotFound("Cannot find role to delete")
    with acl.write(ROLES):
        del acl.tables.roles[rid]


def list_roles(acl: ACLResolver, authz: Authorizer, policy: str = "") -> list[dict[str, Any]]:
    authz.require("acl", READ)
    roles = [acl.tables.roles[rid] for rid in sorted(acl.tables.roles)]
    return [acl.render_role(r) for r in roles if not policy or policy in r.grants.policies]
