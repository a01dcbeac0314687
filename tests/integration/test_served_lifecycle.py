"""ServedWorld's life: one set of servers however often it is started, stopped for good once,
and a stop that answers the blocking queries still waiting instead of waiting them out."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from consul_sim.server import ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow


@pytest.fixture
def world() -> Iterator[World]:
    w = World(seed=3)
    w.add_cluster("dc1")
    try:
        yield w
    finally:
        w.close()


def refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/v1/status/leader", timeout=2.0)
    except httpx.ConnectError:
        return True
    return False


def test_a_second_start_keeps_the_one_set_of_servers(world: World) -> None:
    served = ServedWorld(world, {"dc1": 0})
    try:
        assert served.start() is served
        url, ports = served.url("dc1"), dict(served.ports)
        assert served.start() is served
        assert served.ports == ports
        assert httpx.get(f"{url}/v1/status/leader").text == '"127.0.0.1:8300"'
    finally:
        served.stop()
    assert refused(url)


def test_with_after_an_explicit_start_does_not_start_again(world: World) -> None:
    served = ServedWorld(world, {"dc1": 0}).start()
    ports = dict(served.ports)
    with served as inside:
        assert inside is served
        assert inside.ports == ports
        url = inside.url("dc1")
        assert httpx.get(f"{url}/v1/status/leader").status_code == 200
    assert refused(url)


def test_stop_twice_and_stop_before_start_are_harmless(world: World) -> None:
    never = ServedWorld(world, {"dc1": 0})
    never.stop()
    served = ServedWorld(world, {"dc1": 0}).start()
    url = served.url("dc1")
    served.stop()
    served.stop()
    assert refused(url)
    assert world.cluster("dc1").http_address is None


def test_a_stopped_served_world_refuses_to_start_again(world: World) -> None:
    served = ServedWorld(world, {"dc1": 0}).start()
    served.stop()
    with pytest.raises(RuntimeError, match="^this ServedWorld was stopped; serve the world"):
        served.start()


def test_stop_answers_a_waiting_blocking_query_at_once(world: World) -> None:
    world.cluster("dc1").client.put("/v1/kv/app", content=b"v1")
    served = ServedWorld(world, {"dc1": 0}).start()
    url = served.url("dc1")
    index = httpx.get(f"{url}/v1/kv/app").headers["X-Consul-Index"]
    watches = world.cluster("dc1").store.watches
    idle = len(watches)
    answers: list[httpx.Response] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            httpx.get(f"{url}/v1/kv/app?index={index}&wait=10m", timeout=30.0)
        )
    )
    waiter.start()
    deadline = time.monotonic() + 10
    while len(watches) == idle and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(watches) > idle, "the blocking query never started waiting"
    started = time.monotonic()
    served.stop()
    stopped_in = time.monotonic() - started
    waiter.join(timeout=5)
    assert not waiter.is_alive()
    (answer,) = answers
    assert answer.status_code == 200
    assert answer.headers["X-Consul-Index"] == index
    assert answer.json()[0]["Key"] == "app"
    assert stopped_in < 1.0, stopped_in
    assert refused(url)
