"""Forged peer-stream traffic between two served worlds is refused and changes nothing.

Two ``ServedWorld``s (one cluster each, each its own world, as two ``consul-sim serve`` would be)
peer over loopback; then each attack found in issue 9 is replayed against ``/_sim/peerstream``
with only what is public (peering IDs from ``GET /v1/peering``). Each must answer Consul's
``PermissionDenied`` and leave every read of both clusters byte-identical.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from consul_sim.jsonenc import encode_json
from consul_sim.models.catalog import Node, NodeService
from consul_sim.peering.replication import (
    EXPORTED_SERVICE_URL,
    TRUST_BUNDLE_URL,
    ExportedInstance,
    ExportedServicePayload,
    Heartbeat,
    ReplicationResponse,
    StreamMessage,
    TrustBundlePayload,
)
from consul_sim.peering.service import Terminated
from consul_sim.peering.streamauth import MAC_HEADER, stream_mac
from consul_sim.peering.wire import encode_message
from consul_sim.server import ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow

DENIED = "rpc error: code = PermissionDenied desc = invalid peering stream secret"
DEADLINE = 15.0


@dataclass
class Side:
    world: World
    served: ServedWorld
    http: httpx.Client
    name: str
    peer: str

    @property
    def address(self) -> str:
        return self.served.url(self.name).removeprefix("http://")

    def peering_id(self) -> str:
        r = self.http.get(f"/v1/peering/{self.peer}")
        assert r.status_code == 200, r.text
        return str(r.json()["ID"])

    def end_secret(self) -> str:
        pid = self.peering_id()
        with self.world.lock:
            return self.world.cluster(self.name).peering.streams.ends[pid].secret

    def stream_id(self) -> int:
        pid = self.peering_id()
        with self.world.lock:
            return self.world.cluster(self.name).peering.streams.ends[pid].stream_id


def wait_until(what: str, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def reads(sides: tuple[Side, Side]) -> list[str]:
    out = []
    for side in sides:
        for path in (
            f"/v1/peering/{side.peer}",
            "/v1/peerings",
            f"/v1/health/service/web?peer={side.peer}",
        ):
            r = side.http.get(path)
            out.append(f"{path} {r.status_code} {r.text}")
    return out


def quiet(sides: tuple[Side, Side]) -> list[str]:
    """The reads once nothing moves any more (ACKs settled): two in a row alike."""
    last = reads(sides)
    deadline = time.monotonic() + DEADLINE
    while True:
        time.sleep(0.3)
        now = reads(sides)
        if now == last:
            return now
        assert time.monotonic() < deadline, "the clusters never went quiet"
        last = now


@pytest.fixture
def sides() -> Iterator[tuple[Side, Side]]:
    made: list[Side] = []
    try:
        for name, peer in (("cluster-01", "cluster-02"), ("cluster-02", "cluster-01")):
            world = World(clock="wall", seed=len(made) + 1, heartbeat_interval=600.0)
            world.add_cluster(name)
            served = ServedWorld(world, {name: 0}).start()
            made.append(Side(world, served, httpx.Client(base_url=served.url(name)), name, peer))
        one, two = made
        r = one.http.put("/v1/agent/service/register", json={"Name": "web", "Port": 80})
        assert r.status_code == 200, r.text
        token = one.http.post("/v1/peering/token", json={"PeerName": "cluster-02"}).json()
        r = two.http.post(
            "/v1/peering/establish",
            json={"PeerName": "cluster-01", "PeeringToken": token["PeeringToken"]},
        )
        assert (r.status_code, r.text) == (200, "{}")
        r = one.http.put(
            "/v1/config",
            json={
                "Kind": "exported-services",
                "Name": "default",
                "Services": [{"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}],
            },
        )
        assert r.status_code == 200, r.text

        def replicated() -> bool:
            r = two.http.get("/v1/health/service/web", params={"peer": "cluster-01"})
            states = [s.http.get(f"/v1/peering/{s.peer}").json()["State"] for s in made]
            return len(r.json()) == 1 and states == ["ACTIVE", "ACTIVE"]

        wait_until("web imported and ACTIVE on both sides", replicated)
        yield one, two
    finally:
        for side in made:
            side.http.close()
            side.served.stop()
            side.world.close()


def post(
    to: Side, message: StreamMessage, *, source: str, secret: str = "", mac: str = ""
) -> httpx.Response:
    body = encode_json({"Source": source, "Message": encode_message(message)})
    headers = {"Content-Type": "application/json"}
    if secret:
        headers[MAC_HEADER] = stream_mac(secret, body)
    elif mac:
        headers[MAC_HEADER] = mac
    return to.http.post("/_sim/peerstream", content=body, headers=headers)


def attacker_instance() -> ExportedServicePayload:
    node = Node(node="attacker", address="6.6.6.6")
    service = NodeService(id="web", service="web", address="6.6.6.6", port=9090)
    return ExportedServicePayload((ExportedInstance(node, service, ()),))


def forged(two: Side) -> list[StreamMessage]:
    """What an attacker can build from public reads: the dialer's peering ID, a guessed stream."""
    pid = two.peering_id()
    out: list[StreamMessage] = []
    for stream_id in (1, 2, two.stream_id()):
        out += [
            ReplicationResponse(
                pid, stream_id, nonce="ffffffff", resource_url=EXPORTED_SERVICE_URL,
                resource_id="web", resource=attacker_instance(),
            ),
            ReplicationResponse(
                pid, stream_id, nonce="fffffffe", resource_url=EXPORTED_SERVICE_URL,
                resource_id="ghost", resource=attacker_instance(),
            ),
        ]  # fmt: skip
    return out


