"""The body of ``PUT /v1/txn``: a list of operations in the API's shape (``api/txn.go``).

Each element names one kind of operation, ``KV``, ``Node``, ``Service`` or ``Check``, with its
verb. A KV ``Value`` is standard base64 (Go decodes a ``[]byte`` field that way); it is kept as
text here and decoded by the transaction with Go's error wording.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from consul_sim.models.base import ConsulModel, Uint64
from consul_sim.models.catalog import HealthCheck, Node, NodeService


class KVTxnOp(ConsulModel):
    go_name: ClassVar[str] = "KVTxnOp"

    verb: str = ""
    key: str = ""
    value: str | None = None
    flags: Uint64 = 0
    index: Uint64 = 0
    session: str = ""
    namespace: str = ""
    partition: str = ""


class NodeTxnOp(ConsulModel):
    go_name: ClassVar[str] = "NodeTxnOp"

    verb: str = ""
    node: Node = Field(default_factory=Node)


class ServiceTxnOp(ConsulModel):
    go_name: ClassVar[str] = "ServiceTxnOp"

    verb: str = ""
    node: str = ""
    service: NodeService = Field(default_factory=NodeService)


class CheckTxnOp(ConsulModel):
    go_name: ClassVar[str] = "CheckTxnOp"

    verb: str = ""
    check: HealthCheck = Field(default_factory=HealthCheck)


class TxnOp(ConsulModel):
    """One element of the list: at most one of the four is set (the first set one is used)."""

    go_name: ClassVar[str] = "TxnOp"

    kv: KVTxnOp | None = None
    node: NodeTxnOp | None = None
    service: ServiceTxnOp | None = None
    check: CheckTxnOp | None = None
