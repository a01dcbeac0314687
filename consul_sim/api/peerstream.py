"""/_sim/peerstream: the wire between clusters served by different processes.

Not a Consul API. Consul's servers talk peering over gRPC on their own port; the simulator's
clusters hand messages to ``consul_sim.net``. When two ``consul-sim serve`` processes peer, a
cluster's peering address is its HTTP address, and a message for an address no local cluster
owns is POSTed here (``HTTPTransport``, which server mode installs on the network). The
receiving process delivers it to its own network as if it came from a local cluster, and answers
with the receiver's reply, its refusal, or ``Unreachable`` (the cluster is crashed), all encoded
by :mod:`consul_sim.peering.wire`, so the sender handles each exactly as in-process.

Nothing here waits on the event-loop thread. Calls (the secret exchange, a stream open,
``Terminated``) wait for their answer, up to ``CALL_TIMEOUT``, on a thread: the exchange on
one of asyncio's (:func:`exchange_secret`), the others on the destination's call thread
(:meth:`HTTPTransport.begin`), whose answer the network applies on a later world step. Queued
stream traffic has its own thread per destination (so its messages keep their order) that
posts them and reports the outcome back to the network's journal.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import Request
from starlette.responses import Response

from consul_sim.api.http import ConsulRouter, cluster_of, json_response, read_json
from consul_sim.api.openapi import (
    OBJECT,
    STRING,
    Body,
    Op,
    ok,
)
from consul_sim.errors import BadRequest, ConsulError, PermissionDenied, RPCError
from consul_sim.jsonenc import encode_json
from consul_sim.net import Network, Outcome, RemoteCall, Unreachable, refused, timed_out
from consul_sim.peering.replication import StreamMessage
from consul_sim.peering.service import EXCHANGE_BUDGET, Establishing
from consul_sim.peering.streamauth import MAC_HEADER, mac_matches, stream_denied, stream_mac
from consul_sim.peering.wire import (
    WireError,
    decode_error,
    decode_message,
    encode_error,
    encode_message,
)

PATH = "/_sim/peerstream"
CALL_TIMEOUT = httpx.Timeout(3.0, connect=1.0)
MAX_BACKLOG = 1000
"""Queued messages per destination still waiting for a worker; beyond it they are dropped
(a peer that hangs must not grow the sender's memory without bound)."""

if TYPE_CHECKING:
    from consul_sim.peering.service import PeeringService
    from consul_sim.world import World

MIN_ATTEMPT = 0.05
MAX_ATTEMPT = 1.0
"""Seconds one exchange attempt waits for a remote answer: a silent acceptor costs at most
this, so a 3 s budget still makes several attempts."""

DENIED_PREFIX = "rpc error: code = PermissionDenied desc = "

router = ConsulRouter()

PEERSTREAM_BODY = {
    "type": "object",
    "required": ["Source", "Message"],
    "properties": {"Source": STRING, "SourceCluster": STRING, "Message": OBJECT},
}


def _denied(exc: RPCError) -> PermissionDenied:
    """gRPC's PermissionDenied as HTTP says it (403), with the gRPC client's sentence."""
    return PermissionDenied(str(exc))


@router.endpoint(
    PATH,
    "POST",
    doc=Op(
        "one peering message from a cluster served by another process (simulator only)",
        body=Body(schema=PEERSTREAM_BODY),
        answers=(ok(OBJECT),),
        errors=(400, 403),
    ),
)
async def peerstream(request: Request) -> Response:
    """One message from a cluster in another process, delivered to this cluster.

    A stream message is let in only when the body's HMAC (``MAC_HEADER``) checks out against
    the secret of the stream the message names; it then enters this process's network as sent
    by that stream's peer, whatever ``Source`` says. Handshake messages (``ExchangeSecret``,
    ``OpenStream``) carry their own secrets and are checked by the peering service as
    in-process; for them ``Source`` is the return address the dialer asks to be answered at."""
    cluster = cluster_of(request)
    raw = await request.body()
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    source = body.get("Source")
    if not isinstance(source, str) or not source:
        raise BadRequest("Missing Source: the sending cluster's peering address")
    try:
        message = decode_message(body.get("Message"))
    except WireError as exc:
        raise BadRequest(f"Request decode failed: {exc}") from None
    if message is None:
        raise BadRequest("Missing Message")
    world = cluster.world
    out: dict[str, Any] = {"Cluster": cluster.name}
    with world.lock:
        network = world.network
        if isinstance(message, StreamMessage):
            secret, peer = cluster.peering.streams.expected_secret(message.peering_id)
            presented = request.headers.get(MAC_HEADER, "")
            if message.stream_secret or not mac_matches(secret, raw, presented):
                raise _denied(stream_denied())
            message = dataclasses.replace(message, stream_secret=secret)
            source = peer
        try:
            answer = network.call(source, cluster.peering_address, message)
        except Unreachable as exc:
            out["Unreachable"] = exc.reason
        except RPCError as exc:
            if exc.code == "PermissionDenied":
                raise _denied(exc) from None
            out["Error"] = encode_error(exc)
        except ConsulError as exc:
            out["Error"] = encode_error(exc)
        else:
            out["Answer"] = encode_message(answer)
    return json_response(out)


async def exchange_secret(world: World, service: PeeringService, plan: Establishing) -> None:
    """Finish a served establish without ever waiting on the event-loop thread or under the
    world lock: a remote acceptor is dialed on a worker thread, and the exchange is retried
    over the addresses with jittered waits until ``EXCHANGE_BUDGET`` runs out (Consul's
    establish retries for about 3 s). Each failed attempt adds one line to the error. A pass
    that reached only local addresses (or none) is not retried: nothing can have changed."""
    deadline = time.monotonic() + EXCHANGE_BUDGET
    delays = service.exchange_delays()
    while True:
        dialed = False
        for route in plan.routes:
            address = route.target
            with world.lock:
                pending = None
                if not route.via:  # through a local mesh gateway: stays in this process
                    pending = world.network.remote_call(service.address, address, plan.request)
                if pending is None:
                    call = partial(
                        world.network.call, service.address, address, plan.request, route.via
                    )
                    secret = plan.outcome(route.address, call)
                    if secret is not None:
                        service.finish_establish(plan, address, secret, route)
                        return
                    continue
            dialed = True
            wait = min(max(deadline - time.monotonic(), MIN_ATTEMPT), MAX_ATTEMPT)
            done = await asyncio.to_thread(pending.run, wait)
            with world.lock:
                secret = plan.outcome(address, done.finish)
                if secret is not None:
                    service.finish_establish(plan, address, secret)
                    return
        pause = next(delays)
        if not dialed or time.monotonic() + pause >= deadline:
            raise plan.failure()
        await asyncio.sleep(pause)


class HTTPTransport:
    """The network's :class:`~consul_sim.net.RemoteTransport` in server mode."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self._client = httpx.Client(timeout=CALL_TIMEOUT)
        self._lock = threading.Lock()
        self._workers: dict[str, tuple[ThreadPoolExecutor, httpx.Client]] = {}
        self._callers: dict[str, ThreadPoolExecutor] = {}
        """Per destination, the one thread its calls wait on: in order among themselves, and
        never stuck behind the stream traffic a hung peer has piled up on its worker."""
        self._backlog: dict[str, int] = {}
        self._closed = False

    @staticmethod
    def _body(source: str, message: object) -> tuple[bytes, dict[str, str]]:
        """The post for ``message``: a stream message leaves its secret behind and is signed
        with it instead, so the secret crosses only in the handshake."""
        headers = {"Content-Type": "application/json"}
        secret = ""
        if isinstance(message, StreamMessage):
            secret = message.stream_secret
            message = dataclasses.replace(message, stream_secret="")
        body = encode_json({"Source": source, "Message": encode_message(message)})
        if secret:
            headers[MAC_HEADER] = stream_mac(secret, body)
        return body, headers

    @staticmethod
    def _post(
        client: httpx.Client,
        destination: str,
        post: tuple[bytes, dict[str, str]],
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """The receiving process's reply; :class:`Unreachable` when there is none, and the
        receiver's ``PermissionDenied`` (a 403) as the same :class:`RPCError`."""
        body, headers = post
        try:
            response = client.post(
                f"http://{destination}{PATH}",
                content=body,
                headers=headers,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0))
                if timeout is not None
                else CALL_TIMEOUT,
            )
        except httpx.ConnectError:
            raise Unreachable(destination, refused(destination)) from None
        except httpx.TimeoutException:
            raise Unreachable(destination, timed_out(destination)) from None
        except httpx.HTTPError as exc:
            raise Unreachable(destination, f'connection error: desc = "{exc}"') from None
        reply: object = None
        if response.status_code == 403 and response.text.startswith(DENIED_PREFIX):
            raise RPCError("PermissionDenied", response.text.removeprefix(DENIED_PREFIX))
        if response.status_code == 200:
            try:
                reply = response.json()
            except ValueError:
                pass
        if not isinstance(reply, dict):
            detail = response.text.strip()[:200]
            raise Unreachable(
                destination,
                f'connection error: desc = "{destination} does not speak peerstream: '
                f'{response.status_code} {detail}"',
            )
        return reply

    @staticmethod
    def _answer(destination: str, reply: dict[str, Any]) -> object:
        if "Unreachable" in reply:
            raise Unreachable(destination, str(reply["Unreachable"]))
        try:
            if "Error" in reply:
                raise decode_error(reply["Error"])
            return decode_message(reply.get("Answer"))
        except WireError as exc:
            raise Unreachable(destination, f'connection error: desc = "{exc}"') from None

    # -- RemoteTransport ------------------------------------------------------------------------
    def call(
        self, source: str, destination: str, message: object, timeout: float | None = None
    ) -> object:
        reply = self._post(self._client, destination, self._body(source, message), timeout)
        name = reply.get("Cluster")
        if isinstance(name, str):
            self.network.learn_remote_name(destination, name)
        return self._answer(destination, reply)

    def send(self, source: str, destination: str, message: object, done: Outcome) -> None:
        body = self._body(source, message)
        with self._lock:
            if self._closed:
                done("dropped: unreachable: the sender is stopping")
                return
            if self._backlog.get(destination, 0) >= MAX_BACKLOG:
                done("dropped: backlog full")
                return
            self._backlog[destination] = self._backlog.get(destination, 0) + 1
            worker = self._workers.get(destination)
            if worker is None:
                worker = self._workers[destination] = (
                    ThreadPoolExecutor(1, thread_name_prefix=f"peerstream-{destination}"),
                    httpx.Client(timeout=CALL_TIMEOUT),
                )
        worker[0].submit(self._deliver, worker[1], destination, body, done)

    def begin(self, call: RemoteCall, done: Callable[[RemoteCall], None]) -> None:
        with self._lock:
            if self._closed:
                done(call.fail("the sender is stopping"))
                return
            caller = self._callers.get(call.destination)
            if caller is None:
                caller = self._callers[call.destination] = ThreadPoolExecutor(
                    1, thread_name_prefix=f"peercall-{call.destination}"
                )
        caller.submit(lambda: done(call.run()))

    def _deliver(
        self,
        client: httpx.Client,
        destination: str,
        body: tuple[bytes, dict[str, str]],
        done: Outcome,
    ) -> None:
        """On the destination's worker thread: post, then report how it went."""
        with self._lock:
            self._backlog[destination] -= 1
        try:
            self._answer(destination, self._post(client, destination, body))
        except Unreachable as exc:
            done(f"dropped: unreachable: {exc.reason}")
        except ConsulError as exc:
            done(f"error: {exc}")
        else:
            done("")

    def close(self) -> None:
        """Stop the workers (dropping what they have not started) and close the clients."""
        with self._lock:
            self._closed = True
            workers = list(self._workers.values())
            self._workers.clear()
            callers = list(self._callers.values())
            self._callers.clear()
        for caller in callers:
            caller.shutdown(wait=True, cancel_futures=True)
        for executor, client in workers:
            executor.shutdown(wait=True, cancel_futures=True)
            client.close()
        self._client.close()
