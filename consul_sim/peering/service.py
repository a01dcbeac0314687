"""The peering domain of one cluster: generate a token, establish, read, list, delete.

It plays both of Consul's roles. As **acceptor** it writes a PENDING record, signs an
establishment secret and, when a dialer calls through the network, verifies and consumes that
secret and hands back a stream secret. As **dialer** it validates the token, writes its record
(before the exchange, as Consul does, so a failed exchange still leaves a PENDING record), calls
the acceptor through :mod:`consul_sim.net`, then stores ESTABLISHING and opens the stream.
Opening the stream is a handshake (a network call whose answer, when the acceptor is in another
process, arrives on a later world step: ESTABLISHING until then); what flows over it afterwards
(exports, ACKs, heartbeats) is queued traffic handled by :mod:`consul_sim.peering.stream`. A
local delete marks the record DELETING, tells the other end ``Terminated`` over the open stream,
removes what was imported from that peer, and removes the record shortly after on a timer.

Generating a token and reading records need no other cluster; they live in
:mod:`consul_sim.peering.local`, a mixin of :class:`PeeringService`.

Errors are Consul's: plain Go errors cross the gRPC boundary as ``code = Unknown``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial

from consul_sim.errors import ConsulError, RPCError
from consul_sim.meta import validate_meta
from consul_sim.models.peering import Peering, Remote
from consul_sim.models.peering_state import PeeringState, StreamTracker
from consul_sim.net import Unreachable
from consul_sim.peering.context import PeeringContext
from consul_sim.peering.local import ENTERPRISE_PARTITIONS as ENTERPRISE_PARTITIONS  # re-exported
from consul_sim.peering.local import LocalPeeringOps
from consul_sim.peering.local import not_found as not_found  # re-exported
from consul_sim.peering.mesh import (
    DialRoute,
    MeshIndex,
    dial_routes,
)
from consul_sim.peering.replication import StreamMessage, remove_imported
from consul_sim.peering.stream import Streams
from consul_sim.peering.streamauth import active_stream, same_secret, stream_denied
from consul_sim.peering.tokens import (
    KEY_BYTES,
    SecretRefused,
    decode_token,
    envelope_digest,
    unknown,
    validate_peer_name,
    validate_token,
    verify_secret,
)
from consul_sim.store.peering import PeeringSecrets, PeeringTable, PeeringWriteError

DELETION_DELAY = 0.1
"""Seconds between a local DELETE and the leader routine removing the record (then 404)."""

PEERING_DISABLED = "peering must be enabled to use this endpoint"


# -- messages between clusters ------------------------------------------------------------------
@dataclass(frozen=True)
class ExchangeSecret:
    peer_id: str
    establishment_secret: str
    envelope_digest: str
    dialer: str


@dataclass(frozen=True)
class ExchangeSecretResponse:
    stream_secret: str


@dataclass(frozen=True)
class OpenStream:
    peer_id: str
    stream_secret: str
    remote: Remote
    dialer_peering_id: str
    stream_id: int = 0


@dataclass(frozen=True)
class StreamOpened:
    pass


@dataclass(frozen=True)
class Terminated(StreamMessage):
    """Sent over the open stream when one side deletes: ``peering_id`` is the receiver's, and
    like all stream traffic it carries the stream's identity and secret."""


def _ignore_answer(attempt: Callable[[], object]) -> None:
    """A call whose only point is to be delivered: nobody answering changes nothing."""
    try:
        attempt()
    except (Unreachable, RPCError):
        pass


def _dial_error(exc: Unreachable | RPCError) -> tuple[str, str]:
    """A failed stream open as the dialer's gRPC client reports it: the text its tracker
    keeps and the code that picks the backoff. Nobody answering is ``Unavailable``."""
    if isinstance(exc, Unreachable):
        return f"rpc error: code = Unavailable desc = {exc.reason}", "Unavailable"
    return exc.message, exc.code


def go_multierror(errors: list[str]) -> str:
    """hashicorp/go-multierror's default list format."""
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t".join(f"* {e}" for e in errors)
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"


EXCHANGE_BUDGET = 3.0
"""Seconds a served establish keeps retrying the exchange (Consul's establish gives up after
about 3 s, reference section 3 item 20)."""
EXCHANGE_RETRY = 0.15
EXCHANGE_JITTER = 0.25
"""The wait between passes, 150 ms give or take a quarter (go's retry jitter)."""


@dataclass
class Establishing:
    """One establish between its first write and the end of its secret exchange. Every
    failed attempt is one line of the final error, as go-multierror lists them."""

    record: Peering
    request: ExchangeSecret
    routes: list[DialRoute]
    """Each attempt: through local mesh gateways first when the cluster peers through them,
    then the peer's addresses (:func:`consul_sim.peering.mesh.dial_routes`)."""
    connected: bool
    errors: list[str] = field(default_factory=list)

    def outcome(self, address: str, attempt: Callable[[], object]) -> str | None:
        """The stream secret ``attempt`` brought back, or None (and one more error line) when
        nobody answered. A refusal by the acceptor is final, as in Consul."""
        try:
            answer = attempt()
        except Unreachable as exc:
            self.errors.append(
                f'failed to exchange peering secret through address "{address}": '
                f"rpc error: code = Unavailable desc = {exc.reason}"
            )
            return None
        except SecretRefused as exc:
            raise exc.as_seen_by_dialer() from None
        assert isinstance(answer, ExchangeSecretResponse)
        return answer.stream_secret

    def failure(self) -> ConsulError:
        return unknown(go_multierror(self.errors))


class PeeringService(LocalPeeringOps):
    """``cluster.peering``: the Python API and the server side of this cluster's peerings."""

    def __init__(self, ctx: PeeringContext) -> None:
        self.ctx = ctx
        self.table = PeeringTable(ctx.store)
        self.tracker = StreamTracker()
        self.rand = ctx.rand
        self._key = self.rand.token_bytes(KEY_BYTES)
        self._consumed: set[str] = set()
        self.enabled = True
        self.token_ttl: float | None = None
        """Seconds a new token stays valid; None (Consul's behaviour) means no limit."""
        self.verify_peer_name = False
        """Refuse a token presented by a cluster whose name is not the peer name it was made
        for (``World(strict_peer_names=True)``, ``serve -strict-peer-names``). Off by default,
        as in Consul: ``ExchangeSecret`` (``peerstream/server.go``) compares only the secret,
        so people may peer under aliases. The mismatch is journalled either way."""
        self.deletion_delay = DELETION_DELAY
        self.mesh = MeshIndex()
        """This cluster's mesh gateways, proxies and native services, from the catalog."""
        self.streams = Streams(self)

        self.address = ""
        """This cluster's peering address on the network, set by whoever attaches it
        (``World.add_cluster``, or the server with the cluster's HTTP address)."""

    # -- identity -------------------------------------------------------------------------------
    @property
    def server_name(self) -> str:
        return self.ctx.server_name

    def _now(self) -> float:
        return self.ctx.clock.now()

    def check_enabled(self) -> None:
        if not self.enabled:
            raise RPCError("FailedPrecondition", PEERING_DISABLED)

    def _new_id(self) -> str:
        while True:
            candidate = self.rand.uuid()
            if self.table.get_by_id(candidate) is None:
                return candidate

    def _write(self, record: Peering) -> Peering:
        try:
            with self.ctx.store.txn() as txn:
                return self.table.write(txn, record)
        except PeeringWriteError as exc:
            raise unknown(f"failed to write peering: {exc}") from None

    def write_record(self, record: Peering) -> Peering:
        """A peering write on behalf of replication (a received trust bundle)."""
        return self._write(record)

    def sync_mesh(self) -> None:
        """Catch up with the catalog's mesh, and put moved gateways on the network."""
        if self.mesh.sync(self.ctx.store):
            self.mesh.attach(self.ctx.store, self.ctx.network, self.ctx.name, self.address)

    # -- dialer: establish ----------------------------------------------------------------------
    def establish(
        self,
        peer: str,
        token: str,
        *,
        meta: Mapping[str, str] | None = None,
        partition: str = "",
    ) -> None:
        """The whole establish in one go: one pass over the addresses, each answered at once
        (in one process nothing can change while the dialer waits, so a retry would see the
        same network). Server mode drives :meth:`prepare_establish`, the exchange and
        :meth:`finish_establish` itself, so a slow remote never holds the world. Called from
        Python on a served world, an address in another process is waited for on the
        caller's thread without the world lock, so the served clusters keep answering."""
        plan = self.prepare_establish(peer, token, meta=meta, partition=partition)
        network = self.ctx.network
        for route in plan.routes:
            address = route.target
            with self.ctx.lock:
                pending = None
                if not route.via:
                    pending = network.remote_call(self.address, address, plan.request)
                if pending is None:
                    attempt = partial(network.call, self.address, address, plan.request, route.via)
                    secret = plan.outcome(route.address, attempt)
            if pending is not None:
                done = pending.run()
                with self.ctx.lock:
                    secret = plan.outcome(address, done.finish)
            if secret is not None:
                self.finish_establish(plan, address, secret, route)
                return
        raise plan.failure()

    def exchange_delays(self) -> Iterator[float]:
        """Waits between passes of a server-mode exchange: Consul's jittered retry, from a
        stream of its own so retries never shift the world's other draws."""
        rand = self.rand.derive("exchange")
        while True:
            yield EXCHANGE_RETRY * rand.uniform(1 - EXCHANGE_JITTER, 1 + EXCHANGE_JITTER)

    def prepare_establish(
        self,
        peer: str,
        token: str,
        *,
        meta: Mapping[str, str] | None = None,
        partition: str = "",
    ) -> Establishing:
        """Everything before the secret exchange: validation and the first write (Consul
        writes the record first, so a failed exchange still leaves a PENDING record)."""
        with self.ctx.lock:
            self.check_enabled()
            validate_peer_name(peer)
            envelope = decode_token(token)
            validate_token(envelope)
            problem = validate_meta(meta or {})
            if problem:
                raise unknown(f"meta tags failed validation: {problem}")
            existing = self.table.get(peer)
            if envelope.server_name == self.server_name:
                raise unknown(
                    f'cannot create a peering within the same cluster "{self.server_name}". '
                    "Refer to the `exported-services` documentation if you want to export "
                    "between partitions without peering"
                )
            server_addresses = list(envelope.server_addresses or [])
            connected = False
            if existing is not None:
                peering_id = existing.id
                stream = self.tracker.get(peering_id)
                connected = stream is not None and stream.connected
                if connected:
                    # Consul trusts a connected stream's addresses over the token's.
                    server_addresses = list(existing.peer_server_addresses)
            else:
                peering_id = self._new_id()
            if existing is not None and not existing.should_dial:
                raise unknown(
                    f'cannot create peering with name: "{existing.name}"; '
                    "there is an existing peering expecting to be dialed"
                )
            record = Peering(
                id=peering_id,
                name=peer,
                meta=dict(meta or {}),
                # Left undefined so the write keeps the stored state: a re-establish whose
                # exchange fails must not strand a connected peering in ESTABLISHING.
                state=PeeringState.UNDEFINED,
                peer_id=envelope.peer_id,
                peer_ca_pems=list(envelope.ca or []),
                peer_server_name=envelope.server_name,
                peer_server_addresses=server_addresses,
                manual_server_addresses=list(envelope.manual_server_addresses or []),
                remote=Remote(
                    partition=envelope.remote.partition, datacenter=envelope.remote.datacenter
                ),
            )
            record = self._write(record)
            self.sync_mesh()
            return Establishing(
                record=record,
                request=ExchangeSecret(
                    peer_id=envelope.peer_id,
                    establishment_secret=envelope.establishment_secret,
                    envelope_digest=envelope_digest(envelope),
                    dialer=self.ctx.name,
                ),
                # Manual addresses exclusively when there are any (GetAddressesToDial). In
                # one process a retry of Consul's gateway-only pass meets the same network,
                # so one pass over every route stands for its two.
                routes=dial_routes(self.ctx.store, self.mesh, record, self.ctx.name)[0],
                connected=connected,
            )

    def finish_establish(
        self,
        plan: Establishing,
        acceptor: str,
        stream_secret: str,
        route: DialRoute | None = None,
    ) -> None:
        """After a successful exchange: ESTABLISHING, the new active secret, the stream
        (opened the way the exchange went, ``route``)."""
        with self.ctx.lock:
            record = self.table.get_by_id(plan.record.id)
            if record is None or record.state == PeeringState.DELETING:
                raise not_found(plan.record.name)
            record = record.model_copy(deep=True)
            record.state = PeeringState.ESTABLISHING
            record = self._write(record)
            secrets = self.table.secrets.setdefault(record.id, PeeringSecrets())
            secrets.active_stream = stream_secret
            if plan.connected:
                # Consul's leader routine leaves a connected stream alone: the new PeerID,
                # CA and secret are used only when that stream ends and the dialer redials
                # (leader_peering.go, syncPeeringsAndBlock).
                return
            self._open_stream(record, route or DialRoute(acceptor, acceptor), stream_secret)

    def link_held(self, address: str) -> bool:
        """Whether the link to whoever listens at ``address`` holds its traffic."""
        network = self.ctx.network
        other = network.name_at(address)
        return other is not None and network.settings_between(self.ctx.name, other).held

    def _open_stream(self, record: Peering, route: DialRoute, stream_secret: str) -> None:
        """The leader routine opening the stream right after establish. Its first message
        (``Open``) is stream traffic, so on a held link it waits, and the dialer shows
        ESTABLISHING until the link is released and the world steps. A failed open leaves
        the dialer ESTABLISHING (or FAILING) and its leader retries with backoff."""
        if not route.via and self.link_held(route.target):
            self.streams.wait_for_link(record.id)
            return
        self._dial(record, [route], stream_secret)

    def dial(self, record: Peering) -> None:
        """One redial attempt: open a stream to the acceptor with the active stream secret,
        trying its addresses in turn, and schedule the next attempt when all fail."""
        secrets = self.table.secrets_for(record.id)
        if secrets is None or not secrets.active_stream:
            self.streams.schedule_redial(record.id)
            return
        self.sync_mesh()
        routes, _ = dial_routes(self.ctx.store, self.mesh, record, self.ctx.name)
        self._dial(record, routes, secrets.active_stream)

    def _dial(self, record: Peering, routes: list[DialRoute], secret: str) -> None:
        stream_id = self.streams.start_dial(record.id)
        message = OpenStream(
            peer_id=record.peer_id,
            stream_secret=secret,
            remote=Remote(partition="", datacenter=self.ctx.datacenter),
            dialer_peering_id=record.id,
            stream_id=stream_id,
        )
        self._dial_next(record.id, routes, message)

    def _dial_next(self, peering_id: str, routes: list[DialRoute], message: OpenStream) -> None:
        """Send ``OpenStream`` along the first of ``routes``; the answer decides what comes
        next (Consul's leader dials each address in turn, then backs off). The answer comes
        back through :meth:`~consul_sim.net.Network.call_then`: at once in one process, on a
        later world step from another process, so the peering shows ESTABLISHING meanwhile
        and a hung acceptor never holds the world. An address behind a held link is neither
        a success nor a failure: the attempt waits for the link, with no backoff."""
        if not routes:
            if self.streams.end_dial(peering_id, message.stream_id) is not None:
                self.streams.schedule_redial(peering_id)
            return
        route, rest = routes[0], routes[1:]
        address = route.target
        if not route.via and self.link_held(address):
            self.streams.wait_for_link(peering_id)
            return

        def answered(attempt: Callable[[], object]) -> None:
            try:
                attempt()
            except (Unreachable, RPCError) as exc:
                if self.streams.dialing(peering_id, message.stream_id):
                    self.streams.send_failed(peering_id, *_dial_error(exc))
                    self._dial_next(peering_id, rest, message)
                return
            record = self.table.get_by_id(peering_id)
            early = self.streams.end_dial(peering_id, message.stream_id)
            if early is None or record is None:
                return  # a later dial, a delete or a restart made this one moot
            self.streams.connect(
                record,
                address,
                message.peer_id,
                message.stream_id,
                dialer=True,
                secret=message.stream_secret,
            )
            self.streams.replay(early)

        self.streams.dial_to(peering_id, message.stream_id, address)
        self.ctx.network.call_then(self.address, address, message, answered, route.via)

    # -- replication ----------------------------------------------------------------------------
    def reconcile(self) -> None:
        """Push what changed to every connected peer (called once per world step)."""
        with self.ctx.lock:
            self.sync_mesh()
            self.streams.reconcile()

    def has_unsent(self) -> bool:
        return self.streams.has_unsent()

    def on_restart(self) -> None:
        with self.ctx.lock:
            self.streams.reset()

    # -- delete ---------------------------------------------------------------------------------
    def delete(self, name: str) -> None:
        """Idempotent: a missing or already-deleting peering is a no-op."""
        with self.ctx.lock:
            self.check_enabled()
            existing = self.table.get(name)
            if existing is None or existing.state == PeeringState.DELETING:
                return
            marked = Peering(
                id=existing.id,
                name=existing.name,
                partition=existing.partition,
                state=PeeringState.DELETING,
                deleted_at=self._now(),
                peer_server_addresses=list(existing.peer_server_addresses),
                manual_server_addresses=list(existing.manual_server_addresses),
                remote=existing.remote.model_copy(),
            )
            with self.ctx.store.txn() as txn:
                # The state store refuses writes to DELETING records; this one is the marking.
                marked.create_index = existing.create_index
                marked.modify_index = txn.touch("peering")
                self.table.by_name[existing.name.lower()] = marked
            self.table.drop_secrets(existing.id)
            end = self.streams.ends.get(existing.id)
            self.streams.forget(existing.id)
            remove_imported(self.ctx.store, existing.name)
            self.tracker.forget(existing.id)
            if end is not None:
                # The peer learns TERMINATED when the message lands (a later step when it is
                # in another process); the record here is DELETING already.
                self.ctx.network.call_then(
                    self.address,
                    end.peer_address,
                    Terminated(end.remote_peering_id, end.stream_id, stream_secret=end.secret),
                    _ignore_answer,
                )
            peering_id = existing.id
            self.ctx.scheduler.call_later(
                self.deletion_delay, partial(self._finish_delete, peering_id)
            )

    def _finish_delete(self, peering_id: str) -> None:
        """The leader routine: once imported data is gone, the record itself goes."""
        with self.ctx.lock:
            record = self.table.get_by_id(peering_id)
            if record is None or record.state != PeeringState.DELETING:
                return
            remove_imported(self.ctx.store, record.name)
            with self.ctx.store.txn() as txn:
                self.table.remove(txn, record.name)

    # -- the server side: messages from other clusters ------------------------------------------
    def receive(self, source: str, message: object) -> object:
        with self.ctx.lock:
            if isinstance(message, ExchangeSecret):
                return self._on_exchange_secret(source, message)
            if isinstance(message, OpenStream):
                return self._on_open_stream(source, message)
            if isinstance(message, Terminated):
                if self.streams.authenticate(message) is None:
                    return StreamOpened()  # the end of a stream that is already gone
                return self._on_terminated(message)
            if isinstance(message, StreamMessage):
                self.streams.receive(message)
                return None
            raise RPCError("Unimplemented", f"unknown message {type(message).__name__}")

    def _on_exchange_secret(self, source: str, msg: ExchangeSecret) -> ExchangeSecretResponse:
        self.check_enabled()
        check = partial(
            verify_secret,
            self._key,
            msg.establishment_secret,
            now=self._now(),
            peer_id=msg.peer_id,
            digest=msg.envelope_digest,
        )
        claims = check(dialer=None)
        if claims.peer_name != msg.dialer:
            self._warn_other_name(source, claims.peer_name, msg.dialer)
            if self.verify_peer_name:
                check(dialer=msg.dialer)  # raises the strict rule's refusal
        record = self.table.get_by_id(claims.peer_id)
        if record is None or record.state in (PeeringState.DELETING, PeeringState.TERMINATED):
            raise SecretRefused("deleted", "its peering was deleted")
        secrets = self.table.secrets_for(record.id)
        if secrets is None or secrets.establishment != claims.jti:
            if claims.jti in self._consumed:
                raise SecretRefused("used", "it was already used to establish this peering")
            raise SecretRefused("superseded", "a newer token was generated for this peering")
        self._consumed.add(claims.jti)
        secrets.establishment = ""
        secrets.pending_stream = self.rand.uuid()
        return ExchangeSecretResponse(stream_secret=secrets.pending_stream)

    def _warn_other_name(self, source: str, generated_for: str, dialer: str) -> None:
        """A journal line when a token made for one peer name is presented by a cluster of
        another name. Consul accepts it silently (the name is the acceptor's local label for
        the peer, nothing the secret proves); the simulator says so, so a scenario can teach
        that the page's "exact name" rule is advice, not a check."""
        if self.verify_peer_name:
            rule = "refused: strict peer names"
        else:
            rule = "accepted: Consul does not check it"
        self.ctx.network.note(
            self.address,
            source,
            "PeerNameMismatch",
            f'warning: the token was generated for peer "{generated_for}", but cluster '
            f'"{dialer}" presented it ({rule})',
        )

    def _on_open_stream(self, source: str, msg: OpenStream) -> StreamOpened:
        # The acceptor's checks in the order and words of Consul's StreamResources
        # (peerstream/server.go).
        record = self.table.get_by_id(msg.peer_id)
        if record is None:
            raise RPCError(
                "InvalidArgument", f"initial subscription for unknown PeerID: {msg.peer_id}"
            )
        if record.state in (PeeringState.DELETING, PeeringState.TERMINATED):
            raise RPCError("Aborted", f"peering is marked as deleted: {msg.peer_id}")
        secrets = self.table.secrets_for(msg.peer_id)
        if secrets is None:
            raise RPCError(
                "Internal", "unable to authorize connection, peering must be re-established"
            )
        if same_secret(secrets.pending_stream, msg.stream_secret):
            # Promoting the pending secret retires the old active one: a stream opened (or a
            # message signed) with it is refused from now on.
            secrets.active_stream, secrets.pending_stream = secrets.pending_stream, ""
        elif not same_secret(secrets.active_stream, msg.stream_secret):
            raise stream_denied()
        if record.peer_id:
            raise RPCError(
                "InvalidArgument",
                "expected PeerID to be empty; the wrong end of peering is being dialed",
            )
        current = self.streams.ends.get(record.id)
        if current is not None and current.remote_peering_id != msg.dialer_peering_id:
            # One stream per acceptor peering (stream_tracker.go, Connected): a second
            # dialer peering of the same token's peer (an alias) is refused while the first
            # is connected, after its secret was promoted, as Consul checks in that order
            # (stream_resources.go). The first keeps the stream, so the Terminated of a
            # delete reaches it. The same dialer peering opening again replaces its own
            # stream: its old one is over on its side, as gRPC would have noticed.
            raise active_stream(record.id)
        if record.remote != msg.remote:
            updated = record.model_copy(deep=True)
            updated.remote = msg.remote.model_copy()
            updated.state = PeeringState.UNDEFINED
            self._write(updated)
        self.streams.connect(
            record,
            source,
            msg.dialer_peering_id,
            msg.stream_id,
            dialer=False,
            secret=msg.stream_secret,
        )
        # The stream's secret vouches for the address it was opened from: journal lines about
        # it name this peering, never a name the sender wrote in its own request.
        self.ctx.network.learn_remote_name(source, record.name)
        return StreamOpened()

    def _on_terminated(self, msg: Terminated) -> StreamOpened:
        record = self.table.get_by_id(msg.peering_id)
        if record is None or record.state == PeeringState.DELETING:
            return StreamOpened()
        updated = record.model_copy(deep=True)
        updated.state = PeeringState.TERMINATED
        self._write(updated)
        self.table.drop_secrets(record.id)
        self.streams.forget(record.id)
        remove_imported(self.ctx.store, record.name)
        status = self.tracker.get(record.id)
        if status is not None:
            status.disconnect(self._now())
        return StreamOpened()
