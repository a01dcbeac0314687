"""``serve -sim-token``: the simulator's /_sim/ control endpoints need the token in
``X-Sim-Token`` on a served port; Consul's API and the peer stream do not."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from consul_sim.server import SIM_TOKEN_DENIED, ServedWorld
from consul_sim.world import World

pytestmark = pytest.mark.slow


@pytest.fixture
def url() -> Iterator[str]:
    world = World(seed=5)
    world.add_cluster("dc1")
    served = ServedWorld(world, {"dc1": 0}, sim_token="s3cret").start()
    try:
        yield served.url("dc1")
    finally:
        served.stop()
        world.close()


@pytest.mark.parametrize("headers", [{}, {"X-Sim-Token": "wrong"}], ids=["none", "wrong"])
def test_sim_endpoints_refuse_a_request_without_the_token(
    url: str, headers: dict[str, str]
) -> None:
    for method, path in (("GET", "/_sim/world"), ("POST", "/_sim/heal")):
        answer = httpx.request(method, f"{url}{path}", headers=headers)
        assert (answer.status_code, answer.text) == (403, SIM_TOKEN_DENIED)
        assert answer.headers["content-type"].startswith("text/plain")


def test_sim_endpoints_answer_with_the_token(url: str) -> None:
    answer = httpx.get(f"{url}/_sim/world", headers={"X-Sim-Token": "s3cret"})
    assert answer.status_code == 200
    assert "dc1" in answer.text


def test_consul_api_and_peer_stream_are_not_gated(url: str) -> None:
    assert httpx.put(f"{url}/v1/kv/k", content=b"v").text == "true"
    assert httpx.post(f"{url}/_sim/peerstream", content=b"{}").status_code != 403
