"""The sessions table, and the leader-side state that goes with it: lock delays and TTL timers.

Consul keeps sessions in its state store, indexed by ID and by node, under the ``sessions``
table index. Two things live beside the table in Consul but not in Raft: the lock-delay map
(``state/delay.go``: key -> when a new lock may be taken) and the leader's TTL timers
(``session_ttl.go``). They are kept here so that one store carries everything a session decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consul_sim.clock import Clock
    from consul_sim.scheduler import Timer

SESSIONS = "sessions"

RELEASE = "release"
DELETE = "delete"


@dataclass(frozen=True)
class ServiceCheck:
    id: str
    namespace: str = ""


@dataclass(frozen=True)
class Session:
    """A session as Consul stores it; ``lock_delay`` in nanoseconds, ``ttl`` as written."""

    id: str
    node: str
    name: str = ""
    lock_delay: int = 0
    behavior: str = RELEASE
    ttl: str = ""
    node_checks: tuple[str, ...] | None = ()
    service_checks: tuple[ServiceCheck, ...] | None = None
    checks: tuple[str, ...] = ()
    create_index: int = 0
    modify_index: int = 0

    def check_ids(self) -> list[str]:
        """Every check the session is tied to: legacy ``Checks``, then node, then service."""
        out = list(self.checks)
        out.extend(self.node_checks or ())
        out.extend(c.id for c in self.service_checks or ())
        return out

    def render(self) -> dict[str, Any]:
        """Consul's JSON: ``LockDelay`` as Go nanoseconds, nil lists as null, ``Checks`` only
        when set (it is ``omitempty``), no namespace fields in Consul CE."""
        out: dict[str, Any] = {
            "ID": self.id,
            "Name": self.name,
            "Node": self.node,
            "LockDelay": self.lock_delay,
            "Behavior": self.behavior,
            "TTL": self.ttl,
            "NodeChecks": None if self.node_checks is None else list(self.node_checks),
            "ServiceChecks": None
            if self.service_checks is None
            else [{"ID": c.id, "Namespace": c.namespace} for c in self.service_checks],
        }
        if self.checks:
            out["Checks"] = list(self.checks)
        out["CreateIndex"] = self.create_index
        out["ModifyIndex"] = self.modify_index
        return out


@dataclass
class SessionTable:
    sessions: dict[str, Session] = field(default_factory=dict)
    lock_delays: dict[str, float] = field(default_factory=dict)
    """Key -> the clock time before which no session may acquire it."""
    timers: dict[str, Timer] = field(default_factory=dict)
    """Session ID -> its TTL timer (2 x TTL after the last create or renew)."""
    clock: Clock | None = None
    """Set by the sessions domain when it first runs; lock delays are measured on it."""
    watching: bool = False
    """Whether the catalog watch that invalidates sessions is registered."""
    catalog_seen: tuple[int, ...] = ()
    """The catalog table indexes the watch last looked at."""

    def get(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def put(self, session: Session) -> None:
        self.sessions[session.id] = session

    def delete(self, session_id: str) -> Session | None:
        return self.sessions.pop(session_id, None)

    def all(self) -> list[Session]:
        """Every session, ordered by ID as Consul's ``id`` index returns them."""
        return sorted(self.sessions.values(), key=lambda s: s.id)

    def on_node(self, node: str) -> list[Session]:
        """Node names match case-insensitively, as Consul's node index lowercases them."""
        wanted = node.lower()
        return [s for s in self.all() if s.node.lower() == wanted]

    def lock_delay_active(self, key: str) -> bool:
        """Whether a lock delay still holds the key; an expired entry is forgotten."""
        until = self.lock_delays.get(key)
        if until is None or self.clock is None:
            return False
        if until > self.clock.now():
            return True
        del self.lock_delays[key]
        return False
