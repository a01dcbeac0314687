"""The seam between a world and whatever answers its clusters' HTTP calls in-process.

The world builds no HTTP app and no client itself (that is :mod:`consul_sim.api`'s job, and the
domain must stay importable without FastAPI, Starlette or httpx). It knows only the
:class:`FrontDoor` protocol here, and finds the installed implementation through the
``consul_sim.front_door`` entry point the first time a client is asked for. Kept apart from
:mod:`consul_sim.world` so that module holds the world's state and time, not plugin lookup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    import httpx  # noqa: TID251 (a type only: the world never imports httpx at run time)

    from consul_sim.world import Cluster, World

FRONT_DOOR_GROUP = "consul_sim.front_door"
"""The entry-point group naming the factory of a world's in-process HTTP front door."""
FRONT_DOOR_NAME = "in-process"


class FrontDoor(Protocol):
    """How a world's clusters are called over HTTP with no socket (built by ``consul_sim.api``)."""

    def client(self, cluster: Cluster) -> httpx.Client:
        """A new client whose requests the cluster's own app answers."""
        ...

    def close(self) -> None:
        """Stop whatever the front door runs (its event-loop thread)."""
        ...


def installed_front_door(world: World) -> FrontDoor:
    """The front door the installed distribution names under ``consul_sim.front_door``."""
    from importlib.metadata import entry_points  # ~50 ms: paid by the first client only

    found = entry_points(group=FRONT_DOOR_GROUP, name=FRONT_DOOR_NAME)
    if not found:
        raise RuntimeError(
            f"no {FRONT_DOOR_GROUP!r} entry point named {FRONT_DOOR_NAME!r}: install "
            "consul-sim (pip install consul-sim, or pip install -e . in a checkout) so "
            "cluster.client can reach the cluster's HTTP API"
        )
    factory = next(iter(found)).load()
    return cast(FrontDoor, factory(world))
