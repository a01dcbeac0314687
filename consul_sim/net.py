"""The simulated network between clusters.

Clusters never call each other's HTTP API: a cluster's server-to-server traffic is a message
handed to the ``Network``, which finds the receiving cluster by the address the sender dialed.
Like Maelstrom's network, messages are data, and each one is written to a journal (sent,
delivered, dropped, held), so a run can be inspected, taught from, and replayed.

Two ways across:

* :meth:`Network.call` is a synchronous request/answer, for what Consul does as one unary RPC or
  a connection handshake (the secret exchange, a stream open, ``Terminated`` on close). It
  honours partitions and crashes by raising :class:`Unreachable`, but has no latency.
  :meth:`Network.call_then` is the same call with its continuation, for callers that must not
  wait on another process: the continuation runs at once locally, on a later step remotely.
* :meth:`Network.send` queues a message on the link for delivery at ``now + latency``; the world
  delivers queued messages in ``(deliver_at, seq)`` order (SimPy's event heap), so the same seed
  replays the same run. Stream traffic (resources, ACKs, heartbeats) goes this way.

Every link is the unordered pair of cluster names, with its own latency, loss and duplication
probabilities, a partition flag, and a hold flag (messages wait until released, as turmoil's
``hold``). All randomness comes from one stream derived from the world seed.

The journal is a ring (:class:`consul_sim.journal.Journal`) of bounded size.

Mesh gateways are nodes of the network too. A cluster's mesh gateway is attached at its own
addresses (:meth:`Network.attach_gateway`) under a name of its own (``cluster-01/mesh-gateway``)
and forwards to the cluster that owns it, so traffic addressed to it crosses two links: sender to
gateway, gateway to owner. A dialer that peers through its own local gateway names it in ``via``;
the path a stream opened on is remembered for that pair of clusters (:meth:`Network.learn_route`)
and both ends' traffic follows it, as the replies of one gRPC stream ride the connection that
opened it. Every link on a path counts: any partitioned or held link cuts or holds the message,
latencies add up, and a journal line of a path with gateways names them (``via ...``). A path
with no gateway is exactly the single link between two clusters, as before.

An address no local cluster owns may belong to a cluster in another process (two
``consul-sim serve`` peered over loopback). When a :class:`RemoteTransport` is installed (server
mode does), such traffic is handed to it instead of being refused: a call waits for the remote
answer (off the world's thread with :meth:`Network.call_then`), a queued message is handed
over when due and its outcome is journalled when the transport reports it back. Without a
transport, and for every address owned locally, nothing changes, so in-process runs stay
deterministic.
"""

from __future__ import annotations

import heapq
import itertools
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Protocol

from consul_sim.journal import DEFAULT_JOURNAL_SIZE, Journal, JournalEntry
from consul_sim.netpaths import GatewayPaths, LinkSettings, link_key

if TYPE_CHECKING:
    from consul_sim.clock import Clock
    from consul_sim.rand import SimRandom

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


def refused(address: str) -> str:
    """Go's gRPC wording when nothing listens at the address."""
    return (
        f'connection error: desc = "transport: Error while dialing: dial tcp {address}: '
        f'connect: connection refused"'
    )


def timed_out(address: str) -> str:
    """Go's gRPC wording when the path to a listener is cut (or it never answers)."""
    return (
        f'connection error: desc = "transport: Error while dialing: dial tcp {address}: '
        f'i/o timeout"'
    )


class Receiver(Protocol):
    """A cluster's server-side handler for messages from other clusters."""

    def receive(self, source: str, message: object) -> object: ...


Outcome = Callable[[str], None]
"""Called by a transport, from any thread, with ``""`` once a message was delivered, or the
journal outcome that says why not (``dropped: unreachable: ...``, ``error: ...``)."""


class RemoteTransport(Protocol):
    """Carries traffic to addresses owned by another process."""

    def call(
        self, source: str, destination: str, message: object, timeout: float | None = None
    ) -> object:
        """The remote receiver's answer; raises :class:`Unreachable` when nobody answers
        (within ``timeout`` seconds, when given), and the receiver's own refusal (a
        ``ConsulError``) as that error. Safe to call from any thread."""
        ...

    def send(self, source: str, destination: str, message: object, done: Outcome) -> None:
        """Hand a queued message over without blocking; report the outcome through ``done``."""
        ...

    def begin(self, call: RemoteCall, done: Callable[[RemoteCall], None]) -> None:
        """Run ``call`` off the caller's thread without blocking it, after every call handed
        over earlier for the same destination (so calls to one peer keep their order), then
        report it through ``done``, from any thread. A call the transport cannot take (it is
        closing) is failed at once with :meth:`RemoteCall.fail`."""
        ...

    def close(self) -> None: ...


