"""Network coordinates of one cluster: ``/v1/coordinate/*``.

Consul keeps each node's LAN coordinate in Raft, but writes them in batches: ``Coordinate.Update``
(``agent/consul/coordinate_endpoint.go``) checks the coordinate (finite numbers, Serf's eight
dimensions) and the token's ``node:write``, then only remembers it, the latest per
``node:segment``; every ``CoordinateUpdatePeriod`` (5 s) the server applies what is pending in one
write, and the state store drops coordinates of nodes it does not know
(``CoordinateBatchUpdate``). Here the batch runs on the world's scheduler at each multiple of
5 s since the cluster started, so a test sees an update once virtual time passes the next tick.

The agent's own coordinate is a Serf coordinate that Consul's agent syncs to the servers soon
after it starts. The simulator shows that one (at Serf's origin, as an agent with no peers to
measure keeps it) from the start without a Raft write, so no other index moves because of it;
an update for the agent's node replaces it. A node removed from the catalog loses its
coordinates, as Consul's node delete removes them.

The WAN view (``/v1/coordinate/datacenters``) is the server's WAN Serf coordinate in this
cluster's one datacenter: peered clusters are not WAN-federated, so they do not appear.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from consul_sim.errors import ConsulError
from consul_sim.models.coordinate import Coord, CoordinateUpdateRequest

if TYPE_CHECKING:
    from consul_sim.clock import Clock
    from consul_sim.scheduler import Scheduler, Timer
    from consul_sim.store import Store

COORDINATES = "coordinates"
UPDATE_PERIOD = 5.0
"""Consul's ``CoordinateUpdatePeriod``: seconds between batch writes of pending updates."""
WAN_AREA = "wan"
"""``types.AreaWAN``: the area ID of the WAN pool in ``/v1/coordinate/datacenters``."""

Entry = tuple[str, str, Coord]
"""(node, segment, coordinate)."""


class Coordinates:
    """``cluster.coordinates``: LAN coordinates by node and segment, and pending updates."""

    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        clock: Clock,
        *,
        datacenter: str,
        agent_node: str,
        started_at: float,
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.clock = clock
        self.datacenter = datacenter
        self.agent_node = agent_node
        self.started_at = started_at
        self.stored: dict[tuple[str, str], Coord] = {}
        self.pending: dict[tuple[str, str], Coord] = {}
        self._flush: Timer | None = None

    # -- writes --------------------------------------------------------------------------------
    def update(self, request: CoordinateUpdateRequest, authorize: Callable[[str], None]) -> None:
        """Consul's ``Coordinate.Update``: validate, authorize ``node:write`` through
        ``authorize(node)``, and queue it for the next batch write."""
        coord = request.coord
        if coord is None or not coord.is_valid():
            raise ConsulError("invalid coordinate", 500)
        if len(coord.vec) != len(Coord().vec):
            raise ConsulError("incompatible coordinate", 500)
        authorize(request.node)
        self.pending[(request.node, request.segment)] = coord
        if self._flush is None:
            self._flush = self.scheduler.call_at(self._next_tick(), self.apply_pending)

    def _next_tick(self) -> float:
        elapsed = self.clock.now() - self.started_at
        ticks = math.floor(elapsed / UPDATE_PERIOD + 1e-9) + 1
        return self.started_at + ticks * UPDATE_PERIOD

    def apply_pending(self) -> None:
        """The batch write: every pending coordinate of a known node, in one transaction."""
        self._flush = None
        pending, self.pending = self.pending, {}
        with self.store.lock:
            known = [key for key in sorted(pending) if self._node_exists(key[0])]
            if not known:
                return
            with self.store.txn() as txn:
                for key in known:
                    self.stored[key] = pending[key]
                txn.touch(COORDINATES)

    def _node_exists(self, node: str) -> bool:
        return self.store.catalog.row("", node) is not None

    # -- reads ---------------------------------------------------------------------------------
    def index(self) -> int:
        return self.store.max_index([COORDINATES])

    def nodes(self) -> list[Entry]:
        """Every LAN coordinate of a node still in the catalog, by node then segment, the
        agent's own included."""
        entries = dict(self.stored)
        if (self.agent_node, "") not in entries:
            entries[(self.agent_node, "")] = Coord()
        return [
            (node, segment, coord)
            for (node, segment), coord in sorted(entries.items())
            if self._node_exists(node)
        ]

    def node(self, name: str) -> list[Entry]:
        return [entry for entry in self.nodes() if entry[0] == name]

    def datacenters(self) -> list[dict[str, object]]:
        """``Coordinate.ListDatacenters``: the one datacenter's WAN pool, node names without
        their ``.<dc>`` suffix."""
        return [
            {
                "Datacenter": self.datacenter,
                "AreaID": WAN_AREA,
                "Coordinates": [render(self.agent_node, "", Coord())],
            }
        ]


def render(node: str, segment: str, coord: Coord) -> dict[str, object]:
    """``structs.Coordinate``: ``Partition`` is omitted when empty, as in CE."""
    return {"Node": node, "Segment": segment, "Coord": coord.render()}
