"""The local agent of a simulated cluster: its services, its checks, TTL expiry, maintenance.

A real agent keeps local state and syncs it to the catalog by anti-entropy; the simulator applies
each change to the catalog at once, in the same call, because nothing can come between them in a
single process. TTL checks expire on the cluster's clock through the world's scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consul_sim.durations import parse_duration
from consul_sim.errors import BadRequest, ConsulError, NotFound
from consul_sim.meta import validate_meta
from consul_sim.models.agent import CheckType, ServiceDefinition
from consul_sim.models.catalog import (
    CHECK_STATUSES,
    CRITICAL,
    PASSING,
    WARNING,
    CheckDefinitionView,
    HealthCheck,
    NodeService,
)
from consul_sim.scheduler import Scheduler, Timer
from consul_sim.store import Store, Txn

SERVICE_MAINT_PREFIX = "_service_maintenance:"
SERVICE_MAINT_NAME = "Service Maintenance Mode"
SERVICE_MAINT_DEFAULT = (
    "Maintenance mode is enabled for this service, but no reason was provided. "
    "This is a default message."
)
NODE_MAINT_ID = "_node_maintenance"
NODE_MAINT_NAME = "Node Maintenance Mode"
NODE_MAINT_DEFAULT = (
    "Maintenance mode is enabled for this node, but no reason was provided. "
    "This is a default message."
)
TTL_EXPIRED = "TTL expired (last output before timeout follows): "
INVALID_STATUS = "Status for checks must 'passing', 'warning', 'critical'"
INTERVAL_REQUIRED = "Interval must be > 0 for Script, HTTP, H2PING, TCP or UDP checks"
TTL_REQUIRED = "TTL must be > 0 for TTL checks"


def unknown_check(check_id: str) -> NotFound:
    return _not_found(
        f'Unknown check ID "{check_id}". Ensure that the check ID is passed, not the check name.'
    )


def unknown_service(service_id: str) -> NotFound:
    return _not_found(
        f'Unknown service ID "{service_id}". Ensure that the service ID is passed, '
        "not the service name."
    )


def _not_found(message: str) -> NotFound:
    return NotFound(message)


@dataclass
class LocalCheck:
    definition: CheckType
    ttl: float = 0.0
    timer: Timer | None = None


@dataclass
class LocalAgent:
    store: Store
    scheduler: Scheduler
    datacenter: str
    node: str
    services: dict[str, ServiceDefinition] = field(default_factory=dict)
    checks: dict[str, LocalCheck] = field(default_factory=dict)

    # -- services -----------------------------------------------------------------------------
    def register_service(self, sd: ServiceDefinition, *, replace_existing_checks: bool) -> None:
        if not sd.name:
            raise BadRequest("Missing service name")
        if sd.address in ("0.0.0.0", "::", "[::]"):
            raise BadRequest("Invalid service address")
        if sd.weights is not None and sd.weights.passing < 1:
            raise BadRequest("Invalid Weights: Passing must be greater than 0")
        problem = validate_meta(sd.meta)
        if problem:
            raise BadRequest(f"Invalid Service Meta: {problem}")
        service_id = sd.id or sd.name
        definitions = ([sd.check] if sd.check else []) + list(sd.checks)
        checks: list[tuple[str, CheckType]] = []
        for i, ct in enumerate(definitions, start=1):
            if ct.status and ct.status not in CHECK_STATUSES:
                raise BadRequest(INVALID_STATUS)
            problem = _check_problem(ct)
            if problem:
                raise BadRequest(f"Invalid check: {problem}")
            check_id = ct.check_id or ct.id
            if not check_id:
                check_id = f"service:{service_id}"
                if len(definitions) > 1:
                    check_id += f":{i}"
            name = ct.name or f"Service '{sd.name}' check"
            checks.append((check_id, ct.model_copy(update={"check_id": check_id, "name": name})))

        svc = NodeService(
            kind=sd.kind,
            id=service_id,
            service=sd.name,
            tags=list(sd.tags),
            address=sd.address,
            tagged_addresses=sd.tagged_addresses,
            meta=dict(sd.meta),
            port=sd.port,
            socket_path=sd.socket_path,
            weights=sd.weights,
            enable_tag_override=sd.enable_tag_override,
            proxy=sd.proxy or {},
            connect=sd.connect or {},
        )
        stale = []
        if replace_existing_checks:
            keep = {cid for cid, _ in checks}
            stale = [
                cid
                for cid, lc in self.checks.items()
                if lc.definition.service_id == service_id and cid not in keep
            ]
        with self.store.txn() as txn:
            self.store.catalog.ensure_service(txn, self.node, svc)
            for cid in stale:
                self._drop_check(txn, cid)
            for cid, ct in checks:
                self._put_check(txn, cid, ct.model_copy(update={"service_id": service_id}))
        self.services[service_id] = sd.model_copy(update={"id": service_id})

    def deregister_service(self, service_id: str) -> None:
        if service_id not in self.services:
            raise unknown_service(service_id)
        with self.store.txn() as txn:
            for cid in [c for c, lc in self.checks.items() if lc.definition.service_id == service_id]:
                self._drop_check(txn, cid)
            self.store.catalog.delete_service(txn, "", self.node, service_id)
        del self.services[service_id]

    # -- checks -------------------------------------------------------------------------------
    def register_check(self, ct: CheckType) -> None:
        if not ct.name:
            raise BadRequest("Missing check name")
        if ct.status and ct.status not in CHECK_STATUSES:
            raise BadRequest(INVALID_STATUS)
        if ct.service_id and ct.service_id not in self.services:
            raise BadRequest(f'ServiceID "{ct.service_id}" does not exist')
        problem = _check_problem(ct)
        if problem:
            raise BadRequest(f"Invalid check: {problem}")
        check_id = ct.check_id or ct.id or ct.name
        with self.store.txn() as txn:
            self._put_check(txn, check_id, ct.model_copy(update={"check_id": check_id}))

    def deregister_check(self, check_id: str) -> None:
        if check_id not in self.checks:
            raise unknown_check(check_id)
        with self.store.txn() as txn:
            self._drop_check(txn, check_id)

    def update_ttl(self, check_id: str, status: str, output: str) -> None:
        local = self.checks.get(check_id)
        if local is None:
            raise unknown_check(check_id)
        if not local.ttl:
            raise ConsulError(f'CheckID "{check_id}" does not have associated TTL', 500)
        self._set_status(check_id, status, output)
        self._arm_ttl(check_id)

    def set_service_maintenance(self, service_id: str, enable: bool, reason: str) -> None:
        if service_id not in self.services:
            raise NotFound(f'Unknown service ID "{service_id}"')
        check_id = SERVICE_MAINT_PREFIX + service_id
        self._set_maintenance(check_id, SERVICE_MAINT_NAME, reason or SERVICE_MAINT_DEFAULT,
                              service_id, enable)

    def set_node_maintenance(self, enable: bool, reason: str) -> None:
        self._set_maintenance(NODE_MAINT_ID, NODE_MAINT_NAME, reason or NODE_MAINT_DEFAULT, "",
                              enable)

    def _set_maintenance(
        self, check_id: str, name: str, notes: str, service_id: str, enable: bool
    ) -> None:
        with self.store.txn() as txn:
            if enable:
                if check_id in self.checks:
                    return
                ct = CheckType(check_id=check_id, name=name, notes=notes, status=CRITICAL,
                               service_id=service_id)
                self._put_check(txn, check_id, ct, check_type="maintenance")
            elif check_id in self.checks:
                self._drop_check(txn, check_id)

    # -- internals ----------------------------------------------------------------------------
    def _put_check(self, txn: Txn, check_id: str, ct: CheckType, check_type: str = "") -> None:
        previous = self.checks.pop(check_id, None)
        if previous and previous.timer:
            previous.timer.cancel()
        service_name, service_tags = "", []
        if ct.service_id:
            svc = self.store.catalog.row("", self.node)
            owner = svc.services.get(ct.service_id) if svc else None
            if owner is not None:
                service_name, service_tags = owner.service, list(owner.tags)
        kind = check_type or ct.check_type()
        interval = ct.interval if kind not in ("ttl", "") else ""
        hc = HealthCheck(
            node=self.node,
            check_id=check_id,
            name=ct.name,
            status=ct.status or CRITICAL,
            notes=ct.notes,
            output=ct.output,
            service_id=ct.service_id,
            service_name=service_name,
            service_tags=service_tags,
            type=kind,
            interval=interval,
            timeout=ct.timeout if interval else "",
            definition=CheckDefinitionView(
                http=ct.http, tcp=ct.tcp, udp=ct.udp, grpc=ct.grpc, interval=interval,
                timeout=ct.timeout if interval else "",
                deregister_critical_service_after=ct.deregister_critical_service_after,
            ),
        )
        self.store.catalog.ensure_check(txn, hc)
        ttl = parse_duration(ct.ttl) if ct.ttl else 0.0
        self.checks[check_id] = LocalCheck(ct, ttl)
        if ttl:
            self._arm_ttl(check_id)

    def _drop_check(self, txn: Txn, check_id: str) -> None:
        local = self.checks.pop(check_id, None)
        if local and local.timer:
            local.timer.cancel()
        self.store.catalog.delete_check(txn, "", self.node, check_id)

    def _set_status(self, check_id: str, status: str, output: str) -> None:
        row = self.store.catalog.row("", self.node)
        current = row.checks.get(check_id) if row else None
        if current is None:
            return
        with self.store.txn() as txn:
            self.store.catalog.ensure_check(
                txn, current.model_copy(update={"status": status, "output": output})
            )

    def _arm_ttl(self, check_id: str) -> None:
        local = self.checks[check_id]
        if local.timer:
            local.timer.cancel()

        def expire() -> None:
            if self.checks.get(check_id) is not local:
                return
            local.timer = None
            row = self.store.catalog.row("", self.node)
            current = row.checks.get(check_id) if row else None
            last = current.output if current else ""
            self._set_status(check_id, CRITICAL, TTL_EXPIRED + last)

        local.timer = self.scheduler.call_later(local.ttl, expire)


def _check_problem(ct: CheckType) -> str | None:
    kind = ct.check_type()
    if kind in ("http", "tcp", "udp", "h2ping", "script", "grpc", "docker"):
        if not ct.interval or parse_duration(ct.interval) <= 0:
            return INTERVAL_REQUIRED
        return None
    if kind == "alias":
        return None
    if not ct.ttl or parse_duration(ct.ttl) <= 0:
        return TTL_REQUIRED
    return None


STATUS_FOR_ENDPOINT = {"pass": PASSING, "warn": WARNING, "fail": CRITICAL}
