"""The simulated network between clusters.

Clusters never call each other's HTTP API: a cluster's server-to-server traffic (the peering
secret exchange, the stream open, ``Terminated``) is a message handed to the ``Network``, which
finds the receiving cluster by the address the sender dialed and delivers it. Like Maelstrom's
network, messages are data and each one is written to a journal, so a run can be inspected and
replayed.

Delivery is synchronous today (a call returns the receiver's answer or raises
:class:`Unreachable`). Latency, partitions and held messages belong to the replication work;
they slot in at :meth:`Network.call`, which is the one place a message crosses.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from consul_sim.clock import Clock

LOOPBACK = "127.0.0.1"
FIRST_PEERING_PORT = 8503
"""Consul's default ``grpc_tls_port``, the port a peering token advertises."""
PORT_STRIDE = 100


class Unreachable(Exception):
    """Nothing answers at the address (no cluster there, or the path to it is cut)."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(reason)
        self.address = address
        self.reason = reason


class Receiver(Protocol):
    """A cluster's server-side handler for messages from other clusters."""

    def receive(self, source: str, message: object) -> object: ...


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    at: float
    source: str
    destination: str
    kind: str
    outcome: str


class Network:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._receivers: dict[str, Receiver] = {}
        self._names: dict[str, str] = {}
        self._next_port = FIRST_PEERING_PORT
        self._seq = itertools.count(1)
        self.journal: list[JournalEntry] = []

    def attach(self, name: str, receiver: Receiver) -> str:
        """Give a cluster its own peering address (one port per cluster, on loopback)."""
        address = f"{LOOPBACK}:{self._next_port}"
        self._next_port += PORT_STRIDE
        self._receivers[address] = receiver
        self._names[address] = name
        return address

    def detach(self, address: str) -> None:
        self._receivers.pop(address, None)

    def name_at(self, address: str) -> str | None:
        return self._names.get(address)

    def call(self, source: str, destination: str, message: object) -> object:
        """Deliver ``message`` from ``source`` to whoever listens at ``destination`` and return
        its answer. An exception raised by the receiver propagates to the sender as is."""
        kind = type(message).__name__
        receiver = self._receivers.get(destination)
        if receiver is None:
            self._log(source, destination, kind, "unreachable")
            raise Unreachable(
                destination,
                f'connection error: desc = "transport: Error while dialing: dial tcp '
                f'{destination}: connect: connection refused"',
            )
        try:
            answer = receiver.receive(source, message)
        except Exception as exc:
            self._log(source, destination, kind, f"error: {exc}")
            raise
        self._log(source, destination, kind, "ok")
        return answer

    def _log(self, source: str, destination: str, kind: str, outcome: str) -> None:
        self.journal.append(
            JournalEntry(next(self._seq), self.clock.now(), source, destination, kind, outcome)
        )
