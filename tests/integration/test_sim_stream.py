"""/_sim/stream on a served port: world and journal events, and a stop that ends the stream."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from consul_sim.server import ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str, str]]:
    """(event, id, data) for each server-sent event."""
    kind = ident = data = ""
    for line in lines:
        if line == "":
            if kind:
                yield kind, ident, data
            kind = ident = data = ""
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("data: "):
            data = line[6:]


def test_stream_sends_the_world_then_journal_lines_and_ends_when_the_server_stops() -> None:
    world = World(clock="virtual", seed=7)
    dc1, dc2 = world.add_cluster("dc1"), world.add_cluster("dc2")
    served = ServedWorld(world, {"dc1": 0, "dc2": 0}).start()
    try:
        url = served.url("dc1")
        token = httpx.post(f"{url}/v1/peering/token", json={"PeerName": "dc2"}).json()
        r = httpx.post(
            f"{served.url('dc2')}/v1/peering/establish",
            json={"PeerName": "dc1", "PeeringToken": token["PeeringToken"]},
        )
        assert r.status_code == 200, r.text
        with httpx.stream("GET", f"{url}/_sim/stream?since=0", timeout=10) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = _events(response.iter_lines())
            kind, _, data = next(events)
            assert kind == "world"
            view = json.loads(data)
            assert [c["Name"] for c in view["Clusters"]] == ["dc1", "dc2"]
            assert view["Clusters"][0]["Services"] == [
                {"Name": "consul", "Instances": 1, "Status": "passing"}
            ]
            kind, ident, data = next(events)
            assert (kind, ident) == ("journal", "1")
            assert json.loads(data)["Seq"] == 1

            stopper = threading.Thread(target=served.stop)
            began = time.monotonic()
            stopper.start()
            rest = list(events)
            stopper.join(timeout=10)
            took = time.monotonic() - began
        assert not stopper.is_alive()
        assert all(kind in ("world", "journal") for kind, _, _ in rest)
        assert took < 5, f"stop took {took:.1f}s with a stream open"
    finally:
        served.stop()
        world.close()
    assert dc1.http_address is None and dc2.http_address is None
