"""The HTTP/1.1 front door's limits, as Go's net/http server sets them.

Go serves a request head (request line and headers) of up to ``DefaultMaxHeaderBytes`` (1 MiB)
plus the 4,096 bytes of bufio slack ``http.Server`` allows on top (``net/http/server.go``,
``initialReadLimitSize``), and answers a longer one with ``431 Request Header Fields Too Large``
(status line, ``Content-Type: text/plain; charset=utf-8``, ``Connection: close``, and the same
words as the body), then closes. Consul does not change ``MaxHeaderBytes``.

uvicorn's h11 protocol has a limit of its own (16 KiB by default) and answers anything h11
refuses with ``400 Invalid HTTP request received.``; :class:`GoLimitsH11Protocol` raises the
limit to Go's and answers Go's 431 where h11 says the head grew too long.
"""

from __future__ import annotations

from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_HEADER_BYTES = 1 << 20
MAX_REQUEST_HEAD = MAX_HEADER_BYTES + 4096
TOO_LARGE = "431 Request Header Fields Too Large"
TOO_LARGE_RESPONSE = (
    f"HTTP/1.1 {TOO_LARGE}\r\nContent-Type: text/plain; charset=utf-8\r\n"
    f"Connection: close\r\n\r\n{TOO_LARGE}"
).encode()


class GoLimitsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with Go's answer to a request head over the limit.

    Pair it with ``h11_max_incomplete_event_size=MAX_REQUEST_HEAD`` in ``uvicorn.Config``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_too_large = False
        next_event = self.conn.next_event

        def noting_next_event() -> Any:
            try:
                event = next_event()
                if isinstance(event, h11.Request) and _head_size(event) > MAX_REQUEST_HEAD:
                    # h11 only measures a head still incomplete; one that arrived whole in a
                    # single read is measured here.
                    raise h11.RemoteProtocolError("request head too long", 431)
            except h11.RemoteProtocolError as exc:
                # h11 says "Receive buffer too long" with a 431 hint for an oversize head.
                self._head_too_large = exc.error_status_hint == 431
                raise
            return event

        self.conn.next_event = noting_next_event  # type: ignore[method-assign]

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        # Go writes this answer straight to the connection: no length, no chunking; the
        # close ends the body.
        self.transport.write(TOO_LARGE_RESPONSE)
        self.transport.close()


def _head_size(request: h11.Request) -> int:
    """The bytes of the head as sent: ``METHOD target HTTP/1.1``, each ``Name: value``, and the
    CRLFs (Go's limit counts them all)."""
    line = len(request.method) + len(request.target) + len(b"  HTTP/1.1\r\n")
    return line + sum(len(k) + len(v) + 4 for k, v in request.headers) + 2
