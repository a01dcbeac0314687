"""A peer in another process that stops answering never stalls the clusters served beside its
dialer, and the peering recovers once it answers again.

Two ``ServedWorld``s, as two ``consul-sim serve`` would be: the acceptor ``cluster-01`` alone,
the dialer ``cluster-02`` with a bystander ``cluster-03``. The acceptor goes silent (its server
stops and a loopback listener that accepts and never answers takes its port, or its world is
held so it answers late). Stream traffic, a redial and a delete toward it each used to be able
to hold the dialer's event loop for the transport's 3 s timeout; now each waits on a thread,
and ``cluster-03`` keeps answering ``/v1/status/leader`` at once throughout.
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from consul_sim.net import timed_out
from consul_sim.server import ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow

DEADLINE = 20.0


def wait_until(what: str, ready: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass
class Pair:
    acceptor: World
    dialer: World
    served: dict[str, ServedWorld]
    one: httpx.Client
    two: httpx.Client
    three: httpx.Client
    port: int
    """The acceptor's port, which its peer dials."""

    def state(self, client: httpx.Client, peer: str) -> str:
        r = client.get(f"/v1/peering/{peer}")
        return str(r.json()["State"]) if r.status_code == 200 else str(r.status_code)

    def imported(self) -> int:
        r = self.one.get("/v1/health/service/web", params={"peer": "cluster-02"})
        assert r.status_code == 200, r.text
        return len(r.json())

    def leader_reads(self, n: int = 10) -> list[float]:
        """How long each of ``n`` reads of the bystander's leader took, 0.1 s apart."""
        timings = []
        for _ in range(n):
            started = time.monotonic()
            r = self.three.get("/v1/status/leader")
            timings.append(time.monotonic() - started)
            assert r.status_code == 200, r.text
            time.sleep(0.1)
        return timings

    def serve_acceptor(self) -> None:
        self.served["cluster-01"] = ServedWorld(self.acceptor, {"cluster-01": self.port}).start()

    def outcomes(self, kind: str) -> list[str]:
        with self.dialer.lock:
            return [
                e.outcome
                for e in self.dialer.network.journal
                if e.kind == kind and e.destination_cluster == "cluster-01"
            ]


def assert_prompt(timings: list[float]) -> None:
    assert statistics.median(timings) < 0.1, timings
    assert max(timings) < 1.0, timings


@pytest.fixture
def pair() -> Iterator[Pair]:
    acceptor = World(clock="wall", seed=21)
    acceptor.add_cluster("cluster-01")
    dialer = World(clock="wall", seed=22)
    dialer.add_cluster("cluster-02")
    dialer.add_cluster("cluster-03")
    served = {"cluster-01": ServedWorld(acceptor, {"cluster-01": 0}).start()}
    served["cluster-02"] = ServedWorld(dialer, {"cluster-02": 0, "cluster-03": 0}).start()
    clients = [httpx.Client(base_url=served[n].url(n), timeout=10.0) for n in ("cluster-01",)]
    clients += [
        httpx.Client(base_url=served["cluster-02"].url(n), timeout=10.0)
        for n in ("cluster-02", "cluster-03")
    ]
    one, two, three = clients
    pair = Pair(acceptor, dialer, served, one, two, three, served["cluster-01"].ports["cluster-01"])
    try:
        r = two.put("/v1/agent/service/register", json={"ID": "web-1", "Name": "web", "Port": 80})
        assert r.status_code == 200, r.text
        r = two.put(
            "/v1/config",
            json={
                "Kind": "exported-services",
                "Name": "default",
                "Services": [{"Name": "web", "Consumers": [{"Peer": "cluster-01"}]}],
            },
        )
        assert r.status_code == 200, r.text
        token = one.post("/v1/peering/token", json={"PeerName": "cluster-02"}).json()
        r = two.post(
            "/v1/peering/establish",
            json={"PeerName": "cluster-01", "PeeringToken": token["PeeringToken"]},
        )
        assert (r.status_code, r.text) == (200, "{}")
        wait_until(
            "ACTIVE on both sides and web imported",
            lambda: (
                pair.state(two, "cluster-01") == "ACTIVE"
                and pair.state(one, "cluster-02") == "ACTIVE"
                and pair.imported() == 1
            ),
        )
        yield pair
    finally:
        for client in clients:
            client.close()
        for server in pair.served.values():
            server.stop()
        acceptor.close()
        dialer.close()


