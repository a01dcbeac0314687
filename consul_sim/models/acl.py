"""Bodies of Consul's ACL endpoints, decoded the way ``lib.DecodeJSON`` decodes them.

Field sets follow ``agent/structs/acl.go`` (``ACLToken``, ``ACLPolicy``, ``ACLRole``,
``ACLAuthMethod``, ``ACLBindingRule``, the identities and templated policies) and the JSON the
Go client sends (``api/acl.go``). Links name a policy or role by ``ID`` or ``Name``; the domain
resolves them (``consul_sim.acl``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from consul_sim.models.base import ConsulModel, Duration


class Link(ConsulModel):
    """``ACLTokenPolicyLink``/``ACLTokenRoleLink``/``ACLRolePolicyLink``."""

    go_name: ClassVar[str] = "ACLTokenPolicyLink"
    id: str = ""
    name: str = ""


class ServiceIdentity(ConsulModel):
    go_name: ClassVar[str] = "ACLServiceIdentity"
    service_name: str = ""
    datacenters: list[str] = []


class NodeIdentity(ConsulModel):
    go_name: ClassVar[str] = "ACLNodeIdentity"
    node_name: str = ""
    datacenter: str = ""


class TemplateVariables(ConsulModel):
    go_name: ClassVar[str] = "ACLTemplatedPolicyVariables"
    name: str = ""


class TemplatedPolicy(ConsulModel):
    go_name: ClassVar[str] = "ACLTemplatedPolicy"
    template_name: str = ""
    template_variables: TemplateVariables | None = None
    datacenters: list[str] = []


class TokenBody(ConsulModel):
    go_name: ClassVar[str] = "ACLToken"
    accessor_id: str = ""
    secret_id: str = ""
    description: str = ""
    policies: list[Link] = []
    roles: list[Link] = []
    service_identities: list[ServiceIdentity] = []
    node_identities: list[NodeIdentity] = []
    templated_policies: list[TemplatedPolicy] = []
    local: bool = False
    auth_method: str = ""
    expiration_time: str | None = None
    expiration_ttl: Duration = ""
    rules: str = ""
    type: str = ""


class PolicyBody(ConsulModel):
    go_name: ClassVar[str] = "ACLPolicy"
    id: str = ""
    name: str = ""
    description: str = ""
    rules: str = ""
    datacenters: list[str] = []


class RoleBody(ConsulModel):
    go_name: ClassVar[str] = "ACLRole"
    id: str = ""
    name: str = ""
    description: str = ""
    policies: list[Link] = []
    service_identities: list[ServiceIdentity] = []
    node_identities: list[NodeIdentity] = []
    templated_policies: list[TemplatedPolicy] = []


class AuthMethodBody(ConsulModel):
    go_name: ClassVar[str] = "ACLAuthMethod"
    name: str = ""
    type: str = ""
    display_name: str = ""
    description: str = ""
    max_token_ttl: Duration = ""
    token_locality: str = ""
    config: dict[str, Any] = {}


class BindingRuleBody(ConsulModel):
    go_name: ClassVar[str] = "ACLBindingRule"
    id: str = ""
    description: str = ""
    auth_method: str = ""
    selector: str = ""
    bind_type: str = ""
    bind_name: str = ""


class LoginBody(ConsulModel):
    go_name: ClassVar[str] = "ACLLoginParams"
    auth_method: str = ""
    bearer_token: str = ""
    meta: dict[str, str] = {}


class AgentTokenBody(ConsulModel):
    """``api.AgentToken``: the body of ``/v1/agent/token/<kind>``."""

    go_name: ClassVar[str] = "AgentToken"
    token: str = ""
