"""The KV store's DirEntry."""

from __future__ import annotations

import base64
from typing import Any

from consul_sim.models.base import ConsulModel


class DirEntry(ConsulModel):
    key: str
    value: bytes = b""
    flags: int = 0
    lock_index: int = 0
    session: str = ""
    create_index: int = 0
    modify_index: int = 0

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "LockIndex": self.lock_index,
            "Key": self.key,
            "Flags": self.flags,
            "Value": base64.b64encode(self.value).decode() if self.value else None,
        }
        if self.session:
            out["Session"] = self.session
        out["CreateIndex"] = self.create_index
        out["ModifyIndex"] = self.modify_index
        return out
