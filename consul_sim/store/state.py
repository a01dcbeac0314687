"""The state store of one cluster.

Like Consul's memdb-backed store, every write happens in a transaction stamped with the next
Raft index; each table remembers the index of its last write, and every read reports an index
(never 0) that a blocking query compares against. Reads return the table's max index even for
empty results, so a client blocking on "nothing yet" wakes when something arrives.

Tables are plain dicts guarded by the world's lock; the catalog and KV tables live in their own
modules and are attached here so one transaction can span them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from consul_sim.store.catalog import CatalogTables
from consul_sim.store.config import ConfigEntriesTable
from consul_sim.store.kv import KVTable
from consul_sim.store.sessions import SessionTable
from consul_sim.store.txn import Txn
from consul_sim.store.watch import WatchSet


class Store:
    def __init__(self, lock: threading.RLock | None = None) -> None:
        self.lock = lock or threading.RLock()
        self.index = 0
        self.table_index: dict[str, int] = {}
        self.watches = WatchSet()
        self.catalog = CatalogTables()
        self.kv = KVTable()
        self.config = ConfigEntriesTable()
        self.sessions = SessionTable()
        self._in_txn = False

    @contextmanager
    def txn(self) -> Iterator[Txn]:
        """A write transaction; the index moves only if something was written."""
        with self.lock:
            if self._in_txn:
                raise RuntimeError("nested store transaction")
            self._in_txn = True
            txn = Txn(self.index + 1)
            try:
                yield txn
            finally:
                self._in_txn = False
                if txn.tables:
                    self.index = txn.index
                    for table in txn.tables:
                        self.table_index[table] = txn.index
        if txn.tables:
            self.watches.notify()

    def max_index(self, tables: Iterable[str]) -> int:
        """The highest index among tables; never 0, as Consul rewrites 0 to 1."""
        return max([self.table_index.get(t, 0) for t in tables] + [1])
