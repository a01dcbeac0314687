"""The ports a dev-mode Consul agent listens on, in one place.

Consul's defaults (``agent/config/default.go``): server RPC 8300, Serf LAN/WAN 8301/8302, HTTP
8500, gRPC 8502 and gRPC-TLS 8503, DNS 8600. The world advertises them in the catalog and the
agent endpoints report them in ``/v1/agent/self`` and ``/v1/agent/members``, so both read them
from this leaf rather than each keeping a copy.
"""

from __future__ import annotations

import socket

SERVER_RPC_PORT = 8300
SERF_LAN_PORT = 8301
SERF_WAN_PORT = 8302
HTTP_PORT = 8500
GRPC_PORT = 8502
GRPC_TLS_PORT = 8503
DNS_PORT = 8600


def listen_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0 picks a free port), bound as asyncio would
    (SO_REUSEADDR); raises the bind's OSError.

    The socket names IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections
    only when the listening socket's proto says TCP, and without it every response waits out
    Nagle's algorithm against the client's delayed ACK (~40 ms).

    It lives in this stdlib-only leaf so ``consul-sim agent`` can listen before it imports the
    web stack: connections made meanwhile wait in the backlog instead of being refused, which is
    what ``sdk/testutil``'s ``waitForAPI`` needs (it gives the agent two seconds, and only the
    last probe's outcome counts)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock
