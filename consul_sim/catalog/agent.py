"""The local agent of a simulated cluster: its services, its checks, TTL expiry, maintenance.

A real agent keeps local state and syncs it to the catalog by anti-entropy; the simulator applies
each change to the catalog at once, in the same call, because nothing can come between them in a
single process. TTL checks expire, and services whose check stays critical past
``DeregisterCriticalServiceAfter`` are reaped, on the cluster's clock through the world's
scheduler.

Validation follows the order of Consul's handlers (``agent/agent_endpoint.go``) and of
``Agent.AddService``/``AddCheck`` (``agent/agent.go``), so the first broken rule is the one
reported, and every refusal is decided before anything is written.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from consul_sim.catalog.connect import (
    NO_SIDECAR_PORT,
    SIDECAR_SUFFIX,
    SidecarError,
    agent_proxy,
    node_service_problems,
    sidecar_default_checks,
    sidecar_port,
    sidecar_raw,
    sidecar_service,
    without_sidecar,
)
from consul_sim.durations import parse_duration
from consul_sim.errors import BadRequest, ConsulError, NotFound
from consul_sim.gostd import quote
from consul_sim.meta import validate_meta
from consul_sim.models.agent import CheckType, ServiceDefinition
from consul_sim.models.base import DecodeError, decode_body
from consul_sim.models.catalog import (
    CHECK_STATUSES,
    CRITICAL,
    PASSING,
    WARNING,
    CheckDefinitionView,
    HealthCheck,
    NodeService,
    ServiceAddress,
    Weights,
    service_ports_problem,
)
from consul_sim.models.proxy import unknown_proxy_field
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
MAINTENANCE_TYPE = "maintenance"
TTL_EXPIRED = "TTL expired"
TTL_EXPIRED_WITH_OUTPUT = "TTL expired (last output before timeout follows): "
INVALID_STATUS = "Status for checks must 'passing', 'warning', 'critical'"
BAD_CHECK_STATUS = "Bad check status"
MISSING_CHECK_NAME = "Missing check name"
MISSING_SERVICE_NAME = "Missing service name"
INVALID_SERVICE_ADDRESS = "Invalid service address"
SCRIPTS_DISABLED = (
    "Scripts are disabled on this agent from remote calls; to enable, configure "
    "'enable_script_checks' to true"
)
# Kept for callers of the first version of this module.
INTERVAL_REQUIRED = "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"
TTL_REQUIRED = "TTL must be > 0 for TTL checks"

CHECK_BUF_SIZE = 4 * 1024
"""``checks.DefaultBufSize``: the most check output an agent keeps."""
CHECK_DEREGISTER_INTERVAL_MIN = 60.0
"""``check_deregister_interval_min``: DeregisterCriticalServiceAfter is raised to at least this."""

_ANY_ADDRESSES = ("0.0.0.0", "::", "[::]")


def unknown_check(check_id: str) -> NotFound:
    return NotFound(
        f'Unknown check ID "{check_id}". Ensure that the check ID is passed, not the check name.'
    )


def unknown_service(service_id: str) -> NotFound:
    return NotFound(
        f'Unknown service ID "{service_id}". Ensure that the service ID is passed, '
        "not the service name."
    )


def truncate_output(output: str, limit: int = CHECK_BUF_SIZE) -> str:
    """What a TTL check keeps of an update's output: Go cuts at ``limit`` bytes and says so."""
    raw = output.encode()
    if len(raw) <= limit:
        return output
    kept = raw[:limit].decode(errors="replace")
    return f"{kept} ... (captured {limit} of {len(raw)} bytes)"


def multierror(problems: list[str]) -> str:
    """hashicorp/go-multierror's list format, which ``Validation failed: %v`` prints."""
    if len(problems) == 1:
        return f"1 error occurred:\n\t* {problems[0]}\n\n"
    points = "\n\t".join(f"* {p}" for p in problems)
    return f"{len(problems)} errors occurred:\n\t{points}\n\n"


@dataclass
class LocalCheck:
    definition: CheckType
    ttl: float = 0.0
    timer: Timer | None = None
    last_output: str = ""
    reap_after: float = 0.0
    critical_since: float | None = None
    reap_timer: Timer | None = None

    def cancel(self) -> None:
        for timer in (self.timer, self.reap_timer):
            if timer is not None:
                timer.cancel()
        self.timer = self.reap_timer = None


@dataclass
class LocalAgent:
    store: Store
    scheduler: Scheduler
    datacenter: str
    node: str
    services: dict[str, ServiceDefinition] = field(default_factory=dict)
    checks: dict[str, LocalCheck] = field(default_factory=dict)
    # The NodeService each local service was registered as (what /v1/agent/services shows).
    local_services: dict[str, NodeService] = field(default_factory=dict)
    enable_remote_script_checks: bool = False
    # IDs of services registered as a nested SidecarService (LocallyRegisteredAsSidecar).
    sidecars: set[str] = field(default_factory=set)

    # -- reads -------------------------------------------------------------------------------
    def service(self, service_id: str) -> NodeService | None:
        return self.local_services.get(service_id)

    def agent_services(self) -> dict[str, NodeService]:
        """Local services by ID, sorted as Go marshals a map."""
        return dict(sorted(self.local_services.items()))

    def agent_checks(self) -> dict[str, HealthCheck]:
        """Local checks by ID with their current status, sorted as Go marshals a map."""
        row = self.store.catalog.row("", self.node)
        out: dict[str, HealthCheck] = {}
        for check_id in sorted(self.checks):
            current = row.checks.get(check_id) if row else None
            if current is not None:
                out[check_id] = current
        return out

    def ttl_check_count(self) -> int:
        return sum(1 for lc in self.checks.values() if lc.ttl)

    # -- services -----------------------------------------------------------------------------
    def register_service(
        self,
        sd: ServiceDefinition,
        *,
        replace_existing_checks: bool,
        vet_sidecar: Callable[[NodeService, str], None] | None = None,
    ) -> None:
        """``AgentRegisterService`` then ``AddService`` for the service and, when it nests a
        ``Connect.SidecarService``, for its sidecar (agent/agent_endpoint.go). ``vet_sidecar``
        is the front end's ACL check of the sidecar with its own token ("" for the request's),
        asked once the sidecar is known to be valid, before anything is written."""
        side = _sidecar_definition(sd)  # part of decoding the body, which comes first
        svc = self._validated_service(sd)
        definitions = _checked(sd.check_types(), "Invalid check: ")
        sidecar: NodeService | None = None
        if side is not None:
            _checked(side.check_types(), "Invalid check in sidecar_service: ")
            try:
                sidecar = sidecar_service(svc, side)
            except SidecarError as exc:
                raise BadRequest(f"Invalid SidecarService: {exc}") from None
            problems = node_service_problems(sidecar, sidecar_raw(side.connect), for_agent=True)
            if problems:
                raise BadRequest(f"Failed Validation: {multierror(problems)}")
            if vet_sidecar is not None:
                vet_sidecar(sidecar, side.token)
        self.sidecars.discard(svc.id)  # registered in its own right now, not as a sidecar
        self._add_service(svc, sd, definitions, replace_existing_checks)
        if sidecar is None or side is None:
            return
        if sidecar.port < 1:
            port = sidecar_port(sidecar.id, ((s.id, s.port) for s in self.local_services.values()))
            if port is None:
                raise ConsulError(NO_SIDECAR_PORT, 500)
            sidecar = sidecar.model_copy(update={"port": port})
        sidecar = sidecar.model_copy(
            update={"tagged_addresses": _default_tagged_addresses(sidecar)}
        )
        side_checks = side.check_types() or sidecar_default_checks(sidecar)
        self._add_service(sidecar, side, side_checks, replace_existing_checks)
        self.sidecars.add(sidecar.id)

    def _add_service(
        self,
        svc: NodeService,
        sd: ServiceDefinition,
        definitions: list[CheckType],
        replace_existing_checks: bool,
    ) -> None:
        """``Agent.AddService``: its own checks (plain errors, 500), then the write."""
        tagged_problem = _tagged_address_problem(svc)
        if tagged_problem:
            raise ConsulError(tagged_problem, 500)
        if any(ct.is_script() for ct in definitions) and not self.enable_remote_script_checks:
            raise ConsulError(SCRIPTS_DISABLED, 500)

        service_id = svc.id
        checks: list[tuple[str, CheckType]] = []
        for i, ct in enumerate(definitions, start=1):
            check_id = ct.check_id or ct.id
            if not check_id:
                check_id = f"service:{service_id}"
                if len(definitions) > 1:
                    check_id += f":{i}"
            name = ct.name or f"Service '{svc.service}' check"
            checks.append(
                (
                    check_id,
                    ct.model_copy(
                        update={"check_id": check_id, "name": name, "service_id": service_id}
                    ),
                )
            )
        stale: list[str] = []
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
                self._put_check(txn, cid, ct, keep_state=True)
        self.services[service_id] = sd.model_copy(update={"id": service_id})
        self.local_services[service_id] = svc

    def _validated_service(self, sd: ServiceDefinition) -> NodeService:
        """The handler's checks in its order, then the NodeService the agent would keep."""
        if not sd.name:
            raise BadRequest(MISSING_SERVICE_NAME)
        if sd.address in _ANY_ADDRESSES:
            raise BadRequest(INVALID_SERVICE_ADDRESS)
        if sd.weights is not None:
            problem = _weights_problem(sd.weights)
            if problem:
                raise BadRequest(f"Invalid Weights: {problem}")
        problem = validate_meta(sd.meta)
        if problem:
            raise BadRequest(f"Invalid Service Meta: {problem}")
        problem = service_ports_problem(sd.ports)
        if problem:
            raise BadRequest(f"Invalid Service Ports: {problem}")
        svc = NodeService(
            kind=sd.kind,
            id=sd.id or sd.name,
            service=sd.name,
            tags=list(sd.tags),
            address=sd.address,
            tagged_addresses=_default_tagged_addresses(sd),
            meta=dict(sd.meta),
            port=sd.port,
            ports=list(sd.ports),
            socket_path=sd.socket_path,
            weights=sd.weights if sd.weights is not None else Weights(passing=1, warning=1),
            enable_tag_override=sd.enable_tag_override,
            locality=sd.locality,
            proxy=agent_proxy(sd.proxy),
            connect=without_sidecar(sd.connect),
        )
        problems = node_service_problems(svc, sidecar_raw(sd.connect))
        if problems:
            raise BadRequest(f"Validation failed: {multierror(problems)}")
        return svc

    def deregister_service(self, service_id: str) -> None:
        if service_id not in self.local_services:
            raise unknown_service(service_id)
        with self.store.txn() as txn:
            self._remove_service(txn, service_id)

    def _remove_service(self, txn: Txn, service_id: str) -> None:
        """Remove a service and its checks, and the sidecar it registered with it (the agent's
        ``removeServiceLocked`` removes ``<id>-sidecar-proxy`` only if it was nested)."""
        sidecar_id = service_id + SIDECAR_SUFFIX
        if sidecar_id in self.sidecars and sidecar_id in self.local_services:
            self._remove_service(txn, sidecar_id)
        self.sidecars.discard(service_id)
        for cid in [c for c, lc in self.checks.items() if lc.definition.service_id == service_id]:
            self._drop_check(txn, cid)
        self.store.catalog.delete_service(txn, "", self.node, service_id)
        self.services.pop(service_id, None)
        self.local_services.pop(service_id, None)

    # -- checks -------------------------------------------------------------------------------
    def register_check(self, ct: CheckType) -> None:
        if not ct.name:
            raise BadRequest(MISSING_CHECK_NAME)
        if ct.status and ct.status not in CHECK_STATUSES:
            raise BadRequest(BAD_CHECK_STATUS)
        problem = ct.problem()
        if problem:
            raise BadRequest(f"Invalid check: {problem}")
        if ct.service_id and ct.service_id not in self.local_services:
            raise NotFound(f'ServiceID "{ct.service_id}" does not exist')
        if ct.is_script() and not self.enable_remote_script_checks:
            raise ConsulError(SCRIPTS_DISABLED, 500)
        check_id = ct.check_id or ct.id or ct.name
        with self.store.txn() as txn:
            self._put_check(
                txn, check_id, ct.model_copy(update={"check_id": check_id}), keep_state=True
            )

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
        output = truncate_output(output)
        local.last_output = output
        self._set_status(check_id, status, output)
        self._arm_ttl(check_id)

    def record_check_result(self, check_id: str, status: str, output: str) -> None:
        """A probe's verdict for a check this agent runs (``consul-sim agent
        -enable-local-checks``); a check deregistered meanwhile is left alone."""
        local = self.checks.get(check_id)
        if local is None:
            return
        local.last_output = truncate_output(output)
        self._set_status(check_id, status, local.last_output)

    def set_service_maintenance(self, service_id: str, enable: bool, reason: str) -> None:
        svc = self.local_services.get(service_id)
        if svc is None:
            raise unknown_service(service_id)
        check_id = SERVICE_MAINT_PREFIX + service_id
        self._set_maintenance(
            check_id, SERVICE_MAINT_NAME, reason or SERVICE_MAINT_DEFAULT, service_id, enable
        )

    def set_node_maintenance(self, enable: bool, reason: str) -> None:
        self._set_maintenance(
            NODE_MAINT_ID, NODE_MAINT_NAME, reason or NODE_MAINT_DEFAULT, "", enable
        )

    def _set_maintenance(
        self, check_id: str, name: str, notes: str, service_id: str, enable: bool
    ) -> None:
        if enable == (check_id in self.checks):
            return
        with self.store.txn() as txn:
            if enable:
                ct = CheckType(
                    check_id=check_id,
                    name=name,
                    notes=notes,
                    status=CRITICAL,
                    service_id=service_id,
                )
                self._put_check(txn, check_id, ct, check_type=MAINTENANCE_TYPE)
            else:
                self._drop_check(txn, check_id)

    # -- internals ----------------------------------------------------------------------------
    def _put_check(
        self,
        txn: Txn,
        check_id: str,
        ct: CheckType,
        check_type: str = "",
        *,
        keep_state: bool = False,
    ) -> None:
        """Write a check; with ``keep_state`` a re-registered check keeps its status and output,
        as Consul restores them from its snapshot of the existing check."""
        previous = self.checks.pop(check_id, None)
        if previous is not None:
            previous.cancel()
        row = self.store.catalog.row("", self.node)
        existing = row.checks.get(check_id) if row else None
        service_name, service_tags = "", []
        if ct.service_id:
            owner = row.services.get(ct.service_id) if row else None
            if owner is not None:
                service_name, service_tags = owner.service, list(owner.tags)
        status = ct.status or CRITICAL
        output = ct.output
        if keep_state and existing is not None and previous is not None:
            status, output = existing.status, existing.output
        interval = ct.interval if _nonzero(ct.interval) else ""
        timeout = ct.timeout if _nonzero(ct.timeout) else ""
        hc = HealthCheck(
            node=self.node,
            check_id=check_id,
            name=ct.name,
            status=status,
            notes=ct.notes,
            output=output,
            service_id=ct.service_id,
            service_name=service_name,
            service_tags=service_tags,
            type=check_type or ct.check_type(),
            interval=interval,
            timeout=timeout,
            definition=CheckDefinitionView(
                http=ct.http,
                tcp=ct.tcp,
                udp=ct.udp,
                grpc=ct.grpc,
                interval=interval,
                timeout=timeout,
                deregister_critical_service_after=ct.deregister_critical_service_after,
            ),
        )
        self.store.catalog.ensure_check(txn, hc)
        ttl = parse_duration(ct.ttl) if ct.ttl else 0.0
        reap_after = 0.0
        if _nonzero(ct.deregister_critical_service_after) and ct.service_id:
            reap_after = max(
                parse_duration(ct.deregister_critical_service_after),
                CHECK_DEREGISTER_INTERVAL_MIN,
            )
        local = LocalCheck(ct, ttl, reap_after=reap_after)
        if previous is not None:
            local.last_output = previous.last_output
            if status == CRITICAL:
                local.critical_since = previous.critical_since
        self.checks[check_id] = local
        if ttl:
            self._arm_ttl(check_id)
        self._track_critical(check_id, status)

    def _drop_check(self, txn: Txn, check_id: str) -> None:
        local = self.checks.pop(check_id, None)
        if local is not None:
            local.cancel()
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
        self._track_critical(check_id, status)

    def _arm_ttl(self, check_id: str) -> None:
        local = self.checks[check_id]
        if local.timer:
            local.timer.cancel()

        local.timer = self.scheduler.call_later(
            local.ttl, partial(self._expire_ttl, check_id, local)
        )

    def _expire_ttl(self, check_id: str, local: LocalCheck) -> None:
        if self.checks.get(check_id) is not local:
            return
        local.timer = None
        last = local.last_output
        output = TTL_EXPIRED_WITH_OUTPUT + last if last else TTL_EXPIRED
        self._set_status(check_id, CRITICAL, output)

    def _track_critical(self, check_id: str, status: str) -> None:
        """Start or stop the clock of a check that may reap its service when critical too long."""
        local = self.checks.get(check_id)
        if local is None or not local.reap_after:
            return
        if status != CRITICAL:
            local.critical_since = None
            if local.reap_timer is not None:
                local.reap_timer.cancel()
                local.reap_timer = None
            return
        if local.critical_since is None:
            local.critical_since = self.scheduler.clock.now()
        if local.reap_timer is None:
            due = local.critical_since + local.reap_after
            local.reap_timer = self.scheduler.call_at(due, partial(self._reap, check_id, local))

    def _reap(self, check_id: str, local: LocalCheck) -> None:
        if self.checks.get(check_id) is not local:
            return
        local.reap_timer = None
        service_id = local.definition.service_id
        if local.critical_since is None or service_id not in self.local_services:
            return
        with self.store.txn() as txn:
            self._remove_service(txn, service_id)


def _nonzero(duration: str) -> bool:
    return bool(duration) and parse_duration(duration) != 0


def _weights_problem(weights: Weights) -> str | None:
    if weights.passing < 1:
        return "Passing must be greater than 0"
    if weights.warning < 0:
        return "Warning must be greater or equal than 0"
    if weights.passing > 65535 or weights.warning > 65535:
        return "DNS Weight must be between 0 and 65535"
    return None


def _ip_family(address: str) -> int:
    """4 or 6 for an IP literal as Go's net.ParseIP reads it (IPv4-mapped counts as 4), else 0."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return 0
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return 6
    return 4


def _checked(definitions: list[CheckType], prefix: str) -> list[CheckType]:
    """The handler's check validation: ``CheckType.Validate`` then the status word."""
    for ct in definitions:
        problem = ct.problem()
        if problem:
            raise BadRequest(f"{prefix}{problem}")
    for ct in definitions:
        if ct.status and ct.status not in CHECK_STATUSES:
            raise BadRequest(INVALID_STATUS)
    return definitions


def _sidecar_definition(sd: ServiceDefinition) -> ServiceDefinition | None:
    """The nested ``Connect.SidecarService``, decoded as strictly as the outer body, and both
    ``Proxy`` blocks refused for a key Consul's structs lack."""
    _check_proxy_keys(sd.proxy)
    raw = sidecar_raw(sd.connect)
    if raw is None:
        return None
    try:
        side = decode_body(ServiceDefinition, raw, root="", strict=True)
    except DecodeError as exc:
        raise BadRequest(f"Request decode failed: {exc}") from None
    _check_proxy_keys(side.proxy)
    return side


