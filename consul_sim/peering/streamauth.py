"""What proves that a message belongs to an open peering stream.

In Consul a peer stream is one gRPC connection, opened with the stream secret that the
establishment-secret exchange handed out (``peerstream/stream_resources.go`` checks it on the
``Open`` request); everything after travels on that authenticated connection, so nothing outside
it can speak for the peer. The simulator has no connection to lean on: every stream message is a
message of its own, so each one carries the proof itself.

* In one process a message object carries its stream's secret (``StreamMessage.stream_secret``)
  and the receiving stream end compares it with its own, in constant time.
* Across processes the secret never travels after the handshake: the sender posts the body with
  an HMAC-SHA256 of its exact bytes keyed with the secret (:data:`MAC_HEADER`), the receiving
  process recomputes it with the secret of the stream the message names and, only when it
  matches, hands the message to its network tagged with that secret, so the stream end applies
  the same rule as in-process.

A refusal is Consul's ``PermissionDenied`` for a wrong stream secret, and its plain error
(gRPC's ``Unknown``) for a second stream of a peering that has one connected.
"""

from __future__ import annotations

import hashlib
import hmac

from consul_sim.errors import RPCError
from consul_sim.gostd import quote

INVALID_STREAM_SECRET = "invalid peering stream secret"
MAC_HEADER = "X-Consul-Sim-Stream-MAC"
"""The header of a ``/_sim/peerstream`` post that carries a stream message's HMAC."""


def stream_denied() -> RPCError:
    return RPCError("PermissionDenied", INVALID_STREAM_SECRET)


def active_stream(peering_id: str) -> RPCError:
    """An acceptor keeps one stream per peering: stream_tracker.go's ``Connected`` refuses a
    second while one is connected, and stream_resources.go returns that as a plain Go error
    (so gRPC's ``Unknown``), wrapped."""
    return RPCError(
        "Unknown",
        "failed to register stream: there is an active stream for the given PeerID "
        + quote(peering_id),
    )


def same_secret(expected: str, presented: str) -> bool:
    """Constant-time, and an empty secret never matches (a stream always has one)."""
    return bool(expected) and hmac.compare_digest(expected.encode(), presented.encode())


def stream_mac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def mac_matches(secret: str, body: bytes, presented: str) -> bool:
    return bool(secret) and hmac.compare_digest(stream_mac(secret, body), presented)
