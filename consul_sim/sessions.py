"""Sessions: what Consul's ``Session`` RPCs, its state store and the leader's TTL timers do.

The facts follow Consul's ``agent/session_endpoint.go``, ``agent/consul/session_endpoint.go``,
``agent/consul/state/session.go`` (and ``session_ce.go``), ``agent/consul/session_ttl.go`` and
``agent/structs/structs.go``:

* a create defaults to the agent's node, ``NodeChecks: ["serfHealth"]``, a 15 s lock delay and
  ``release``; ``Checks`` is the pre-1.7 spelling, and an empty ``Checks`` list clears the default
  node check;
* ``LockDelay`` is a Go duration string or a number of nanoseconds, and any value under 1000 (ns)
  is taken as seconds; the lock delay enforced on invalidation is capped at 60 s;
* ``TTL`` is ``""`` or a duration of 0 or between 10 s and 24 h; the leader invalidates a TTL
  session 2 x TTL after its creation or last renewal;
* the node and every check must exist, and no check may be critical, when the session is created;
  afterwards the session is invalidated when its node is deregistered, or one of its checks is
  deregistered or goes critical;
* invalidating a session releases (or, with ``delete``, deletes) every key it holds and starts the
  lock delay on each, during which no session may acquire that key.

Invalidation on catalog changes runs from a store watch: after any commit that moved a catalog
table, sessions whose node or checks are gone or critical are destroyed in the next transaction
(Consul does it in the same Raft entry; here it is the next index).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from consul_sim.acl import Authorizer
from consul_sim.durations import DurationError, format_duration, parse_duration
from consul_sim.errors import ConsulError
from consul_sim.kvs import delete_held, release_held
from consul_sim.models.base import DecodeError, json_kind, parse_json
from consul_sim.models.catalog import CRITICAL, SERF_CHECK_ID
from consul_sim.rand import SimRandom
from consul_sim.scheduler import Scheduler
from consul_sim.store import Store, Txn
from consul_sim.store.catalog import CHECKS, NODES, SERVICES
from consul_sim.store.sessions import DELETE, RELEASE, SESSIONS, ServiceCheck, Session

__all__ = [
    "DELETE",
    "RELEASE",
    "SESSIONS",
    "Session",
    "SessionSpec",
    "create",
    "decode_create",
    "destroy",
    "get",
    "list_all",
    "node_sessions",
    "renew",
]

NS = 1_000_000_000
DEFAULT_LOCK_DELAY = 15 * NS
MAX_LOCK_DELAY = 60 * NS
LOCK_DELAY_MIN_THRESHOLD = 1000
"""A lock delay below this many nanoseconds is read as seconds (users send ``5``)."""
SESSION_TTL_MIN = 10 * NS
SESSION_TTL_MAX = 24 * 3600 * NS
SESSION_TTL_MULTIPLIER = 2
_ZERO_TTLS = ("", "0", "0s", "0m", "0h")


@dataclass
class SessionSpec:
    """A create request after decoding and Consul's defaults; ``None`` lists are Go's nil."""

    node: str
    name: str = ""
    lock_delay: int = DEFAULT_LOCK_DELAY
    behavior: str = RELEASE
    ttl: str = ""
    node_checks: list[str] | None = None
    service_checks: list[ServiceCheck] | None = None
    checks: list[str] | None = None


# -- decoding the create body -------------------------------------------------------------------
_AUX_TYPE = "struct { LockDelay interface {}; *structs.Alias }"
_STRING_FIELDS = {"id": "ID", "name": "Name", "node": "Node", "ttl": "TTL", "behavior": "Behavior"}
_GO_TYPES = {"Behavior": "structs.SessionBehavior"}


def _type_error(value: Any, field: str, go_type: str) -> DecodeError:
    # The anonymous wrapper struct of Session.UnmarshalJSON has no name, hence the bare dot.
    return DecodeError(
        f"json: cannot unmarshal {json_kind(value)} into Go struct field .{field} of type {go_type}"
    )


def _strings(value: Any, field: str, go_type: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _type_error(value, field, "[]" + go_type)
    out: list[str] = []
    for item in value:
        if item is None:
            out.append("")
        elif not isinstance(item, str):
            raise _type_error(item, field, go_type)
        else:
            out.append(item)
    return out


def _service_checks(value: Any) -> list[ServiceCheck] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _type_error(value, "ServiceChecks", "[]structs.ServiceCheck")
    out: list[ServiceCheck] = []
    for item in value:
        if item is None:
            out.append(ServiceCheck(""))
            continue
        if not isinstance(item, dict):
            raise _type_error(item, "ServiceChecks", "structs.ServiceCheck")
        fields = {"id": "", "namespace": ""}
        for key, v in item.items():
            name = key.lower()
            if name not in fields or v is None:
                continue
            if not isinstance(v, str):
                label = "ID" if name == "id" else "Namespace"
                raise _type_error(v, f"ServiceChecks.{label}", "string")
            fields[name] = v
        out.append(ServiceCheck(fields["id"], fields["namespace"]))
    return out


def _lock_delay(value: Any) -> int:
    """Session.UnmarshalJSON: a duration string or float nanoseconds; other kinds give 0."""
    nanos = 0
    if isinstance(value, str):
        try:
            nanos = round(parse_duration(value) * NS)
        except DurationError as exc:
            raise DecodeError(str(exc)) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        nanos = math.trunc(value)
    if nanos < LOCK_DELAY_MIN_THRESHOLD:
        nanos *= NS
    return nanos


def decode_create(raw: bytes, default_node: str) -> SessionSpec:
    """The create body as Consul decodes it over its defaults; raises DecodeError with Go's
    sentence. Unknown keys are ignored: Session's own UnmarshalJSON does not refuse them."""
    spec = SessionSpec(node=default_node, node_checks=[SERF_CHECK_ID], checks=[SERF_CHECK_ID])
    if raw:
        data = parse_json(raw)
        if data is not None:
            _apply_body(spec, data)
    _fixup_empty_checks(spec)
    return spec


