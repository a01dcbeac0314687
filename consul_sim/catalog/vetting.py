"""Who may read and write what in the catalog and on the local agent: Consul's ACL vetting.

The rules follow ``agent/consul/acl_filter.go`` (what a read may show),
``agent/consul/catalog_endpoint.go`` (``servicePreApply``, ``vetRegisterWithACL``,
``vetDeregisterWithACL``) and ``agent/agent_endpoint.go`` with ``agent/acl.go``
(``vetServiceRegister``, ``vetServiceUpdate``, ``vetCheckRegister``, ``vetCheckUpdate``). They
live here, not in the handlers, so a handler only resolves the token and asks; each function
takes the authorizer and the narrow state it reads, and raises the domain's PermissionDenied.
"""

from __future__ import annotations

import uuid
from typing import Any

from consul_sim.acl import Authorizer
from consul_sim.catalog.agent import LocalAgent
from consul_sim.errors import ConsulError, PermissionDenied
from consul_sim.models.agent import CheckType, ServiceDefinition
from consul_sim.models.catalog import (
    CHECK_STATUSES,
    DeregisterRequest,
    HealthCheck,
    Node,
    NodeService,
    RegisterRequest,
)
from consul_sim.store.catalog import NodeRow

PERMISSION_DENIED = "Permission denied"
"""``acl.ErrPermissionDenied``: what Consul says when overwriting someone else's service."""


def can_read_node(authz: Authorizer, node: str) -> bool:
    return authz.allowed("node", "read", node)


def can_read_service(authz: Authorizer, service: str) -> bool:
    """An empty name (a node-level check) needs no service permission, as in aclfilter."""
    return not service or authz.allowed("service", "read", service)


def can_read_check(authz: Authorizer, check: HealthCheck) -> bool:
    return can_read_node(authz, check.node) and can_read_service(authz, check.service_name)


def can_read_instance(authz: Authorizer, node: Node, svc: NodeService) -> bool:
    return can_read_node(authz, node.node) and can_read_service(authz, svc.service)


def pre_apply_ok(req: RegisterRequest) -> bool:
    """Whether the request passes the checks Consul makes before its permission checks; when it
    does not, the register domain raises Consul's error, so the token is never asked."""
    if not req.node or (not req.address and not req.skip_node_update):
        return False
    if req.id:
        try:
            uuid.UUID(req.id)
        except ValueError:
            return False
    svc = req.service
    if svc is not None:
        if (svc.id or svc.service) and not svc.service:
            return False
        if svc.address in ("0.0.0.0", "::", "[::]"):
            return False
    return True


def _changes_node(req: RegisterRequest, dc: str, node: Node) -> bool:
    """``RegisterRequest.ChangesNode``: re-posting the same node needs no node:write."""
    if req.skip_node_update:
        return False
    return (
        req.id != node.id
        or req.node.lower() != node.node.lower()
        or req.address != node.address
        or dc != node.datacenter
        or req.tagged_addresses != node.tagged_addresses
        or req.node_meta != node.meta
    )


def vet_register(authz: Authorizer, req: RegisterRequest, dc: str, row: NodeRow | None) -> None:
    """Consul's ``servicePreApply`` + ``vetRegisterWithACL``: write on the service (and a
    proxy's destination), node:write when the node changes, write on a service being
    overwritten, node:write for node checks and service:write for other services' checks."""
    svc = req.service
    if svc is not None:
        authz.require("service", "write", svc.service)
        if svc.kind == "connect-proxy":
            destination = svc.proxy.get("DestinationServiceName")
            authz.require("service", "write", destination if isinstance(destination, str) else "")
    if row is None or _changes_node(req, dc, row.node):
        authz.require("node", "write", req.node)
    service_id = (svc.id or svc.service) if svc is not None else ""
    if svc is not None:
        authz.require("service", "write", svc.service)
        other = row.services.get(service_id) if row is not None else None
        if other is not None and not authz.allowed("service", "write", other.service):
            raise PermissionDenied(PERMISSION_DENIED)
    checks = ([req.check] if req.check is not None else []) + list(req.checks)
    for check in checks:
        node = check.node or req.node
        check_id = check.check_id or check.name
        if node.lower() != req.node.lower():
            raise ConsulError(
                f"Node '{node}' for check '{check_id}' doesn't match register request node "
                f"'{req.node}'",
                500,
            )
        if not check.service_id:
            authz.require("node", "write", req.node)
            continue
        if svc is not None and service_id == check.service_id:
            continue
        owner = row.services.get(check.service_id) if row is not None else None
        if owner is None:
            raise ConsulError(
                f"Unknown service ID '{check.service_id}' for check ID '{check_id}'", 500
            )
        authz.require("service", "write", owner.service)


