"""The peering operations a cluster answers from its own table alone: generate a token, read.

Neither talks to another cluster. Generating a token writes this cluster's PENDING record and
signs an establishment secret into the token (``GenerateToken`` in Consul's
``agent/rpc/peering/service.go``); reading and listing render the stored records with the
stream tracker's live status laid over them. They are a mixin of
:class:`consul_sim.peering.service.PeeringService` (its methods are ``cluster.peering``'s), kept
apart from the establish, dial, delete and message handling that need the network, and a
mixin so the service's pickled shape, and so a snapshot, does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from consul_sim.errors import NotFound, RPCError
from consul_sim.meta import validate_meta
from consul_sim.models.peering import Peering, PeeringToken, TokenRemote
from consul_sim.models.peering_state import PeeringState
from consul_sim.peering.mesh import local_server_addresses
from consul_sim.peering.tokens import (
    encode_token,
    envelope_digest,
    sign_secret,
    unknown,
    validate_peer_name,
)

if TYPE_CHECKING:
    from consul_sim.models.peering_state import StreamTracker
    from consul_sim.peering.context import PeeringContext
    from consul_sim.peering.mesh import MeshIndex
    from consul_sim.rand import SimRandom
    from consul_sim.store.peering import PeeringTable

ENTERPRISE_PARTITIONS = "Partitions are a Consul Enterprise feature"


def not_found(name: str) -> NotFound:
    return NotFound(f'Peering not found for "{name}"')


class _LocalHost(Protocol):
    """What these operations use of the peering service they are mixed into."""

    ctx: PeeringContext
    table: PeeringTable
    tracker: StreamTracker
    rand: SimRandom
    _key: bytes
    token_ttl: float | None
    mesh: MeshIndex
    address: str

    @property
    def server_name(self) -> str: ...
    def _now(self) -> float: ...
    def check_enabled(self) -> None: ...
    def _new_id(self) -> str: ...
    def _write(self, record: Peering) -> Peering: ...
    def sync_mesh(self) -> None: ...
    def render(self, record: Peering) -> dict[str, Any]: ...


class LocalPeeringOps:
    """``PeeringService``'s token and read methods (see the module docstring)."""

    # -- acceptor: generate a token -------------------------------------------------------------
    def generate_token(
        self: _LocalHost,
        peer: str,
        *,
        meta: Mapping[str, str] | None = None,
        partition: str = "",
        server_external_addresses: list[str] | None = None,
    ) -> str:
        with self.ctx.lock:
            self.check_enabled()
            if partition not in ("", "default"):
                raise RPCError("InvalidArgument", ENTERPRISE_PARTITIONS)
            validate_peer_name(peer)
            problem = validate_meta(meta or {})
            if problem:
                raise unknown(f"meta tags failed validation: {problem}")
            existing = self.table.get(peer)
            if existing is None:
                record = Peering(id=self._new_id(), name=peer, meta=dict(meta or {}))
            else:
                if existing.should_dial:
                    raise unknown(
                        f'cannot create peering with name: "{existing.name}"; '
                        "there is already an established peering"
                    )
                # Meta is kept only from the call that created the peering.
                record = existing.model_copy(deep=True)
                record.state = PeeringState.UNDEFINED
            jti = self.rand.uuid()
            if existing is not None and existing.state == PeeringState.TERMINATED:
                # Consul's state store ignores this write: the new secret is never stored,
                # so the token answers 200 yet cannot be used. Delete and recreate instead.
                pass
            else:
                record = self._write(record)
                self.table.set_establishment_secret(record.id, jti)
            now = self._now()
            self.sync_mesh()
            # After the write, as Consul: with no gateway to advertise the call fails, yet
            # the PENDING record stays.
            server_addresses = local_server_addresses(self.ctx.store, self.mesh, self.address)
            envelope = PeeringToken(
                # Consul puts its Connect CA roots in the token; the dialer verifies the
                # acceptor's servers with them and keeps them as PeerCAPems.
                ca=self.ctx.ca.root_pems(),
                manual_server_addresses=list(server_external_addresses or []) or None,
                server_addresses=server_addresses,
                server_name=self.server_name,
                peer_id=record.id,
                remote=TokenRemote(partition="default", datacenter=self.ctx.datacenter),
            )
            envelope.establishment_secret = sign_secret(
                self._key,
                peer_name=peer,
                peer_id=record.id,
                jti=jti,
                issued_at=now,
                expires_at=now + self.token_ttl if self.token_ttl is not None else None,
                digest=envelope_digest(envelope),
            )
            return encode_token(envelope)

    # -- reads ----------------------------------------------------------------------------------
    def read_record(self: _LocalHost, name: str) -> tuple[int, Peering | None]:
        """The record and the index a read of it answers with: its own ``ModifyIndex``, or
        the table's when there is none (``state/peering.go``'s ``peeringReadTxn``). So a
        blocking read watches that one peering: another peering's write leaves the index
        where it was and the reader keeps waiting, as Consul's watch on the record does;
        the overlay from the stream tracker moves no index, as in Consul."""
        with self.ctx.lock:
            record = self.table.get(name)
            if record is None:
                return self.table.index(), None
            return max(record.modify_index, 1), record

    def render(self: _LocalHost, record: Peering) -> dict[str, Any]:
        return record.render(self.tracker.get(record.id))

    def read(self: _LocalHost, name: str) -> dict[str, Any]:
        """The peering as ``GET /v1/peering/<name>`` shows it; NotFound when there is none."""
        with self.ctx.lock:
            self.check_enabled()
            record = self.table.get(name)
            if record is None:
                raise not_found(name)
            return self.render(record)

    def list_records(self: _LocalHost) -> tuple[int, list[Peering]]:
        with self.ctx.lock:
            return self.table.index(), self.table.list()

    # Last, so the method does not shadow the builtin in the annotations above.
    def list(self: _LocalHost) -> list[dict[str, Any]]:
        with self.ctx.lock:
            self.check_enabled()
            return [self.render(r) for r in self.table.list()]
