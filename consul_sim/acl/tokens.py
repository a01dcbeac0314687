"""Token operations, as ``agent/consul/acl_endpoint.go`` and ``auth/token_writer.go`` do them.

Reads need ``acl:read`` and show the SecretID only with ``acl:write`` (``<hidden>`` otherwise);
writes need ``acl:write``. Creation checks the IDs a caller chose (UUIDs, not reserved, not in
use), turns ``ExpirationTTL`` into ``ExpirationTime`` on the cluster clock and keeps it between
Consul's default ``acl.token_min_expiration_ttl`` (1m) and ``token_max_expiration_ttl`` (24h);
updates keep the SecretID, locality, auth method and expiry; expired tokens are gone for every
read, as ``IsExpired`` makes them. Not-found answers follow ``agent/acl_endpoint.go``: 403
``Requested token does not exist: ACL not found`` for a read (the handler's 404 ``HTTPError``
says ``ACL not found``, and ``wrap`` in ``agent/http.go`` tests ``isForbidden``, a substring
match, before any other status; later Consul writes the 404 header first, which policies,
roles, auth methods and binding rules already get here, as py-consul's suite against Consul
1.21 shows), 404 ``Cannot find token to delete`` for a delete, 403 ``ACL not found`` for a
clone. An AccessorID that is not 36 characters fails the state store's UUID index first (500
``UUID must be 36 characters``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from consul_sim.acl import checks, expanded
from consul_sim.acl.authorizer import ACL_NOT_FOUND, ANONYMOUS_TOKEN_ID, Authorizer
from consul_sim.acl.identities import GLOBAL_MANAGEMENT_ID, RESERVED_PREFIX
from consul_sim.acl.objects import Grants, Token
from consul_sim.acl.resolver import BOOTSTRAP_NOT_ALLOWED, TOKENS, ACLResolver
from consul_sim.acl.rules import READ, WRITE
from consul_sim.durations import format_duration, parse_duration
from consul_sim.errors import NotFound, PermissionDenied
from consul_sim.gostd import quote
from consul_sim.models.acl import TokenBody

MIN_TTL = 60.0
MAX_TTL = 24 * 3600.0
TOKEN_NOT_FOUND = f"Requested token does not exist: {ACL_NOT_FOUND}"


def bootstrap(acl: ACLResolver) -> dict[str, Any]:
    """``ACL.BootstrapTokens``: once; then 403 with the reset index."""
    acl.check_enabled()
    if acl.tables.bootstrap_index:
        raise PermissionDenied(
            f"Permission denied: {BOOTSTRAP_NOT_ALLOWED} "
            f"(reset index: {acl.tables.bootstrap_index})"
        )
    token = Token(
        acl.rand.uuid(),
        acl.rand.uuid(),
        "Bootstrap Token (Global Management)",
        Grants(policies=[GLOBAL_MANAGEMENT_ID]),
        create_time=acl.now(),
    )
    with acl.write(TOKENS) as txn:
        token.create_index = token.modify_index = txn.index
        acl.tables.bootstrap_index = txn.index
        acl._put_token(token)
    return {"ID": token.secret_id, **acl.render_token(token)}


def _grants(acl: ACLResolver, body: TokenBody) -> Grants:
    return Grants(
        roles=checks.role_links(acl, body.roles),
        policies=checks.policy_links(acl, body.policies),
        service_identities=checks.service_identities(
            body.service_identities, "token", local=body.local
        ),
        node_identities=checks.node_identities(body.node_identities, "token"),
        templated_policies=checks.templated_policies(body.templated_policies),
    )


def _check_new_id(acl: ACLResolver, value: str, field: str) -> None:
    if value.startswith(RESERVED_PREFIX):
        raise checks.rpc_error(
            f"Invalid Token: {field} - UUIDs with the prefix {quote(RESERVED_PREFIX)} are reserved"
        )
    if not checks.valid_uuid(value):
        raise checks.rpc_error(f"Invalid Token: {field} - not a valid UUID")
    if value in acl.tables.tokens or value in acl.tables.secrets:
        raise checks.rpc_error(f"Invalid Token: {field} is already in use")


def _parse_time(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise checks.rpc_error(f"parsing time {quote(text)} as RFC3339: invalid") from None


def create(acl: ACLResolver, authz: Authorizer, body: TokenBody) -> dict[str, Any]:
    """``TokenWriter.Create``."""
    authz.require("acl", WRITE)
    if body.accessor_id:
        _check_new_id(acl, body.accessor_id, "AccessorID")
    if body.secret_id:
        _check_new_id(acl, body.secret_id, "SecretID")
    now = acl.now()
    expires = _parse_time(body.expiration_time) if body.expiration_time else None
    ttl = parse_duration(body.expiration_ttl) if body.expiration_ttl else 0.0
    if ttl < 0:
        raise checks.rpc_error(f"Token Expiration TTL '{format_duration(ttl)}' should be > 0")
    if ttl > 0:
        if expires is not None:
            raise checks.rpc_error("Token Expiration TTL and Expiration Time cannot both be set")
        expires = now + ttl
    if expires is not None:
        if expires < now:
            raise checks.rpc_error("ExpirationTime cannot be before CreateTime")
        span = format_duration(expires - now)
        if expires - now > MAX_TTL:
            raise checks.rpc_error(
                f"ExpirationTime cannot be more than {format_duration(MAX_TTL)} in the future "
                f"(was {span})"
            )
        if expires - now < MIN_TTL:
            raise checks.rpc_error(
                f"ExpirationTime cannot be less than {format_duration(MIN_TTL)} in the future "
                f"(was {span})"
            )
    if body.auth_method:
        raise checks.rpc_error("AuthMethod field is disallowed outside of login")
    token = Token(
        body.accessor_id or acl.rand.uuid(),
        body.secret_id or acl.rand.uuid(),
        body.description,
        _grants(acl, body),
        local=body.local,
        expiration_time=expires,
        create_time=now,
    )
    return _store(acl, token, None)


def _store(acl: ACLResolver, token: Token, existing: Token | None) -> dict[str, Any]:
    with acl.write(TOKENS) as txn:
        token.create_index = existing.create_index if existing else txn.index
        token.modify_index = txn.index
        acl._put_token(token)
    return acl.render_token(token)


def update(acl: ACLResolver, authz: Authorizer, body: TokenBody) -> dict[str, Any]:
    """``TokenWriter.Update``: the body replaces what the token grants."""
    authz.require("acl", WRITE)
    accessor = body.accessor_id
    if not checks.valid_uuid(accessor):
        raise checks.rpc_error("AccessorID is not a valid UUID")
    match = acl.token_by_accessor(accessor)
    if match is None:
        raise checks.rpc_error(f"Cannot find token {quote(accessor)}")
    if body.secret_id and body.secret_id != match.secret_id:
        raise checks.rpc_error("Changing a token's SecretID is not permitted")
    if body.local != match.local:
        raise checks.rpc_error(f"Cannot toggle local mode of {accessor}")
    if body.auth_method and body.auth_method != match.auth_method:
        raise checks.rpc_error(f"Cannot change AuthMethod of {accessor}")
    if body.expiration_ttl:
        raise checks.rpc_error(f"Cannot change expiration time of {accessor}")
    if body.expiration_time and (
        match.expiration_time is None or _parse_time(body.expiration_time) != match.expiration_time
    ):
        raise checks.rpc_error(f"Cannot change expiration time of {accessor}")
    token = Token(
        accessor,
        match.secret_id,
        body.description,
        _grants(acl, body),
        local=match.local,
        auth_method=match.auth_method,
        expiration_time=match.expiration_time,
        create_time=match.create_time,
        embedded=match.embedded,
    )
    return _store(acl, token, match)


def clone(acl: ACLResolver, authz: Authorizer, accessor: str, description: str) -> dict[str, Any]:
    """``ACL.TokenClone``: a new accessor and secret, the same grants; the description given,
    else the original's."""
    authz.require("acl", WRITE)
    match = acl.token_by_accessor(accessor)
    if match is None:
        raise PermissionDenied(ACL_NOT_FOUND)
    if match.auth_method:
        raise checks.rpc_error("Cannot clone a token created from an auth method")
    token = Token(
        acl.rand.uuid(),
        acl.rand.uuid(),
        description or match.description,
        Grants(
            list(match.grants.policies),
            list(match.grants.roles),
            list(match.grants.service_identities),
            list(match.grants.node_identities),
            list(match.grants.templated_policies),
        ),
        local=match.local,
        expiration_time=match.expiration_time,
        create_time=acl.now(),
        embedded=match.embedded,
    )
    return _store(acl, token, None)


def delete(acl: ACLResolver, authz: Authorizer, accessor: str, request_secret: str) -> None:
    """``ACL.TokenDelete``."""
    authz.require("acl", WRITE)
    if not checks.valid_uuid(accessor):
        raise checks.rpc_error("Accessor ID is missing or an invalid UUID")
    if accessor == ANONYMOUS_TOKEN_ID:
        raise checks.rpc_error("Delete operation not permitted on the anonymous token")
    token = acl.tables.tokens.get(accessor)
    if token is None:
        raise NotFound("Cannot find token to delete")
    if token.secret_id == request_secret:
        raise checks.rpc_error("Deletion of the request's authorization token is not permitted")
    with acl.write(TOKENS):
        acl._drop_token(token)


def read(
    acl: ACLResolver, authz: Authorizer, accessor: str, *, expanded_by: str | None = None
) -> dict[str, Any]:
    """The token; with ``expanded_by`` (the answering agent's node name, for ``?expanded``)
    its ``ACLTokenExpanded`` form."""
    authz.require("acl", READ)
    checks.uuid_index_arg(accessor)
    token = acl.token_by_accessor(accessor)
    if token is None:
        raise PermissionDenied(TOKEN_NOT_FOUND)
    out = acl.render_token(token, show_secret=authz.allowed("acl", WRITE))
    if expanded_by is None:
        return out
    return expanded.render(acl, token, out, expanded_by)


