"""The faults a test injects into a world: cut, slow, hold and heal links, crash and restart.

A mixin of :class:`consul_sim.world.World` (its methods are the world's, ``world.partition``
and so on), kept in a module of its own because it is a separate concern from creating clusters
and driving time: every method checks the cluster names, then hands the fault to
:mod:`consul_sim.net`, which owns links and crashed clusters. A mixin rather than a helper
object, so a world's pickled state (what a snapshot holds) is unchanged by the split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import threading

    from consul_sim.net import Network
    from consul_sim.world import Cluster


class _FaultHost(Protocol):
    """What the faults need of the world they are mixed into."""

    lock: threading.RLock
    network: Network

    def cluster(self, name: str) -> Cluster: ...


class WorldFaults:
    """``World``'s fault-injection methods (see the module docstring)."""

    def partition(self: _FaultHost, a: str, b: str) -> None:
        """Cut the link between two clusters, both ways: queued messages on it are dropped."""
        with self.lock:
            self.cluster(a), self.cluster(b)
            self.network.partition(a, b)

    def heal(self: _FaultHost, a: str | None = None, b: str | None = None) -> None:
        """Heal one link; with no arguments, every link."""
        with self.lock:
            if (a is None) != (b is None):
                raise ValueError("heal() takes two cluster names or none")
            if a is not None and b is not None:
                self.cluster(a), self.cluster(b)
            self.network.heal(a, b)

    def set_link(
        self: _FaultHost,
        a: str,
        b: str,
        *,
        latency: float | None = None,
        loss: float | None = None,
        duplicate: float | None = None,
    ) -> None:
        """Latency in seconds; loss and duplicate are probabilities drawn from the seed."""
        with self.lock:
            self.cluster(a), self.cluster(b)
            self.network.set_link(a, b, latency=latency, loss=loss, duplicate=duplicate)

    def hold(self: _FaultHost, a: str, b: str) -> None:
        """Keep every message on the link until ``release``."""
        with self.lock:
            self.cluster(a), self.cluster(b)
            self.network.hold(a, b)

    def release(self: _FaultHost, a: str, b: str) -> None:
        with self.lock:
            self.cluster(a), self.cluster(b)
            self.network.release(a, b)

    def crash(self: _FaultHost, name: str) -> None:
        """The cluster's servers stop: it neither sends nor receives, its timers do nothing,
        and its peers notice only when their heartbeat timeout fires."""
        with self.lock:
            self.cluster(name)
            self.network.crash(name)

    def restart(self: _FaultHost, name: str) -> None:
        """A new leader comes up: its stream tracker starts empty and it redials its peers."""
        with self.lock:
            cluster = self.cluster(name)
            if name not in self.network.crashed:
                return
            self.network.restart(name)
            cluster.peering.on_restart()
