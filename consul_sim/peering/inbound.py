"""What one cluster does with the stream traffic it receives: check it, then apply it.

The receiving half of :class:`consul_sim.peering.stream.Streams`, as a mixin so the stream
ends keep one owner and one pickled shape (a snapshot holds ``Streams`` exactly as before the
split), while the sending, dialing and timer side stays in :mod:`consul_sim.peering.stream`.

Every message must carry the stream's secret (:mod:`consul_sim.peering.streamauth` says why),
or it is refused with Consul's ``PermissionDenied`` and changes nothing. Heartbeats, ACKs and
NACKs update the tracker entry that ``StreamStatus`` renders; a replication response is checked,
applied to the store and ACKed, or NACKed with the reason, as ``processResponse`` in Consul's
``agent/grpc-external/services/peerstream/replication.go`` does. Traffic for a stream that is
not (or no longer) open is ignored, as Consul's closed connection would drop it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from consul_sim.models.peering_state import PeeringState, StreamStatus
from consul_sim.peering.replication import (
    SIDECAR_SUFFIX,
    Ack,
    ExportedServiceListPayload,
    ExportedServicePayload,
    Heartbeat,
    Nack,
    ReplicationResponse,
    ServerAddressesPayload,
    StreamMessage,
    TrustBundlePayload,
    apply_service,
    apply_service_list,
    check_response,
)
from consul_sim.peering.streamauth import same_secret, stream_denied

if TYPE_CHECKING:
    from consul_sim.peering.context import PeeringContext
    from consul_sim.peering.stream import Dial, StreamEnd, StreamOwner

MAX_EARLY = 1000
"""Messages kept per stream open waiting for its answer; the rest are left to the resends."""


class _InboundHost(Protocol):
    """What the receiving half uses of :class:`~consul_sim.peering.stream.Streams`."""

    service: StreamOwner
    ctx: PeeringContext
    ends: dict[str, StreamEnd]
    _dialing: dict[str, Dial]

    def _now(self) -> float: ...
    def _status(self, peering_id: str) -> StreamStatus: ...
    def _send(self, end: StreamEnd, message: StreamMessage) -> None: ...
    def _ack(self, end: StreamEnd, nonce: str) -> Ack: ...
    def expected_secret(self, peering_id: str) -> tuple[str, str]: ...
    def authenticate(self, message: StreamMessage) -> StreamEnd | None: ...
    def _apply(self, end: StreamEnd, status: StreamStatus, msg: ReplicationResponse) -> None: ...


class StreamInbound:
    """``Streams``' receiving methods (see the module docstring)."""

    def expected_secret(self: _InboundHost, peering_id: str) -> tuple[str, str]:
        """The secret a message for ``peering_id`` must carry, and the address of the peer it
        vouches for: the open stream's, else (late traffic of a closed stream) the peering's
        active stream secret and the address its last stream had. ``("", "")`` when there is
        neither, and then nothing is accepted."""
        end = self.ends.get(peering_id)
        if end is not None:
            return end.secret, end.peer_address
        secrets = self.service.table.secrets_for(peering_id)
        status = self.service.tracker.get(peering_id)
        dial = self._dialing.get(peering_id)
        address = status.peer_address if status is not None else ""
        if dial is not None and dial.address:
            address = dial.address
        return (secrets.active_stream if secrets is not None else ""), address

    def authenticate(self: _InboundHost, message: StreamMessage) -> StreamEnd | None:
        """The open end ``message`` belongs to; None for late traffic of a stream this peering
        no longer has open (ignored, as Consul's closed connection would drop it). Raises
        Consul's ``PermissionDenied`` when the message does not carry the stream's secret:
        then it changes nothing at all."""
        expected, _ = self.expected_secret(message.peering_id)
        if not same_secret(expected, message.stream_secret):
            raise stream_denied()
        end = self.ends.get(message.peering_id)
        if end is None or end.stream_id != message.stream_id:
            return None
        return end

    def receive(self: _InboundHost, message: StreamMessage) -> None:
        end = self.authenticate(message)
        if end is None:
            dial = self._dialing.get(message.peering_id)
            if dial is not None and dial.stream_id == message.stream_id:
                if len(dial.early) < MAX_EARLY:
                    dial.early.append(message)
            return  # traffic of a stream that is no longer (or not yet) open
        status = self._status(end.peering_id)
        now = self._now()
        if isinstance(message, Heartbeat):
            status.last_recv_heartbeat = now
        elif isinstance(message, Ack):
            resource_id = end.in_flight.pop(message.nonce, None)
            if resource_id is not None and end.unacked.get(resource_id) == message.nonce:
                del end.unacked[resource_id]
            status.last_ack = now
        elif isinstance(message, Nack):
            resource_id = end.in_flight.pop(message.nonce, None)
            if resource_id is not None and end.unacked.get(resource_id) == message.nonce:
                del end.unacked[resource_id]  # the same snapshot would fail the same way
            status.last_nack = now
            status.last_nack_message = f"client peer was unable to apply resource: {message.error}"
        elif isinstance(message, ReplicationResponse):
            self._apply(end, status, message)

    def _apply(
        self: _InboundHost, end: StreamEnd, status: StreamStatus, msg: ReplicationResponse
    ) -> None:
        now = self._now()
        problem = check_response(msg)
        if problem:
            status.last_recv_error = now
            status.last_recv_error_message = problem
            self._send(
                end,
                Nack(
                    end.remote_peering_id,
                    end.stream_id,
                    msg.nonce,
                    problem,
                    stream_secret=end.secret,
                ),
            )
            return
        record = self.service.table.get_by_id(end.peering_id)
        if record is None or record.state in (PeeringState.DELETING, PeeringState.TERMINATED):
            return
        sequence = int(msg.nonce, 16)
        if sequence <= end.applied.get(msg.resource_id, 0):
            # An older copy (a duplicate, or overtaken by a resend): already superseded.
            self._send(end, self._ack(end, msg.nonce))
            return
        store = self.ctx.store
        resource = msg.resource
        if isinstance(resource, ExportedServiceListPayload):
            if resource.services or status.imported_services is not None:
                status.imported_services = list(resource.services)
                end.imported_names = frozenset(resource.services)
            apply_service_list(store, record.name, resource.services)
        elif isinstance(resource, ExportedServicePayload):
            listed = end.imported_names
            base = msg.resource_id.removesuffix(SIDECAR_SUFFIX)
            if listed is not None and msg.resource_id not in listed and base not in listed:
                return  # sent before a list we have not seen yet: the resend will bring it
            apply_service(store, record.name, msg.resource_id, resource)
        elif isinstance(resource, TrustBundlePayload):
            pems = [p if p.endswith("\n") else p + "\n" for p in resource.root_pems]
            if pems != record.peer_ca_pems:
                updated = record.model_copy(deep=True)
                updated.peer_ca_pems = pems
                updated.state = PeeringState.UNDEFINED  # keep the stored state
                self.service.write_record(updated)
        elif isinstance(resource, ServerAddressesPayload):
            # handleUpsertServerAddrs: the dialer dials what the acceptor now advertises.
            if list(resource.addresses) != record.peer_server_addresses:
                updated = record.model_copy(deep=True)
                updated.peer_server_addresses = list(resource.addresses)
                updated.state = PeeringState.UNDEFINED
                self.service.write_record(updated)
        end.applied[msg.resource_id] = sequence
        status.last_recv_resource_success = now
        self._send(end, self._ack(end, msg.nonce))
