"""Peering request bodies, the token envelope and the stored record, in Consul's JSON casing.

The request bodies are decoded strictly (Consul's peering endpoints refuse unknown fields); the
token envelope is decoded leniently, as Go's ``json.Unmarshal`` does. ``Peering.render`` gives
``api.Peering``'s key order and omitempty rules, plus the seed page's lowercase ``status`` and
``connected`` keys, which Go clients ignore.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from consul_sim.clock import rfc3339
from consul_sim.models.base import ConsulModel
from consul_sim.models.peering_state import (
    EMPTY_STREAM_STATUS,
    PeeringState,
    StreamStatus,
    shown_state,
)


class GenerateTokenRequest(ConsulModel):
    go_name: ClassVar[str] = "PeeringGenerateTokenRequest"

    peer_name: str = ""
    partition: str = ""
    meta: dict[str, str] = Field(default_factory=dict)
    server_external_addresses: list[str] = Field(default_factory=list)


class EstablishRequest(ConsulModel):
    go_name: ClassVar[str] = "PeeringEstablishRequest"

    peer_name: str = ""
    peering_token: str = ""
    partition: str = ""
    meta: dict[str, str] = Field(default_factory=dict)


class TokenRemote(ConsulModel):
    go_name: ClassVar[str] = "PeeringTokenRemote"

    partition: str = ""
    datacenter: str = ""


class PeeringToken(ConsulModel):
    """``structs.PeeringToken``: what the base64 token decodes to."""

    go_name: ClassVar[str] = "PeeringToken"

    ca: list[str] | None = None
    manual_server_addresses: list[str] | None = None
    server_addresses: list[str] | None = None
    server_name: str = ""
    peer_id: str = ""
    establishment_secret: str = ""
    remote: TokenRemote = Field(default_factory=TokenRemote)

    def render(self) -> dict[str, Any]:
        """Go's field order; nil slices are ``null``; Remote carries a null Locality."""
        return {
            "CA": self.ca,
            "ManualServerAddresses": self.manual_server_addresses,
            "ServerAddresses": self.server_addresses,
            "ServerName": self.server_name,
            "PeerID": self.peer_id,
            "EstablishmentSecret": self.establishment_secret,
            "Remote": {
                "Partition": self.remote.partition,
                "Datacenter": self.remote.datacenter,
                "Locality": None,
            },
        }

    def dial_addresses(self) -> list[str]:
        """Manual addresses are tried first, as Consul's dialer does."""
        return [*(self.manual_server_addresses or []), *(self.server_addresses or [])]


class Remote(ConsulModel):
    partition: str = ""
    datacenter: str = ""


class Peering(ConsulModel):
    """One stored peering record (``pbpeering.Peering``), keyed by its lower-cased name."""

    id: str
    name: str
    partition: str = ""
    deleted_at: float | None = None
    meta: dict[str, str] = Field(default_factory=dict)
    state: PeeringState = PeeringState.PENDING
    peer_id: str = ""
    peer_ca_pems: list[str] = Field(default_factory=list)
    peer_server_name: str = ""
    peer_server_addresses: list[str] = Field(default_factory=list)
    # Stored but never shown through the API, as in Consul.
    manual_server_addresses: list[str] = Field(default_factory=list)
    remote: Remote = Field(default_factory=Remote)
    create_index: int = 0
    modify_index: int = 0

    @property
    def should_dial(self) -> bool:
        """Consul's ``ShouldDial``: a dialer is a peering that knows the acceptor's addresses."""
        return bool(self.peer_server_addresses or self.manual_server_addresses)

    def render(self, stream: StreamStatus | None) -> dict[str, Any]:
        state = shown_state(self.state, stream)
        out: dict[str, Any] = {"ID": self.id, "Name": self.name}
        if self.partition:
            out["Partition"] = self.partition
        if self.deleted_at is not None:
            out["DeletedAt"] = rfc3339(self.deleted_at)
        if self.meta:
            out["Meta"] = dict(self.meta)
        out["State"] = state.value
        if self.peer_id:
            out["PeerID"] = self.peer_id
        if self.peer_ca_pems:
            out["PeerCAPems"] = list(self.peer_ca_pems)
        if self.peer_server_name:
            out["PeerServerName"] = self.peer_server_name
        if self.peer_server_addresses:
            out["PeerServerAddresses"] = list(self.peer_server_addresses)
        out["StreamStatus"] = stream.render() if stream is not None else dict(EMPTY_STREAM_STATUS)
        out["CreateIndex"] = self.create_index
        out["ModifyIndex"] = self.modify_index
        out["Remote"] = {"Partition": self.remote.partition, "Datacenter": self.remote.datacenter}
        # The seed page's spellings (issue 3, item 4), derived from what is shown above.
        out["status"] = state.value.lower()
        out["connected"] = bool(stream is not None and stream.connected)
        return out
