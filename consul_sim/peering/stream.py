"""Open peering streams of one cluster: what each end sends, receives, and when it gives up.

Consul opens one bidirectional gRPC stream per peering (the dialer connects to the acceptor) and
both ends push their exports over it. Here a stream end is a :class:`StreamEnd` per local
peering ID, and the traffic is :mod:`consul_sim.net` messages tagged with the stream they belong
to, so anything from a closed stream is ignored. This module owns the ends, sending, dialing and
timers; what an end does with traffic it receives is :mod:`consul_sim.peering.inbound`.

Sending is incremental. Each end keeps a cursor into the store's change log of local service
names and the config-entries index it last saw; a reconcile pass (one per world step) looks only
at what moved since: a health change on one service sends that one service's snapshot, however
many are exported. A new stream starts with a full sync: the ``ExportedServiceList`` first,
then every exported service.

Reliability: the importer ACKs each applied response; an end re-sends what is still un-ACKed on
its next heartbeat (a lossy link converges once time passes). Heartbeats go every
``Heartbeats.interval``; an end that has heard none for ``Heartbeats.timeout`` closes
with ``heartbeat timeout`` (FAILING), and the dialer redials with Consul's backoff (2, 4, 8 ... 64
seconds, ``leader_peering.go``'s ``peeringRetryTimeout``), until a stream connects again. Each
failed dial and each stream the dialer loses is a send error in its tracker entry, as Consul's
retry loop records it (``TrackSendError``), so ``StreamStatus.LastSend`` moves on failures too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Protocol

from consul_sim.connect.ca import ROOTS_TABLE
from consul_sim.models.peering_state import PeeringState, StreamStatus
from consul_sim.peering.inbound import MAX_EARLY as MAX_EARLY  # re-exported
from consul_sim.peering.inbound import StreamInbound
from consul_sim.peering.mesh import MeshExport, MeshIdentity
from consul_sim.peering.replication import (
    EXPORTED_SERVICE_LIST_ID,
    EXPORTED_SERVICE_LIST_URL,
    EXPORTED_SERVICE_URL,
    SERVER_ADDRESSES_ID,
    SERVER_ADDRESSES_URL,
    TRUST_BUNDLE_ID,
    TRUST_BUNDLE_URL,
    Ack,
    ExportedServiceListPayload,
    ExportRules,
    Heartbeat,
    ReplicationResponse,
    Resource,
    ServerAddressesPayload,
    StreamMessage,
    TrustBundlePayload,
    covered,
    export_rules,
    exported_names,
    format_nonce,
    service_snapshot,
)
from consul_sim.store.config import CONFIG_ENTRIES

if TYPE_CHECKING:
    from consul_sim.models.peering import Peering
    from consul_sim.models.peering_state import StreamTracker
    from consul_sim.peering.context import PeeringContext
    from consul_sim.peering.mesh import MeshIndex
    from consul_sim.scheduler import Timer
    from consul_sim.store.peering import PeeringTable

HEARTBEAT_TIMEOUT_ERROR = "heartbeat timeout"
MAX_BACKOFF = 64.0
"""Seconds: the dialer's retry delay doubles from 2 s and stops growing here
(``maxRetryBackoffPeering``)."""
FAST_RETRY = 0.008
MAX_FAST_RETRIES = 5
MAX_FAST_BACKOFF = 8.192
"""The fast path for ``FailedPrecondition`` (a follower answered): 8 ms five times, then
doubling up to 8.192 s; ``ResourceExhausted`` waits 8.192 s at once."""
EPSILON = 1e-9


def redial_delay(failed_attempts: int, code: str = "") -> float:
    """Consul's ``peeringRetryTimeout`` (``leader_peering.go``) after ``failed_attempts``
    failures in a row, counted from 1 as its retry loop increments before asking: 2, 4, 8 ...
    64 seconds, no jitter; the gRPC ``code`` of the last error picks the fast paths."""
    if code == "FailedPrecondition":
        if failed_attempts <= MAX_FAST_RETRIES:
            return FAST_RETRY
        doublings = min(failed_attempts - MAX_FAST_RETRIES, 20)
        return min(FAST_RETRY * float(1 << doublings), MAX_FAST_BACKOFF)
    if code == "ResourceExhausted":
        return MAX_FAST_BACKOFF
    return min(float(2 ** min(failed_attempts, 16)), MAX_BACKOFF)


@dataclass
class Dial:
    """A stream open waiting for the acceptor's answer.

    In Consul the acceptor's first messages travel on the very stream the dialer opened, so
    they cannot come before it. Here the answer to ``OpenStream`` and the acceptor's first
    pushes are separate posts from another process and may cross: what arrives for this
    stream before the answer is kept and received right after the stream is connected."""

    stream_id: int
    address: str = ""
    early: list[StreamMessage] = field(default_factory=list)


@dataclass
class StreamEnd:
    """This cluster's end of one open stream."""

    peering_id: str
    remote_peering_id: str
    peer_address: str
    stream_id: int
    dialer: bool
    secret: str = field(default="", repr=False)
    """The stream secret this stream was opened with: every message on it carries it."""
    cursor: int = 0
    config_index: int = -1
    rules: ExportRules = field(default_factory=ExportRules)
    exported: set[str] = field(default_factory=set)
    list_sent: tuple[str, ...] | None = None
    list_dirty: bool = True
    """The exported set may differ from ``list_sent`` (checked without sorting every time)."""
    dirty: set[str] = field(default_factory=set)
    roots_index: int = -1
    """The CA roots table index whose trust bundle was last sent (-1: send it)."""
    bundle_sent: tuple[str, ...] | None = None
    nonce: int = 0
    unacked: dict[str, str] = field(default_factory=dict)
    """Resource ID -> nonce of its latest send still waiting for an ACK."""
    in_flight: dict[str, str] = field(default_factory=dict)
    """Nonce -> resource ID, for matching ACKs."""
    applied: dict[str, int] = field(default_factory=dict)
    """Resource ID -> nonce of the newest response applied from the other end."""
    imported_names: frozenset[str] | None = None
    """The last service list received, as a set: each update is checked against it."""
    mesh: MeshExport = field(default_factory=MeshExport)
    """Synthetic sidecars and advertised server addresses sent on this stream."""
    timers: list[Timer] = field(default_factory=list)

    def cancel(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()


class StreamOwner(Protocol):
    """What the stream ends use of the cluster's peering service (``PeeringService``): its
    records and tracker, its address, and the leader routine's dial and bundle writes."""

    @property
    def ctx(self) -> PeeringContext: ...
    @property
    def table(self) -> PeeringTable: ...
    @property
    def tracker(self) -> StreamTracker: ...
    @property
    def address(self) -> str: ...
    @property
    def mesh(self) -> MeshIndex: ...
    def dial(self, record: Peering) -> None: ...
    def link_held(self, address: str) -> bool: ...
    def write_record(self, record: Peering) -> Peering: ...


class Streams(StreamInbound):
    """``cluster.peering.streams``: every open stream end of one cluster."""

    def __init__(self, service: StreamOwner) -> None:
        self.service = service
        self.ctx = service.ctx
        self.ends: dict[str, StreamEnd] = {}
        self._attempts: dict[str, int] = {}
        self._last_codes: dict[str, str] = {}
        """Dialer peering ID -> gRPC code of its last failed dial (picks the backoff)."""
        self._redials: dict[str, Timer] = {}
        self._stream_ids = 0
        self.waiting: set[str] = set()
        """Dialer peering IDs whose stream open waits for a held link to be released."""
        self._dialing: dict[str, Dial] = {}
        """Dialer peering ID -> its stream open still waiting for the acceptor's answer (for
        longer than a call only when the acceptor is in another process)."""

    # -- helpers ----------------------------------------------------------------------------
    def _now(self) -> float:
        return self.ctx.clock.now()

    @property
    def crashed(self) -> bool:
        return self.ctx.crashed

    def _status(self, peering_id: str) -> StreamStatus:
        return self.service.tracker.ensure(peering_id)

    def new_stream_id(self) -> int:
        """Unique per dialer; the acceptor learns it from ``OpenStream``."""
        self._stream_ids += 1
        return self._stream_ids

    # -- dialing ----------------------------------------------------------------------------
    def start_dial(self, peering_id: str) -> int:
        """A new stream open begins; it supersedes any still waiting for its answer."""
        stream_id = self.new_stream_id()
        self._dialing[peering_id] = Dial(stream_id)
        # Consul's leader registers the tracker entry before its first dial
        # (establishStream), so a dialer that never connects still has a StreamStatus.
        self._status(peering_id)
        return stream_id

    def send_failed(self, peering_id: str, error: str, code: str = "") -> None:
        """A dial (or the dialer's stream) failed: Consul's retry loop records every such
        error with ``TrackSendError``, so ``LastSend`` shows when it happened."""
        status = self._status(peering_id)
        status.last_send_error = self._now()
        status.last_send_error_message = error
        self._last_codes[peering_id] = code

    def dialing(self, peering_id: str, stream_id: int) -> bool:
        """Whether this open still matters: no later open, delete or restart came since."""
        dial = self._dialing.get(peering_id)
        return dial is not None and dial.stream_id == stream_id and not self.crashed

    def dial_to(self, peering_id: str, stream_id: int, address: str) -> None:
        """The open is now waiting on ``address`` (it vouches for early traffic)."""
        dial = self._dialing.get(peering_id)
        if dial is not None and dial.stream_id == stream_id:
            dial.address = address
            dial.early.clear()

    def end_dial(self, peering_id: str, stream_id: int) -> list[StreamMessage] | None:
        """This open is over: what the acceptor sent early on its stream, or None when its
        outcome no longer matters."""
        current = self.dialing(peering_id, stream_id)
        dial = self._dialing.get(peering_id)
        if dial is None or dial.stream_id != stream_id:
            return None
        del self._dialing[peering_id]
        return dial.early if current else None

    def replay(self, early: list[StreamMessage]) -> None:
        """Receive, in arrival order, what came in before the stream was known to be open."""
        for message in early:
            self.receive(message)

    # -- connecting and closing -------------------------------------------------------------
    def connect(
        self,
        record: Peering,
        peer_address: str,
        remote_peering_id: str,
        stream_id: int,
        *,
        dialer: bool,
        secret: str,
    ) -> StreamEnd:
        """A stream is up: replace any older end of this peering and start a full sync."""
        old = self.ends.pop(record.id, None)
        if old is not None:
            old.cancel()
        self._cancel_redial(record.id)
        self._attempts.pop(record.id, None)
        self._last_codes.pop(record.id, None)
        self.waiting.discard(record.id)
        now = self._now()
        status = self._status(record.id)
        status.connect(now)
        status.peer_address = peer_address
        status.remote_peering_id = remote_peering_id
        end = StreamEnd(
            peering_id=record.id,
            remote_peering_id=remote_peering_id,
            peer_address=peer_address,
            stream_id=stream_id,
            dialer=dialer,
            secret=secret,
            cursor=self.ctx.store.catalog.change_position,
            imported_names=(
                frozenset(status.imported_services)
                if status.imported_services is not None
                else None
            ),
        )
        self.ends[record.id] = end
        scheduler = self.ctx.scheduler
        pid = record.id
        end.timers.append(
            scheduler.call_later(
                self.ctx.heartbeats.interval, partial(self._heartbeat, pid, stream_id)
            )
        )
        end.timers.append(
            scheduler.call_later(
                self.ctx.heartbeats.timeout, partial(self._check_timeout, pid, stream_id)
            )
        )
        return end

    def close(self, peering_id: str, error: str) -> None:
        """The stream ended; with an error the peering shows FAILING and a dialer redials."""
        end = self.ends.pop(peering_id, None)
        if end is None:
            return
        end.cancel()
        self._status(peering_id).disconnect(self._now(), error)
        if error and end.dialer:
            self.send_failed(peering_id, error)
            self.schedule_redial(peering_id)

    def forget(self, peering_id: str) -> None:
        """Stop everything about a peering that is being deleted or was terminated."""
        end = self.ends.pop(peering_id, None)
        if end is not None:
            end.cancel()
        self._cancel_redial(peering_id)
        self._attempts.pop(peering_id, None)
        self._last_codes.pop(peering_id, None)
        self.waiting.discard(peering_id)
        self._dialing.pop(peering_id, None)

    def reset(self) -> None:
        """A new leader: no stream survives, the tracker starts empty, dialers redial now."""
        for peering_id in sorted(self.ends):
            self.ends[peering_id].cancel()
        self.ends.clear()
        for timer in self._redials.values():
            timer.cancel()
        self._redials.clear()
        self._attempts.clear()
        self._last_codes.clear()
        self.waiting.clear()
        self._dialing.clear()
        self.service.tracker.streams.clear()
        for record in self.service.table.list():
            if record.should_dial and record.state not in (
                PeeringState.DELETING,
                PeeringState.TERMINATED,
                PeeringState.PENDING,
            ):
                self._schedule(record.id, 0.0)

    def restored(self) -> None:
        """The state store was replaced by a snapshot restore. An open stream whose peering
        is gone ends; the others stay open and send their exports again from scratch, as
        Consul's do when the event publisher force-closes their subscriptions after a
        restore; a dialer peering with no stream dials now."""
        for peering_id in sorted(self.ends):
            end = self.ends[peering_id]
            if self.service.table.get_by_id(peering_id) is None:
                self.forget(peering_id)
                self.service.tracker.forget(peering_id)
                continue
            end.cursor = self.ctx.store.catalog.change_position
            end.config_index = end.roots_index = -1
            end.exported, end.dirty = set(), set()
            end.list_sent, end.bundle_sent, end.list_dirty = None, None, True
        for record in self.service.table.list():
            if (
                record.should_dial
                and record.id not in self.ends
                and record.id not in self._dialing
                and record.state
                not in (PeeringState.DELETING, PeeringState.TERMINATED, PeeringState.PENDING)
            ):
                self._schedule(record.id, 0.0)

    # -- redialing --------------------------------------------------------------------------
    def wait_for_link(self, peering_id: str) -> None:
        """The open is stuck behind a held link: retry it on the first step after release
        (a dial that hangs is not a dial error, so no backoff and no FAILING)."""
        self._cancel_redial(peering_id)
        self._dialing.pop(peering_id, None)
        self.waiting.add(peering_id)

    def _ready_to_open(self) -> list[str]:
        """Waiting peerings that can be retried now (some address's link is no longer held,
        or the record is gone and the entry only needs dropping), in a stable order."""
        ready = []
        for peering_id in sorted(self.waiting):
            record = self.service.table.get_by_id(peering_id)
            addresses = (
                [*record.manual_server_addresses, *record.peer_server_addresses] if record else []
            )
            if record is None or any(not self.service.link_held(a) for a in addresses):
                ready.append(peering_id)
        return ready

    def _open_waiting(self) -> None:
        for peering_id in self._ready_to_open():
            self.waiting.discard(peering_id)
            self._redial(peering_id)

    def schedule_redial(self, peering_id: str) -> None:
        attempts = self._attempts.get(peering_id, 0) + 1
        self._attempts[peering_id] = attempts
        code = self._last_codes.pop(peering_id, "")
        self._schedule(peering_id, redial_delay(attempts, code))

    def _schedule(self, peering_id: str, delay: float) -> None:
        self._cancel_redial(peering_id)
        self._redials[peering_id] = self.ctx.scheduler.call_later(
            delay, partial(self._redial, peering_id)
        )

    def _cancel_redial(self, peering_id: str) -> None:
        timer = self._redials.pop(peering_id, None)
        if timer is not None:
            timer.cancel()

    def _redial(self, peering_id: str) -> None:
        self._redials.pop(peering_id, None)
        if self.crashed or peering_id in self.ends or peering_id in self._dialing:
            return
        record = self.service.table.get_by_id(peering_id)
        if record is None or not record.should_dial:
            return
        if record.state in (PeeringState.DELETING, PeeringState.TERMINATED):
            return
        self.service.dial(record)

    # -- timers on an open stream -----------------------------------------------------------
    def _current(self, peering_id: str, stream_id: int) -> StreamEnd | None:
        end = self.ends.get(peering_id)
        if end is None or end.stream_id != stream_id or self.crashed:
            return None
        return end

    def _heartbeat(self, peering_id: str, stream_id: int) -> None:
        end = self._current(peering_id, stream_id)
        if end is None:
            return
        self._send(end, Heartbeat(end.remote_peering_id, end.stream_id, stream_secret=end.secret))
        # Whatever the other end has not ACKed yet goes again, as of now.
        for resource_id in sorted(end.unacked):
            if resource_id == EXPORTED_SERVICE_LIST_ID:
                end.list_sent = None
                end.list_dirty = True
            elif resource_id == TRUST_BUNDLE_ID:
                end.bundle_sent = None
                end.roots_index = -1
            elif end.mesh.resend(resource_id):
                pass
            else:
                end.dirty.add(resource_id)
        end.unacked.clear()
        end.in_flight.clear()
        end.timers = [t for t in end.timers if not t.cancelled and t.when > self._now()]
        end.timers.append(
            self.ctx.scheduler.call_later(
                self.ctx.heartbeats.interval, partial(self._heartbeat, peering_id, stream_id)
            )
        )

    def _check_timeout(self, peering_id: str, stream_id: int) -> None:
        end = self._current(peering_id, stream_id)
        if end is None:
            return
        status = self._status(peering_id)
        heard = max(status.connected_at or 0.0, status.last_recv_heartbeat or 0.0)
        deadline = heard + self.ctx.heartbeats.timeout
        if self._now() + EPSILON >= deadline:
            self.close(peering_id, HEARTBEAT_TIMEOUT_ERROR)
            return
        end.timers.append(
            self.ctx.scheduler.call_at(
                deadline, partial(self._check_timeout, peering_id, stream_id)
            )
        )

    # -- sending ----------------------------------------------------------------------------
    def _send(self, end: StreamEnd, message: StreamMessage) -> None:
        self.ctx.network.send(self.service.address, end.peer_address, message)

    def _respond(
        self,
        end: StreamEnd,
        url: str,
        resource_id: str,
        resource: Resource,
    ) -> None:
        end.nonce += 1
        nonce = format_nonce(end.nonce)
        stale = end.unacked.get(resource_id)
        if stale is not None:
            end.in_flight.pop(stale, None)
        end.unacked[resource_id] = nonce
        end.in_flight[nonce] = resource_id
        self._send(
            end,
            ReplicationResponse(
                end.remote_peering_id,
                end.stream_id,
                nonce=nonce,
                resource_url=url,
                resource_id=resource_id,
                resource=resource,
                stream_secret=end.secret,
            ),
        )
        self._status(end.peering_id).last_send_success = self._now()

    def has_unsent(self) -> bool:
        if self._ready_to_open():
            return True
        catalog = self.ctx.store.catalog
        config_index = self.ctx.store.table_index.get(CONFIG_ENTRIES, 0)
        for end in self.ends.values():
            if (
                end.dirty
                or end.list_dirty
                or end.cursor != catalog.change_position
                or end.config_index != config_index
                or end.roots_index != self.ctx.store.table_index.get(ROOTS_TABLE, 0)
            ):
                return True
        return False

    def reconcile(self) -> None:
        """Push whatever changed since each stream's cursor, then forget changes all have
        seen."""
        catalog = self.ctx.store.catalog
        if self.waiting:
            self._open_waiting()
        for peering_id in sorted(self.ends):
            self._push(self.ends[peering_id])
        cursors = [end.cursor for end in self.ends.values()]
        catalog.trim_changes(min(cursors) if cursors else catalog.change_position)

    def _push(self, end: StreamEnd) -> None:
        store = self.ctx.store
        record = self.service.table.get_by_id(end.peering_id)
        if record is None or record.state in (PeeringState.DELETING, PeeringState.TERMINATED):
            return
        config_index = store.table_index.get(CONFIG_ENTRIES, 0)
        if config_index != end.config_index:
            end.config_index = config_index
            end.rules = export_rules(store, record.name)
            now_exported = set(exported_names(store, record.name))
            end.dirty |= now_exported - end.exported
            end.list_dirty = end.list_dirty or now_exported != end.exported
            end.exported = now_exported
        catalog = store.catalog
        changed = set(catalog.changed_since(end.cursor))
        end.cursor = catalog.change_position
        for name in sorted(changed):
            is_covered = covered(store, end.rules, name)
            if name in end.exported and not is_covered:
                end.exported.discard(name)  # the last instance of a wildcard-exported name
                end.list_dirty = True
            elif is_covered:
                end.list_dirty = end.list_dirty or name not in end.exported
                end.exported.add(name)
                end.dirty.add(name)
        listed = tuple(sorted(end.exported)) if end.list_dirty else end.list_sent
        end.list_dirty = False
        if listed != end.list_sent and listed is not None:
            end.list_sent = listed
            status = self._status(end.peering_id)
            if listed or status.exported_services is not None:
                # Go builds the list by appending: never exported anything reads null.
                status.exported_services = list(listed)
            self._respond(
                end,
                EXPORTED_SERVICE_LIST_URL,
                EXPORTED_SERVICE_LIST_ID,
                ExportedServiceListPayload(listed),
            )
        for name in sorted(end.dirty & end.exported):
            self._respond(end, EXPORTED_SERVICE_URL, name, service_snapshot(store, name))
        end.dirty.clear()
        roots_index = store.table_index.get(ROOTS_TABLE, 0)
        if roots_index != end.roots_index:
            # The whole bundle on every change of the roots, never a delta (reference §5.2).
            end.roots_index = roots_index
            pems = tuple(self.ctx.ca.root_pems())
            if pems != end.bundle_sent:
                end.bundle_sent = pems
                bundle = TrustBundlePayload(self.ctx.ca.trust_domain, pems)
                self._respond(end, TRUST_BUNDLE_URL, TRUST_BUNDLE_ID, bundle)
        self._push_mesh(end, record.name, config_index)

    def _push_mesh(self, end: StreamEnd, peer: str, config_index: int) -> None:
        """Synthetic sidecars for the exported Connect services, and (from the acceptor) the
        addresses to dial it at, whenever the mesh, the config or the exported list moved
        (:mod:`consul_sim.peering.mesh`)."""
        index = self.service.mesh
        exported = end.list_sent or ()
        if not end.mesh.stale(index, config_index, exported):
            return
        store = self.ctx.store
        who = MeshIdentity(peer, self.ctx.datacenter, self.ctx.ca.trust_domain)
        for name, payload in end.mesh.sidecar_updates(store, index, config_index, exported, who):
            self._respond(end, EXPORTED_SERVICE_URL, name, payload)
        if not end.dialer:
            addresses = end.mesh.address_update(store, index, self.service.address)
            if addresses is not None:
                advertised = ServerAddressesPayload(addresses)
                self._respond(end, SERVER_ADDRESSES_URL, SERVER_ADDRESSES_ID, advertised)

    @staticmethod
    def _ack(end: StreamEnd, nonce: str) -> Ack:
        return Ack(end.remote_peering_id, end.stream_id, nonce, stream_secret=end.secret)