def vet_deregister(authz: Authorizer, req: DeregisterRequest, row: NodeRow | None) -> None:
    """Consul's ``vetDeregisterWithACL``: node:write allows anything on the node; otherwise
    write on the service (or on the check's service) being removed."""
    if authz.allowed("node", "write", req.node):
        return
    if req.service_id:
        svc = row.services.get(req.service_id) if row is not None else None
        if svc is None:
            raise ConsulError(f"Unknown service ID '{req.service_id}'", 500)
        authz.require("service", "write", svc.service)
    elif req.check_id:
        check = row.checks.get(req.check_id) if row is not None else None
        if check is None:
            raise ConsulError(f"Unknown check ID '{req.check_id}'", 500)
        if check.service_id:
            authz.require("service", "write", check.service_name)
        else:
            authz.require("node", "write", req.node)
    else:
        authz.require("node", "write", req.node)


# -- the local agent -----------------------------------------------------------------------------
def can_read_local_service(authz: Authorizer, svc: NodeService) -> bool:
    """``/v1/agent/services`` shows a local service to ``service:read`` on its name."""
    return authz.allowed("service", "read", svc.service)


def can_read_local_check(authz: Authorizer, agent: LocalAgent, check: HealthCheck) -> bool:
    """``/v1/agent/checks``: a service check needs service:read, a node check node:read."""
    if check.service_name:
        return authz.allowed("service", "read", check.service_name)
    return authz.allowed("node", "read", agent.node)


def can_read_member(authz: Authorizer, member: dict[str, Any]) -> bool:
    """``/v1/agent/members`` shows a Serf member to node:read on its name."""
    return authz.allowed("node", "read", member["Name"])


def vet_service_register(authz: Authorizer, agent: LocalAgent, sd: ServiceDefinition) -> None:
    """Consul's vetServiceRegister: ``service:write`` on the name, on the service this
    registration would overwrite, and for a connect proxy on its destination too."""
    destination = (sd.proxy or {}).get("DestinationServiceName")
    _vet_register(authz, agent, sd.name, sd.id or sd.name, sd.kind, destination)


def vet_sidecar_register(authz: Authorizer, agent: LocalAgent, sidecar: NodeService) -> None:
    """The same vetting for the sidecar a nested ``SidecarService`` expands to, with the
    sidecar's own token when it has one (``AgentRegisterService``)."""
    destination = sidecar.proxy.get("DestinationServiceName")
    _vet_register(authz, agent, sidecar.service, sidecar.id, sidecar.kind, destination)


def _vet_register(
    authz: Authorizer, agent: LocalAgent, name: str, service_id: str, kind: str, destination: Any
) -> None:
    authz.require("service", "write", name)
    existing = agent.local_services.get(service_id)
    if existing is not None:
        authz.require("service", "write", existing.service)
    if kind == "connect-proxy" and isinstance(destination, str):
        authz.require("service", "write", destination)


def vet_service_update(authz: Authorizer, agent: LocalAgent, service_id: str) -> None:
    """Consul's vetServiceUpdate: write on the service being changed (an unknown ID is the
    domain's 404)."""
    existing = agent.local_services.get(service_id)
    if existing is not None:
        authz.require("service", "write", existing.service)


def vet_check_update(authz: Authorizer, agent: LocalAgent, check_id: str) -> None:
    """Consul's vetCheckUpdate: write on the check's service, or node:write for a node check
    (an unknown check is the domain's 404)."""
    local = agent.checks.get(check_id)
    if local is not None:
        _require_check_write(authz, agent, local.definition.service_id)


def vet_check_register(authz: Authorizer, agent: LocalAgent, ct: CheckType) -> None:
    """Consul's vetCheckRegister, asked after the registration's own validation (whose errors
    the domain raises first): write on the check's service or the node, and on the check it
    would overwrite."""
    if not ct.name or (ct.status and ct.status not in CHECK_STATUSES) or ct.problem():
        return
    if ct.service_id and ct.service_id not in agent.local_services:
        return
    _require_check_write(authz, agent, ct.service_id)
    existing = agent.checks.get(ct.check_id or ct.id or ct.name)
    if existing is not None:
        _require_check_write(authz, agent, existing.definition.service_id)


def _require_check_write(authz: Authorizer, agent: LocalAgent, service_id: str) -> None:
    owner = agent.local_services.get(service_id) if service_id else None
    if owner is not None:
        authz.require("service", "write", owner.service)
    else:
        authz.require("node", "write", agent.node)
