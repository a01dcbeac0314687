"""Real HTTP and TCP checks (``consul-sim agent -enable-local-checks``): a loopback server that
answers keeps its check passing, and once it stops, the next probe on the cluster's clock turns
the check critical with the dial error Consul's checker reports."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from consul_sim.api.checkrunner import CheckRunner
from consul_sim.clock import VirtualClock
from consul_sim.world import Cluster, World

pytestmark = pytest.mark.slow


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def app_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def check_of(cluster: Cluster, check_id: str) -> tuple[str, str]:
    checks = cluster.client.get("/v1/agent/checks").json()
    return checks[check_id]["Status"], checks[check_id]["Output"]


def test_http_check_passes_then_turns_critical_when_the_app_stops(
    world: World, dc1: Cluster, app_server: HTTPServer
) -> None:
    port = app_server.server_address[1]
    url = f"http://127.0.0.1:{port}/health"
    r = dc1.client.put(
        "/v1/agent/service/register",
        json={"Name": "web", "Port": port, "Check": {"HTTP": url, "Interval": "10s"}},
    )
    assert r.status_code == 200, r.text
    runner = CheckRunner(world, dc1)
    assert runner.run_due() == 1
    assert check_of(dc1, "service:web") == ("passing", f"HTTP GET {url}: 200 OK Output: ok")

    app_server.shutdown()
    app_server.server_close()
    assert runner.run_due() == 0  # not due until the interval has passed on the cluster clock
    assert isinstance(world.clock, VirtualClock)
    world.clock.advance(10)
    assert runner.run_due() == 1
    assert check_of(dc1, "service:web") == (
        "critical",
        f'Get "{url}": dial tcp 127.0.0.1:{port}: connect: connection refused',
    )


def test_tcp_check_follows_the_listener(world: World, dc1: Cluster) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    dc1.client.put(
        "/v1/agent/check/register", json={"Name": "db", "TCP": address, "Interval": "5s"}
    )
    runner = CheckRunner(world, dc1)
    runner.run_due()
    assert check_of(dc1, "db") == ("passing", f"TCP connect {address}: Success")
    listener.close()
    assert isinstance(world.clock, VirtualClock)
    world.clock.advance(5)
    runner.run_due()
    assert check_of(dc1, "db") == (
        "critical",
        f"dial tcp {address}: connect: connection refused",
    )
