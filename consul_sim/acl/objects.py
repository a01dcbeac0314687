"""The ACL system's stored objects and their JSON, as ``agent/structs/acl.go`` encodes them.

Tokens, policies, roles, auth methods and binding rules carry Consul's ``RaftIndex``; tokens,
policies and roles a ``Hash`` (blake2b-256 of their content fields, base64 in JSON as Go encodes
a ``[]byte``). Links are stored by ID only, as Consul stores them; rendering fills in the
current name (``fixupTokenPolicyLinks``), so a renamed policy shows its new name. ``omitempty``
fields are left out when empty, in the struct's field order.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from consul_sim.acl.rules import Rule
from consul_sim.clock import rfc3339
from consul_sim.durations import format_duration
from consul_sim.models.acl import NodeIdentity, ServiceIdentity, TemplatedPolicy

REDACTED = "<hidden>"
"""What Consul shows instead of a SecretID to a token without ``acl:write``."""


def content_hash(*parts: str) -> str:
    digest = hashlib.blake2b(digest_size=32)
    for part in parts:
        digest.update(part.encode())
    return base64.b64encode(digest.digest()).decode()


def render_service_identity(s: ServiceIdentity) -> dict[str, Any]:
    out: dict[str, Any] = {"ServiceName": s.service_name}
    if s.datacenters:
        out["Datacenters"] = list(s.datacenters)
    return out


def render_node_identity(n: NodeIdentity) -> dict[str, Any]:
    return {"NodeName": n.node_name, "Datacenter": n.datacenter}


def render_templated(t: TemplatedPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {"TemplateName": t.template_name}
    if t.template_variables is not None and t.template_variables.name:
        out["TemplateVariables"] = {"name": t.template_variables.name}
    if t.datacenters:
        out["Datacenters"] = list(t.datacenters)
    return out


@dataclass
class Policy:
    id: str
    name: str
    description: str = ""
    rules: str = ""
    datacenters: list[str] = field(default_factory=list)
    create_index: int = 0
    modify_index: int = 0
    parsed: tuple[Rule, ...] = ()

    @property
    def hash(self) -> str:
        return content_hash(self.name, self.description, self.rules, *self.datacenters)

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ID": self.id,
            "Name": self.name,
            "Description": self.description,
            "Rules": self.rules,
        }
        if self.datacenters:
            out["Datacenters"] = list(self.datacenters)
        out.update(Hash=self.hash, CreateIndex=self.create_index, ModifyIndex=self.modify_index)
        return out

    def stub(self) -> dict[str, Any]:
        """``ACLPolicyListStub``: no rules; Datacenters is not omitempty (null when unset)."""
        return {
            "ID": self.id,
            "Name": self.name,
            "Description": self.description,
            "Datacenters": list(self.datacenters) or None,
            "Hash": self.hash,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }


@dataclass
class Grants:
    """What a token or a role grants: policy and role links (IDs) and identities."""

    policies: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    service_identities: list[ServiceIdentity] = field(default_factory=list)
    node_identities: list[NodeIdentity] = field(default_factory=list)
    templated_policies: list[TemplatedPolicy] = field(default_factory=list)

    def hash_parts(self) -> list[str]:
        parts = [*self.policies, *self.roles]
        for s in self.service_identities:
            parts += [s.service_name, *s.datacenters]
        for n in self.node_identities:
            parts += [n.node_name, n.datacenter]
        for t in self.templated_policies:
            name = t.template_variables.name if t.template_variables else ""
            parts += [t.template_name, name, *t.datacenters]
        return parts


@dataclass
class Role:
    id: str
    name: str
    description: str = ""
    grants: Grants = field(default_factory=Grants)
    create_index: int = 0
    modify_index: int = 0

    @property
    def hash(self) -> str:
        return content_hash(self.name, self.description, *self.grants.hash_parts())


@dataclass
class Token:
    accessor_id: str
    secret_id: str
    description: str = ""
    grants: Grants = field(default_factory=Grants)
    local: bool = False
    auth_method: str = ""
    expiration_time: float | None = None
    create_time: float = 0.0
    create_index: int = 0
    modify_index: int = 0
    embedded: tuple[Rule, ...] = ()
    """Rules the Python ``create_token`` gave directly (no policy object; never rendered)."""

    @property
    def hash(self) -> str:
        scope = "local" if self.local else "global"
        return content_hash(self.description, scope, *self.grants.hash_parts())

    def expired(self, now: float) -> bool:
        """``IsExpired``: an expiration time strictly before now."""
        return self.expiration_time is not None and self.expiration_time < now


def expiration_ttl_text(seconds: float) -> str:
    return format_duration(seconds)


def render_time(ts: float) -> str:
    return rfc3339(ts)


@dataclass
class AuthMethod:
    name: str
    type: str
    display_name: str = ""
    description: str = ""
    max_token_ttl: str = ""
    token_locality: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    create_index: int = 0
    modify_index: int = 0

    def render(self, *, stub: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name, "Type": self.type}
        for key, value in (
            ("DisplayName", self.display_name),
            ("Description", self.description),
            ("MaxTokenTTL", self.max_token_ttl),
            ("TokenLocality", self.token_locality),
        ):
            if value:
                out[key] = value
        if not stub:
            out["Config"] = dict(self.config)
        out.update(CreateIndex=self.create_index, ModifyIndex=self.modify_index)
        return out


@dataclass
class BindingRule:
    id: str
    auth_method: str
    bind_type: str
    bind_name: str
    description: str = ""
    selector: str = ""
    create_index: int = 0
    modify_index: int = 0

    def render(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Description": self.description,
            "AuthMethod": self.auth_method,
            "Selector": self.selector,
            "BindType": self.bind_type,
            "BindName": self.bind_name,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }
