"""Validation shared by token, role and policy writes, with ``agent/consul``'s sentences.

Names follow ``acl/validation.go``: policy names ``[A-Za-z0-9-_]{1,128}``, role and auth
method names ``{1,256}``, service and node identity names lowercase alphanumerics with ``-``
and ``_`` inside (``IsValidServiceIdentityName``). Links by name or ID must resolve
(``normalizePolicyLinks``/``normalizeRoleLinks`` in ``agent/consul/auth/token_writer.go``),
and are stored by ID, deduplicated. Errors that crossed Consul's RPC boundary without an HTTP
status of their own are 500s.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from consul_sim.acl.identities import TEMPLATES
from consul_sim.errors import ConsulError
from consul_sim.gostd import quote
from consul_sim.models.acl import Link, NodeIdentity, ServiceIdentity, TemplatedPolicy

if TYPE_CHECKING:
    from consul_sim.acl.resolver import ACLResolver

POLICY_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,128}$")
ROLE_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,256}$")
IDENTITY_NAME = re.compile(r"^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$")
IDENTITY_MAX = 256


def rpc_error(message: str) -> ConsulError:
    """An RPC error the HTTP layer has no status for: Consul's ``wrap`` answers 500."""
    return ConsulError(message, 500)


def uuid_index_arg(text: str) -> None:
    """A lookup by a UUID-indexed ID (a token's AccessorID, a policy's or role's ID): the state
    store's ``uuidStringToBytes`` (``agent/consul/state/indexer.go``) refuses any string that is
    not 36 characters before looking, and the RPC's plain error is a 500. (A 36-character
    string that is not hex fails there too, with another sentence; not simulated.)"""
    if len(text) != 36:
        raise rpc_error("UUID must be 36 characters")


def valid_uuid(text: str) -> bool:
    """``go-uuid``'s ``ParseUUID``: 36 characters, hex in 8-4-4-4-12."""
    if len(text) != 36:
        return False
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return text[8] == text[13] == text[18] == text[23] == "-"


def valid_identity_name(name: str) -> bool:
    return 0 < len(name) <= IDENTITY_MAX and IDENTITY_NAME.match(name) is not None


def _links(links: list[Link], kind: str, by_name: Any, table: Mapping[str, Any]) -> list[str]:
    """Each link's ID (a name looked up), deduplicated in order; an unknown one refused."""
    ids: list[str] = []
    for link in links:
        if link.id:
            if link.id not in table:
                raise rpc_error(f"No such ACL {kind} with ID {quote(link.id)}")
            found = link.id
        else:
            match = by_name(link.name)
            if match is None:
                raise rpc_error(f"No such ACL {kind} with name {quote(link.name)}")
            found = match.id
        if found not in ids:
            ids.append(found)
    return ids


def policy_links(acl: ACLResolver, links: list[Link]) -> list[str]:
    return _links(links, "policy", acl.policy_by_name, acl.tables.policies)


def role_links(acl: ACLResolver, links: list[Link]) -> list[str]:
    return _links(links, "role", acl.role_by_name, acl.tables.roles)


def service_identities(
    found: list[ServiceIdentity], owner: str, *, local: bool = False
) -> list[ServiceIdentity]:
    """Checked and deduplicated by name, datacenters merged sorted (``Deduplicate``)."""
    merged: dict[str, ServiceIdentity] = {}
    for s in found:
        if not s.service_name:
            raise rpc_error(f"Service identity is missing the service name field on this {owner}")
        if local and s.datacenters:
            raise rpc_error(
                f"Service identity {quote(s.service_name)} cannot specify a list of "
                "datacenters on a local token"
            )
        if not valid_identity_name(s.service_name):
            raise rpc_error(
                f"Service identity {quote(s.service_name)} has an invalid name. Only lowercase "
                "alphanumeric characters, '-' and '_' are allowed"
            )
        seen = merged.get(s.service_name)
        dcs = sorted(set(s.datacenters) | set(seen.datacenters if seen else []))
        merged[s.service_name] = ServiceIdentity(service_name=s.service_name, datacenters=dcs)
    return list(merged.values())


def node_identities(found: list[NodeIdentity], owner: str) -> list[NodeIdentity]:
    out: list[NodeIdentity] = []
    for n in found:
        if not n.node_name:
            raise rpc_error(f"Node identity is missing the node name field on this {owner}")
        if not n.datacenter:
            raise rpc_error(f"Node identity is missing the datacenter field on this {owner}")
        if not valid_identity_name(n.node_name):
            raise rpc_error(
                "Node identity has an invalid name. Only lowercase alphanumeric characters, "
                "'-' and '_' are allowed"
            )
        if all((o.node_name, o.datacenter) != (n.node_name, n.datacenter) for o in out):
            out.append(n)
    return out


def templated_policies(found: list[TemplatedPolicy]) -> list[TemplatedPolicy]:
    """A known template, with the ``name`` variable its schema requires
    (``ValidateTemplatedPolicy``); duplicates dropped (``Deduplicate``)."""
    out: list[TemplatedPolicy] = []
    for t in found:
        template = TEMPLATES.get(t.template_name)
        if template is None:
            raise rpc_error(f"no such ACL templated policy with name {quote(t.template_name)}")
        name = t.template_variables.name if t.template_variables else ""
        if template.needs_name and not name:
            raise rpc_error("name: String length must be greater than or equal to 1")
        # Only the service and node templates check the name's characters; the node message
        # carries a double space in Consul (acl_templated_policy.go ValidateTemplatedPolicy).
        gap = {"builtin/service": " ", "builtin/node": "  "}.get(t.template_name)
        if gap is not None and not valid_identity_name(name):
            kind = t.template_name.removeprefix("builtin/")
            raise rpc_error(
                f"{kind} identity {quote(name)}{gap}has an invalid name. Only lowercase "
                "alphanumeric characters, '-' and '_' are allowed"
            )
        key = (t.template_name, name if template.needs_name else "")
        if all(
            (o.template_name, (o.template_variables.name if o.template_variables else "")) != key
            for o in out
        ):
            out.append(t)
    return out
