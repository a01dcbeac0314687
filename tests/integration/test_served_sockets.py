"""Served clusters answer without Nagle delays: accepted connections have TCP_NODELAY."""

from __future__ import annotations

import socket
import time

import pytest

from consul_sim.server import ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow


def test_accepted_connections_disable_nagle_so_answers_are_not_delayed() -> None:
    world = World(seed=1)
    world.add_cluster("dc1")
    served = ServedWorld(world, {"dc1": 0}).start()
    try:
        with socket.create_connection(("127.0.0.1", served.ports["dc1"])) as client:
            request = b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n"
            timings = []
            for _ in range(20):
                started = time.perf_counter()
                client.sendall(request)
                data = b""
                while not data.endswith(b'"127.0.0.1:8300"'):
                    data += client.recv(65536)
                timings.append(time.perf_counter() - started)
            server_side = [
                s for s in served.accepted_sockets() if s.getpeername() == client.getsockname()
            ]
            assert server_side, "the server's end of the connection was not found"
            assert server_side[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            timings.sort()
            assert timings[len(timings) // 2] < 0.02, timings
    finally:
        served.stop()
        world.close()