Continuation = Callable[[Callable[[], object]], None]
"""What :meth:`Network.call_then` does with a call's outcome: it is handed ``attempt``, which
returns the receiver's answer or raises as :meth:`Network.call` would (journalling either)."""


@dataclass
class RemoteCall:
    """A synchronous call to another process, split so the wait happens off the world's
    thread: :meth:`run` (any thread, no lock held) talks to the transport, :meth:`finish`
    (under the world lock) journals the outcome and answers or raises as :meth:`Network.call`
    would have."""

    network: Network
    transport: RemoteTransport
    source: str
    destination: str
    message: object
    answer: object = None
    error: Exception | None = None

    def run(self, timeout: float | None = None) -> RemoteCall:
        try:
            self.answer = self.transport.call(self.source, self.destination, self.message, timeout)
        except Exception as exc:
            self.error = exc
        return self

    def fail(self, reason: str) -> RemoteCall:
        """The call never left: nobody answered, for ``reason``."""
        self.error = Unreachable(self.destination, reason)
        return self

    def finish(self) -> object:
        kind = type(self.message).__name__
        summary = summary_of(self.message)
        if self.error is None:
            self.network._log(self.source, self.destination, kind, "ok", summary)
            return self.answer
        if isinstance(self.error, Unreachable):
            outcome = f"unreachable: {self.error.reason}"
        else:
            outcome = f"error: {self.error}"
        self.network._log(self.source, self.destination, kind, outcome, summary)
        raise self.error


@dataclass(order=True)
class Envelope:
    """A queued message, ordered by ``(deliver_at, seq)``."""

    deliver_at: float
    seq: int
    source: str = field(compare=False)
    destination: str = field(compare=False)
    message: object = field(compare=False)
    summary: str = field(default="", compare=False)
    path: tuple[str, ...] = field(default=(), compare=False)
    """The node names it crosses, sender to receiver (empty: the one link between them)."""


def summary_of(message: object) -> str:
    describe = getattr(message, "summary", None)
    if callable(describe):
        text = describe()
        return text if isinstance(text, str) else ""
    return ""


