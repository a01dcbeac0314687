"""The peerings table and the peering secrets, with Consul's write rules.

Records are keyed by lower-cased local name (lookups lower-case, as Consul's do). Every write
goes through ``store.txn()`` and stamps ``ModifyIndex`` (and ``CreateIndex`` on insert) with the
transaction's index, touching the ``peering`` table so blocking reads wake.

Secrets live beside the records, like Consul's ``peering-secrets`` table: per acceptor peering
the one establishment secret still usable (here the ``jti`` of its signed token), and the
pending and active stream secrets.
"""

from __future__ import annotations

from dataclasses import dataclass

from consul_sim.models.peering import Peering
from consul_sim.models.peering_state import PeeringState
from consul_sim.store.state import Store
from consul_sim.store.txn import Txn

PEERING = "peering"

MARKED_FOR_DELETION = "cannot write to peering that is marked for deletion"
NEW_MARKED_FOR_DELETION = "cannot create a new peering marked for deletion"


class PeeringWriteError(Exception):
    """A write the state store refuses; ``str()`` is Consul's state-store sentence."""


@dataclass
class PeeringSecrets:
    establishment: str = ""
    pending_stream: str = ""
    active_stream: str = ""


class PeeringTable:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.by_name: dict[str, Peering] = {}
        self.secrets: dict[str, PeeringSecrets] = {}

    # -- reads ----------------------------------------------------------------------------------
    def index(self) -> int:
        return self.store.max_index([PEERING])

    def get(self, name: str) -> Peering | None:
        return self.by_name.get(name.lower())

    def get_by_id(self, peering_id: str) -> Peering | None:
        for record in self.by_name.values():
            if record.id == peering_id:
                return record
        return None

    def list(self) -> list[Peering]:
        """Ordered by (partition, name), as Consul's memdb index orders them."""
        return sorted(self.by_name.values(), key=lambda p: (p.partition, p.name.lower()))

    def secrets_for(self, peering_id: str) -> PeeringSecrets | None:
        return self.secrets.get(peering_id)

    # -- writes ---------------------------------------------------------------------------------
    def write(self, txn: Txn, record: Peering) -> Peering:
        """Consul's ``PeeringWrite``: upsert by name, keep the ID, CreateIndex and (when the
        write leaves it undefined) the stored state; refuse writes to a peering being deleted."""
        key = record.name.lower()
        existing = self.by_name.get(key)
        if existing is None:
            if record.state == PeeringState.DELETING:
                raise PeeringWriteError(NEW_MARKED_FOR_DELETION)
            if record.state == PeeringState.UNDEFINED:
                record.state = PeeringState.PENDING
            record.create_index = txn.index
        else:
            if existing.state == PeeringState.DELETING:
                raise PeeringWriteError(MARKED_FOR_DELETION)
            if existing.id != record.id:
                raise PeeringWriteError(
                    f"A peering already exists with the name {record.name!r} "
                    f"and a different ID {existing.id!r}"
                )
            if record.state == PeeringState.UNDEFINED:
                record.state = existing.state
            record.create_index = existing.create_index
        record.modify_index = txn.touch(PEERING)
        self.by_name[key] = record
        return record

    def set_establishment_secret(self, peering_id: str, jti: str) -> None:
        """A new token replaces any unused one; stream secrets are kept."""
        self.secrets.setdefault(peering_id, PeeringSecrets()).establishment = jti

    def remove(self, txn: Txn, name: str) -> Peering | None:
        record = self.by_name.pop(name.lower(), None)
        if record is not None:
            self.secrets.pop(record.id, None)
            txn.touch(PEERING)
        return record

    def drop_secrets(self, peering_id: str) -> None:
        self.secrets.pop(peering_id, None)
