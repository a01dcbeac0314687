"""Auth methods, binding rules, login and logout (``agent/consul/acl_endpoint.go``).

Auth methods and binding rules are stored and validated as Consul validates them: a method
needs a name and a registered type (``aws-iam``, ``jwt``, ``kubernetes``, ``oidc``), its type
never changes, its ``TokenLocality`` is empty, ``local`` or ``global``; a binding rule names an
existing method, a ``BindType`` of ``service``, ``node``, ``role``, ``policy`` or
``templated-policy`` and a ``BindName``. Deleting a method deletes its binding rules and the
tokens it issued.

Login itself is not simulated: no method type's credential check (Kubernetes TokenReview, JWT
signature and claims, OIDC, AWS IAM) runs here. ``/v1/acl/login`` answers an unknown method
as Consul does (403 ``ACL not found``) and a known one with a 500 naming what is missing.
Logout behaves as Consul's: only a token created by login may log out.
"""

from __future__ import annotations

from typing import Any

from consul_sim.acl import checks
from consul_sim.acl.authorizer import ACL_NOT_FOUND, Authorizer
from consul_sim.acl.objects import AuthMethod, BindingRule
from consul_sim.acl.resolver import BINDING_RULES, METHODS, TOKENS, ACLResolver
from consul_sim.acl.rules import READ, WRITE
from consul_sim.errors import NotFound, PermissionDenied
from consul_sim.gostd import quote
from consul_sim.models.acl import AuthMethodBody, BindingRuleBody

METHOD_TYPES = ("aws-iam", "jwt", "kubernetes", "oidc")
BIND_TYPES = ("service", "node", "role", "policy", "templated-policy")


def set_method(acl: ACLResolver, authz: Authorizer, body: AuthMethodBody) -> dict[str, Any]:
    authz.require("acl", WRITE)
    if not body.name:
        raise checks.rpc_error("Invalid Auth Method: no Name is set")
    if not checks.ROLE_NAME.match(body.name):
        raise checks.rpc_error(
            "Invalid Auth Method: invalid Name. Only alphanumeric characters, '-' and '_' are "
            "allowed"
        )
    existing = acl.tables.auth_methods.get(body.name)
    if existing is not None and body.type and body.type != existing.type:
        raise checks.rpc_error(
            f"the Type field is immutable: {quote(existing.type)} != {quote(body.type)}"
        )
    kind = body.type or (existing.type if existing else "")
    if kind not in METHOD_TYPES:
        raise checks.rpc_error(
            f"Invalid Auth Method: Type should be one of: [{' '.join(METHOD_TYPES)}]"
        )
    if body.token_locality not in ("", "local", "global"):
        raise checks.rpc_error(
            "Invalid Auth Method: TokenLocality should be one of 'local' or 'global'"
        )
    method = AuthMethod(
        body.name,
        kind,
        body.display_name,
        body.description,
        body.max_token_ttl,
        body.token_locality,
        dict(body.config),
    )
    with acl.write(METHODS) as txn:
        method.create_index = existing.create_index if existing else txn.index
        method.modify_index = txn.index
        acl.tables.auth_methods[method.name] = method
    return method.render()


def read_method(acl: ACLResolver, authz: Authorizer, name: str) -> dict[str, Any]:
    authz.require("acl", READ)
    method = acl.tables.auth_methods.get(name)
    if method is None:
        raise NotFound(f"Requested auth method does not exist: {ACL_NOT_FOUND}")
    return method.render()


def delete_method(acl: ACLResolver, authz: Authorizer, name: str) -> None:
    authz.require("acl", WRITE)
    if name not in acl.tables.auth_methods:
        raise NotFound("Cannot find auth method to delete")
    with acl.write(METHODS, BINDING_RULES, TOKENS):
        del acl.tables.auth_methods[name]
        for rid in [r.id for r in acl.tables.binding_rules.values() if r.auth_method == name]:
            del acl.tables.binding_rules[rid]
        for token in [t for t in acl.tables.tokens.values() if t.auth_method == name]:
            acl._drop_token(token)