class Network(GatewayPaths):
    def __init__(
        self,
        clock: Clock,
        rand: SimRandom | None = None,
        *,
        journal_size: int = DEFAULT_JOURNAL_SIZE,
    ) -> None:
        from consul_sim.rand import SimRandom

        self.clock = clock
        self.rand = rand if rand is not None else SimRandom(0, "net")
        self._receivers: dict[str, Receiver] = {}
        self._names: dict[str, str] = {}
        self._next_port = FIRST_PEERING_PORT
        self._seq = itertools.count(1)
        self._last_message = 0
        self.journal = Journal(journal_size)
        self.links: dict[tuple[str, str], LinkSettings] = {}
        self.crashed: set[str] = set()
        self._queue: list[Envelope] = []
        self._held: list[Envelope] = []
        self.remote: RemoteTransport | None = None
        """Set in server mode: where traffic to addresses no local cluster owns goes."""
        self._remote_names: dict[str, str] = {}
        self._remote_outcomes: queue.SimpleQueue[tuple[Envelope, str]] = queue.SimpleQueue()
        self._remote_replies: queue.SimpleQueue[tuple[RemoteCall, Continuation]] = (
            queue.SimpleQueue()
        )
        self._awaiting = 0
        self.gateways: dict[str, tuple[str, str]] = {}
        """Mesh gateway address -> (the gateway's name on the network, its cluster's address)."""
        self.routes: dict[tuple[str, str], tuple[str, ...]] = {}
        """(from cluster, to cluster) -> the gateways their stream's traffic crosses, in order."""

    def __getstate__(self) -> dict[str, object]:
        """What a world snapshot keeps: everything but the link to other processes. The
        remote transport and its reply queues belong to the serving process (it sets
        ``remote`` again when it serves the restored world); a call to another process still
        out when the snapshot was taken is not in it, as a request in flight is not in a
        Consul snapshot: the peering's next redial or heartbeat makes up for it."""
        state = self.__dict__.copy()
        state["remote"] = None
        state["_awaiting"] = 0
        del state["_remote_outcomes"], state["_remote_replies"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._remote_outcomes = queue.SimpleQueue()
        self._remote_replies = queue.SimpleQueue()

    # -- addresses ------------------------------------------------------------------------------
    def attach(self, name: str, receiver: Receiver, address: str | None = None) -> str:
        """Give a cluster a peering address: its own loopback port, or ``address`` (in server
        mode, the cluster's HTTP address, which another process can reach). A cluster may own
        several; the earlier ones keep working for peerings that recorded them."""
        if address is None:
            address = f"{LOOPBACK}:{self._next_port}"
            self._next_port += PORT_STRIDE
        owner = self._names.get(address)
        if owner is not None and owner != name and address in self._receivers:
            raise ValueError(f"address {address} is already {owner}'s")
        self._receivers[address] = receiver
        self._names[address] = name
        return address

    def detach(self, address: str) -> None:
        self._receivers.pop(address, None)

    def name_at(self, address: str) -> str | None:
        return self._names.get(address)

    def learn_remote_name(self, address: str, name: str) -> None:
        """Label another process's address with its cluster name, for the journal only."""
        if name and address not in self._names:
            self._remote_names[address] = name

    # -- links ----------------------------------------------------------------------------------
    def link(self, a: str, b: str) -> LinkSettings:
        key = link_key(a, b)
        settings = self.links.get(key)
        if settings is None:
            settings = self.links[key] = LinkSettings()
        return settings

    def partition(self, a: str, b: str) -> None:
        self.link(a, b).partitioned = True

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """Heal one link's partition, or every link's when no pair is given."""
        keys = list(self.links) if a is None or b is None else [link_key(a, b)]
        for key in keys:
            if key in self.links:
                self.links[key].partitioned = False

    def set_link(
        self,
        a: str,
        b: str,
        *,
        latency: float | None = None,
        loss: float | None = None,
        duplicate: float | None = None,
    ) -> LinkSettings:
        for name, value in (("latency", latency), ("loss", loss), ("duplicate", duplicate)):
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
        for name, value in (("loss", loss), ("duplicate", duplicate)):
            if value is not None and value > 1:
                raise ValueError(f"{name} is a probability, between 0 and 1")
        settings = self.link(a, b)
        if latency is not None:
            settings.latency = latency
        if loss is not None:
            settings.loss = loss
        if duplicate is not None:
            settings.duplicate = duplicate
        return settings

    def hold(self, a: str, b: str) -> None:
        self.link(a, b).held = True

    def release(self, a: str, b: str) -> None:
        """Let held messages go, in the order they were sent, no earlier than now."""
        key = link_key(a, b)
        self.link(a, b).held = False
        now = self.clock.now()
        keep: list[Envelope] = []
        for env in self._held:
            links = itertools.pairwise(env.path) if env.path else [self._pair(env)]
            if any(link_key(x, y) == key for x, y in links):
                env.deliver_at = max(env.deliver_at, now)
                heapq.heappush(self._queue, env)
            else:
                keep.append(env)
        self._held = keep

    def crash(self, name: str) -> None:
        self.crashed.add(name)

    def restart(self, name: str) -> None:
        self.crashed.discard(name)

    def _pair(self, env: Envelope) -> tuple[str, str]:
        if env.path:
            return env.path[0], env.path[-1]
        return self._endpoint(env.source), self._endpoint(env.destination)

    def _cut(self, source: str, destination: str) -> str:
        """Why nothing can cross between these addresses right now ("" when it can)."""
        return self._path_cut(self.path(source, destination))

    # -- synchronous calls ----------------------------------------------------------------------
    def remote_call(self, source: str, destination: str, message: object) -> RemoteCall | None:
        """A call to ``destination`` to be waited for off this thread, or None when a local
        cluster (or nobody) listens there or the path is cut: then :meth:`call` answers at
        once. The world's own traffic never takes this path, so in-process runs stay
        deterministic."""
        remote = self.remote
        if (
            remote is None
            or self._receiver(destination) is not None
            or self._cut(source, destination)
        ):
            return None
        return RemoteCall(self, remote, source, destination, message)

    def call(
        self,
        source: str,
        destination: str,
        message: object,
        via: tuple[str, ...] | None = None,
    ) -> object:
        """Deliver ``message`` from ``source`` to whoever listens at ``destination`` and return
        its answer. An exception raised by the receiver propagates to the sender as is. With
        ``via`` (the gateways the sender dials through, maybe none) the path is the sender's
        choice, and once answered the pair's traffic follows it (:meth:`learn_route`)."""
        kind = type(message).__name__
        receiver = self._receiver(destination)
        path = self.path(source, destination, via)
        summary = self._routed(summary_of(message), path)
        if receiver is None and self.remote is None:
            self._log(source, destination, kind, "unreachable", summary)
            raise Unreachable(destination, refused(destination))
        cut = self._path_cut(path)
        if cut:
            self._log(source, destination, kind, f"unreachable: {cut}", summary)
            raise Unreachable(destination, timed_out(destination))
        try:
            if receiver is None:
                assert self.remote is not None
                answer = self.remote.call(source, destination, message)
            else:
                answer = receiver.receive(source, message)
        except Unreachable as exc:
            self._log(source, destination, kind, f"unreachable: {exc.reason}", summary)
            raise
        except Exception as exc:
            self._log(source, destination, kind, f"error: {exc}", summary)
            raise
        self._log(source, destination, kind, "ok", summary)
        if via is not None:
            self.learn_route(path)
        return answer

    def call_then(
        self,
        source: str,
        destination: str,
        message: object,
        then: Continuation,
        via: tuple[str, ...] | None = None,
    ) -> None:
        """:meth:`call`, with what follows the answer handed over as ``then``.

        To a local cluster (or across a cut path) the call is made at once and ``then`` runs
        before this returns, exactly as a plain :meth:`call` followed by its handling, so
        in-process runs journal the same lines in the same order. To another process the
        call is handed to the transport and this returns at once: the wait happens on a
        transport thread, and ``then`` runs on a later world step, under the world lock
        (:meth:`deliver_due`). It is how the domain makes a call that may take a remote
        peer's timeout without ever holding the thread that serves every cluster."""
        pending = self.remote_call(source, destination, message)
        if pending is None:
            then(partial(self.call, source, destination, message, via))
            return
        self._awaiting += 1
        replies = self._remote_replies
        pending.transport.begin(pending, lambda done: replies.put((done, then)))

    def awaiting_replies(self) -> int:
        """Calls to another process whose outcome has not been applied yet."""
        return self._awaiting

    def _resolve_remote_calls(self) -> None:
        """Apply the outcome of every finished remote call, in the order they finished. A
        refusal that escapes the continuation is journalled like a delivered message's."""
        from consul_sim.errors import ConsulError

        while True:
            try:
                done, then = self._remote_replies.get_nowait()
            except queue.Empty:
                return
            self._awaiting -= 1
            try:
                then(done.finish)
            except ConsulError as exc:
                kind = type(done.message).__name__
                self._log(done.source, done.destination, kind, f"error: {exc}")

    # -- queued messages ------------------------------------------------------------------------
    def send(self, source: str, destination: str, message: object) -> None:
        """Queue ``message`` on the link (the path, through gateways); :meth:`deliver_due`
        delivers it."""
        kind = type(message).__name__
        seq = self._new_message_seq()
        path = self.path(source, destination)
        summary = self._routed(summary_of(message), path)
        a = path[0]
        if a in self.crashed:
            self._log(source, destination, kind, f"dropped: {a} is crashed", summary, seq)
            return
        settings = self.path_settings(path)
        if settings.partitioned:
            cut = self._path_cut(path, first=len(path))
            self._log(source, destination, kind, f"dropped: {cut}", summary, seq)
            return
        if settings.loss and self.rand.random() < settings.loss:
            self._log(source, destination, kind, "dropped: lost", summary, seq)
            return
        routed = path if len(path) > 2 else ()
        env = Envelope(
            self.clock.now() + settings.latency, seq, source, destination, message, summary, routed
        )
        copies = [env]
        if settings.duplicate and self.rand.random() < settings.duplicate:
            twin = Envelope(
                env.deliver_at,
                self._new_message_seq(),
                source,
                destination,
                message,
                summary,
                routed,
            )
            copies.append(twin)
        for copy in copies:
            if settings.held:
                self._held.append(copy)
                self._log(source, destination, kind, "held", summary, copy.seq)
            else:
                heapq.heappush(self._queue, copy)
                outcome = "sent" if copy is env else "sent: duplicate"
                self._log(source, destination, kind, outcome, summary, copy.seq)

    def next_delivery(self) -> float | None:
        """When the earliest queued (not held) message is due; None when nothing is queued."""
        return self._queue[0].deliver_at if self._queue else None

    def due(self, now: float) -> bool:
        return bool(self._queue) and self._queue[0].deliver_at <= now

    def in_flight(self) -> int:
        return len(self._queue)

    def held(self) -> int:
        return len(self._held)

    def deliver_due(self, now: float, *, upto_seq: int | None = None) -> int:
        """Deliver every queued message due at ``now`` (sent no later than ``upto_seq``, so
        answers produced during this round wait for the next), in ``(deliver_at, seq)`` order.
        A receiver's refusal is journalled; anything else it raises propagates."""
        from consul_sim.errors import ConsulError

        self._journal_remote_outcomes()
        self._resolve_remote_calls()
        later: list[Envelope] = []
        delivered = 0
        while self._queue and self._queue[0].deliver_at <= now:
            env = heapq.heappop(self._queue)
            if upto_seq is not None and env.seq > upto_seq:
                later.append(env)
                continue
            kind = type(env.message).__name__
            a, b = self._pair(env)
            path = env.path or (a, b)
            settings = self.path_settings(path)
            receiver = self._receiver(env.destination)
            if settings.held:
                self._held.append(env)
                self._log(env.source, env.destination, kind, "held", env.summary, env.seq)
                continue
            if receiver is None and self.remote is not None:
                outcome = f"dropped: {a} is crashed" if a in self.crashed else ""
                if settings.partitioned:
                    outcome = "dropped: partitioned"
                if not outcome:
                    self._forward(env)
                    delivered += 1
                    continue
            elif receiver is None:
                outcome = "dropped: unreachable"
            else:
                cut = self._path_cut(path, first=1)
                outcome = f"dropped: {cut}" if cut else ""
            if outcome:
                self._log(env.source, env.destination, kind, outcome, env.summary, env.seq)
                continue
            assert receiver is not None
            self._log(env.source, env.destination, kind, "delivered", env.summary, env.seq)
            delivered += 1
            try:
                receiver.receive(env.source, env.message)
            except ConsulError as exc:
                self._log(env.source, env.destination, kind, f"error: {exc}", "", env.seq)
        for env in later:
            heapq.heappush(self._queue, env)
        return delivered

    def _forward(self, env: Envelope) -> None:
        """Hand a due message to the remote transport; its outcome is journalled later, on
        the thread that delivers messages (see :meth:`_journal_remote_outcomes`)."""
        assert self.remote is not None
        outcomes = self._remote_outcomes
        self.remote.send(
            env.source, env.destination, env.message, lambda outcome: outcomes.put((env, outcome))
        )

    def _journal_remote_outcomes(self) -> None:
        while True:
            try:
                env, outcome = self._remote_outcomes.get_nowait()
            except queue.Empty:
                return
            kind = type(env.message).__name__
            self._log(
                env.source, env.destination, kind, outcome or "delivered", env.summary, env.seq
            )

    def _new_message_seq(self) -> int:
        self._last_message += 1
        return self._last_message

    @property
    def last_message_seq(self) -> int:
        """The seq of the last message handed to :meth:`send` (0 before any)."""
        return self._last_message

    def note(self, source: str, destination: str, kind: str, outcome: str) -> None:
        """A journal line that is not a message: something a receiver noticed about one it
        was handed (a warning a teaching scenario should be able to show). ``source`` and
        ``destination`` are peering addresses, as on every other line."""
        self._log(source, destination, kind, outcome)

    def _log(
        self,
        source: str,
        destination: str,
        kind: str,
        outcome: str,
        summary: str = "",
        message_seq: int = 0,
    ) -> None:
        self.journal.append(
            JournalEntry(
                next(self._seq),
                self.clock.now(),
                source,
                destination,
                kind,
                outcome,
                summary,
                self._names.get(source) or self._remote_names.get(source, ""),
                self._names.get(destination)
                or self._remote_names.get(destination, "")
                or self._owner_name(destination),
                message_seq,
            )
        )

    def tail(self, n: int = 20) -> str:
        """The last ``n`` journal lines, for an error message a person can read."""
        lines = []
        for e in self.journal.last(n):
            src = e.source_cluster or e.source
            dst = e.destination_cluster or e.destination
            text = f"#{e.seq} t={e.at:.3f} {src} -> {dst} {e.kind} {e.outcome}"
            if e.summary:
                text += f" ({e.summary})"
            lines.append(text)
        return "\n".join(lines)
