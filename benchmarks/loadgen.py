"""A bounded keep-alive HTTP/1.1 load generator: N connections, a warm-up, then a timed run.

The default client writes a pre-built GET and reads the reply by ``Content-Length`` on raw
asyncio streams: per request it costs a small fraction of what the servers under test spend, so
on a two-CPU machine the server, not the client, is what saturates (the report shows both
processes' CPU so that can be checked). ``httpx`` is there too, as the client the project already
uses; it costs more per request and can become the bottleneck first.

Every reply is checked: a status other than 200 or a body other than the expected bytes counts as
an error, so a fast wrong answer cannot look like throughput.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx

ClientKind = Literal["raw", "httpx"]


@dataclass
class LoadResult:
    label: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client_cpu: float = 0.0
    server_cpu: float | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        if len(self.latencies) == 1:
            return self.latencies[0] * 1000
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[min(max(int(q) - 1, 0), 98)] * 1000


def process_cpu_seconds(pid: int) -> float | None:
    """User+system CPU of another process from /proc (Linux); None where that is not there."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            raw = stat.read()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BadReply(Exception):
    """A reply the raw client cannot frame (no Content-Length)."""


Fetch = Callable[[], Awaitable[bool]]


class RawConnection:
    """One kept-alive socket that sends a pre-built GET and reads the reply by Content-Length."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: bytes,
        expected: bytes,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.request = request
        self.expected = expected

    @classmethod
    async def open(cls, host: str, port: int, request: bytes, expected: bytes) -> RawConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, request, expected)

    async def fetch(self) -> bool:
        """One request; True when the reply is 200 with the expected body."""
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lowered = head.lower()
        at = lowered.find(b"\r\ncontent-length:")
        if at < 0:
            raise BadReply(f"no Content-Length in {head[:200]!r}")
        end = lowered.index(b"\r\n", at + 2)
        length = int(lowered[at + len(b"\r\ncontent-length:") : end])
        body = await self.reader.readexactly(length)
        return head.startswith(b"HTTP/1.1 200 ") and body == self.expected

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


def httpx_fetch(client: httpx.AsyncClient, url: str, expected: bytes) -> Fetch:
    async def fetch() -> bool:
        response = await client.get(url)
        return response.status_code == 200 and response.content == expected

    return fetch


async def _phase(fetchers: list[Fetch], seconds: float, result: LoadResult | None) -> None:
    """Every connection loops until the deadline; only a measured phase records replies."""
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds

    async def worker(fetch: Fetch) -> None:
        perf = time.perf_counter
        while loop.time() < stop_at:
            started = perf()
            ok = await fetch()
            if result is not None:
                result.latencies.append(perf() - started)
                result.requests += 1
                if not ok:
                    result.errors += 1

    await asyncio.gather(*(worker(f) for f in fetchers))


async def _run(
    label: str,
    host: str,
    port: int,
    path: str,
    expected: bytes,
    *,
    connections: int,
    warmup: float,
    duration: float,
    server_pid: int | None,
    client: ClientKind,
) -> LoadResult:
    result = LoadResult(label)
    raw_conns: list[RawConnection] = []
    http: httpx.AsyncClient | None = None
    try:
        fetchers: list[Fetch]
        if client == "raw":
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "User-Agent: consul-sim-bench\r\nAccept: */*\r\n\r\n"
            ).encode()
            raw_conns = [
                await RawConnection.open(host, port, request, expected) for _ in range(connections)
            ]
            fetchers = [c.fetch for c in raw_conns]
        else:
            limits = httpx.Limits(
                max_connections=connections, max_keepalive_connections=connections
            )
            http = httpx.AsyncClient(limits=limits, timeout=30.0)
            url = f"http://{host}:{port}{path}"
            fetchers = [httpx_fetch(http, url, expected) for _ in range(connections)]
        await _phase(fetchers, warmup, None)
        server_before = process_cpu_seconds(server_pid) if server_pid else None
        client_before = time.process_time()
        started = time.perf_counter()
        await _phase(fetchers, duration, result)
        result.seconds = time.perf_counter() - started
        result.client_cpu = (time.process_time() - client_before) / result.seconds
        server_after = process_cpu_seconds(server_pid) if server_pid else None
        if server_before is not None and server_after is not None:
            result.server_cpu = (server_after - server_before) / result.seconds
    finally:
        for conn in raw_conns:
            await conn.close()
        if http is not None:
            await http.aclose()
    return result


def run_load(
    label: str,
    host: str,
    port: int,
    path: str,
    expected: bytes,
    *,
    connections: int,
    warmup: float,
    duration: float,
    server_pid: int | None = None,
    client: ClientKind = "raw",
) -> LoadResult:
    """Warm up for ``warmup`` seconds, then count replies for ``duration`` seconds."""
    return asyncio.run(
        _run(
            label,
            host,
            port,
            path,
            expected,
            connections=connections,
            warmup=warmup,
            duration=duration,
            server_pid=server_pid,
            client=client,
        )
    )