def list_methods(acl: ACLResolver, authz: Authorizer) -> list[dict[str, Any]]:
    authz.require("acl", READ)
    return [acl.tables.auth_methods[n].render(stub=True) for n in sorted(acl.tables.auth_methods)]


def set_binding_rule(acl: ACLResolver, authz: Authorizer, body: BindingRuleBody) -> dict[str, Any]:
    authz.require("acl", WRITE)
    existing: BindingRule | None = None
    if body.id:
        existing = acl.tables.binding_rules.get(body.id)
        if existing is None:
            raise checks.rpc_error(f"Cannot find binding rule {body.id}")
    method = body.auth_method or (existing.auth_method if existing else "")
    if not method:
        raise checks.rpc_error("Invalid Binding Rule: no AuthMethod is set")
    if existing is not None and method != existing.auth_method:
        raise checks.rpc_error("Invalid Binding Rule: the AuthMethod field is immutable")
    if method not in acl.tables.auth_methods:
        raise checks.rpc_error(f"Invalid Binding Rule: unknown AuthMethod {quote(method)}")
    if not body.bind_type:
        raise checks.rpc_error("Invalid Binding Rule: no BindType is set")
    if not body.bind_name:
        raise checks.rpc_error("Invalid Binding Rule: no BindName is set")
    if body.bind_type not in BIND_TYPES:
        raise checks.rpc_error(f"Invalid Binding Rule: unknown BindType {quote(body.bind_type)}")
    rule = BindingRule(
        existing.id if existing else acl.rand.uuid(),
        method,
        body.bind_type,
        body.bind_name,
        body.description,
        body.selector,
    )
    with acl.write(BINDING_RULES) as txn:
        rule.create_index = existing.create_index if existing else txn.index
        rule.modify_index = txn.index
        acl.tables.binding_rules[rule.id] = rule
    return rule.render()


def read_binding_rule(acl: ACLResolver, authz: Authorizer, rid: str) -> dict[str, Any]:
    authz.require("acl", READ)
    rule = acl.tables.binding_rules.get(rid)
    if rule is None:
        raise NotFound(f"Requested binding rule does not exist: {ACL_NOT_FOUND}")
    return rule.render()


def delete_binding_rule(acl: ACLResolver, authz: Authorizer, rid: str) -> None:
    authz.require("acl", WRITE)
    if rid not in acl.tables.binding_rules:
        raise NotFound("Cannot find binding rule to delete")
    with acl.write(BINDING_RULES):
        del acl.tables.binding_rules[rid]


def list_binding_rules(
    acl: ACLResolver, authz: Authorizer, auth_method: str = ""
) -> list[dict[str, Any]]:
    authz.require("acl", READ)
    rules = [acl.tables.binding_rules[i] for i in sorted(acl.tables.binding_rules)]
    return [r.render() for r in rules if not auth_method or r.auth_method == auth_method]


def login(acl: ACLResolver, method_name: str) -> dict[str, Any]:
    acl.check_enabled()
    method = acl.tables.auth_methods.get(method_name)
    if method is None:
        raise PermissionDenied(f"{ACL_NOT_FOUND}: auth method {quote(method_name)} not found")
    raise checks.rpc_error(
        f"consul-sim does not simulate login with a {quote(method.type)} auth method: "
        "create the token with /v1/acl/token instead"
    )


def logout(acl: ACLResolver, secret: str) -> None:
    acl.check_enabled()
    token = acl.token_by_secret(secret) if secret else None
    if token is None:
        raise PermissionDenied(ACL_NOT_FOUND)
    if not token.auth_method:
        raise PermissionDenied("Permission denied: token wasn't created via login")
    with acl.write(TOKENS):
        acl._drop_token(token)
