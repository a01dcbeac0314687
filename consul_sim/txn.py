"""``/v1/txn``: several KV, Node, Service and Check operations applied all or nothing.

The rules follow Consul's three layers:

* ``agent/txn_endpoint.go`` decodes the API body (``Failed to parse body: ...``), refuses more
  than 64 operations and oversized values (413), counts the writes, and sends a transaction
  without writes to ``Txn.Read`` (no Raft, query meta in the answer) and any other to
  ``Txn.Apply``; a transaction that reports errors is answered 409 with the response body.
* ``agent/consul/txn_endpoint.go`` runs the pre-checks on every operation first (key given,
  ACLs, a lock's lock delay; a node's name and ID; a service's name; a check's ID from its
  name) and answers their errors without applying anything; after the apply, results the
  token may not read are dropped (``FilterTxnResults``).
* ``agent/consul/state/txn.go`` dispatches each operation in one state-store transaction,
  collects an error per failed operation (``OpIndex`` and ``What``) and, when there is any,
  aborts the whole transaction: ``Results`` is null. Reads answer the stored object; writes
  answer the written object, KV values blanked; deletes answer nothing.

Here the state-store transaction is one :meth:`Store.txn` over copies: the KV and catalog
tables are copied first and put back if any operation failed, so a refused transaction leaves
no trace, not even an index.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from consul_sim.errors import BadRequest, ConsulError, PermissionDenied, RequestTooLarge
from consul_sim.gostd import quote
from consul_sim.kvs import KVSRequest, apply_in, bind_tombstone_gc
from consul_sim.kvs import Op as KVOp
from consul_sim.models.base import DecodeError, decode_body, json_kind, parse_json
from consul_sim.models.catalog import CRITICAL, HealthCheck, Node, NodeService, Weights
from consul_sim.models.kv import DirEntry
from consul_sim.models.txn import CheckTxnOp, KVTxnOp, NodeTxnOp, ServiceTxnOp, TxnOp

if TYPE_CHECKING:
    from consul_sim.acl import Authorizer
    from consul_sim.scheduler import Scheduler
    from consul_sim.store import Store, Txn

MAX_OPS = 64
"""``maxTxnOps``: more operations than this are refused before anything else."""
MAX_REQUEST = 512 * 1024
"""``txn_max_req_len`` and ``kv_max_value_size``'s default (Raft's suggested entry size)."""

KV_WRITES = frozenset({"set", "delete", "delete-cas", "delete-tree", "cas", "lock", "unlock"})
"""``isWrite`` in ``agent/txn_endpoint.go``; every other KV verb (unknown ones too) reads."""

Result = dict[str, Any]


@dataclass
class Outcome:
    """What ``/v1/txn`` answers: results, or errors (then 409); ``read`` for ``Txn.Read``."""

    results: list[Result] | None
    errors: list[Result] | None
    read: bool

    @property
    def conflict(self) -> bool:
        return bool(self.errors)

    def render(self) -> dict[str, Any]:
        body: dict[str, Any] = {"Results": self.results, "Errors": self.errors}
        if self.read:
            # TxnReadResponse embeds QueryMeta, whose fields Go marshals alongside.
            body.update(
                {
                    "Index": 0,
                    "LastContact": 0,
                    "KnownLeader": True,
                    "ConsistencyLevel": "",
                    "NotModified": False,
                    "Backend": 0,
                    "ResultsFilteredByACLs": False,
                }
            )
        return body


# -- decoding ---------------------------------------------------------------------------------
def decode(raw: bytes) -> list[TxnOp]:
    """The body as ``convertOps`` takes it, with its 400 and 413 answers."""
    if len(raw) > MAX_REQUEST:
        raise RequestTooLarge(f"Request body too large, max size: {MAX_REQUEST} bytes")
    try:
        data = parse_json(raw)
        if data is None:
            return []
        if not isinstance(data, list):
            raise DecodeError(
                f"json: cannot unmarshal {json_kind(data)} into Go value of type api.TxnOps"
            )
        ops = [decode_body(TxnOp, item, root="TxnOp") for item in data if item is not None]
        values = [_base64(op.kv.value) if op.kv is not None else None for op in ops]
    except DecodeError as exc:
        raise BadRequest(f"Failed to parse body: {exc}") from None
    if len(ops) > MAX_OPS:
        raise RequestTooLarge(f"Transaction contains too many operations ({len(ops)} > {MAX_OPS})")
    for op, value in zip(ops, values, strict=True):
        if op.kv is not None and value is not None and len(value) > MAX_REQUEST:
            raise RequestTooLarge(
                f"Value for key {quote(op.kv.key)} is too large "
                f"({len(value)} > {MAX_REQUEST} bytes)"
            )
    return ops


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _base64(text: str | None) -> bytes | None:
    """Go's ``base64.StdEncoding`` as ``encoding/json`` decodes a ``[]byte``: padding
    required, line breaks skipped, and ``illegal base64 data at input byte N`` where Go's
    decoder stops (``base64.go``'s ``decodeQuantum``)."""
    if text is None:
        return None
    data = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    quantum: list[int] = []
    start = 0
    i = 0
    n = len(data)
    while i < n:
        ch = data[i]
        if ch in (0x0A, 0x0D):
            i += 1
            continue
        if not quantum:
            start = i
        if ch == ord("="):
            if len(quantum) < 2:
                raise DecodeError(f"illegal base64 data at input byte {i}")
            need = 4 - len(quantum)
            j = i
            pads = 0
            while j < n and pads < need:
                if data[j] in (0x0A, 0x0D):
                    j += 1
                    continue
                if data[j] != ord("="):
                    raise DecodeError(f"illegal base64 data at input byte {j}")
                pads += 1
                j += 1
            if pads < need:
                raise DecodeError(f"illegal base64 data at input byte {n}")
            while j < n and data[j] in (0x0A, 0x0D):
                j += 1
            if j < n:
                raise DecodeError(f"illegal base64 data at input byte {j}")
            bits = 0
            for value in quantum:
                bits = (bits << 6) | value
            bits <<= 6 * need
            out += bits.to_bytes(3, "big")[: len(quantum) - 1]
            return bytes(out)
        value = _B64.find(chr(ch))
        if value < 0:
            raise DecodeError(f"illegal base64 data at input byte {i}")
        quantum.append(value)
        if len(quantum) == 4:
            bits = 0
            for v in quantum:
                bits = (bits << 6) | v
            out += bits.to_bytes(3, "big")
            quantum = []
        i += 1
    if quantum:
        raise DecodeError(f"illegal base64 data at input byte {start}")
    return bytes(out)


def is_write(op: TxnOp) -> bool:
    if op.kv is not None:
        return op.kv.verb in KV_WRITES
    for sub in (op.node, op.service, op.check):
        if sub is not None:
            return sub.verb != "get"
    return False


# -- the transaction ----------------------------------------------------------------------------
@dataclass
class _Run:
    """One transaction's dispatch: its store, scheduler and datacenter, and what it found."""

    store: Store
    scheduler: Scheduler
    datacenter: str
    results: list[Result] = field(default_factory=list)

    def kv_result(self, entry: DirEntry | None, *, with_value: bool) -> None:
        if entry is None:
            return
        rendered = entry.render()
        if not with_value:
            rendered = {**rendered, "Value": None}
        self.results.append({"KV": rendered})


def run(
    store: Store, scheduler: Scheduler, datacenter: str, ops: list[TxnOp], authz: Authorizer
) -> Outcome:
    """Pre-check, then apply every operation in one transaction, or none of them."""
    read = not any(is_write(op) for op in ops)
    prepared = [_prepare(op) for op in ops]
    with store.lock:
        errors = _pre_check(store, prepared, authz)
        if errors:
            return Outcome(None, errors, read)
        bind_tombstone_gc(store, scheduler)
        saved = None if read else _save(store)
        work = _Run(store, scheduler, datacenter)
        errors = []
        with store.txn() as txn:
            for i, op in enumerate(prepared):
                try:
                    _dispatch(work, txn, op)
                except ConsulError as err:
                    errors.append({"OpIndex": i, "What": err.message})
            if errors and saved is not None:
                txn.tables.clear()  # nothing was written: the index stays
                store.kv, store.catalog = saved
        if errors:
            return Outcome(None, errors, read)
        return Outcome(_filter(work.results, authz), None, read)


def _save(store: Store) -> tuple[Any, Any]:
    """Copies of the tables a transaction may write. The tombstone GC's hint (it holds the
    store) and the catalog's read cache (keyed by index, never stale) are shared, not
    copied."""
    memo: dict[int, Any] = {id(store.catalog.read_cache): store.catalog.read_cache}
    hint = store.kv.graveyard.hint
    if hint is not None:
        memo[id(hint)] = hint
    return copy.deepcopy(store.kv, memo), copy.deepcopy(store.catalog, memo)


def _prepare(op: TxnOp) -> TxnOp:
    """What the pre-apply steps fill in: a service's ID from its name, a check's ID from its
    name (``servicePreApply``, ``checkPreApply``)."""
    if op.service is not None and op.service.verb != "get":
        svc = op.service.service
        if not svc.id and svc.service:
            svc = svc.model_copy(update={"id": svc.service})
            op = op.model_copy(update={"service": op.service.model_copy(update={"service": svc})})
    if op.check is not None and op.check.verb != "get":
        check = op.check.check
        if not check.check_id and check.name:
            check = check.model_copy(update={"check_id": check.name})
            op = op.model_copy(update={"check": op.check.model_copy(update={"check": check})})
    return op


def _pre_check(store: Store, ops: list[TxnOp], authz: Authorizer) -> list[Result]:
    """``Txn.preCheck``: every operation's refusal, before anything is applied."""
    errors: list[Result] = []
    for i, op in enumerate(ops):
        try:
            if op.kv is not None:
                _kv_pre_apply(store, op.kv, authz)
            elif op.node is not None and op.node.verb != "get":
                _node_pre_apply(op.node.node)
                authz.require("node", "write", op.node.node.node)
            elif op.service is not None and op.service.verb != "get":
                svc = op.service.service
                if svc.id and not svc.service:
                    raise ConsulError("Must provide service name with ID", 500)
                if svc.address in ("0.0.0.0", "::", "[::]"):
                    raise ConsulError("Invalid service address", 500)
                authz.require("service", "write", svc.service)
            elif op.check is not None and op.check.verb != "get":
                check = op.check.check
                authz.require("node", "write", check.node)
                if check.service_name:
                    authz.require("service", "write", check.service_name)
        except ConsulError as err:
            errors.append({"OpIndex": i, "What": err.message})
    return errors


def _kv_pre_apply(store: Store, op: KVTxnOp, authz: Authorizer) -> None:
    """``kvsPreApply``: a key, the ACL each verb needs, and the lock delay."""
    if not op.key and op.verb != "delete-tree":
        raise ConsulError("Must provide key", 500)
    if op.verb == "delete-tree":
        if not authz.key_write_prefix(op.key):
            from consul_sim.acl import WRITE, permission_denied

            raise PermissionDenied(permission_denied(authz.accessor_id, "key", WRITE, op.key))
    elif op.verb in ("get", "get-tree"):
        pass  # filtered on the way out
    elif op.verb in ("check-session", "check-index"):
        authz.require("key", "read", op.key)
    else:
        authz.require("key", "write", op.key)
    if op.verb == "lock" and store.sessions.lock_delay_active(op.key):
        raise ConsulError(f"failed to lock key {quote(op.key)} due to lock delay", 500)


def _node_pre_apply(node: Node) -> None:
    if not node.node:
        raise ConsulError("Must provide node", 500)
    if node.id:
        try:
            uuid.UUID(node.id)
        except ValueError:
            raise ConsulError(f"Bad node ID: invalid UUID {node.id!r}", 500) from None


def _dispatch(work: _Run, txn: Txn, op: TxnOp) -> None:
    if op.kv is not None:
        _kv(work, txn, op.kv)
    elif op.node is not None:
        _node(work, txn, op.node)
    elif op.service is not None:
        _service(work, txn, op.service)
    elif op.check is not None:
        _check(work, txn, op.check)
    else:
        raise ConsulError("no operation specified", 500)


def _fail(text: str) -> ConsulError:
    return ConsulError(text, 500)


# -- KV (txnKVS) --------------------------------------------------------------------------------
def _kv(work: _Run, txn: Txn, op: KVTxnOp) -> None:
    store = work.store
    key = op.key
    verb = op.verb
    if verb in KV_WRITES:
        req = KVSRequest(
            op=KVOp(verb),
            key=key,
            value=_base64(op.value) or b"",
            flags=op.flags,
            index=op.index,
            session=op.session,
        )
        ok = apply_in(store, txn, req)
        if not ok:
            raise _fail(_KV_REFUSALS[verb].format(key=quote(key)))
        if verb not in ("delete", "delete-cas", "delete-tree"):
            work.kv_result(store.kv.get(key), with_value=False)
        return
    existing = store.kv.get(key)
    if verb == "get":
        if existing is None:
            raise _fail(f"key {quote(key)} doesn't exist")
        work.kv_result(existing, with_value=True)
    elif verb == "get-or-empty":
        work.kv_result(existing or DirEntry(key=key, flags=op.flags), with_value=True)
    elif verb == "get-tree":
        for entry in store.kv.with_prefix(key):
            work.kv_result(entry, with_value=True)
    elif verb == "check-session":
        if existing is None:
            raise _fail(f"failed to check session, key {quote(key)} doesn't exist")
        if existing.session != op.session:
            raise _fail(
                f"failed session check for key {quote(key)}, current session "
                f"{quote(existing.session)} != {quote(op.session)}"
            )
        work.kv_result(existing, with_value=False)
    elif verb == "check-index":
        if existing is None:
            raise _fail(f"failed to check index, key {quote(key)} doesn't exist")
        if existing.modify_index != op.index:
            raise _fail(
                f"failed index check for key {quote(key)}, current modify index "
                f"{existing.modify_index} != {op.index}"
            )
        work.kv_result(existing, with_value=False)
    elif verb == "check-not-exists":
        if existing is not None:
            raise _fail(f"key {quote(key)} exists")
    else:
        raise _fail(f"unknown KV verb {quote(verb)}")


_KV_REFUSALS = {
    "cas": "failed to set key {key}, index is stale",
    "lock": "failed to lock key {key}, lock is already held",
    "unlock": "failed to unlock key {key}, lock isn't held, or is held by another session",
    "delete-cas": "failed to delete key {key}, index is stale",
}


# -- Node (txnNode) -----------------------------------------------------------------------------
def _node(work: _Run, txn: Txn, op: NodeTxnOp) -> None:
    catalog = work.store.catalog
    node = op.node
    if not node.datacenter:
        node = node.model_copy(update={"datacenter": work.datacenter})
    row = _node_row(work.store, node)
    verb = op.verb
    if verb == "get":
        if row is None:
            raise _fail(f"node {quote(node.node)} doesn't exist")
        work.results.append({"Node": row.node.render()})
    elif verb in ("set", "cas"):
        if verb == "cas" and not _cas_matches(row.node if row else None, node.modify_index):
            raise _fail(f"failed to set node {quote(node.node)}, index is stale")
        written = catalog.ensure_node(
            txn, node.model_copy(update={"create_index": 0, "modify_index": 0})
        )
        work.results.append({"Node": written.render()})
    elif verb == "delete":
        catalog.delete_node(txn, "", node.node)
    elif verb == "delete-cas":
        if row is None or row.node.modify_index != node.modify_index:
            raise _fail(f"failed to delete node {quote(node.node)}, index is stale")
        catalog.delete_node(txn, "", node.node)
    else:
        raise _fail(f"unknown Node verb {quote(verb)}")


def _node_row(store: Store, node: Node) -> Any:
    """``getNode``: by ID when one is given, else by name."""
    if node.id:
        for row in store.catalog.rows(""):
            if row.node.id.lower() == node.id.lower():
                return row
        return None
    return store.catalog.row("", node.node)


def _cas_matches(existing: Any, index: int) -> bool:
    """The CAS rule of every ``ensure*CASTxn``: 0 only creates, else the index must match."""
    if index == 0:
        return existing is None
    return existing is not None and existing.modify_index == index


# -- Service (txnService) -----------------------------------------------------------------------
def _service(work: _Run, txn: Txn, op: ServiceTxnOp) -> None:
    catalog = work.store.catalog
    row = catalog.row("", op.node)
    svc = op.service
    existing = row.services.get(svc.id) if row is not None else None
    verb = op.verb
    if verb == "get":
        if existing is None:
            raise _fail(f"service {quote(svc.id)} on node {quote(op.node)} doesn't exist")
        work.results.append({"Service": existing.render()})
    elif verb in ("set", "cas"):
        if verb == "cas" and not _cas_matches(existing, svc.modify_index):
            raise _fail(
                f"failed to set service {quote(svc.id)} on node {quote(op.node)}, index is stale"
            )
        if row is None:
            raise _fail("Missing node registration")
        written = catalog.ensure_service(txn, row.node.node, _as_registered(svc))
        work.results.append({"Service": written.render()})
    elif verb == "delete":
        catalog.delete_service(txn, "", op.node, svc.id)
    elif verb == "delete-cas":
        if existing is None or existing.modify_index != svc.modify_index:
            raise _fail(
                f"failed to delete service {quote(svc.id)} on node {quote(op.node)}, index is stale"
            )
        catalog.delete_service(txn, "", op.node, svc.id)
    else:
        raise _fail(f"unknown Service verb {quote(verb)}")


def _as_registered(svc: NodeService) -> NodeService:
    """The fields ``convertOps`` copies from the API's service into the stored one, tagged
    addresses included (the Go client's ``TestAPI_ClientTxnWrite`` reads them back); the
    weights are the API struct's, zero when not given, which the store turns into 1/1
    (:meth:`NodeService.weights_json`)."""
    weights = svc.weights or Weights(passing=0, warning=0)
    return NodeService(
        id=svc.id,
        service=svc.service,
        tags=list(svc.tags),
        address=svc.address,
        tagged_addresses=dict(svc.tagged_addresses),
        meta=dict(svc.meta),
        port=svc.port,
        weights=weights,
        enable_tag_override=svc.enable_tag_override,
    )


# -- Check (txnCheck) ---------------------------------------------------------------------------
def _check(work: _Run, txn: Txn, op: CheckTxnOp) -> None:
    catalog = work.store.catalog
    check = op.check
    row = catalog.row("", check.node)
    existing = row.checks.get(check.check_id) if row is not None else None
    verb = op.verb
    if verb == "get":
        if existing is None:
            raise _fail(f"check {quote(check.check_id)} on node {quote(check.node)} doesn't exist")
        work.results.append({"Check": _check_result(existing)})
    elif verb in ("set", "cas"):
        if verb == "cas" and not _cas_matches(existing, check.modify_index):
            raise _fail(
                f"failed to set check {quote(check.check_id)} on node {quote(check.node)}, "
                "index is stale"
            )
        if row is None:
            raise _fail("Missing node registration")
        owner = row.services.get(check.service_id) if check.service_id else None
        if check.service_id and owner is None:
            raise _fail("Missing service registration")
        written = catalog.ensure_check(txn, _as_stored(check, row.node.node, owner))
        work.results.append({"Check": _check_result(written)})
    elif verb == "delete":
        catalog.delete_check(txn, "", check.node, check.check_id)
    elif verb == "delete-cas":
        if existing is None or existing.modify_index != check.modify_index:
            raise _fail(
                f"failed to delete check {quote(check.check_id)} on node {quote(check.node)}, "
                "index is stale"
            )
        catalog.delete_check(txn, "", check.node, check.check_id)
    else:
        raise _fail(f"unknown Check verb {quote(verb)}")


def _check_result(check: HealthCheck) -> dict[str, Any]:
    """A check as ``/v1/txn`` answers it: the state store's struct as it is, so a check with no
    service tags has ``ServiceTags`` null (the health endpoints alone turn nil into ``[]``).
    The simulator does not tell nil from an empty list; empty is rendered null here."""
    out = check.render()
    if out["ServiceTags"]:
        return out
    return {**out, "ServiceTags": None}


def _as_stored(check: HealthCheck, node: str, owner: NodeService | None) -> HealthCheck:
    """``ensureCheckTxn``: critical unless a status is given, the service's name and tags."""
    return check.model_copy(
        update={
            "node": node,
            "status": check.status or CRITICAL,
            "service_name": owner.service if owner else "",
            "service_tags": list(owner.tags) if owner else [],
            "create_index": 0,
            "modify_index": 0,
        }
    )


# -- results the token may read (FilterTxnResults) ----------------------------------------------
def _filter(results: list[Result], authz: Authorizer) -> list[Result]:
    readable: Callable[[Result], bool] = lambda r: _may_read(r, authz)  # noqa: E731
    return [r for r in results if readable(r)]


def _may_read(result: Result, authz: Authorizer) -> bool:
    if "KV" in result:
        return authz.allowed("key", "read", result["KV"]["Key"])
    if "Node" in result:
        return authz.allowed("node", "read", result["Node"]["Node"])
    if "Service" in result:
        return authz.allowed("service", "read", result["Service"]["Service"])
    check = result["Check"]
    if check["ServiceName"]:
        return authz.allowed("service", "read", check["ServiceName"])
    return authz.allowed("node", "read", check["Node"])
