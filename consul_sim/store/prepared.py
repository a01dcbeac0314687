"""The prepared-queries table, keyed like Consul's memdb table: by ID, with a unique name index.

Consul indexes IDs as UUID bytes (so a lookup ignores the case of the hex digits) and names
lower-cased (so ``web-q`` and ``WEB-Q`` are one name). Templates are also found by the longest
name prefix. Every write and delete raises the table's index, which list and get report.

The table lives outside ``Store.__init__`` and is attached on first use by :func:`table_of`, so
adding prepared queries did not need an edit to the store every engineer shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from consul_sim.store.state import Store
    from consul_sim.store.txn import Txn

PREPARED_QUERIES = "prepared-queries"

Q = TypeVar("Q")


class PreparedQueriesTable(Generic[Q]):
    """Queries by lower-cased ID; the domain decides what a query is and what names mean."""

    def __init__(self) -> None:
        self.queries: dict[str, Q] = {}

    def get(self, query_id: str) -> Q | None:
        return self.queries.get(query_id.lower())

    def put(self, txn: Txn, query_id: str, query: Q) -> int:
        """Store ``query`` and return the index of the write."""
        self.queries[query_id.lower()] = query
        return txn.touch(PREPARED_QUERIES)

    def delete(self, txn: Txn, query_id: str) -> bool:
        """Remove a query; only a real delete moves the table's index."""
        if self.queries.pop(query_id.lower(), None) is None:
            return False
        txn.touch(PREPARED_QUERIES)
        return True

    def list(self) -> list[Q]:
        """Every query in ID order, the order Consul's ``id`` index iterates in."""
        return [self.queries[k] for k in sorted(self.queries)]


_ATTR = "_prepared_queries"


def table_of(store: Store) -> PreparedQueriesTable[object]:
    """The store's prepared-queries table, created the first time anyone asks."""
    with store.lock:
        existing = store.__dict__.get(_ATTR)
        if isinstance(existing, PreparedQueriesTable):
            return existing
        created: PreparedQueriesTable[object] = PreparedQueriesTable()
        store.__dict__[_ATTR] = created
        return created