@pytest.fixture
def silence() -> Callable[[Pair], socket.socket]:
    """Stop the acceptor's server and keep its port open with a listener that never answers."""

    def make(pair: Pair) -> socket.socket:
        pair.served.pop("cluster-01").stop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", pair.port))
        sock.listen(16)
        return sock

    return make


def test_stream_traffic_and_a_redial_toward_a_silent_peer_do_not_stall_the_server(
    pair: Pair, silence: Callable[[Pair], socket.socket]
) -> None:
    listener = silence(pair)
    address = f"127.0.0.1:{pair.port}"
    try:
        # Stream traffic: a second instance of the exported service goes to the silent peer.
        r = pair.two.put(
            "/v1/agent/service/register", json={"ID": "web-2", "Name": "web", "Port": 81}
        )
        assert r.status_code == 200, r.text
        wait_until(
            "the update handed to the silent peer",
            lambda: "sent" in pair.outcomes("ReplicationResponse")[-1:],
        )
        stream_timings = pair.leader_reads()
        assert pair.outcomes("ReplicationResponse")[-1] == "sent"  # still on its way

        # A redial: a restarted leader dials its peers at once, into the silent port.
        for path in ("/_sim/crash", "/_sim/restart"):
            r = pair.two.post(path, json={"Cluster": "cluster-02"})
            assert r.status_code == 200, r.text
        wait_until("the redial in flight", lambda: pair.dialer.network.awaiting_replies() > 0, 2.0)
        redial_timings = pair.leader_reads()
        assert pair.state(pair.two, "cluster-01") != "ACTIVE"
        wait_until(
            "the redial to time out",
            lambda: f"unreachable: {timed_out(address)}" in pair.outcomes("OpenStream"),
            6.0,
        )
    finally:
        listener.close()
    assert_prompt(stream_timings)
    assert_prompt(redial_timings)

    # The peer answers again: the backoff redial opens a stream and the update arrives.
    pair.serve_acceptor()
    wait_until(
        "ACTIVE again on both sides with both instances imported",
        lambda: (
            pair.state(pair.two, "cluster-01") == "ACTIVE"
            and pair.state(pair.one, "cluster-02") == "ACTIVE"
            and pair.imported() == 2
        ),
    )


def test_a_delete_toward_a_peer_that_answers_late_does_not_stall_the_server(pair: Pair) -> None:
    with pair.dialer.lock:
        pair.dialer.cluster("cluster-02").peering.deletion_delay = 30.0
    with pair.acceptor.lock:  # the acceptor's process takes no request until released
        started = time.monotonic()
        r = pair.two.delete("/v1/peering/cluster-01")
        deleted_in = time.monotonic() - started
        assert (r.status_code, r.text) == (200, "")
        shown: dict[str, Any] = pair.two.get("/v1/peering/cluster-01").json()
        assert pair.dialer.network.awaiting_replies() == 1
        timings = pair.leader_reads()
        assert pair.dialer.network.awaiting_replies() == 1
    assert deleted_in < 1.0
    assert shown["State"] == "DELETING"
    assert_prompt(timings)
    wait_until(
        "TERMINATED on the acceptor and its answer applied",
        lambda: (
            pair.state(pair.one, "cluster-02") == "TERMINATED"
            and pair.dialer.network.awaiting_replies() == 0
        ),
    )
    assert pair.outcomes("Terminated") == ["ok"]
    assert pair.imported() == 0
