"""A peering call to a process that never answers does not stall the server that makes it.

The secret exchange of ``POST /v1/peering/establish`` dials the token's addresses. Aimed at a
loopback port that accepts connections and never answers, it used to hold the event loop (and
the world lock) for ~3 s per call, so every other cluster served by the same process stopped
answering. Now the dial waits on a worker thread: the other clusters answer at once, and the
establish still fails after Consul's ~3 s of retries with one multierror line per attempt.
"""

from __future__ import annotations

import base64
import json
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from consul_sim.net import timed_out
from consul_sim.peering.service import go_multierror
from consul_sim.server import ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow


@pytest.fixture
def silent() -> Iterator[str]:
    """A loopback port whose kernel accepts connections that nobody ever reads or answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def token_naming(address: str) -> str:
    with World(clock="virtual", seed=6) as acceptor:
        token = acceptor.add_cluster("cluster-01").peering.generate_token(peer="cluster-02")
    envelope = json.loads(base64.b64decode(token))
    envelope["ServerAddresses"] = [address]
    return base64.b64encode(json.dumps(envelope).encode()).decode()


def reads_while(dial: Callable[[], None], http: httpx.Client, bystander: str) -> list[float]:
    """How long each of ten reads of ``bystander``'s leader took while ``dial`` runs on a
    thread (it must still be running at every read: its dial is waiting on the silent port)."""
    dialer = threading.Thread(target=dial)
    dialer.start()
    try:
        time.sleep(0.3)  # the exchange is now waiting on the silent port
        timings = []
        for _ in range(10):
            assert dialer.is_alive(), "the dial ended before the reads did"
            started = time.monotonic()
            r = http.get(f"{bystander}/v1/status/leader")
            timings.append(time.monotonic() - started)
            assert r.status_code == 200, r.text
            time.sleep(0.1)
    finally:
        dialer.join(timeout=20)
    return timings


def test_an_establish_against_a_silent_port_does_not_stall_the_server(silent: str) -> None:
    world = World(clock="wall", seed=5)
    world.add_cluster("cluster-02")
    world.add_cluster("cluster-03")
    token = token_naming(silent)
    result: dict[str, object] = {}
    with (
        ServedWorld(world, {"cluster-02": 0, "cluster-03": 0}) as served,
        httpx.Client(timeout=30.0) as http,
    ):

        def establish() -> None:
            started = time.monotonic()
            r = http.post(
                f"{served.url('cluster-02')}/v1/peering/establish",
                json={"PeerName": "cluster-01", "PeeringToken": token},
            )
            result["elapsed"] = time.monotonic() - started
            result["response"] = (r.status_code, r.text)

        timings = reads_while(establish, http, served.url("cluster-03"))
    world.close()
    assert statistics.median(timings) < 0.1, timings
    assert max(timings) < 1.0, timings
    status, text = result["response"]  # type: ignore[misc]
    line = (
        f'failed to exchange peering secret through address "{silent}": '
        f"rpc error: code = Unavailable desc = {timed_out(silent)}"
    )
    attempts = text.count(line)
    assert attempts >= 2, text
    assert (status, text) == (
        500,
        f"rpc error: code = Unknown desc = {go_multierror([line] * attempts)}",
    )
    assert 2.5 < result["elapsed"] < 8.0, result  # type: ignore[operator]


def test_a_python_establish_against_a_silent_port_does_not_stall_the_server(silent: str) -> None:
    """The Python API's one-pass establish, called on a served world, waits on its own
    thread without the world lock: the served clusters keep answering meanwhile."""
    world = World(clock="wall", seed=7)
    world.add_cluster("cluster-02")
    world.add_cluster("cluster-03")
    token = token_naming(silent)
    errors: list[str] = []

    def establish() -> None:
        try:
            world.cluster("cluster-02").peering.establish("cluster-01", token)
        except Exception as exc:  # the one expected outcome, checked below
            errors.append(str(exc))

    with (
        ServedWorld(world, {"cluster-02": 0, "cluster-03": 0}) as served,
        httpx.Client(timeout=30.0) as http,
    ):
        timings = reads_while(establish, http, served.url("cluster-03"))
    world.close()
    assert statistics.median(timings) < 0.1, timings
    assert max(timings) < 1.0, timings
    line = (
        f'failed to exchange peering secret through address "{silent}": '
        f"rpc error: code = Unavailable desc = {timed_out(silent)}"
    )
    assert errors == [f"rpc error: code = Unknown desc = {go_multierror([line])}"]
