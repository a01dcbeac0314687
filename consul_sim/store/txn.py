"""One write transaction of a cluster's store: everything it touches is stamped with its index.

Apart from :mod:`consul_sim.store.state` so the tables can name it without importing the store
that holds them (Consul's tables likewise take a ``WriteTxn``, not the ``Store``).
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


class Indexed(Protocol):
    """A stored object carrying Consul's ``RaftIndex``."""

    @property
    def create_index(self) -> int: ...


class Txn:
    """One write: everything it touches is stamped with ``index``."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.tables: set[str] = set()

    def touch(self, *tables: str) -> int:
        self.tables.update(tables)
        return self.index

    def stamp(self, new: M, existing: Indexed | None) -> M:
        """``new`` as this write stores it: ``CreateIndex`` stays the first write's, and
        ``ModifyIndex`` is this one's (``structs.RaftIndex`` in Consul's state store)."""
        created = existing.create_index if existing is not None else self.index
        return new.model_copy(update={"create_index": created, "modify_index": self.index})