def read_self(acl: ACLResolver, secret: str) -> dict[str, Any]:
    """``/v1/acl/token/self``: whoever holds a secret may read its token (no token: the
    agent's default one, else the anonymous token); an unknown secret fails resolution first
    (403 ``ACL not found``)."""
    acl.check_enabled()
    token = acl.token_by_secret(acl.effective_secret(secret))
    if token is None:
        raise PermissionDenied(ACL_NOT_FOUND)
    return acl.render_token(token)


ONE_FILTER = "can only filter by one of policy, role, serviceName, or methodName at a time"


def listing(
    acl: ACLResolver,
    authz: Authorizer,
    *,
    policy: str = "",
    role: str = "",
    auth_method: str = "",
    service_name: str = "",
) -> list[dict[str, Any]]:
    """``ACL.TokenList``: unexpired tokens by AccessorID, filtered as the query asks. The
    state store's ``ACLTokenList`` (``agent/consul/state/acl.go``) takes one filter at most
    and refuses more with a plain error, which the HTTP layer answers 500."""
    authz.require("acl", READ)
    if sum(1 for f in (policy, role, auth_method, service_name) if f) > 1:
        raise checks.rpc_error(ONE_FILTER)
    show = authz.allowed("acl", WRITE)
    now = acl.now()
    out = []
    for accessor in sorted(acl.tables.tokens):
        token = acl.tables.tokens[accessor]
        if token.expired(now) or token is acl.management:
            continue
        g = token.grants
        if policy and policy not in g.policies:
            continue
        if role and role not in g.roles:
            continue
        if auth_method and token.auth_method != auth_method:
            continue
        if service_name and not _names_service(token, service_name):
            continue
        out.append(acl.render_token(token, show_secret=show))
    return out


def _names_service(token: Token, name: str) -> bool:
    g = token.grants
    if any(s.service_name == name for s in g.service_identities):
        return True
    return any(
        t.template_name == "builtin/service"
        and t.template_variables is not None
        and t.template_variables.name == name
        for t in g.templated_policies
    )


__all__ = [
    "bootstrap",
    "clone",
    "create",
    "delete",
    "listing",
    "read",
    "read_self",
    "update",
]
