"""A world that spans processes: two ``consul-sim serve``, one cluster each, peered over HTTP.

Each process only knows its own cluster; the token names the acceptor's HTTP address, and every
message between them (secret exchange, stream open, exports, ACKs, heartbeats, ``Terminated``)
crosses as JSON through ``POST /_sim/peerstream``. The codec tests pin that JSON round trip
for every message kind, so the cross-process path carries exactly what the in-process one does.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from consul_sim.cli.main import main
from consul_sim.errors import RPCError
from consul_sim.jsonenc import encode_json
from consul_sim.models.peering import Remote
from consul_sim.peering.replication import (
    EXPORTED_SERVICE_LIST_URL,
    EXPORTED_SERVICE_URL,
    TRUST_BUNDLE_URL,
    Ack,
    ExportedServiceListPayload,
    Heartbeat,
    Nack,
    ReplicationResponse,
    TrustBundlePayload,
    service_snapshot,
)
from consul_sim.peering.service import (
    ExchangeSecret,
    ExchangeSecretResponse,
    OpenStream,
    StreamOpened,
    Terminated,
    go_multierror,
)
from consul_sim.peering.tokens import SecretRefused
from consul_sim.peering.wire import decode_error, decode_message, encode_error, encode_message
from consul_sim.server import ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXPORTED_SERVICES_HCL = REPO / "scenarios" / "peering-config.hcl"
DEADLINE = 15.0


# -- the codec ----------------------------------------------------------------------------------
@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=11)
    try:
        yield w
    finally:
        w.close()


def over_the_wire(message: object) -> object:
    """What the other process decodes: encoded, serialised to bytes, parsed, decoded."""
    return decode_message(json.loads(encode_json(encode_message(message))))


def test_every_peering_message_survives_the_wire(world: World) -> None:
    cluster = world.add_cluster("cluster-01")
    r = cluster.client.put(
        "/v1/agent/service/register",
        json={
            "Name": "web",
            "Tags": ["v1", "<&>"],
            "Port": 80,
            "Meta": {"team": "a"},
            "TaggedAddresses": {"lan": {"Address": "10.0.0.1", "Port": 80}},
            "Check": {"TTL": "30s", "Status": "warning"},
        },
    )
    assert r.status_code == 200
    snapshot = service_snapshot(cluster.store, "web")
    assert snapshot.nodes and snapshot.nodes[0].checks
    messages: list[object] = [
        ExchangeSecret("peer-id", "secret.jwt", "digest", "cluster-02"),
        ExchangeSecretResponse("stream-secret"),
        OpenStream("peer-id", "stream-secret", Remote(datacenter="cluster-02"), "dialer-id", 3),
        StreamOpened(),
        Terminated("peering-id", 2),
        ReplicationResponse(
            "p", 1, nonce="00000001", resource_url=EXPORTED_SERVICE_URL, resource_id="web",
            resource=snapshot,
        ),
        ReplicationResponse(
            "p", 1, nonce="00000002", resource_url=EXPORTED_SERVICE_LIST_URL,
            resource_id="exported-service-list", resource=ExportedServiceListPayload(("web",)),
        ),
        ReplicationResponse(
            "p", 1, nonce="00000003", resource_url=TRUST_BUNDLE_URL, resource_id="roots",
            resource=TrustBundlePayload(cluster.trust_domain, tuple(cluster.ca.root_pems())),
        ),
        ReplicationResponse("p", 2, nonce="00000004", resource_url="bogus", resource=None),
        Ack("p", 1, nonce="00000001"),
        Nack("p", 1, nonce="00000002", error="bad"),
        Heartbeat("p", 1),
    ]  # fmt: skip
    for message in messages:
        decoded = over_the_wire(message)
        assert type(decoded) is type(message)
        assert decoded == message
    decoded_snapshot = over_the_wire(messages[5])
    assert isinstance(decoded_snapshot, ReplicationResponse)
    assert decoded_snapshot.resource == snapshot
    assert over_the_wire(None) is None


def test_a_refusal_crosses_the_wire_as_the_same_error() -> None:
    refused = SecretRefused("expired", "the peering token expired at 2026-01-01T00:00:00Z")
    back = decode_error(json.loads(encode_json(encode_error(refused))))
    assert isinstance(back, SecretRefused)
    assert (back.reason, str(back)) == ("expired", str(refused))
    assert str(back.as_seen_by_dialer()) == str(refused.as_seen_by_dialer())
    denied = RPCError("PermissionDenied", "invalid peering stream secret")
    again = decode_error(json.loads(encode_json(encode_error(denied))))
    assert type(again) is RPCError
    assert (again.code, again.status_code, str(again)) == ("PermissionDenied", 500, str(denied))


def test_peerstream_refuses_a_body_that_is_not_a_message(world: World) -> None:
    cluster = world.add_cluster("cluster-01")
    r = cluster.client.post(
        "/_sim/peerstream", json={"Source": "127.0.0.1:1", "Message": {"Type": "Pickle"}}
    )
    assert (r.status_code, r.text) == (400, "Request decode failed: unknown message type 'Pickle'")
    r = cluster.client.post("/_sim/peerstream", json={"Message": {"Type": "Heartbeat"}})
    assert (r.status_code, r.text) == (
        400,
        "Missing Source: the sending cluster's peering address",
    )
    assert cluster.client.get("/_sim/peerstream").status_code == 405


# -- two processes --------------------------------------------------------------------------------
def multierror_text(lines: list[str]) -> str:
    return f"rpc error: code = Unknown desc = {go_multierror(lines)}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(name: str, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "consul_sim.cli.main",
            "serve",
            "-cluster",
            f"{name}:{port}",
            "-heartbeat-interval",
            "500ms",
            "-heartbeat-timeout",
            "3s",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def wait_until(what: str, ready: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def leader_of(proc: subprocess.Popen[str], client: httpx.Client) -> Callable[[], bool]:
    """Whether the served cluster answers /v1/status/leader (the process must still run)."""

    def ready() -> bool:
        assert proc.poll() is None, proc.communicate()
        try:
            return client.get("/v1/status/leader").status_code == 200
        except httpx.TransportError:
            return False

    return ready


@pytest.fixture
def two_processes() -> Iterator[tuple[httpx.Client, httpx.Client]]:
    procs: dict[str, subprocess.Popen[str]] = {}
    clients: list[httpx.Client] = []
    try:
        for name in ("cluster-01", "cluster-02"):
            port = free_port()
            procs[name] = serve(name, port)
            clients.append(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0))

        for name, client in zip(procs, clients, strict=True):
            wait_until(f"{name} to serve", leader_of(procs[name], client))
        yield clients[0], clients[1]
    finally:
        for client in clients:
            client.close()
        for name, proc in procs.items():
            out, err = stop(proc)
            assert proc.returncode == 0, (name, proc.returncode, out, err)


def peering(client: httpx.Client, name: str) -> dict[str, Any]:
    r = client.get(f"/v1/peering/{name}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_two_serve_processes_peer_replicate_and_terminate_over_http(
    two_processes: tuple[httpx.Client, httpx.Client],
) -> None:
    one, two = two_processes
    r = one.put(
        "/v1/agent/service/register",
        json={"Name": "service-name", "ID": "service-name-1", "Port": 8080},
    )
    assert r.status_code == 200, r.text

    r = one.post("/v1/peering/token", json={"PeerName": "cluster-02"})
    assert r.status_code == 200, r.text
    token = r.json()["PeeringToken"]
    one_address = str(one.base_url).removeprefix("http://").rstrip("/")
    assert json.loads(base64.b64decode(token))["ServerAddresses"] == [one_address]

    r = two.post("/v1/peering/establish", json={"PeerName": "cluster-01", "PeeringToken": token})
    assert (r.status_code, r.text) == (200, "{}")

    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["config", "write", "-http-addr", one_address, str(EXPORTED_SERVICES_HCL)],
        stdout=out,
        stderr=err,
    )
    assert (code, err.getvalue()) == (0, ""), out.getvalue()

    def imported() -> list[dict[str, Any]]:
        r = two.get("/v1/health/service/service-name", params={"peer": "cluster-01"})
        assert r.status_code == 200, r.text
        body: list[dict[str, Any]] = r.json()
        return body

    def replicated() -> bool:
        return (
            len(imported()) == 1
            and peering(one, "cluster-02")["State"] == "ACTIVE"
            and peering(two, "cluster-01")["State"] == "ACTIVE"
        )

    wait_until("the import and ACTIVE on both sides", replicated)
    [instance] = imported()
    assert instance["Service"]["ID"] == "service-name-1"
    assert instance["Service"]["PeerName"] == "cluster-01"
    assert instance["Node"]["Node"] == "cluster-01-server"
    dialer = peering(two, "cluster-01")
    assert dialer["PeerServerAddresses"] == [one_address]
    assert dialer["StreamStatus"]["ImportedServices"] == ["service-name"]
    assert peering(one, "cluster-02")["StreamStatus"]["ExportedServices"] == ["service-name"]

    r = two.delete("/v1/peering/cluster-01")
    assert r.status_code == 200, r.text

    def terminated() -> bool:
        r = two.get("/v1/peering/cluster-01")
        return r.status_code == 404 and peering(one, "cluster-02")["State"] == "TERMINATED"

    wait_until("TERMINATED on the acceptor and the dialer's record gone", terminated)
    assert imported() == []


def test_establish_with_a_token_naming_a_dead_remote_address_is_connection_refused() -> None:
    world = World(clock="virtual", seed=5)
    acceptor = World(clock="virtual", seed=6)
    try:
        dialer = world.add_cluster("cluster-02")
        token = acceptor.add_cluster("cluster-01").peering.generate_token(peer="cluster-02")
        dead = f"127.0.0.1:{free_port()}"
        envelope = json.loads(base64.b64decode(token))
        envelope["ServerAddresses"] = [dead]
        edited = base64.b64encode(json.dumps(envelope).encode()).decode()
        with ServedWorld(world, {"cluster-02": 0}) as served, httpx.Client() as http:
            r = http.post(
                f"{served.url('cluster-02')}/v1/peering/establish",
                json={"PeerName": "cluster-01", "PeeringToken": edited},
            )
        # Retried for Consul's ~3 s, every attempt one line of the multierror.
        line = (
            f'failed to exchange peering secret through address "{dead}": rpc error: '
            'code = Unavailable desc = connection error: desc = "transport: Error while '
            f'dialing: dial tcp {dead}: connect: connection refused"'
        )
        attempts = r.text.count(line)
        assert attempts > 1
        assert (r.status_code, r.text) == (500, multierror_text([line] * attempts))
        assert dialer.peering.read("cluster-01")["State"] == "PENDING"
        # Dialed over HTTP, not refused for want of a local cluster at that address.
        last = world.network.journal[-1]
        assert (last.kind, last.destination) == ("ExchangeSecret", dead)
        assert last.outcome.startswith("unreachable: connection error")
    finally:
        world.close()
        acceptor.close()
