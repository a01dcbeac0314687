"""An ``httpx.Client`` that calls a cluster's app in-process, with no socket.

All apps of a world run on one event-loop thread, as they do in server mode, so the domain is only
ever touched from that thread (and from the caller's Python API calls, under the world lock).
Starlette's TestClient would start a portal per client; this keeps one loop for the whole world.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
from starlette.types import ASGIApp

T = TypeVar("T")


class LoopThread:
    """A daemon thread running an asyncio loop until ``stop()``."""

    def __init__(self, name: str = "consul-sim-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


class InProcessTransport(httpx.BaseTransport):
    def __init__(self, app: ASGIApp, loop: LoopThread) -> None:
        self._asgi = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            inner = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            response = await self._asgi.handle_async_request(inner)
            content = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
            return response.status_code, response.headers.raw, content

        status, headers, content = self._loop.run(call())
        return httpx.Response(status, headers=headers, content=content, request=request)


def in_process_client(app: ASGIApp, loop: LoopThread, base_url: str) -> httpx.Client:
    return httpx.Client(transport=InProcessTransport(app, loop), base_url=base_url, timeout=None)