def _check_proxy_keys(proxy: dict[str, Any] | None) -> None:
    unknown = unknown_proxy_field(proxy)
    if unknown is not None:
        raise BadRequest(f"Request decode failed: json: unknown field {quote(unknown)}")


def _default_tagged_addresses(sd: ServiceDefinition | NodeService) -> dict[str, ServiceAddress]:
    """An IP service address is also tagged lan/wan for its family unless the caller set them."""
    tagged = dict(sd.tagged_addresses)
    family = _ip_family(sd.address)
    if family:
        for tag in (f"lan_ipv{family}", f"wan_ipv{family}"):
            tagged.setdefault(tag, ServiceAddress(address=sd.address, port=sd.port))
    return tagged


def _tagged_address_problem(svc: NodeService) -> str | None:
    # Consul checks lan_ipv6 twice and never wan_ipv6 (agent.validateService); so do we.
    for tag, family in (("lan_ipv4", 4), ("wan_ipv4", 4), ("lan_ipv6", 6)):
        sa = svc.tagged_addresses.get(tag)
        if sa is not None and _ip_family(sa.address) != family:
            return f'Service tagged address "{tag}" must be a valid ipv{family} address'
    return None


STATUS_FOR_ENDPOINT = {"pass": PASSING, "warn": WARNING, "fail": CRITICAL}
