"""/v1/acl: Consul's ACL handlers (``agent/acl_endpoint.go``), thin over ``consul_sim.acl``.

Every handler first answers 401 ``ACL support disabled`` when ACLs are off
(``checkACLDisabled``), then decodes its body (``<Kind> decoding failed: <Go's error>``, 400),
checks what the HTTP layer checks (an ID in the URL and the body must agree), resolves the
token and calls one domain function. Reads report the ACL table's index and block on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request
from starlette.responses import Response

from consul_sim.acl import methods, policies, tokens
from consul_sim.acl.authorizer import Authorizer
from consul_sim.acl.identities import TEMPLATES, synthetic_id
from consul_sim.acl.objects import Policy, content_hash
from consul_sim.acl.resolver import BINDING_RULES, METHODS, POLICIES, ROLES, TOKENS
from consul_sim.api.http import (
    ConsulRouter,
    acl_token,
    authorizer,
    blocking,
    check_dc,
    cluster_of,
    flag,
    json_response,
    query_options,
)
from consul_sim.api.openapi import (
    BOOL,
    DC,
    OBJECT,
    OBJECTS,
    PRETTY,
    READ_OPTIONS,
    Body,
    Op,
    Param,
    ok,
)
from consul_sim.errors import BadRequest, ConsulError, NotFound
from consul_sim.models.acl import (
    AgentTokenBody,
    AuthMethodBody,
    BindingRuleBody,
    LoginBody,
    PolicyBody,
    RoleBody,
    TemplateVariables,
    TokenBody,
)
from consul_sim.models.base import ConsulModel, DecodeError, decode_body, parse_json

if TYPE_CHECKING:
    from consul_sim.world import Cluster

router = ConsulRouter()
M = TypeVar("M", bound=ConsulModel)
WRITE_Q = (DC, PRETTY)
ONE = (400, 401, 403, 404, 500)
"""What any ACL endpoint may answer besides 200: 401 whenever ACLs are off."""


def _cluster(request: Request) -> Cluster:
    cluster = cluster_of(request)
    cluster.acl.check_enabled()
    return cluster


async def _decode(request: Request, cls: type[M], what: str) -> M:
    """``lib.DecodeJSON``; an empty body is Go's ``EOF``. ``what`` is the sentence's start
    (``Token`` gives ``Token decoding failed: ...``)."""
    prefix = what if what.endswith(":") else f"{what} decoding failed:"
    try:
        return decode_body(cls, parse_json(await request.body()))
    except DecodeError as exc:
        raise BadRequest(f"{prefix} {exc}") from None


def _authz(request: Request, cluster: Cluster) -> Authorizer:
    check_dc(request, cluster)
    return authorizer(request, cluster)


def _out(request: Request, obj: Any) -> Response:
    return json_response(obj, pretty=flag(request, "pretty"))


async def _read(request: Request, cluster: Cluster, table: str, read: Any) -> Response:
    """A read at the table's index, blocking on ``?index``; ``read`` raises Consul's error."""
    opts = query_options(request, cluster)
    authz = authorizer(request, cluster)
    index, found = await blocking(
        request, cluster, opts, lambda: (cluster.acl.index(table), read(authz))
    )
    return opts.respond(found, index)


# -- bootstrap -------------------------------------------------------------------------------------
@router.endpoint(
    "/v1/acl/bootstrap",
    "PUT",
    doc=Op("bootstrap the ACL system: the first management token, once", WRITE_Q,
           answers=(ok(OBJECT),), errors=ONE),
)  # fmt: skip
async def bootstrap(request: Request) -> Response:
    cluster = _cluster(request)
    return _out(request, tokens.bootstrap(cluster.acl))


@router.endpoint(
    "/v1/acl/replication",
    "GET",
    doc=Op("ACL replication status (none: every cluster is its own primary)", READ_OPTIONS,
           answers=(ok(OBJECT),), errors=ONE),
)  # fmt: skip
async def replication(request: Request) -> Response:
    """``ACLReplicationStatus``: no token needed; a primary datacenter replicates nothing, so
    every field is its zero value (Go's zero ``time.Time`` for the timestamps)."""
    cluster = _cluster(request)
    check_dc(request, cluster)
    zero = "0001-01-01T00:00:00Z"
    return _out(request, {
        "Enabled": False, "Running": False, "SourceDatacenter": "", "ReplicationType": "",
        "ReplicatedIndex": 0, "ReplicatedRoleIndex": 0, "ReplicatedTokenIndex": 0,
        "LastSuccess": zero, "LastError": zero, "LastErrorMessage": "",
    })  # fmt: skip


# -- tokens ----------------------------------------------------------------------------------------
TOKEN_LIST = (*READ_OPTIONS, Param("policy", "only tokens linking this policy ID"),
              Param("role", "only tokens linking this role ID"),
              Param("authmethod", "only tokens made by this auth method"),
              Param("servicename", "only tokens with this service identity"))  # fmt: skip


@router.endpoint(
    "/v1/acl/token",
    "PUT",
    doc=Op("create a token", WRITE_Q, Body(TokenBody), (ok(OBJECT),), ONE),
)
async def token_create(request: Request) -> Response:
    cluster = _cluster(request)
    body = await _decode(request, TokenBody, "Token")
    return _out(request, tokens.create(cluster.acl, _authz(request, cluster), body))


@router.endpoint(
    "/v1/acl/token/self",
    "GET",
    doc=Op("the token the request carries", READ_OPTIONS, answers=(ok(OBJECT),), errors=ONE),
)
async def token_self(request: Request) -> Response:
    cluster = _cluster(request)
    opts = query_options(request, cluster)
    return opts.respond(
        tokens.read_self(cluster.acl, acl_token(request)), cluster.acl.index(TOKENS)
    )


@router.endpoint(
    "/v1/acl/token/{accessor}/clone",
    "PUT",
    doc=Op("clone a token", WRITE_Q, Body(TokenBody, required=False), (ok(OBJECT),), ONE),
)
async def token_clone(request: Request) -> Response:
    cluster = _cluster(request)
    raw = await request.body()
    body = await _decode(request, TokenBody, "Token") if raw else TokenBody()
    authz = _authz(request, cluster)
    accessor = request.path_params["accessor"]
    return _out(request, tokens.clone(cluster.acl, authz, accessor, body.description))


@router.endpoint(
    "/v1/acl/token/{accessor}",
    "GET",
    "PUT",
    "DELETE",
    doc={
        "GET": Op("a token by AccessorID", READ_OPTIONS, answers=(ok(OBJECT),), errors=ONE),
        "PUT": Op("update a token", WRITE_Q, Body(TokenBody), (ok(OBJECT),), ONE),
        "DELETE": Op("delete a token", WRITE_Q, answers=(ok(BOOL),), errors=ONE),
    },
)
async def token_crud(request: Request) -> Response:
    cluster = _cluster(request)
    acl = cluster.acl
    accessor = request.path_params["accessor"]
    if request.method == "GET":
        # ?expanded (any value) asks for ACLTokenExpanded (agent/acl_endpoint.go ACLTokenGet).
        by = cluster.node_name if "expanded" in request.query_params else None
        return await _read(
            request, cluster, TOKENS, lambda a: tokens.read(acl, a, accessor, expanded_by=by)
        )
    if request.method == "DELETE":
        tokens.delete(acl, _authz(request, cluster), accessor, acl_token(request))
        return _out(request, True)
    body = await _decode(request, TokenBody, "Token")
    if not body.accessor_id:
        body.accessor_id = accessor
    if body.accessor_id != accessor:
        raise BadRequest("Token Accessor ID in URL and payload do not match")
    return _out(request, tokens.update(acl, _authz(request, cluster), body))


@router.endpoint(
    "/v1/acl/tokens",
    "GET",
    doc=Op("list tokens", TOKEN_LIST, answers=(ok(OBJECTS),), errors=ONE),
)
async def token_list(request: Request) -> Response:
    cluster = _cluster(request)
    q = request.query_params
    filters = {
        "policy": q.get("policy", ""),
        "role": q.get("role", ""),
        "auth_method": q.get("authmethod", ""),
        "service_name": q.get("servicename", ""),
    }
    return await _read(
        request, cluster, TOKENS, lambda a: tokens.listing(cluster.acl, a, **filters)
    )


# -- policies --------------------------------------------------------------------------------------
@router.endpoint(
    "/v1/acl/policy",
    "PUT",
    doc=Op("create a policy", WRITE_Q, Body(PolicyBody), (ok(OBJECT),), ONE),
)
async def policy_create(request: Request) -> Response:
    cluster = _cluster(request)
    body = await _decode(request, PolicyBody, "Policy")
    if body.id:
        raise BadRequest("Cannot specify the ID when creating a new policy")
    return _out(request, policies.set_policy(cluster.acl, _authz(request, cluster), body))


@router.endpoint(
    "/v1/acl/policy/name/{name:path}",
    "GET",
    doc=Op("a policy by name", READ_OPTIONS, answers=(ok(OBJECT),), errors=ONE),
)
async def policy_by_name(request: Request) -> Response:
    cluster = _cluster(request)
    name = request.path_params["name"]
    if not name:
        raise BadRequest("Missing policy Name")
    acl = cluster.acl
    return await _read(
        request, cluster, POLICIES, lambda a: policies.read_policy(acl, a, name=name).render()
    )


@router.endpoint(
    "/v1/acl/policy/{pid}",
    "GET",
    "PUT",
    "DELETE",
    doc={
        "GET": Op("a policy by ID", READ_OPTIONS, answers=(ok(OBJECT),), errors=ONE),
        "PUT": Op("update a policy", WRITE_Q, Body(PolicyBody), (ok(OBJECT),), ONE),
        "DELETE": Op("delete a policy", WRITE_Q, answers=(ok(BOOL),), errors=ONE),
    },
)
async def policy_crud(request: Request) -> Response:
    cluster = _cluster(request)
    acl = cluster.acl
    pid = request.path_params["pid"]
    if request.method == "GET":
        return await _read(
            request, cluster, POLICIES, lambda a: policies.read_policy(acl, a, pid=pid).render()
        )
    if request.method == "DELETE":
        policies.delete_policy(acl, _authz(request, cluster), pid)
        return _out(request, True)
    body = await _decode(request, PolicyBody, "Policy")
    if body.id and body.id != pid:
        raise BadRequest("Policy ID in URL and payload do not match")
    body.id = pid
    return _out(request, policies.set_policy(acl, _authz(request, cluster), body))


@router.endpoint(
    "/v1/acl/policies",
    "GET",
    doc=Op("list policies", READ_OPTIONS, answers=(ok(OBJECTS),), errors=ONE),
)
async def policy_list(request: Request) -> Response:
    cluster = _cluster(request)
    return await _read(request, cluster, POLICIES, lambda a: policies.list_policies(cluster.acl, a))


# -- roles -----------------------------------------------------------------------------------------
@router.endpoint(
    "/v1/acl/role",
    "PUT",
    doc=Op("create a role", WRITE_Q, Body(RoleBody), (ok(OBJECT),), ONE),
)
async def role_create(request: Request) -> Response:
    cluster = _cluster(request)
    body = await _decode(request, RoleBody, "Role")
    if body.id:
        raise BadRequest("Role ID in URL and payload do not match")
    return _out(request, policies.set_role(cluster.acl, _authz(request, cluster), body))


@router.endpoint(
    "/v1/acl/role/name/{name:path}",
    "GET",
    doc=Op("a role by name", READ_OPTIONS, answers=(ok(OBJECT),), errors=ONE),
)
async def role_by_name(request: Request) -> Response:
    cluster = _cluster(request)
    name = request.path_params["name"]
    if not name:
        raise BadRequest("Missing role Name")
    acl = cluster.acl
    return await _read(
        request, cluster, ROLES, lambda a: acl.render_role(policies.read_role(acl, a, name=name))
    )


@router.endpoint(
    "/v1/acl/role/{rid}",
    "GET",
    "PUT",
    "DELETE",
    doc={
        "GET": Op("a role by ID", READ_OPTIONS, answers=(ok(OBJECT),), errors=ONE),
        "PUT": Op("update a role", WRITE_Q, Body(RoleBody), (ok(OBJECT),), ONE),
        "DELETE": Op("delete a role", WRITE_Q, answers=(ok(BOOL),), errors=ONE),
    },
)
async def role_crud(request: Request) -> Response:
    cluster = _cluster(request)
    acl = cluster.acl
    rid = request.path_params["rid"]
    if request.method == "GET":
        return await _read(
            request, cluster, ROLES, lambda a: acl.render_role(policies.read_role(acl, a, rid=rid))
        )
    if request.method == "DELETE":
        policies.delete_role(acl, _authz(request, cluster), rid)
        return _out(request, True)
    body = await _decode(request, RoleBody, "Role")
    if body.id and body.id != rid:
        raise BadRequest("Role ID in URL and payload do not match")
    body.id = rid
    return _out(request, policies.set_role(acl, _authz(request, cluster), body))


@router.endpoint(
    "/v1/acl/roles",
    "GET",
    doc=Op("list roles", (*READ_OPTIONS, Param("policy", "only roles linking this policy ID")),
           answers=(ok(OBJECTS),), errors=ONE),
)  # fmt: skip
async def role_list(request: Request) -> Response:
    cluster = _cluster(request)
    policy = request.query_params.get("policy", "")
    return await _read(
        request, cluster, ROLES, lambda a: policies.list_roles(cluster.acl, a, policy)
    )


# -- templated policies ----------------------------------------------------------------------------
def _template(name: str) -> dict[str, Any]:
    t = TEMPLATES[name]
    return {
        "TemplateName": t.name,
        "Schema": t.schema,
        "Template": t.template(),
        "Description": t.description,
    }


@router.endpoint(
    "/v1/acl/templated-policies",
    "GET",
    doc=Op("the builtin templated policies", READ_OPTIONS, answers=(ok(OBJECT),), errors=ONE),
)
async def templated_list(request: Request) -> Response:
    cluster = _cluster(request)
    return await _read(
        request,
        cluster,
        POLICIES,
        lambda a: (a.require("acl", "read"), {n: _template(n) for n in sorted(TEMPLATES)})[1],
    )


def _known_template(name: str) -> str:
    if name not in TEMPLATES:
        raise NotFound(f"Invalid templated policy Name: {name}")
    return name


@router.endpoint(
    "/v1/acl/templated-policy/name/{name:path}",
    "GET",
    doc=Op("a builtin templated policy", READ_OPTIONS, answers=(ok(OBJECT),), errors=ONE),
)
async def templated_read(request: Request) -> Response:
    cluster = _cluster(request)
    name = _known_template(request.path_params["name"])
    return await _read(
        request, cluster, POLICIES, lambda a: (a.require("acl", "read"), _template(name))[1]
    )


@router.endpoint(
    "/v1/acl/templated-policy/preview/{name:path}",
    "POST",
    doc=Op("the policy a templated policy renders", WRITE_Q, Body(TemplateVariables),
           (ok(OBJECT),), ONE),
)  # fmt: skip
async def templated_preview(request: Request) -> Response:
    cluster = _cluster(request)
    name = _known_template(request.path_params["name"])
    variables = await _decode(request, TemplateVariables, "Request")
    _authz(request, cluster).require("acl", "read")
    template = TEMPLATES[name]
    if template.needs_name and not variables.name:
        raise ConsulError("name: String length must be greater than or equal to 1", 400)
    rules = template.rules(variables.name)
    pid = synthetic_id(rules)
    policy = Policy(
        pid,
        f"synthetic-policy-{pid}",
        f"synthetic policy generated from templated policy: {name}",
        rules,
    )
    out = policy.render()
    out["Hash"] = content_hash(policy.name, policy.description, rules)
    return _out(request, out)


# -- auth methods and binding rules ----------------------------------------------------------------
@router.endpoint(
    "/v1/acl/auth-method",
    "PUT",
    doc=Op("create an auth method", WRITE_Q, Body(AuthMethodBody), (ok(OBJECT),), ONE),
)
async def method_create(request: Request) -> Response:
    cluster = _cluster(request)
    body = await _decode(request, AuthMethodBody, "AuthMethod")
    return _out(request, methods.set_method(cluster.acl, _authz(request, cluster), body))


@router.endpoint(
    "/v1/acl/auth-method/{name}",
    "GET",
    "PUT",
    "DELETE",
    doc={
        "GET": Op("an auth method", READ_OPTIONS, answers=(ok(OBJECT),), errors=ONE),
        "PUT": Op("update an auth method", WRITE_Q, Body(AuthMethodBody), (ok(OBJECT),), ONE),
        "DELETE": Op("delete an auth method", WRITE_Q, answers=(ok(BOOL),), errors=ONE),
    },
)
async def method_crud(request: Request) -> Response:
    cluster = _cluster(request)
    acl = cluster.acl
    name = request.path_params["name"]
    if request.method == "GET":
        return await _read(request, cluster, METHODS, lambda a: methods.read_method(acl, a, name))
    if request.method == "DELETE":
        methods.delete_method(acl, _authz(request, cluster), name)
        return _out(request, True)
    body = await _decode(request, AuthMethodBody, "AuthMethod")
    if body.name and body.name != name:
        raise BadRequest("AuthMethod Name in URL and payload do not match")
    body.name = name
    return _out(request, methods.set_method(acl, _authz(request, cluster), body))


@router.endpoint(
    "/v1/acl/auth-methods",
    "GET",
    doc=Op("list auth methods", READ_OPTIONS, answers=(ok(OBJECTS),), errors=ONE),
)
async def method_list(request: Request) -> Response:
    cluster = _cluster(request)
    return await _read(request, cluster, METHODS, lambda a: methods.list_methods(cluster.acl, a))


@router.endpoint(
    "/v1/acl/binding-rule",
    "PUT",
    doc=Op("create a binding rule", WRITE_Q, Body(BindingRuleBody), (ok(OBJECT),), ONE),
)
async def rule_create(request: Request) -> Response:
    cluster = _cluster(request)
    body = await _decode(request, BindingRuleBody, "BindingRule")
    if body.id:
        raise BadRequest("BindingRule ID in URL and payload do not match")
    return _out(request, methods.set_binding_rule(cluster.acl, _authz(request, cluster), body))


@router.endpoint(
    "/v1/acl/binding-rule/{rid}",
    "GET",
    "PUT",
    "DELETE",
    doc={
        "GET": Op("a binding rule", READ_OPTIONS, answers=(ok(OBJECT),), errors=ONE),
        "PUT": Op("update a binding rule", WRITE_Q, Body(BindingRuleBody), (ok(OBJECT),), ONE),
        "DELETE": Op("delete a binding rule", WRITE_Q, answers=(ok(BOOL),), errors=ONE),
    },
)
async def rule_crud(request: Request) -> Response:
    cluster = _cluster(request)
    acl = cluster.acl
    rid = request.path_params["rid"]
    if request.method == "GET":
        return await _read(
            request, cluster, BINDING_RULES, lambda a: methods.read_binding_rule(acl, a, rid)
        )
    if request.method == "DELETE":
        methods.delete_binding_rule(acl, _authz(request, cluster), rid)
        return _out(request, True)
    body = await _decode(request, BindingRuleBody, "BindingRule")
    if body.id and body.id != rid:
        raise BadRequest("BindingRule ID in URL and payload do not match")
    body.id = rid
    return _out(request, methods.set_binding_rule(acl, _authz(request, cluster), body))


@router.endpoint(
    "/v1/acl/binding-rules",
    "GET",
    doc=Op("list binding rules", (*READ_OPTIONS, Param("authmethod", "only this method's")),
           answers=(ok(OBJECTS),), errors=ONE),
)  # fmt: skip
async def rule_list(request: Request) -> Response:
    cluster = _cluster(request)
    method = request.query_params.get("authmethod", "")
    return await _read(
        request,
        cluster,
        BINDING_RULES,
        lambda a: methods.list_binding_rules(cluster.acl, a, method),
    )


@router.endpoint(
    "/v1/acl/login",
    "POST",
    doc=Op("log in with an auth method (not simulated)", WRITE_Q, Body(LoginBody),
           (ok(OBJECT),), ONE),
)  # fmt: skip
async def login(request: Request) -> Response:
    cluster = _cluster(request)
    body = await _decode(request, LoginBody, "Failed to decode request body:")
    return _out(request, methods.login(cluster.acl, body.auth_method))


@router.endpoint(
    "/v1/acl/logout",
    "POST",
    doc=Op("destroy a token made by login", WRITE_Q, answers=(ok(BOOL),), errors=ONE),
)
async def logout(request: Request) -> Response:
    cluster = _cluster(request)
    methods.logout(cluster.acl, acl_token(request))
    return _out(request, True)


# -- the agent's tokens --------------------------------------------------------------------------
@router.endpoint(
    "/v1/agent/token/{kind}",
    "PUT",
    doc=Op("set one of the agent's ACL tokens", WRITE_Q, Body(AgentTokenBody), errors=ONE),
)
async def agent_token(request: Request) -> Response:
    """``AgentToken``: 401 with ACLs off, ``agent:write`` on this node, then the body."""
    cluster = _cluster(request)
    authz = authorizer(request, cluster)
    authz.require("agent", "write", cluster.node_name)
    body = await _decode(request, AgentTokenBody, "Request decode failed:")
    cluster.acl.set_agent_token(authz, request.path_params["kind"], cluster.node_name, body.token)
    return Response(status_code=200)
