"""In-memory state of one cluster: tables, one Raft-like index, blocking-query watches."""

from consul_sim.store.state import Store
from consul_sim.store.txn import Txn

__all__ = ["Store", "Txn"]
