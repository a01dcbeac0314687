"""A catastrophic-backtracking regex in ``?filter=`` costs microseconds, as under Go's RE2.

Before RE2, ``ServiceName matches "(a+)+$"`` against a 27-character name held the event loop for
8 s, and another cluster served by the same process waited as long for ``/v1/status/leader``.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from consul_sim.server import ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow

NAME = "a" * 9_999 + "!"  # 10,000 characters: the classic worst case for (a+)+$
BOMB = {"filter": 'ServiceName matches "(a+)+$"'}
LIMIT = 0.1  # seconds; a backtracking engine needs longer than the universe's age here


@pytest.fixture
def served() -> Iterator[ServedWorld]:
    world = World(seed=9)
    world.add_cluster("dc1")
    world.add_cluster("dc2")
    served = ServedWorld(world, {"dc1": 0, "dc2": 0}).start()
    try:
        register = {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": NAME}}
        response = httpx.put(served.url("dc1") + "/v1/catalog/register", json=register)
        assert response.status_code == 200, response.text
        yield served
    finally:
        served.stop()
        world.close()


def _median_seconds(client: httpx.Client, url: str, params: dict[str, str]) -> float:
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        response = client.get(url, params=params)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return statistics.median(timings)


def test_regex_bomb_in_filter_answers_fast(served: ServedWorld) -> None:
    url = served.url("dc1") + "/v1/catalog/services"
    with httpx.Client() as client:
        assert client.get(url, params=BOMB).json() == {}
        anchored = {"filter": 'ServiceName matches "^(a+)+!$"'}
        assert client.get(url, params=anchored).json() == {NAME: []}
        assert _median_seconds(client, url, BOMB) < LIMIT


def test_other_cluster_answers_while_bombs_are_filtered(served: ServedWorld) -> None:
    stop = threading.Event()
    bombs: list[int] = []

    def keep_bombing() -> None:
        with httpx.Client() as client:
            while not stop.is_set():
                response = client.get(served.url("dc1") + "/v1/catalog/services", params=BOMB)
                bombs.append(response.status_code)

    bomber = threading.Thread(target=keep_bombing)
    bomber.start()
    try:
        while not bombs:  # the bombs are flying before the other cluster is timed
            time.sleep(0.005)
        with httpx.Client() as client:
            leader = served.url("dc2") + "/v1/status/leader"
            assert client.get(leader).json() == "127.0.0.1:8300"
            assert _median_seconds(client, leader, {}) < LIMIT
    finally:
        stop.set()
        bomber.join()
    assert set(bombs) == {200}
