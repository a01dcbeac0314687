"""The KV store's rules: what Consul's ``KVS.Apply`` does to the state store, and which index
each KV read reports.

The facts follow Consul's ``agent/consul/state/kvs.go`` and ``agent/consul/kvs_endpoint.go``:

* a set whose entry equals the stored one (same value, flags, session and lock index) writes
  nothing, so ModifyIndex stays and blocking readers sleep on (Consul >= 1.6);
* ``cas`` with index 0 only creates; with another index it only replaces that exact revision;
* a CAS delete of a key that is already gone answers true;
* a plain set never changes the key's session, and carries lock index 0 from the HTTP handler;
* deletes leave tombstones, so an index never slides backwards when a key goes away;
* a single-key read reports the key's ModifyIndex, or the table's index when it is missing; a
  prefix read reports the highest ModifyIndex or tombstone under the prefix, else the table's.

Tombstones do not live forever: Consul's ``TombstoneGC`` (``agent/consul/state/tombstone_gc.go``)
is hinted each new tombstone's index, bins it by the moment it expires (``tombstone_ttl``, 15 min,
rounded up to the next multiple of ``tombstone_ttl_granularity``, 30 s, so one timer serves every
delete of a 30 s window), and when a bin's timer fires the leader reaps every tombstone at or
below the bin's highest index (``ReapTombstones``). Here the timer is the world's scheduler, so
the virtual clock drives it. Once a prefix's tombstones are reaped, Consul reports the highest
live ModifyIndex under it (or the table's index when none is left); a prefix that still holds
older keys would then report an index below the delete it reported before. We keep the highest
reaped index and never report less for a non-empty answer, so a blocking reader's index never goes
backwards; the cost is that a prefix read may report a later index after a reap elsewhere, which
only wakes a blocking reader early, as Consul's own index resets do.

Locks follow ``kvsLockTxn``/``kvsUnlockTxn`` and the leader's pre-apply check:

* an acquire is refused (false, not an error) while the key's lock delay runs, before the
  session is even looked at; then an empty session is ``missing session`` and an unknown one
  ``invalid session "<id>"``;
* acquiring a free key increments its LockIndex (a new key starts at 1) and sets Session;
  re-acquiring with the holding session keeps the LockIndex and only updates the value; a key
  another session holds answers false;
* a release by the holder clears Session and keeps LockIndex; by anyone else it answers false.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import partial

from consul_sim.errors import ConsulError, RequestTooLarge
from consul_sim.gostd import quote as go_quote
from consul_sim.models.kv import DirEntry
from consul_sim.scheduler import Scheduler
from consul_sim.store import Store, Txn
from consul_sim.store.kv import KVS

MAX_VALUE_SIZE = 512 * 1024
"""``kv_max_value_size``'s default."""

MAX_VALUE_SIZE_DOCS = (
    "https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size"
)


class Op(StrEnum):
    """Consul's ``api.KVOp`` values that ``KVS.Apply`` accepts."""

    SET = "set"
    CAS = "cas"
    LOCK = "lock"
    UNLOCK = "unlock"
    DELETE = "delete"
    DELETE_CAS = "delete-cas"
    DELETE_TREE = "delete-tree"


@dataclass(frozen=True)
class KVSRequest:
    """One ``KVS.Apply``: ``index`` is the CAS index, ``session`` the lock holder."""

    op: Op
    key: str
    value: bytes = b""
    flags: int = 0
    index: int = 0
    session: str = ""


def check_value_size(length: int, limit: int = MAX_VALUE_SIZE) -> None:
    """Consul refuses a value by its declared Content-Length, before reading the body."""
    if length > limit:
        raise RequestTooLarge(
            f"Request body({length} bytes) too large, max size: {limit} bytes. "
            f"See {MAX_VALUE_SIZE_DOCS}."
        )


# -- tombstone GC ---------------------------------------------------------------------------------
TOMBSTONE_TTL = 15 * 60.0
"""``tombstone_ttl``'s default: how long a delete stays visible to prefix reads' indexes."""
TOMBSTONE_TTL_GRANULARITY = 30.0
"""``tombstone_ttl_granularity``'s default: expirations are binned to this, one timer a bin."""


