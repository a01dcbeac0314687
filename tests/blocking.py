"""Waiting, in a test, until a blocking query is really parked on a store.

A reader started on another thread and then given a fixed head start (``time.sleep(0.1)``) may
not have reached its wait when the test moves virtual time: it then computes its deadline after
the move and waits for a time that never comes (the first request of a process builds the app,
which can take longer than any head start on a loaded machine). Tests wait for the parked
reader instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from consul_sim.world import World


def wait_until_blocked(world: World, readers: int = 1, timeout: float = 10.0) -> None:
    """Return once ``readers`` blocking queries wait on the world's stores."""
    deadline = time.monotonic() + timeout
    while sum(c.store.watches.readers for c in world.clusters.values()) < readers:
        if time.monotonic() > deadline:
            raise AssertionError(f"no {readers} blocked reader(s) after {timeout} s")
        time.sleep(0.005)


@contextmanager
def blocked_get(world: World, client: httpx.Client, url: str) -> Iterator[list[httpx.Response]]:
    """GET ``url`` on another thread and wait until it is parked on a store; inside the block
    the caller makes the change that should (or should not) wake it. The list holds the answer
    once the reader is done (it is joined on the way out)."""
    results: list[httpx.Response] = []

    def read() -> None:
        with httpx.Client(transport=client._transport, base_url=client.base_url) as other:
            results.append(other.get(url))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        wait_until_blocked(world)
        yield results
    finally:
        reader.join(timeout=10)