def test_a_forged_replication_response_is_refused(sides: tuple[Side, Side]) -> None:
    one, two = sides
    before = quiet(sides)
    for message in forged(two):
        for mac in ("", "00" * 32):
            r = post(two, message, source=one.address, mac=mac)
            assert (r.status_code, r.text) == (403, DENIED)
    assert quiet(sides) == before


def test_a_forged_trust_bundle_is_refused(sides: tuple[Side, Side]) -> None:
    one, two = sides
    before = quiet(sides)
    bundle = ReplicationResponse(
        two.peering_id(), two.stream_id(), nonce="ffffffff", resource_url=TRUST_BUNDLE_URL,
        resource_id="roots", resource=TrustBundlePayload("evil.consul", ("FORGED PEM",)),
    )  # fmt: skip
    r = post(two, bundle, source=one.address)
    assert (r.status_code, r.text) == (403, DENIED)
    assert quiet(sides) == before


def test_a_forged_terminated_is_refused_on_both_sides(sides: tuple[Side, Side]) -> None:
    one, two = sides
    before = quiet(sides)
    for victim, other in ((one, two), (two, one)):
        message = Terminated(victim.peering_id(), victim.stream_id())
        r = post(victim, message, source=other.address)
        assert (r.status_code, r.text) == (403, DENIED)
        # A secret sent in the clear (as a forger might try) is refused too.
        r = victim.http.post(
            "/_sim/peerstream",
            content=encode_json(
                {
                    "Source": other.address,
                    "Message": {**(encode_message(message) or {}), "StreamSecret": "guess"},
                }
            ),
        )
        assert (r.status_code, r.text) == (403, DENIED)
    assert quiet(sides) == before


def test_source_in_the_body_names_no_one(sides: tuple[Side, Side]) -> None:
    one, two = sides
    before = quiet(sides)
    heartbeat = Heartbeat(two.peering_id(), two.stream_id())
    r = post(two, heartbeat, source="127.0.0.1:1")
    assert (r.status_code, r.text) == (403, DENIED)
    assert quiet(sides) == before
    # Signed with the stream's secret (as the real peer does), the heartbeat is let in, and the
    # journal names the peer the stream belongs to, not the Source the body claims.
    r = post(two, heartbeat, source="127.0.0.1:1", secret=two.end_secret())
    assert r.status_code == 200, r.text
    with two.world.lock:
        [last] = [e for e in two.world.network.journal if e.kind == "Heartbeat"][-1:]
    assert (last.source, last.source_cluster, last.outcome) == (one.address, "cluster-01", "ok")


def test_the_old_stream_secret_stops_working_after_a_reestablish(sides: tuple[Side, Side]) -> None:
    one, two = sides
    old = one.end_secret()
    token = one.http.post("/v1/peering/token", json={"PeerName": "cluster-02"}).json()
    r = two.http.post(
        "/v1/peering/establish",
        json={"PeerName": "cluster-01", "PeeringToken": token["PeeringToken"]},
    )
    assert (r.status_code, r.text) == (200, "{}")
    two.world.crash("cluster-02")  # a new leader: the dialer redials with the new secret
    two.world.restart("cluster-02")
    wait_until("the stream reopened with the new secret", lambda: one.end_secret() != old)
    wait_until(
        "ACTIVE again",
        lambda: two.http.get("/v1/peering/cluster-01").json()["State"] == "ACTIVE",
    )
    before = quiet(sides)
    for message in (Heartbeat(one.peering_id(), one.stream_id()), *forged(two)):
        to = one if message.peering_id == one.peering_id() else two
        r = post(to, message, source=two.address, secret=old)
        assert (r.status_code, r.text) == (403, DENIED)
    assert quiet(sides) == before
