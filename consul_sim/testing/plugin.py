"""The pytest plugin consul-sim installs (entry point ``pytest11``).

Fixtures give each test a fresh world on the virtual clock, so a test decides when time passes,
and close it afterwards, so no test leaks a loop thread or a server:

* ``consul_world``: the world (no clusters, unless the marker names some);
* ``consul_cluster``: one cluster in it (``dc1``, or the marker's first);
* ``peered_clusters``: ``cluster-01`` and ``cluster-02``, peered and ACTIVE (the page's set-up);
* ``consul_server``: the world served on free loopback ports, for clients that need a socket
  (``consul_server.address("cluster-01")`` is ``host:port``);
* ``consul_world_factory`` (session-scoped, so ``@given`` may use it):
  ``with consul_world_factory(clusters=["a", "b"], peered=True) as world:`` hands out a fresh
  world per call, restored from a snapshot built once per set-up rather than rebuilt.

``@pytest.mark.consul_world(clusters=[...], seed=..., heartbeat_interval=...,
heartbeat_timeout=...)`` configures the function-scoped fixtures. When a test that used a world
fails, its report gains a ``consul-sim`` section with the world's seed and the last
:data:`JOURNAL_LINES` journal entries, so the run can be replayed and the messages read.

Nothing is shared between processes (no files, no fixed ports), so pytest-xdist is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from consul_sim.peering.context import HEARTBEAT_INTERVAL, HEARTBEAT_TIMEOUT
from consul_sim.world import Cluster, World

if TYPE_CHECKING:
    from consul_sim.server import ServedWorld

MARKER = "consul_world"
JOURNAL_LINES = 20
PEERED_NAMES = ("cluster-01", "cluster-02")


@dataclass(frozen=True)
class WorldSpec:
    """How a world is set up: its clusters (peered pairwise when ``peered``), seed, heartbeats."""

    clusters: tuple[str, ...] = ()
    peered: bool = False
    seed: int | str = 0
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    heartbeat_timeout: float = HEARTBEAT_TIMEOUT

    def build(self) -> World:
        """A world set up as specified, settled: each earlier cluster accepts, each later dials."""
        from consul_sim.testing.helpers import peer

        world = World(
            clock="virtual",
            seed=self.seed,
            heartbeat_interval=self.heartbeat_interval,
            heartbeat_timeout=self.heartbeat_timeout,
        )
        try:
            for name in self.clusters:
                world.add_cluster(name)
            if self.peered:
                for i, acceptor in enumerate(self.clusters):
                    for dialer in self.clusters[i + 1 :]:
                        peer(world[acceptor], world[dialer])
                world.settle()
        except BaseException:
            world.close()
            raise
        return world


class _Used:
    """The worlds the running test used, newest last, for the failure report."""

    def __init__(self) -> None:
        self.worlds: list[World] = []

    def add(self, world: World) -> World:
        self.worlds = [*self.worlds[-2:], world]
        return world


_used = _Used()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(clusters=[...], seed=0, heartbeat_interval=15.0, heartbeat_timeout=120.0): "
        "set up consul-sim's consul_world, consul_cluster, peered_clusters and consul_server",
    )


def _spec(request: pytest.FixtureRequest, **defaults: Any) -> WorldSpec:
    marker = request.node.get_closest_marker(MARKER)
    options: dict[str, Any] = dict(defaults)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword arguments only")
        unknown = set(marker.kwargs) - {
            "clusters",
            "seed",
            "heartbeat_interval",
            "heartbeat_timeout",
        }
        if unknown:
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER} got unknown arguments: {', '.join(sorted(unknown))}"
            )
        options.update(marker.kwargs)
    options["clusters"] = tuple(options.get("clusters", ()))
    return WorldSpec(**options)


@pytest.fixture
def consul_world(request: pytest.FixtureRequest) -> Iterator[World]:
    """A fresh world on the virtual clock with a fixed seed (0 unless the marker says)."""
    world = _used.add(_spec(request).build())
    try:
        yield world
    finally:
        world.close()


@pytest.fixture
def consul_cluster(consul_world: World) -> Cluster:
    """One cluster in ``consul_world``: the marker's first, or ``dc1``."""
    if consul_world.clusters:
        return consul_world.cluster(next(iter(consul_world.clusters)))
    return consul_world.add_cluster("dc1")


@pytest.fixture
def peered_clusters(consul_world: World) -> tuple[Cluster, Cluster]:
    """``cluster-01`` (the acceptor) and ``cluster-02`` (the dialer), peered and ACTIVE."""
    from consul_sim.testing.helpers import peer

    acceptor, dialer = (
        consul_world.clusters.get(name) or consul_world.add_cluster(name) for name in PEERED_NAMES
    )
    peer(acceptor, dialer)
    consul_world.settle()
    return acceptor, dialer


@pytest.fixture
def consul_server(consul_world: World) -> Iterator[ServedWorld]:
    """``consul_world`` served, each cluster on a free loopback port (``cluster-01`` and
    ``cluster-02`` when it has none); stopped after the test."""
    from consul_sim.server import ServedWorld

    if not consul_world.clusters:
        for name in PEERED_NAMES:
            consul_world.add_cluster(name)
    served = ServedWorld(consul_world, dict.fromkeys(consul_world.clusters, 0))
    with served:
        yield served


WorldFactory = Callable[..., AbstractContextManager[World]]


def world_factory() -> WorldFactory:
    """``factory(clusters=[...], peered=False, seed=0, heartbeat_interval=...,
    heartbeat_timeout=...)``: a context manager giving a fresh world set up so, closed on
    leaving. Each set-up is built once per factory and kept as a snapshot; every call
    restores it (about a millisecond), so ``@given`` examples each get a world of their own."""
    templates: dict[WorldSpec, bytes] = {}

    @contextmanager
    def factory(
        clusters: Sequence[str] = (),
        *,
        peered: bool = False,
        seed: int | str = 0,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        heartbeat_timeout: float = HEARTBEAT_TIMEOUT,
    ) -> Iterator[World]:
        if isinstance(clusters, str):
            raise TypeError("clusters is a list of names, not one string")
        spec = WorldSpec(tuple(clusters), peered, seed, heartbeat_interval, heartbeat_timeout)
        data = templates.get(spec)
        if data is None:
            template = spec.build()
            try:
                data = templates[spec] = template.snapshot()
            finally:
                template.close()
        world = _used.add(World.restore(data))
        try:
            yield world
        finally:
            world.close()

    return factory


@pytest.fixture(scope="session")
def consul_world_factory() -> WorldFactory:
    """:func:`world_factory` for the whole session (safe under ``@given``: nothing in it is
    per test, and every world it hands out is new)."""
    return world_factory()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _used.worlds = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """A failed test that used a world reports the seed and the end of the journal."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed or not _used.worlds:
        return
    world = _used.worlds[-1]
    tail = world.network.tail(JOURNAL_LINES) or "(no messages yet)"
    report.sections.append(
        (
            "consul-sim world",
            f"seed: {world.seed}\nclusters: {', '.join(sorted(world.clusters)) or '(none)'}\n"
            f"last {JOURNAL_LINES} journal entries:\n{tail}",
        )
    )
