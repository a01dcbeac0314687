"""Paths across the simulated network: links, their settings, and mesh gateways on the way.

A path is the list of node names a message crosses, sender to receiver. Between two clusters it
is their one link, unless mesh gateways stand between them: a gateway is attached at its own
addresses under a name of its own (``cluster-01/mesh-gateway``) and forwards to the cluster that
owns it, and a dialer that peers through its local gateway names it in ``via``. Consul's peering
stream is one gRPC connection whose replies ride the path that opened it, so a path a call took
is remembered for that pair of clusters and both ends' traffic follows it. Every link on a path
counts: any partitioned or held link cuts or holds the message, latencies add up, loss and
duplication compound. :class:`consul_sim.net.Network` is a :class:`GatewayPaths`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

LinkKey = tuple[str, str]


def link_key(a: str, b: str) -> LinkKey:
    """Links are undirected: a partition between a and b cuts both directions."""
    return (a, b) if a <= b else (b, a)


@dataclass
class LinkSettings:
    latency: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    partitioned: bool = False
    held: bool = False

    def render(self) -> dict[str, object]:
        return {
            "LatencyMs": round(self.latency * 1000, 3),
            "Loss": self.loss,
            "Duplicate": self.duplicate,
            "Partitioned": self.partitioned,
            "Held": self.held,
        }

    @property
    def is_default(self) -> bool:
        return self == LinkSettings()


class GatewayPaths:
    """The part of the network that knows gateways and routes (mixed into ``Network``)."""

    gateways: dict[str, tuple[str, str]]
    """Mesh gateway address -> (the gateway's name on the network, its cluster's address)."""
    routes: dict[tuple[str, str], tuple[str, ...]]
    """(from cluster, to cluster) -> the gateways their stream's traffic crosses, in order."""
    links: dict[LinkKey, LinkSettings]
    crashed: set[str]
    _names: dict[str, str]
    _receivers: dict[str, Any]

    def settings_between(self, a: str, b: str) -> LinkSettings:
        return self.links.get(link_key(a, b)) or LinkSettings()

    def attach_gateway(self, address: str, name: str, owner: str) -> bool:
        """Put the mesh gateway ``name`` at ``address``, forwarding to the cluster listening at
        ``owner``. An address a cluster listens on stays the cluster's (False)."""
        if address in self._receivers:
            return False
        self.gateways[address] = (name, owner)
        return True

    def detach_gateway(self, address: str) -> None:
        self.gateways.pop(address, None)

    def gateway_at(self, address: str) -> str | None:
        """The name of the mesh gateway at ``address``, if one is there."""
        gateway = self.gateways.get(address)
        return gateway[0] if gateway is not None else None

    def _endpoint(self, address: str) -> str:
        """The cluster behind an address (a gateway's is its owner's), else the address."""
        gateway = self.gateways.get(address)
        if gateway is not None:
            address = gateway[1]
        return self._names.get(address, address)

    def _receiver(self, destination: str) -> Any:
        receiver = self._receivers.get(destination)
        if receiver is None and destination in self.gateways:
            receiver = self._receivers.get(self.gateways[destination][1])
        return receiver

    def path(
        self, source: str, destination: str, via: tuple[str, ...] | None = None
    ) -> tuple[str, ...]:
        """The node names a message from ``source`` to ``destination`` crosses. ``via`` names
        the gateways the sender goes through first (None: the route its pair learned); a
        destination that is a gateway's address adds that gateway before its cluster."""
        a, b = self._endpoint(source), self._endpoint(destination)
        gateway = self.gateways.get(destination)
        tail = (gateway[0],) if gateway is not None else ()
        if via is not None:
            hops = (*via, *tail)
        else:
            hops = self.routes.get((a, b), tail)
        return (a, *hops, b)

    def learn_route(self, path: tuple[str, ...]) -> None:
        """Traffic between the two ends of ``path`` follows it from now on, both ways."""
        a, b = path[0], path[-1]
        hops = path[1:-1]
        if hops:
            self.routes[(a, b)] = hops
            self.routes[(b, a)] = tuple(reversed(hops))
        else:
            self.routes.pop((a, b), None)
            self.routes.pop((b, a), None)

    def path_settings(self, path: tuple[str, ...]) -> LinkSettings:
        """What the links of ``path`` add up to: one link's own settings, or partitioned or
        held if any is, latencies summed, loss and duplication compounded."""
        if len(path) == 2:
            return self.settings_between(path[0], path[1])
        out = LinkSettings()
        keep, once = 1.0, 1.0
        for x, y in itertools.pairwise(path):
            link = self.settings_between(x, y)
            out.partitioned = out.partitioned or link.partitioned
            out.held = out.held or link.held
            out.latency += link.latency
            keep *= 1 - link.loss
            once *= 1 - link.duplicate
        out.loss, out.duplicate = 1 - keep, 1 - once
        return out

    def _path_cut(self, path: tuple[str, ...], *, first: int = 0) -> str:
        """Why nothing crosses ``path`` right now ("" when it can); nodes before ``first``
        are not checked for crashes."""
        for name in path[first:]:
            if name in self.crashed:
                return f"{name} is crashed"
        for x, y in itertools.pairwise(path):
            if self.settings_between(x, y).partitioned:
                return "partitioned" if len(path) == 2 else f"partitioned between {x} and {y}"
        return ""

    @staticmethod
    def _routed(summary: str, path: tuple[str, ...]) -> str:
        """A journal summary that names the gateways a message crosses."""
        if len(path) <= 2:
            return summary
        via = "via " + " > ".join(path[1:-1])
        return f"{summary} ({via})" if summary else via

    def _owner_name(self, address: str) -> str:
        gateway = self.gateways.get(address)
        return self._names.get(gateway[1], "") if gateway is not None else ""