def _apply_body(spec: SessionSpec, data: Any) -> None:
    if not isinstance(data, dict):
        raise DecodeError(
            f"json: cannot unmarshal {json_kind(data)} into Go value of type {_AUX_TYPE}"
        )
    first_error: DecodeError | None = None
    lock_delay: Any = None
    for key, value in data.items():
        name = key.lower()
        try:
            if name == "lockdelay":
                lock_delay = value
            elif name in _STRING_FIELDS:
                field = _STRING_FIELDS[name]
                if value is None:
                    continue
                if not isinstance(value, str):
                    raise _type_error(value, field, _GO_TYPES.get(field, "string"))
                if field != "ID":
                    setattr(spec, field.lower(), value)
            elif name == "nodechecks":
                spec.node_checks = _strings(value, "NodeChecks", "string")
            elif name == "checks":
                spec.checks = _strings(value, "Checks", "types.CheckID")
            elif name == "servicechecks":
                spec.service_checks = _service_checks(value)
            elif name in ("createindex", "modifyindex") and value is not None:
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    field = "CreateIndex" if name == "createindex" else "ModifyIndex"
                    raise _type_error(value, field, "uint64")
        except DecodeError as exc:
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    if lock_delay is not None:
        spec.lock_delay = _lock_delay(lock_delay)


def _fixup_empty_checks(spec: SessionSpec) -> None:
    """Consul's fixupEmptySessionChecks: ``Checks: []`` empties the default ``NodeChecks``; the
    untouched default ``Checks`` is dropped in favour of ``NodeChecks``; ``NodeChecks: []``
    drops the default ``Checks``."""
    if not spec.checks:
        spec.node_checks = []
        return
    if spec.checks == [SERF_CHECK_ID]:
        spec.checks = None
        return
    if not spec.node_checks:
        spec.checks = None


