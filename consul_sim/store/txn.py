"""One write transaction of a cluster's store: everything it touches is stamped with its index.

Apart from :mod:`consul_sim.store.state` so the tables can name it without importing the store
that holds them (Consul's tables likewise take a ``WriteTxn``, not the ``Store``).
"""

from __future__ import annotations


class Txn:
    """One write: everything it touches is stamped with ``index``."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.tables: set[str] = set()

    def touch(self, *tables: str) -> int:
        self.tables.update(tables)
        return self.index
