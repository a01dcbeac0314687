"""Waiting, in a test, until a blocking query is really parked on a store.

A reader started on another thread and then given a fixed head start (``time.sleep(0.1)``) may
not have reached its wait when the test moves virtual time: it then computes its deadline after
the move and waits for a time that never comes (the first request of a process builds the app,
which can take longer than any head start on a loaded machine). Tests wait for the parked
reader instead.
"""

from __future__ import annotations

import time

from consul_sim.world import World


def wait_until_blocked(world: World, readers: int = 1, timeout: float = 10.0) -> None:
    """Return once ``readers`` blocking queries wait on the world's stores."""
    deadline = time.monotonic() + timeout
    while sum(c.store.watches.readers for c in world.clusters.values()) < readers:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {readers} blocked reader(s) after {timeout} s")
        time.sleep(0.005)
