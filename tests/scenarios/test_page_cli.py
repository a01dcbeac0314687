"""The seed page end to end through ``consul-sim`` alone, against two served clusters.

Each command is run as a student would type it, pointed at a cluster with ``-http-addr``; what
the page checks with curl is read over real HTTP. The world runs on the wall clock, with short
heartbeats (world settings, as ``serve -heartbeat-interval`` sets them), and every wait is
bounded.
"""

from __future__ import annotations

import functools
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from consul_sim.cli.main import main
from consul_sim.server import ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow

SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"
WAIT = 10.0
T = TypeVar("T")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def served() -> Iterator[ServedWorld]:
    world = World(seed=11, heartbeat_interval=1.0, heartbeat_timeout=4.0)
    try:
        for name in ("cluster-01", "cluster-02"):
            world.add_cluster(name)
        served = ServedWorld(world, {"cluster-01": 0, "cluster-02": 0}).start()
        try:
            yield served
        finally:
            served.stop()
    finally:
        world.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def consul(served: ServedWorld, cluster: str, command: str, *args: str) -> Result:
    """``consul-sim <command> -http-addr=<cluster's address> <args>``, with no environment."""
    address = served.url(cluster).removeprefix("http://")
    argv = [*command.split(), f"-http-addr={address}", *args]
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, env={}, stdout=out, stderr=err, stdin=io.BytesIO())
    return Result(code, out.getvalue(), err.getvalue())


def eventually(probe: Callable[[], T], holds: Callable[[T], bool], what: str) -> T:
    """Ask ``probe`` until ``holds`` says yes; fail after WAIT seconds with the last answer."""
    deadline = time.monotonic() + WAIT
    while True:
        value = probe()
        if holds(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"never saw {what} within {WAIT}s; last: {value!r}")
        time.sleep(0.05)


def read_peering(served: ServedWorld, cluster: str, name: str) -> dict[str, Any] | None:
    result = consul(served, cluster, "peering read", "-name", name, "-format", "json")
    return json.loads(result.stdout) if result.code == 0 else None


def _get_json(http: httpx.Client, url: str) -> Any:
    return http.get(url).json()


def test_the_page_end_to_end_through_the_cli(served: ServedWorld, http: httpx.Client) -> None:
    one, two = served.url("cluster-01"), served.url("cluster-02")

    # Create a peering token (in cluster-01, for cluster-02).
    made = consul(served, "cluster-01", "peering generate-token", "-peer=cluster-02")
    assert (made.code, made.stderr) == (0, "")
    token = made.stdout.strip()
    assert token and "\n" not in token

    # Establish a connection between clusters (in cluster-02): no output, as the page says.
    initiated = consul(
        served, "cluster-02", "peering initiate", "-peer=cluster-01", f"-token={token}"
    )
    assert (initiated.code, initiated.stdout, initiated.stderr) == (0, "", "")

    # Connect service endpoints: the service, then the page's exported-services entry.
    registered = consul(
        served, "cluster-01", "services register", str(SCENARIOS_DIR / "service-name.hcl")
    )
    assert (registered.code, registered.stdout) == (0, "Registered service: service-name\n")
    exported = consul(
        served, "cluster-01", "config write", str(SCENARIOS_DIR / "peering-config.hcl")
    )
    assert (exported.code, exported.stdout) == (
        0,
        "Config entry written: exported-services/default\n",
    )

    # Wait for the clusters to sync.
    record = eventually(
        lambda: read_peering(served, "cluster-02", "cluster-01"),
        lambda r: (
            r is not None
            and r["State"] == "ACTIVE"
            and r["StreamStatus"]["ImportedServices"] == ["service-name"]
        ),
        "cluster-02's peering ACTIVE with service-name imported",
    )
    assert record is not None and record["PeerCAPems"]
    instances = eventually(
        lambda: http.get(f"{two}/v1/health/service/service-name?peer=cluster-01").json(),
        bool,
        "the imported instance on cluster-02",
    )
    [entry] = instances
    assert entry["Service"]["ID"] == "service-name-1"
    assert entry["Service"]["PeerName"] == "cluster-01"
    assert [(c["CheckID"], c["Status"]) for c in entry["Checks"]] == [
        ("service-name-1:overall-check", "passing")
    ]

    # Check peering connection status, with the page's curl on both sides.
    for url in (f"{one}/v1/peering/cluster-02", f"{two}/v1/peering/cluster-01"):
        status = eventually(
            functools.partial(_get_json, http, url),
            lambda s: s["status"] == "active",
            f"active at {url}",
        )
        assert (status["State"], status["connected"]) == ("ACTIVE", True)
    exports = consul(served, "cluster-01", "peering exported-services", "-name", "cluster-02")
    assert (exports.code, exports.stdout) == (0, "service-name\n")

    # Authorize connections from peers.
    authorized = consul(
        served, "cluster-01", "config write", str(SCENARIOS_DIR / "peering-intentions.hcl")
    )
    assert (authorized.code, authorized.stdout) == (
        0,
        "Config entry written: service-intentions/service-name\n",
    )
    intentions = consul(
        served, "cluster-01", "config read", "-kind", "service-intentions", "-name", "service-name"
    )
    assert intentions.code == 0
    assert json.loads(intentions.stdout)["Sources"][0]["Peer"] == "cluster-02"

    # Remove peering connections (in cluster-01).
    deleted = consul(served, "cluster-01", "peering delete", "-name", "cluster-02")
    assert (deleted.code, deleted.stdout) == (
        0,
        "Successfully submitted peering connection, cluster-02, for deletion\n",
    )
    gone = eventually(
        lambda: consul(served, "cluster-01", "peering read", "-name", "cluster-02"),
        lambda r: r.code == 1,
        "cluster-01's record removed",
    )
    assert gone.stderr == "No peering with name cluster-02 found.\n"
    terminated = eventually(
        lambda: read_peering(served, "cluster-02", "cluster-01"),
        lambda r: r is not None and r["State"] == "TERMINATED",
        "cluster-02's peering TERMINATED",
    )
    assert terminated is not None

    # Nothing imported remains on either side.
    for base in (one, two):
        for kind in ("health", "catalog"):
            for peer in ("cluster-01", "cluster-02"):
                url = f"{base}/v1/{kind}/service/service-name?peer={peer}"
                assert http.get(url).json() == [], url
    assert consul(served, "cluster-01", "peering list").stdout == (
        "There are no peering connections.\n"
    )
    # cluster-02 keeps its TERMINATED record until it deletes it itself; then it is all gone.
    assert consul(served, "cluster-02", "peering delete", "-name", "cluster-01").code == 0
    eventually(
        lambda: consul(served, "cluster-02", "peering list").stdout,
        lambda out: out == "There are no peering connections.\n",
        "cluster-02 with no peering left",
    )
    assert http.get(f"{two}/v1/peerings").json() == []
