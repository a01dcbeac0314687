"""In-memory state of one cluster: tables, one Raft-like index, blocking-query watches."""

from consul_sim.store.state import Store, Txn

__all__ = ["Store", "Txn"]