class TombstoneGC:
    """Reaps a store's tombstones ``ttl`` (rounded up to ``granularity``) after their delete,
    on the scheduler's clock, as Consul's ``TombstoneGC`` and the leader's reap do."""

    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        *,
        ttl: float = TOMBSTONE_TTL,
        granularity: float = TOMBSTONE_TTL_GRANULARITY,
    ) -> None:
        if ttl <= 0 or granularity <= 0:
            raise ValueError("Tombstone TTL and granularity must be positive")
        self.store = store
        self.scheduler = scheduler
        self.ttl = ttl
        self.granularity = granularity
        self._bins: dict[float, int] = {}
        """Expiry moment -> the highest tombstone index to reap then."""

    def next_expires(self) -> float:
        """``now + ttl`` moved up to the next multiple of the granularity (a full granularity
        when it is one already, as Consul's ``nextExpires``). Computed from the bin number so
        every hint in a bin lands on the very same float."""
        expires = self.scheduler.clock.now() + self.ttl
        return (math.floor(expires / self.granularity) + 1) * self.granularity

    def hint(self, index: int) -> None:
        expires = self.next_expires()
        if expires in self._bins:
            self._bins[expires] = max(self._bins[expires], index)
            return
        self._bins[expires] = index
        self.scheduler.call_at(expires, partial(self._expire, expires))

    def pending(self) -> bool:
        """Whether some tombstones wait for their bin's timer."""
        return bool(self._bins)

    def _expire(self, expires: float) -> None:
        index = self._bins.pop(expires, 0)
        if index:
            with self.store.lock:
                self.store.kv.graveyard.reap(index)


def bind_tombstone_gc(store: Store, scheduler: Scheduler) -> None:
    """Give the store's graveyard its GC, once (the first KV write does it; a store's
    tombstones all come from KV writes, or from sessions holding keys those writes locked)."""
    graveyard = store.kv.graveyard
    if graveyard.hint is None:
        graveyard.hint = TombstoneGC(store, scheduler).hint


# -- writes --------------------------------------------------------------------------------------
def apply(store: Store, scheduler: Scheduler, req: KVSRequest) -> bool:
    """Apply one KV operation in its own transaction; the bool is what Consul's RPC answers.
    ``scheduler`` runs the tombstone GC's timers."""
    if req.key == "" and req.op is not Op.DELETE_TREE:
        raise ConsulError("Must provide key")
    bind_tombstone_gc(store, scheduler)
    with store.txn() as txn:
        return apply_in(store, txn, req)


def apply_in(store: Store, txn: Txn, req: KVSRequest) -> bool:
    """One KV operation inside a transaction someone else holds (``/v1/txn``'s KV verbs);
    the caller has bound the tombstone GC and checked the key."""
    if req.op is Op.SET:
        _set(store, txn, req, session=None)
        return True
    if req.op is Op.CAS:
        return _set_cas(store, txn, req)
    if req.op is Op.LOCK:
        return _lock(store, txn, req)
    if req.op is Op.UNLOCK:
        return _unlock(store, txn, req)
    if req.op is Op.DELETE:
        _delete(store, txn, req.key)
        return True
    if req.op is Op.DELETE_CAS:
        return _delete_cas(store, txn, req)
    _delete_tree(store, txn, req.key)
    return True


def _set(
    store: Store, txn: Txn, req: KVSRequest, *, session: str | None, lock_index: int = 0
) -> None:
    """Write unless nothing would change; ``session=None`` keeps the stored entry's session."""
    existing = store.kv.get(req.key)
    if session is None:
        session = existing.session if existing is not None else ""
    if existing is not None and (
        existing.value == req.value
        and existing.flags == req.flags
        and existing.session == session
        and existing.lock_index == lock_index
    ):
        return
    index = txn.touch(KVS)
    store.kv.put(
        DirEntry(
            key=req.key,
            value=req.value,
            flags=req.flags,
            session=session,
            lock_index=lock_index,
            create_index=existing.create_index if existing is not None else index,
            modify_index=index,
        )
    )


