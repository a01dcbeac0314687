"""Stored peering states, the shown state, and the stream status that overlays one on the other.

Consul keeps two things apart: Raft stores only PENDING, ESTABLISHING, DELETING or TERMINATED,
while every read overlays the live stream tracker (connected: ACTIVE; last disconnect carried an
error: FAILING). The overlay never touches ``ModifyIndex`` and never wakes blocking queries, so
the tracker lives beside the store, not in it. The stream ends of
:mod:`consul_sim.peering.stream` drive :class:`StreamStatus` from the traffic they see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from consul_sim.clock import rfc3339

GO_ZERO_TIME = "0001-01-01T00:00:00Z"


class PeeringState(StrEnum):
    UNDEFINED = "UNDEFINED"
    PENDING = "PENDING"
    ESTABLISHING = "ESTABLISHING"
    ACTIVE = "ACTIVE"
    FAILING = "FAILING"
    DELETING = "DELETING"
    TERMINATED = "TERMINATED"


STORED_STATES = frozenset(
    {
        PeeringState.PENDING,
        PeeringState.ESTABLISHING,
        PeeringState.DELETING,
        PeeringState.TERMINATED,
    }
)
"""The only values Consul's state store ever holds; ACTIVE and FAILING exist only when shown."""


@dataclass
class StreamStatus:
    """One peering's entry in the stream tracker (Consul's ``peerstream.MutableStatus``).

    Times are simulation-clock seconds; ``None`` is Go's zero ``time.Time``.
    """

    connected: bool = False
    disconnect_error: str = ""
    disconnect_time: float | None = None
    connected_at: float | None = None
    last_recv_heartbeat: float | None = None
    last_recv_error: float | None = None
    last_recv_resource_success: float | None = None
    last_send_error: float | None = None
    last_send_error_message: str = ""
    last_send_success: float | None = None
    last_recv_error_message: str = ""
    last_ack: float | None = None
    last_nack: float | None = None
    last_nack_message: str = ""
    imported_services: list[str] | None = None
    exported_services: list[str] | None = None
    # Who is at the other end: the network address to notify and the peer's own peering ID.
    peer_address: str = ""
    remote_peering_id: str = ""

    def connect(self, now: float) -> None:
        self.connected = True
        self.connected_at = now
        self.disconnect_error = ""

    def disconnect(self, now: float, error: str = "") -> None:
        """A clean close leaves no error (shown state falls back to stored); an error shows
        FAILING until a stream connects again."""
        self.connected = False
        self.disconnect_time = now
        self.disconnect_error = error

    def render(self) -> dict[str, Any]:
        """Consul's ``StreamStatus`` for a tracker entry: the ``Last*`` fields are the latest of
        their sources, and Go's zero time (not null) when nothing has happened yet. An empty
        service list reads ``null``: the tracker's empty slice crosses gRPC as a protobuf
        repeated field, which decodes to a nil slice (``rpc/peering/service.go``'s
        ``reconcilePeering`` hands it to the HTTP endpoint that way)."""
        last_receive = _latest(
            self.last_recv_heartbeat, self.last_recv_error, self.last_recv_resource_success
        )
        last_send = _latest(self.last_send_error, self.last_send_success)
        return {
            "ImportedServices": self.imported_services or None,
            "ExportedServices": self.exported_services or None,
            "LastHeartbeat": (
                rfc3339(self.last_recv_heartbeat) if self.last_recv_heartbeat is not None else None
            ),
            "LastReceive": rfc3339(last_receive) if last_receive is not None else GO_ZERO_TIME,
            "LastSend": rfc3339(last_send) if last_send is not None else GO_ZERO_TIME,
        }


EMPTY_STREAM_STATUS: dict[str, Any] = {
    "ImportedServices": None,
    "ExportedServices": None,
    "LastHeartbeat": None,
    "LastReceive": None,
    "LastSend": None,
}
"""What a read shows when the tracker has no entry for the peering."""


def _latest(*times: float | None) -> float | None:
    present = [t for t in times if t is not None]
    return max(present) if present else None


def shown_state(stored: PeeringState, stream: StreamStatus | None) -> PeeringState:
    """Consul's ``reconcilePeering``: the tracker wins over the stored value."""
    if stream is None:
        return stored
    if stream.connected:
        return PeeringState.ACTIVE
    if stream.disconnect_error:
        return PeeringState.FAILING
    return stored


@dataclass
class StreamTracker:
    """Stream status per local peering ID, kept outside Raft as Consul's tracker is."""

    streams: dict[str, StreamStatus] = field(default_factory=dict)

    def get(self, peering_id: str) -> StreamStatus | None:
        return self.streams.get(peering_id)

    def ensure(self, peering_id: str) -> StreamStatus:
        status = self.streams.get(peering_id)
        if status is None:
            status = self.streams[peering_id] = StreamStatus()
        return status

    def forget(self, peering_id: str) -> StreamStatus | None:
        return self.streams.pop(peering_id, None)
