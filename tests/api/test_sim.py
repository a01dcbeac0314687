"""/_sim: fault injection and virtual time over HTTP, in-process, served, and from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from consul_sim.server import ServedWorld
from consul_sim.world import Cluster, World

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=21)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def a(world: World) -> Cluster:
    return world.add_cluster("cluster-01")


@pytest.fixture
def b(world: World, a: Cluster) -> Cluster:
    return world.add_cluster("cluster-02")


def peer(
    acceptor: httpx.Client, dialer: httpx.Client, acceptor_name: str, dialer_name: str
) -> None:
    r = acceptor.post("/v1/peering/token", json={"PeerName": dialer_name})
    assert r.status_code == 200, r.text
    r = dialer.post(
        "/v1/peering/establish",
        json={"PeerName": acceptor_name, "PeeringToken": r.json()["PeeringToken"]},
    )
    assert (r.status_code, r.text) == (200, "{}")


def state(client: httpx.Client, name: str) -> str:
    r = client.get(f"/v1/peering/{name}")
    assert r.status_code == 200, r.text
    shown: str = r.json()["State"]
    return shown


def post(client: httpx.Client, path: str, body: Any = None) -> dict[str, Any]:
    r = client.post(path, json=body) if body is not None else client.post(path)
    assert r.status_code == 200, r.text
    view: dict[str, Any] = r.json()
    return view


def test_partition_advance_and_heal_over_http(world: World, a: Cluster, b: Cluster) -> None:
    peer(a.client, b.client, "cluster-01", "cluster-02")
    view = post(a.client, "/_sim/partition", {"A": "cluster-01", "B": "cluster-02"})
    assert view["Links"] == [
        {
            "A": "cluster-01",
            "B": "cluster-02",
            "LatencyMs": 0.0,
            "Loss": 0.0,
            "Duplicate": 0.0,
            "Partitioned": True,
            "Held": False,
        }
    ]
    post(b.client, "/_sim/advance", {"Seconds": 121})
    assert state(b.client, "cluster-01") == "FAILING"
    view = post(a.client, "/_sim/heal")
    assert view["Links"] == []
    view = post(a.client, "/_sim/advance", {"seconds": 65})
    assert view["Clock"] == {"Kind": "virtual", "Now": "2026-01-01T00:03:06Z"}
    assert state(a.client, "cluster-02") == state(b.client, "cluster-01") == "ACTIVE"
    peerings = {c["Name"]: c["Peerings"] for c in view["Clusters"]}
    assert [(p["Name"], p["State"], p["Connected"]) for p in peerings["cluster-02"]] == [
        ("cluster-01", "ACTIVE", True)
    ]


def test_heal_with_a_body_heals_only_that_link(world: World, a: Cluster, b: Cluster) -> None:
    world.add_cluster("cluster-03")
    post(a.client, "/_sim/partition", {"A": "cluster-01", "B": "cluster-02"})
    post(a.client, "/_sim/partition", {"A": "cluster-03", "B": "cluster-01"})
    view = post(a.client, "/_sim/heal", {"A": "cluster-02", "B": "cluster-01"})
    assert [(link["A"], link["B"]) for link in view["Links"]] == [("cluster-01", "cluster-03")]


def test_link_settings_show_in_the_world_view(world: World, a: Cluster, b: Cluster) -> None:
    post(
        a.client,
        "/_sim/link",
        {"A": "cluster-02", "B": "cluster-01", "LatencyMs": 250, "Loss": 0.1, "Duplicate": 0.05},
    )
    r = b.client.get("/_sim/world")
    assert r.status_code == 200
    view = r.json()
    assert view["Links"] == [
        {
            "A": "cluster-01",
            "B": "cluster-02",
            "LatencyMs": 250.0,
            "Loss": 0.1,
            "Duplicate": 0.05,
            "Partitioned": False,
            "Held": False,
        }
    ]
    assert view["Seed"] == 21
    assert (view["HeartbeatInterval"], view["HeartbeatTimeout"]) == ("15s", "2m0s")
    assert [c["Name"] for c in view["Clusters"]] == ["cluster-01", "cluster-02"]


def test_crash_and_restart_over_http(world: World, a: Cluster, b: Cluster) -> None:
    peer(a.client, b.client, "cluster-01", "cluster-02")
    view = post(b.client, "/_sim/crash", {"Cluster": "cluster-01"})
    assert [c["Crashed"] for c in view["Clusters"]] == [True, False]
    post(b.client, "/_sim/advance", {"Seconds": 121})
    assert state(b.client, "cluster-01") == "FAILING"
    view = post(b.client, "/_sim/restart", {"Cluster": "cluster-01"})
    assert [c["Crashed"] for c in view["Clusters"]] == [False, False]
    post(b.client, "/_sim/advance", {"Seconds": 65})
    assert state(b.client, "cluster-01") == "ACTIVE"


def test_events_lists_the_journal_newest_last_since_a_seq(
    world: World, a: Cluster, b: Cluster
) -> None:
    peer(a.client, b.client, "cluster-01", "cluster-02")
    world.settle()
    r = a.client.get("/_sim/events")
    assert r.status_code == 200
    events = r.json()
    assert [e["Seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0] == {
        "Seq": 1,
        "At": "2026-01-01T00:00:00Z",
        "Source": "cluster-02",
        "Destination": "cluster-01",
        "Kind": "ExchangeSecret",
        "Outcome": "ok",
        "Summary": "",
        "Message": 0,
    }
    later = a.client.get("/_sim/events?since=2").json()
    assert later == events[2:]
    assert a.client.get(f"/_sim/events?since={len(events)}").json() == []


def test_events_say_how_many_lines_fell_off_the_ring() -> None:
    with World(clock="virtual", seed=21, journal_size=5) as world:
        a, b = world.add_cluster("cluster-01"), world.add_cluster("cluster-02")
        peer(a.client, b.client, "cluster-01", "cluster-02")
        world.settle()
        last = world.network.journal.last_seq
        assert last > 5
        r = a.client.get("/_sim/events")
        assert r.status_code == 200
        assert r.headers["X-Sim-Dropped"] == str(last - 5)
        gap, *held = r.json()
        assert [e["Seq"] for e in held] == list(range(last - 4, last + 1))
        assert gap == {
            "Seq": last - 5,
            "At": held[0]["At"],
            "Source": "",
            "Destination": "",
            "Kind": "Dropped",
            "Outcome": f"dropped: {last - 5} journal lines fell off the ring (it keeps 5)",
            "Summary": "",
            "Message": 0,
            "Dropped": last - 5,
        }
        r = a.client.get(f"/_sim/events?since={last - 7}")
        assert r.headers["X-Sim-Dropped"] == "2"
        first, second = r.json()[:2]
        assert (first["Kind"], first["Dropped"], second) == ("Dropped", 2, held[0])
        r = a.client.get(f"/_sim/events?since={last - 2}")
        assert (r.headers["X-Sim-Dropped"], [e["Seq"] for e in r.json()]) == (
            "0",
            [last - 1, last],
        )


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/_sim/partition", None, "Request body is required"),
        ("/_sim/partition", "[1]", "Request body must be a JSON object"),
        ("/_sim/partition", "{", "Request decode failed: unexpected EOF"),
        ("/_sim/partition", '{"A": "cluster-01"}', "Missing B: the name of a cluster is required"),
        (
            "/_sim/partition",
            '{"A": "cluster-01", "B": "mars"}',
            'Unknown cluster "mars" (known: cluster-01, cluster-02)',
        ),
        (
            "/_sim/partition",
            '{"A": "cluster-01", "B": "cluster-01"}',
            "A and B must be two different clusters",
        ),
        ("/_sim/heal", '{"A": 7, "B": "cluster-01"}', "A must be a cluster name (a string)"),
        (
            "/_sim/link",
            '{"A": "cluster-01", "B": "cluster-02", "Loss": 2}',
            "Loss must be between 0 and 1, got 2",
        ),
        (
            "/_sim/link",
            '{"A": "cluster-01", "B": "cluster-02", "LatencyMs": "fast"}',
            "LatencyMs must be a number",
        ),
        ("/_sim/crash", "{}", "Missing Cluster: the name of a cluster is required"),
        ("/_sim/restart", '{"Cluster": "pluto"}', 'Unknown cluster "pluto" (known: cluster-01, '),
        ("/_sim/advance", "{}", "Missing Seconds: how far to move the virtual clock"),
        ("/_sim/advance", '{"Seconds": -1}', "Seconds must be at least 0, got -1"),
    ],
)
def test_bad_requests_get_400_with_a_clear_sentence(
    a: Cluster, b: Cluster, path: str, body: str | None, message: str
) -> None:
    r = a.client.post(path, content=body.encode() if body is not None else b"")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith(message)


def test_events_refuses_a_bad_since(a: Cluster) -> None:
    r = a.client.get("/_sim/events?since=abc")
    assert (r.status_code, r.text) == (400, 'Invalid since: "abc" is not a journal sequence number')


def test_advance_needs_the_virtual_clock() -> None:
    with World(clock="wall", seed=1) as world:
        cluster = world.add_cluster("dc1")
        r = cluster.client.post("/_sim/advance", json={"Seconds": 1})
        assert (r.status_code, r.text) == (
            400,
            "advance needs a world on the virtual clock (serve -clock virtual)",
        )


def test_sim_endpoints_allow_only_their_method(a: Cluster) -> None:
    r = a.client.get("/_sim/partition")
    assert r.status_code == 405


# -- server mode: the ticker drives replication on the wall clock -------------------------------
@pytest.mark.slow
def test_served_world_replicates_on_the_wall_clock() -> None:
    world = World(clock="wall", seed=4, heartbeat_interval=0.2, heartbeat_timeout=1.0)
    world.add_cluster("cluster-01")
    world.add_cluster("cluster-02")
    served = ServedWorld(world, {"cluster-01": 0, "cluster-02": 0}).start()
    try:
        with (
            httpx.Client(base_url=served.url("cluster-01")) as one,
            httpx.Client(base_url=served.url("cluster-02")) as two,
        ):
            one.put("/v1/agent/service/register", json={"Name": "web", "Port": 80})
            peer(one, two, "cluster-01", "cluster-02")
            one.put(
                "/v1/config",
                json={
                    "Kind": "exported-services",
                    "Name": "default",
                    "Services": [{"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}],
                },
            )
            deadline = time.monotonic() + 5
            while not two.get("/v1/health/service/web?peer=cluster-01").json():
                assert time.monotonic() < deadline, "replication never arrived"
                time.sleep(0.02)
            one.post("/_sim/partition", json={"A": "cluster-01", "B": "cluster-02"})
            deadline = time.monotonic() + 5
            while state(two, "cluster-01") != "FAILING":
                assert time.monotonic() < deadline, "the stream never timed out"
                time.sleep(0.05)
            one.post("/_sim/heal")
            deadline = time.monotonic() + 10
            while state(two, "cluster-01") != "ACTIVE":
                assert time.monotonic() < deadline, "the dialer never reconnected"
                time.sleep(0.05)
    finally:
        served.stop()
        world.close()


@pytest.mark.slow
def test_serve_takes_heartbeat_flags_in_go_durations() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "consul_sim.cli.main",
            "serve",
            "-clock",
            "virtual",
            "-heartbeat-interval",
            "500ms",
            "-heartbeat-timeout",
            "4s",
            "-cluster",
            f"dc1:{port}",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                r = httpx.get(f"{url}/_sim/world", timeout=1.0)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve never answered"
                time.sleep(0.05)
        view = r.json()
        assert (view["HeartbeatInterval"], view["HeartbeatTimeout"]) == ("500ms", "4s")
        assert view["Clock"]["Kind"] == "virtual"
        r = httpx.post(f"{url}/_sim/advance", json={"Seconds": 60})
        assert r.json()["Clock"]["Now"] == "2026-01-01T00:01:00Z"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_hold_keeps_replication_until_release(world: World, a: Cluster, b: Cluster) -> None:
    a.client.put("/v1/agent/service/register", json={"Name": "web", "Port": 80})
    peer(a.client, b.client, "cluster-01", "cluster-02")
    view = post(a.client, "/_sim/hold", {"A": "cluster-01", "B": "cluster-02"})
    assert view["Links"][0]["Held"] is True
    a.config.write(
        {
            "Kind": "exported-services",
            "Name": "default",
            "Services": [{"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}],
        }
    )
    world.settle()
    assert b.client.get("/v1/health/service/web?peer=cluster-01").json() == []
    assert post(a.client, "/_sim/release", {"A": "cluster-02", "B": "cluster-01"})["Links"] == []
    world.settle()
    assert len(b.client.get("/v1/health/service/web?peer=cluster-01").json()) == 1