def _set_cas(store: Store, txn: Txn, req: KVSRequest) -> bool:
    existing = store.kv.get(req.key)
    if req.index == 0:
        if existing is not None:
            return False
    elif existing is None or existing.modify_index != req.index:
        return False
    _set(store, txn, req, session=None)
    return True


def _lock(store: Store, txn: Txn, req: KVSRequest) -> bool:
    if store.sessions.lock_delay_active(req.key):
        return False
    if not req.session:
        raise ConsulError("missing session")
    table = store.sessions
    if table.get(req.session) is None and table.get(req.session.lower()) is None:
        raise ConsulError(f"invalid session {go_quote(req.session)}")
    existing = store.kv.get(req.key)
    if existing is None:
        lock_index = 1
    elif existing.session == req.session:
        lock_index = existing.lock_index
    elif existing.session:
        return False
    else:
        lock_index = existing.lock_index + 1
    _set(store, txn, req, session=req.session, lock_index=lock_index)
    return True


def _unlock(store: Store, txn: Txn, req: KVSRequest) -> bool:
    if not req.session:
        raise ConsulError("missing session")
    existing = store.kv.get(req.key)
    if existing is None or existing.session != req.session:
        return False
    _set(store, txn, req, session="", lock_index=existing.lock_index)
    return True


def _delete(store: Store, txn: Txn, key: str) -> None:
    if store.kv.delete(key):
        store.kv.bury(key, txn.touch(KVS))


def _delete_cas(store: Store, txn: Txn, req: KVSRequest) -> bool:
    existing = store.kv.get(req.key)
    if existing is None:
        return True
    if existing.modify_index != req.index:
        return False
    _delete(store, txn, req.key)
    return True


def release_held(store: Store, txn: Txn, key: str) -> None:
    """An invalidated session's ``release``: the key keeps its value and LockIndex, loses its
    Session."""
    existing = store.kv.get(key)
    if existing is None:
        return
    req = KVSRequest(op=Op.SET, key=key, value=existing.value, flags=existing.flags)
    _set(store, txn, req, session="", lock_index=existing.lock_index)


def delete_held(store: Store, txn: Txn, key: str) -> None:
    """An invalidated session's ``delete``: the key goes, leaving a tombstone."""
    _delete(store, txn, key)


def _delete_tree(store: Store, txn: Txn, prefix: str) -> None:
    if not store.kv.delete_prefix(prefix):
        return
    index = txn.touch(KVS)
    if prefix:
        # Deleting everything needs no tombstone: the table's index already covers every key.
        store.kv.bury(prefix, index)


# -- reads ---------------------------------------------------------------------------------------
def get(store: Store, key: str) -> tuple[int, DirEntry | None]:
    with store.lock:
        entry = store.kv.get(key)
        if entry is not None:
            return entry.modify_index, entry
        return store.max_index((KVS,)), None


def list_entries(store: Store, prefix: str) -> tuple[int, list[DirEntry]]:
    """Entries under prefix, sorted by key."""
    with store.lock:
        entries = store.kv.with_prefix(prefix)
        return _prefix_index(store, prefix, entries), entries


def list_keys(store: Store, prefix: str, separator: str = "") -> tuple[int, list[str]]:
    """Keys under prefix, cut after the first separator past it; keys left out still count in
    the index."""
    with store.lock:
        entries = store.kv.with_prefix(prefix)
        return _prefix_index(store, prefix, entries), store.kv.keys(prefix, separator)


def _prefix_index(store: Store, prefix: str, entries: list[DirEntry]) -> int:
    """Consul's ``kvsListTxn`` index, held at or above the highest reaped tombstone."""
    table = store.max_index((KVS,))
    if not prefix:
        return table
    graveyard = store.kv.graveyard
    highest = max([e.modify_index for e in entries] + [graveyard.max_index(prefix)])
    if not highest:
        return table
    return max(highest, graveyard.reaped_index)
