"""The server side of ``make bench``: one HTTP server per process, driven over stdin.

``run.py`` starts this script twice, once per contender, so the load generator and each server
have their own interpreter and GIL. Both contenders run uvicorn the same way (one server on an
asyncio loop in a background thread, log level warning, no access log, lifespan off): consul-sim
through ``ServedWorld``, exactly as ``consul-sim serve`` does, and the baseline as a bare FastAPI
app that answers the same bytes, so the difference is consul-sim's own request path.

Protocol: the child prints ``PORT <n>`` once listening, then reads commands from stdin, one a
line, and answers each with ``OK``: ``profile-start`` (cProfile on the server's loop thread),
``profile-stop <path>`` (stop and dump stats). End of stdin means stop and exit, so the server
also goes away if the parent dies.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import cProfile
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from starlette.responses import Response

from consul_sim.api.inprocess import LoopThread, front_door
from consul_sim.server import ServedWorld
from consul_sim.world import World

HOST = "127.0.0.1"
HEALTH_PATH = "/v1/health/service/web"
START_TIMEOUT = 10.0


def uvicorn_config(app: FastAPI) -> uvicorn.Config:
    """The settings ServedWorld uses, so the baseline is served the same way."""
    return uvicorn.Config(
        app,
        host=HOST,
        port=0,
        log_level="warning",
        lifespan="off",
        access_log=False,
    )


def bare_app(body: bytes) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get(HEALTH_PATH)
    async def service_health() -> Response:
        return Response(content=body, media_type="application/json")

    return app


class Contender:
    """A running server: its port, the loop thread it runs on, and how to stop it."""

    def __init__(
        self, port: int, loop: asyncio.AbstractEventLoop, stop: Callable[[], None]
    ) -> None:
        self.port = port
        self.loop = loop
        self.stop = stop


def start_sim() -> Contender:
    world = World(seed=1)
    world.add_cluster("dc1")
    served = ServedWorld(world, {"dc1": 0}, host=HOST).start()

    def stop() -> None:
        served.stop()
        world.close()

    return Contender(served.ports["dc1"], front_door(world).loop.loop, stop)


def start_bare(body: bytes) -> Contender:
    thread = LoopThread(name="bench-bare-loop")
    server = uvicorn.Server(uvicorn_config(bare_app(body)))
    future = asyncio.run_coroutine_threadsafe(server.serve(), thread.loop)
    waited = 0.0
    while not server.started:
        if future.done():
            thread.stop()
            raise RuntimeError(f"bare server failed to start: {future.exception()}")
        if waited > START_TIMEOUT:
            thread.stop()
            raise TimeoutError("bare server did not start in time")
        concurrent.futures.wait([future], timeout=0.02)
        waited += 0.02

    def stop() -> None:
        server.should_exit = True
        concurrent.futures.wait([future], timeout=START_TIMEOUT)
        thread.stop()

    port = int(server.servers[0].sockets[0].getsockname()[1])
    return Contender(port, thread.loop, stop)


def on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], None]) -> None:
    """Run ``fn`` on the server's loop thread: cProfile only sees the thread that enabled it."""
    done = threading.Event()

    def call() -> None:
        try:
            fn()
        finally:
            done.set()

    loop.call_soon_threadsafe(call)
    if not done.wait(START_TIMEOUT):
        raise TimeoutError("server loop did not answer")


def serve_commands(contender: Contender) -> None:
    profiler: cProfile.Profile | None = None
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "profile-start":
            profiler = cProfile.Profile()
            on_loop(contender.loop, profiler.enable)
        elif command == "profile-stop" and profiler is not None:
            on_loop(contender.loop, profiler.disable)
            profiler.dump_stats(arg)
            profiler = None
        print("OK", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("sim", "bare"))
    parser.add_argument("--body", type=Path, help="file holding the bytes the baseline answers")
    args = parser.parse_args(argv)
    # The parent owns our lifetime (it closes stdin); a Ctrl-C meant for it must not kill us
    # half-way through a measurement.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if args.kind == "sim":
        contender = start_sim()
    else:
        if args.body is None:
            parser.error("bare needs --body")
        contender = start_bare(args.body.read_bytes())
    try:
        print(f"PORT {contender.port}", flush=True)
        serve_commands(contender)
    finally:
        contender.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