# -- writes --------------------------------------------------------------------------------------
def _ttl_nanos(ttl: str) -> int:
    try:
        return round(parse_duration(ttl) * NS)
    except DurationError as exc:
        raise ConsulError(f"Session TTL '{ttl}' invalid: {exc}") from None


def create(
    store: Store, scheduler: Scheduler, rand: SimRandom, spec: SessionSpec, authz: Authorizer
) -> str:
    """Session.Apply with op create: the new session's ID."""
    if spec.node == "":
        raise ConsulError("Must provide Node")
    authz.require("session", "write", spec.node)
    behavior = spec.behavior or RELEASE
    if behavior not in (RELEASE, DELETE):
        raise ConsulError(f"Invalid Behavior setting '{behavior}'")
    if spec.ttl != "":
        ttl = _ttl_nanos(spec.ttl)
        if ttl != 0 and not SESSION_TTL_MIN <= ttl <= SESSION_TTL_MAX:
            raise ConsulError(
                f"Invalid Session TTL '{ttl}', must be between "
                f"[{format_duration(SESSION_TTL_MIN / NS)}={format_duration(SESSION_TTL_MAX / NS)}]"
            )
    _bind(store, scheduler)
    with store.lock:
        session_id = rand.uuid()
        while store.sessions.get(session_id) is not None:
            session_id = rand.uuid()
        session = Session(
            id=session_id,
            node=spec.node,
            name=spec.name,
            lock_delay=spec.lock_delay,
            behavior=behavior,
            ttl=spec.ttl,
            node_checks=None if spec.node_checks is None else tuple(spec.node_checks),
            service_checks=None if spec.service_checks is None else tuple(spec.service_checks),
            checks=tuple(spec.checks or ()),
        )
        problem = _creation_problem(store, session)
        if problem is not None:
            raise ConsulError(f"apply failed: {problem}")
        with store.txn() as txn:
            index = txn.touch(SESSIONS)
            store.sessions.put(replace(session, create_index=index, modify_index=index))
        _reset_timer(store, scheduler, store.sessions.sessions[session_id])
    return session_id


def _creation_problem(store: Store, session: Session) -> str | None:
    """What the state store refuses: a node it does not know, a check it does not know or one
    already critical."""
    row = store.catalog.row("", session.node)
    if row is None:
        return "Missing node registration"
    for check_id in session.check_ids():
        check = _find_check(row.checks, check_id)
        if check is None:
            return f"Missing check '{check_id}' registration"
        if check.status == CRITICAL:
            return f"Check '{check_id}' is in {CRITICAL} state"
    return None


def _find_check(checks: dict[str, Any], check_id: str) -> Any:
    """Consul's check index lowercases IDs, so a session names its checks case-insensitively."""
    found = checks.get(check_id)
    if found is not None:
        return found
    wanted = check_id.lower()
    for cid, check in checks.items():
        if cid.lower() == wanted:
            return check
    return None


def _lookup(store: Store, session_id: str) -> Session | None:
    """Sessions are found through a lower-cased ID index."""
    return store.sessions.get(session_id) or store.sessions.get(session_id.lower())


def destroy(store: Store, scheduler: Scheduler, session_id: str, authz: Authorizer) -> None:
    """Session.Apply with op destroy: an unknown session is not an error."""
    with store.lock:
        session = _lookup(store, session_id)
        if session is None:
            return
        authz.require("session", "write", session.node)
        _bind(store, scheduler)
        with store.txn() as txn:
            _invalidate(store, txn, scheduler, session)


def renew(store: Store, scheduler: Scheduler, session_id: str, authz: Authorizer) -> Session | None:
    """Session.Renew: restart the TTL timer; None when the session is gone."""
    with store.lock:
        session = _lookup(store, session_id)
        if session is None:
            return None
        authz.require("session", "write", session.node)
        _reset_timer(store, scheduler, session)
        return session


