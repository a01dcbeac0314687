"""User events: ``consul event`` / ``/v1/event/fire`` and the agent's ring of recent ones.

In Consul a user event is gossip, not Raft: the agent checks the filters are valid regular
expressions (``agent/user_event.go``'s ``validateUserEventParams``), gives the event a random
UUID and protocol version 1, and the servers broadcast it over Serf. Each agent that receives it
applies the node, service and tag filters against *itself* (``shouldProcessUserEvent``) and
keeps the ones that pass in a ring of the last 256 (``eventBuf``), each stamped with Serf's
event Lamport clock. ``/v1/event/list`` reads that ring; its index is made from the newest
event's ID (``uuidToUint64`` in ``agent/event_endpoint.go``), so it is not monotonic and a
blocking list waits only while the index equals the one asked for.

A simulated cluster has one agent, so firing delivers the event to that agent at once. Serf's
event clock starts at 1 (``serf.Create`` increments every clock once) and each fire takes the
current value, so the first event's ``LTime`` is 1. The answer to a fire is the event as the
firing agent built it, before Serf stamped it: ``LTime`` 0.
"""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from consul_sim.errors import ConsulError
from consul_sim.filter.regex import GoRegexp, RegexpSyntaxError

if TYPE_CHECKING:
    from consul_sim.catalog.agent import LocalAgent
    from consul_sim.rand import SimRandom
    from consul_sim.store.watch import WatchSet

EVENT_BUFFER = 256
"""How many recent events an agent keeps (``eventBuf`` in Consul's ``agent.go``)."""
USER_EVENT_VERSION = 1
"""``userEventMaxVersion``: the protocol version every new event carries."""


@dataclass(frozen=True)
class UserEvent:
    """One event as ``/v1/event/*`` shows it (Go's ``agent.UserEvent``, no JSON tags)."""

    id: str
    name: str
    payload: bytes | None = None
    node_filter: str = ""
    service_filter: str = ""
    tag_filter: str = ""
    version: int = USER_EVENT_VERSION
    ltime: int = 0

    def render(self) -> dict[str, object]:
        return {
            "ID": self.id,
            "Name": self.name,
            "Payload": base64.b64encode(self.payload).decode()
            if self.payload is not None
            else None,
            "NodeFilter": self.node_filter,
            "ServiceFilter": self.service_filter,
            "TagFilter": self.tag_filter,
            "Version": self.version,
            "LTime": self.ltime,
        }


def uuid_to_uint64(uuid: str) -> int:
    """Consul's ``uuidToUint64``: the UUID's high and low 64 bits XORed, an index for a list
    that has no Raft index."""
    low = int(uuid[0:8] + uuid[9:13] + uuid[14:18], 16)
    high = int(uuid[19:23] + uuid[24:36], 16)
    return low ^ high


def _compiled(kind: str, pattern: str) -> GoRegexp | None:
    if not pattern:
        return None
    try:
        return GoRegexp(pattern)
    except RegexpSyntaxError as err:
        raise ConsulError(f"Invalid {kind} filter: {err}", 500) from None


class UserEvents:
    """``cluster.events``: fire events and read the agent's recent ones."""

    def __init__(self, agent: LocalAgent, rand: SimRandom, watches: WatchSet) -> None:
        self.agent = agent
        self.rand = rand
        self.watches = watches
        self.recent: deque[UserEvent] = deque(maxlen=EVENT_BUFFER)
        self.clock = 1
        """Serf's event Lamport clock: the LTime the next event gets."""

    def fire(
        self,
        name: str,
        payload: bytes | None = None,
        *,
        node_filter: str = "",
        service_filter: str = "",
        tag_filter: str = "",
    ) -> UserEvent:
        """Validate and broadcast one event; the answer is the event before Serf stamps it."""
        node_re, service_re, tag_re = self.check(
            name, node_filter=node_filter, service_filter=service_filter, tag_filter=tag_filter
        )
        event = UserEvent(
            id=self.rand.uuid(),
            name=name,
            payload=payload,
            node_filter=node_filter,
            service_filter=service_filter,
            tag_filter=tag_filter,
        )
        stamped = replace(event, ltime=self.clock)
        self.clock += 1
        if self._passes(node_re, service_re, tag_re):
            self.recent.append(stamped)
            self.watches.notify()
        return event

    @staticmethod
    def check(
        name: str, *, node_filter: str = "", service_filter: str = "", tag_filter: str = ""
    ) -> tuple[GoRegexp | None, GoRegexp | None, GoRegexp | None]:
        """``validateUserEventParams``: Consul's 500s with its words, checked before the
        event goes anywhere (so before ``?dc`` and ACLs). Returns the compiled filters."""
        if not name:
            raise ConsulError("User event missing name", 500)
        if tag_filter and not service_filter:
            raise ConsulError("Cannot provide tag filter without service filter", 500)
        return (
            _compiled("node", node_filter),
            _compiled("service", service_filter),
            _compiled("tag", tag_filter),
        )

    def _passes(
        self, node_re: GoRegexp | None, service_re: GoRegexp | None, tag_re: GoRegexp | None
    ) -> bool:
        """Consul's ``shouldProcessUserEvent`` on this agent: its node name, then any local
        service (matched by ID, the key of the agent's service map) with, when given, a tag
        that matches."""
        if node_re is not None and not node_re.found(self.agent.node):
            return False
        if service_re is None:
            return True
        for service_id, service in sorted(self.agent.local_services.items()):
            if not service_re.found(service_id):
                continue
            if tag_re is None or any(tag_re.found(tag) for tag in service.tags):
                return True
        return False

    def list(self, name: str = "") -> list[UserEvent]:
        """The recent events, oldest first, only ``name``'s when given."""
        return [e for e in self.recent if not name or e.name == name]


def list_index(events: list[UserEvent]) -> int:
    """The index of a list answer: derived from the newest event's ID, 1 when there is none
    ("a non-zero index to prevent a hot query loop"), after name and ACL filtering."""
    return uuid_to_uint64(events[-1].id) if events else 1
