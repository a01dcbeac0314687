"""The pytest plugin consul-sim installs (entry point ``pytest11``).

Fixtures give each test a fresh world on the virtual clock, so a test decides when time passes,
and close it afterwards, so no test leaks a loop thread or a server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consul_sim.world import Cluster, World


@pytest.fixture
def consul_world() -> Iterator[World]:
    """A fresh world on the virtual clock with a fixed seed."""
    world = World(clock="virtual", seed=0)
    try:
        yield world
    finally:
        world.close()


@pytest.fixture
def consul_cluster(consul_world: World) -> Cluster:
    """One cluster named ``dc1`` in ``consul_world``."""
    return consul_world.add_cluster("dc1")