def _reset_timer(store: Store, scheduler: Scheduler, session: Session) -> None:
    old = store.sessions.timers.pop(session.id, None)
    if old is not None:
        old.cancel()
    if session.ttl in _ZERO_TTLS:
        return
    try:
        ttl = parse_duration(session.ttl)
    except DurationError:
        return
    if ttl == 0:
        return

    timer = scheduler.call_later(
        ttl * SESSION_TTL_MULTIPLIER, partial(_expire, store, scheduler, session.id)
    )
    store.sessions.timers[session.id] = timer


def rearm_timers(store: Store, scheduler: Scheduler) -> None:
    """A fresh TTL timer for every session, as Consul's leader gives them when it takes over
    or after a snapshot restore (``initializeSessionTimers``, ``agent/consul/session_ttl.go``):
    the table's old timers are the caller's to cancel."""
    store.sessions.timers = {}
    for session in store.sessions.all():
        _reset_timer(store, scheduler, session)


def _expire(store: Store, scheduler: Scheduler, session_id: str) -> None:
    """A session's TTL ran out (a module function, not a closure, so the timer that calls it
    can go into a world snapshot). A renewed or destroyed session's old timer was cancelled
    and never gets here."""
    current = store.sessions.get(session_id)
    if current is None or session_id not in store.sessions.timers:
        return
    with store.txn() as txn:
        _invalidate(store, txn, scheduler, current)


def _invalidate(store: Store, txn: Txn, scheduler: Scheduler, session: Session) -> None:
    """Delete the session, then release or delete what it holds, each key starting its lock
    delay (capped at 60 s); the TTL timer goes with it."""
    table = store.sessions
    if table.delete(session.id) is None:
        return
    txn.touch(SESSIONS)
    timer = table.timers.pop(session.id, None)
    if timer is not None:
        timer.cancel()
    delay = min(session.lock_delay, MAX_LOCK_DELAY)
    now = scheduler.clock.now()
    held = [e.key for e in store.kv.entries.values() if e.session == session.id]
    for key in sorted(held):
        if session.behavior == DELETE:
            delete_held(store, txn, key)
        else:
            release_held(store, txn, key)
        if delay > 0:
            table.lock_delays[key] = now + delay / NS


# -- invalidation on catalog changes ------------------------------------------------------------
def _bind(store: Store, scheduler: Scheduler) -> None:
    """Give the table its clock and, once, the watch that invalidates sessions whose node or
    checks went away or critical."""
    table = store.sessions
    table.clock = scheduler.clock
    if table.watching:
        return
    table.watching = True
    store.watches.add(partial(_check_health, store, scheduler), keep=True)


def _catalog_indexes(store: Store) -> tuple[int, ...]:
    return tuple(store.table_index.get(t, 0) for t in (NODES, SERVICES, CHECKS))


def _check_health(store: Store, scheduler: Scheduler) -> None:
    table = store.sessions
    with store.lock:
        if not table.sessions:
            return
        seen = _catalog_indexes(store)
        if seen == table.catalog_seen:
            return
        table.catalog_seen = seen
        doomed = [s for s in table.all() if not _still_valid(store, s)]
        if not doomed:
            return
        with store.txn() as txn:
            for session in doomed:
                _invalidate(store, txn, scheduler, session)


def _still_valid(store: Store, session: Session) -> bool:
    row = store.catalog.row("", session.node)
    if row is None:
        return False
    for check_id in session.check_ids():
        check = _find_check(row.checks, check_id)
        if check is None or check.status == CRITICAL:
            return False
    return True


# -- reads ---------------------------------------------------------------------------------------
def get(store: Store, session_id: str) -> tuple[int, list[Session]]:
    with store.lock:
        session = _lookup(store, session_id)
        return store.max_index((SESSIONS,)), [session] if session is not None else []


def list_all(store: Store) -> tuple[int, list[Session]]:
    with store.lock:
        return store.max_index((SESSIONS,)), store.sessions.all()


def node_sessions(store: Store, node: str) -> tuple[int, list[Session]]:
    with store.lock:
        return store.max_index((SESSIONS,)), store.sessions.on_node(node)
