from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from consul_sim.world import Cluster, World


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=42)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def dc1(world: World) -> Cluster:
    return world.add_cluster("dc1")


@pytest.fixture
def client(dc1: Cluster) -> httpx.Client:
    return dc1.client


def register(client: httpx.Client, body: dict[str, object]) -> None:
    r = client.put("/v1/catalog/register", json=body)
    assert r.status_code == 200, r.text
    assert r.text == "true"
