"""PUT /v1/catalog/register and /deregister, with the checks Consul's Catalog RPC makes.

Validation failures happen inside the RPC, so Consul answers them with 500 and the bare sentence.
A request is applied in one transaction: either all of it lands at one index, or nothing does.
"""

from __future__ import annotations

import uuid

from consul_sim.catalog.agent import multierror
from consul_sim.catalog.connect import node_service_problems
from consul_sim.errors import ConsulError
from consul_sim.models.catalog import (
    CHECK_STATUSES,
    CRITICAL,
    DeregisterRequest,
    HealthCheck,
    Node,
    RegisterRequest,
)
from consul_sim.store import Store

MISSING_NODE = "Must provide node"
MISSING_ADDRESS = "Must provide address if SkipNodeUpdate is not set"
MISSING_SERVICE = "Missing service registration"
MISSING_NODE_REGISTRATION = "Missing node registration"


def _fail(message: str) -> ConsulError:
    return ConsulError(message, 500)


def definition_type(check: HealthCheck) -> str:
    """The type Consul's Catalog.Register gives a check registered without one
    (``agent/consul/catalog_endpoint.go``: ``check.CheckType().Type()``, following
    ``agent/structs/check_type.go``): the kind its definition names, when it has an interval;
    "" for anything else. TTL, script and alias definitions are not part of the catalog's
    ``Definition`` here, so they stay ""."""
    d = check.definition
    if d is None or d.interval in ("", "0s"):
        return ""
    for kind, target in (("http", d.http), ("tcp", d.tcp), ("udp", d.udp), ("grpc", d.grpc)):
        if target:
            return kind
    return ""


def register(store: Store, datacenter: str, req: RegisterRequest, peer: str = "") -> None:
    if not req.node:
        raise _fail(MISSING_NODE)
    if not req.address and not req.skip_node_update:
        raise _fail(MISSING_ADDRESS)
    if req.id:
        try:
            uuid.UUID(req.id)
        except ValueError:
            raise _fail(f"Bad node ID: invalid UUID {req.id!r}") from None
    svc = req.service
    if svc is not None:
        # servicePreApply (agent/consul/catalog_endpoint.go) runs NodeService.Validate first.
        problems = node_service_problems(svc)
        if problems:
            raise _fail(multierror(problems))
        if not svc.id and svc.service:
            svc = svc.model_copy(update={"id": svc.service})
        if svc.id and not svc.service:
            raise _fail("Must provide service name with ID")
        if svc.address in ("0.0.0.0", "::", "[::]"):
            raise _fail("Invalid service address")
    checks = list(req.checks)
    if req.check is not None:
        checks.insert(0, req.check)
    prepared: list[HealthCheck] = []
    for check in checks:
        check_id = check.check_id or check.name
        status = check.status or CRITICAL
        if status not in CHECK_STATUSES:
            raise _fail(f"Invalid check status: '{status}'")
        prepared.append(
            check.model_copy(
                update={
                    "check_id": check_id,
                    "node": check.node or req.node,
                    "status": status,
                    "type": check.type or definition_type(check),
                }
            )
        )

    catalog = store.catalog
    # SkipNodeUpdate skips the node write only when the node exists: ensureRegistrationTxn
    # (agent/consul/state/catalog.go) writes the node when none is found, even address-less.
    existing_row = catalog.row(peer, req.node)
    # Every refusal is decided before the transaction opens, so a refused request writes nothing.
    for check in prepared:
        if check.node.lower() != req.node.lower() and catalog.row(peer, check.node) is None:
            raise _fail(MISSING_NODE_REGISTRATION)
        if check.service_id and not (svc is not None and svc.id == check.service_id):
            target = catalog.row(peer, check.node)
            if target is None or check.service_id not in target.services:
                raise _fail(MISSING_SERVICE)

    with store.txn() as txn:
        if not (req.skip_node_update and existing_row is not None):
            previous = existing_row.node if existing_row else None
            catalog.ensure_node(
                txn,
                Node(
                    id=req.id or (previous.id if previous else ""),
                    node=req.node,
                    address=req.address or (previous.address if previous else ""),
                    datacenter=datacenter,
                    peer_name=peer,
                    tagged_addresses=req.tagged_addresses,
                    meta=req.node_meta,
                ),
            )
        row = catalog.row(peer, req.node)
        assert row is not None
        if svc is not None and svc.service:
            catalog.ensure_service(txn, row.node.node, svc.model_copy(update={"peer_name": peer}))
        for check in prepared:
            target = catalog.row(peer, check.node)
            assert target is not None
            owner = target.services.get(check.service_id) if check.service_id else None
            catalog.ensure_check(
                txn,
                check.model_copy(
                    update={
                        "node": target.node.node,
                        "service_name": owner.service if owner else "",
                        "service_tags": list(owner.tags) if owner else [],
                        "peer_name": peer,
                    }
                ),
            )


def deregister(store: Store, req: DeregisterRequest, peer: str = "") -> None:
    if not req.node:
        raise _fail(MISSING_NODE)
    with store.txn() as txn:
        if req.service_id:
            store.catalog.delete_service(txn, peer, req.node, req.service_id)
        elif req.check_id:
            store.catalog.delete_check(txn, peer, req.node, req.check_id)
        else:
            store.catalog.delete_node(txn, peer, req.node)
