"""A world's in-process front door: one app per cluster, reached by an ``httpx.Client`` with no
socket.

All apps of a world run on one event-loop thread, as they do in server mode, so the domain is only
ever touched from that thread (and from the caller's Python API calls, under the world lock).
Starlette's TestClient would start a portal per client; this keeps one loop for the whole world.

The world never imports this module: ``pyproject.toml`` names :class:`InProcessFrontDoor` under
the ``consul_sim.front_door`` entry point, and ``World.front_door`` loads it on first use.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from starlette.types import ASGIApp

from consul_sim.api.app import create_app

if TYPE_CHECKING:
    from fastapi import FastAPI

    from consul_sim.world import Cluster, World

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


IN_PROCESS_BASE_URL = "http://127.0.0.1:8500"
"""What an in-process request's URL says; no socket is behind it."""


class InProcessFrontDoor:
    """The world's :class:`consul_sim.world.FrontDoor`: an app per cluster, one loop thread."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._loop: LoopThread | None = None
        self._apps: dict[str, FastAPI] = {}
        world.on_replaced(self._follow)

    def _follow(self) -> None:
        """The world was reset or loaded in place: each app answers for the new cluster of
        its name (one the snapshot does not hold loses its app)."""
        for name, app in list(self._apps.items()):
            cluster = self.world.clusters.get(name)
            if cluster is None:
                del self._apps[name]
            else:
                app.state.cluster = cluster

    @property
    def loop(self) -> LoopThread:
        """The event-loop thread every app of the world runs on (started on first use)."""
        if self._loop is None:
            self._loop = LoopThread()
        return self._loop

    def app(self, cluster: Cluster) -> FastAPI:
        """The cluster's one app: in-process clients and served ports share it."""
        app = self._apps.get(cluster.name)
        if app is None:
            app = self._apps[cluster.name] = create_app(cluster)
        return app

    def client(self, cluster: Cluster) -> httpx.Client:
        return in_process_client(self.app(cluster), self.loop, IN_PROCESS_BASE_URL)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None


def front_door(world: World) -> InProcessFrontDoor:
    """The world's front door, which the server shares: in-process apps on one loop thread."""
    door = world.front_door
    if not isinstance(door, InProcessFrontDoor):
        raise TypeError(f"this world's front door is a {type(door).__name__}, not in-process")
    return door
