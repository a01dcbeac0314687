"""A cluster's ACL system (``cluster.acl``): its settings, its tables, and token resolution.

Resolution follows ``agent/consul/acl.go`` (``ACLResolver``): the secret a request carries
(none means the anonymous token) is looked up; an unknown or expired one is Consul's 403
``ACL not found``. The token's policies, its roles' policies, and the synthetic policies of its
service identities, node identities and templated policies (``agent/structs/acl.go``,
``acl_templated_policy.go``) are collected, those limited to other datacenters dropped, their
rules merged and handed to an :class:`Authorizer` over the cluster's default policy. A token
holding the builtin global-management policy is a management token.

Bootstrapping follows ``agent/consul/leader.go`` (``initializeACLs``) and the state store's
``ACLBootstrap``: with ``acl_initial_management`` configured, the leader creates that token
through a bootstrap request, so ``/v1/acl/bootstrap`` is refused from the start
(``ACL bootstrap no longer allowed (reset index: N)``, N the index of the bootstrap). Without
it, the first ``/v1/acl/bootstrap`` succeeds and later ones are refused. The simulator also
keeps, for Python callers only, a seeded management token (``management_token``) that is not
a bootstrap: it exists whether or not the cluster was bootstrapped, so tests need no HTTP
round trip to get a token that can do everything.

Writes stamp the cluster store's index (``Txn.touch`` on the ``acl-*`` tables), so ACL reads
report and block on ``X-Consul-Index`` like every other read. Time is the cluster's clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from consul_sim.acl.authorizer import (
    ACL_NOT_FOUND,
    ALLOW,
    ANONYMOUS_TOKEN_ID,
    Authorizer,
    Identity,
    merge_rules,
)
from consul_sim.acl.identities import (
    GLOBAL_MANAGEMENT_DESC,
    GLOBAL_MANAGEMENT_ID,
    GLOBAL_MANAGEMENT_NAME,
    GLOBAL_MANAGEMENT_RULES,
    GLOBAL_READ_ONLY_DESC,
    GLOBAL_READ_ONLY_ID,
    GLOBAL_READ_ONLY_NAME,
    GLOBAL_READ_ONLY_RULES,
    TEMPLATES,
    node_rules,
    service_rules,
)
from consul_sim.acl.objects import (
    REDACTED,
    AuthMethod,
    BindingRule,
    Grants,
    Policy,
    Role,
    Token,
    render_node_identity,
    render_service_identity,
    render_templated,
    render_time,
)
from consul_sim.acl.rules import DENY, ACLError, Rule, parse_grants, parse_rules
from consul_sim.clock import Clock, VirtualClock
from consul_sim.errors import ConsulError, NotFound, PermissionDenied
from consul_sim.gostd import quote
from consul_sim.rand import SimRandom

if TYPE_CHECKING:
    from consul_sim.store import Store
    from consul_sim.store.txn import Txn

ANONYMOUS_SECRET = "anonymous"
ACL_DISABLED = "ACL support disabled"
BOOTSTRAP_NOT_ALLOWED = "ACL bootstrap no longer allowed"
TOKENS, POLICIES, ROLES = "acl-tokens", "acl-policies", "acl-roles"
METHODS, BINDING_RULES = "acl-auth-methods", "acl-binding-rules"


NOT_BOOTSTRAPPED = (
    "ACL system must be bootstrapped before making any requests that require authorization: "
)


@dataclass
class ACLTables:
    """The ACL state store tables (``agent/consul/state/acl.go``), keyed as Consul keys them."""

    tokens: dict[str, Token] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    auth_methods: dict[str, AuthMethod] = field(default_factory=dict)
    binding_rules: dict[str, BindingRule] = field(default_factory=dict)
    bootstrap_index: int = 0


class ACLResolver:
    """One cluster's ACLs: enabled or not, the default policy, the tables, resolution."""

    def __init__(
        self,
        rand: SimRandom,
        enabled: bool = False,
        default_policy: str = ALLOW,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        datacenter: str = "dc1",
        initial_management: str | None = None,
    ) -> None:
        if default_policy not in (ALLOW, DENY):
            raise ACLError(f"acl default policy must be 'allow' or 'deny', not {default_policy!r}")
        from consul_sim.store import Store

        self.rand = rand
        self.enabled = enabled
        self.default_policy = default_policy
        self.store = store if store is not None else Store()
        self.clock: Clock = clock if clock is not None else VirtualClock()
        self.datacenter = datacenter
        self.tables = ACLTables()
        self.initial_management = initial_management
        self.agent_tokens: dict[str, str] = {}
        """The agent's own tokens by kind (``default``, ``agent``, ``agent_recovery``,
        ``replication``, ``config_file_service_registration``, ``dns``), as
        ``/v1/agent/token/<kind>`` sets them."""
        now = self.clock.now()
        for pid, name, desc, text in (
            (GLOBAL_MANAGEMENT_ID, GLOBAL_MANAGEMENT_NAME, GLOBAL_MANAGEMENT_DESC,
             GLOBAL_MANAGEMENT_RULES),
            (GLOBAL_READ_ONLY_ID, GLOBAL_READ_ONLY_NAME, GLOBAL_READ_ONLY_DESC,
             GLOBAL_READ_ONLY_RULES),
        ):  # fmt: skip
            self.tables.policies[pid] = Policy(pid, name, desc, text, parsed=parse_rules(text))
        self.anonymous = Token(
            ANONYMOUS_TOKEN_ID, ANONYMOUS_SECRET, "Anonymous Token", create_time=now
        )
        self._put_token(self.anonymous)
        accessor, secret = self.rand.uuid(), self.rand.uuid()
        self.management = Token(
            accessor,
            secret,
            "Simulator Management Token",
            Grants(policies=[GLOBAL_MANAGEMENT_ID]),
            create_time=now,
        )
        self._put_token(self.management)
        if enabled and initial_management:
            token = Token(
                self.rand.uuid(),
                initial_management,
                "Initial Management Token",
                Grants(policies=[GLOBAL_MANAGEMENT_ID]),
                create_time=now,
            )
            index = max(self.store.index, 1)
            token.create_index = token.modify_index = index
            self._put_token(token)
            self.tables.bootstrap_index = index

    def restore_tables(self, tables: ACLTables) -> None:
        """The ACL tables of a restored snapshot. As Consul's leader does after a restore
        (``initializeACLs``, agent/consul/leader.go), the anonymous token and the configured
        initial management token are put back when the snapshot lacks them; so is the
        simulator's own management token, which Python callers hold."""
        self.tables = tables
        for token in (self.anonymous, self.management):
            if token.accessor_id not in tables.tokens:
                self._put_token(token)
        if self.enabled and self.initial_management:
            if self.initial_management not in tables.secrets:
                self._put_token(
                    Token(
                        self.rand.uuid(),
                        self.initial_management,
                        "Initial Management Token",
                        Grants(policies=[GLOBAL_MANAGEMENT_ID]),
                        create_time=self.clock.now(),
                    )
                )

    # -- settings --------------------------------------------------------------------------
    @property
    def management_token(self) -> str:
        """A SecretID with global management, for Python callers: the configured initial
        management token when there is one, else the simulator's own seeded one."""
        if self.enabled and self.initial_management:
            return self.initial_management
        return self.management.secret_id

    @property
    def management_accessor_id(self) -> str:
        return self.tables.tokens[self.tables.secrets[self.management_token]].accessor_id

    @property
    def header_policy(self) -> str:
        """What ``X-Consul-Default-ACL-Policy`` says: the configured policy (``allow`` when
        ACLs are disabled, Consul's configuration default)."""
        return self.default_policy if self.enabled else ALLOW

    def intention_default(self) -> str | None:
        """The intentions default for ``consul_sim.config.intentions``: None when ACLs are
        disabled (allow, with its own reason), else the default policy."""
        return self.default_policy if self.enabled else None

    # -- tables ----------------------------------------------------------------------------
    def _put_token(self, token: Token) -> None:
        old = self.tables.tokens.get(token.accessor_id)
        if old is not None:
            self.tables.secrets.pop(old.secret_id, None)
        self.tables.tokens[token.accessor_id] = token
        self.tables.secrets[token.secret_id] = token.accessor_id

    def _drop_token(self, token: Token) -> None:
        self.tables.tokens.pop(token.accessor_id, None)
        self.tables.secrets.pop(token.secret_id, None)

    @contextmanager
    def write(self, *tables: str) -> Iterator[Txn]:
        """One write to the ACL tables, stamped with the store's next index."""
        with self.store.txn() as txn:
            txn.touch(*tables)
            yield txn

    def index(self, *tables: str) -> int:
        return self.store.max_index(tables)

    def check_enabled(self) -> None:
        """``checkACLDisabled`` (``agent/acl_endpoint.go``): every ACL endpoint answers 401
        ``ACL support disabled`` when ACLs are off."""
        if not self.enabled:
            raise ConsulError(ACL_DISABLED, 401)

    def now(self) -> float:
        return self.clock.now()

    def token_by_secret(self, secret: str) -> Token | None:
        accessor = self.tables.secrets.get(secret)
        token = self.tables.tokens.get(accessor) if accessor is not None else None
        if token is None or token.expired(self.now()):
            return None
        return token

    def token_by_accessor(self, accessor: str) -> Token | None:
        token = self.tables.tokens.get(accessor)
        if token is None or token.expired(self.now()):
            return None
        return token

    def policy_by_name(self, name: str) -> Policy | None:
        return next((p for p in self.tables.policies.values() if p.name == name), None)

    def role_by_name(self, name: str) -> Role | None:
        return next((r for r in self.tables.roles.values() if r.name == name), None)

    # -- resolution ------------------------------------------------------------------------
    def create_token(
        self, rules: Mapping[str, str] | str, description: str = ""
    ) -> tuple[str, str]:
        """A token granting ``rules`` (Consul's rule language, or the simulator's grant map
        ``{"service:web": "read"}``); returns ``(accessor_id, secret_id)``. A Python helper:
        no policy object is made, and no index moves."""
        parsed = parse_rules(rules) if isinstance(rules, str) else parse_grants(rules)
        token = Token(
            self.rand.uuid(), self.rand.uuid(), description, create_time=self.now(),
            embedded=parsed,
        )  # fmt: skip
        self._put_token(token)
        return token.accessor_id, token.secret_id

    def _policies_of(self, grants: Grants, seen_roles: set[str]) -> list[Policy]:
        found = [self.tables.policies[p] for p in grants.policies if p in self.tables.policies]
        for s in grants.service_identities:
            found.append(self._synthetic(service_rules(s.service_name), s.datacenters))
        for n in grants.node_identities:
            found.append(self._synthetic(node_rules(n.node_name), [n.datacenter]))
        for t in grants.templated_policies:
            template = TEMPLATES.get(t.template_name)
            if template is not None:
                name = t.template_variables.name if t.template_variables else ""
                found.append(self._synthetic(template.rules(name), t.datacenters))
        for role_id in grants.roles:
            role = self.tables.roles.get(role_id)
            if role is not None and role_id not in seen_roles:
                seen_roles.add(role_id)
                found.extend(self._policies_of(role.grants, seen_roles))
        return found

    @staticmethod
    def _synthetic(rules: str, datacenters: list[str]) -> Policy:
        return Policy("", "", rules=rules, datacenters=list(datacenters), parsed=parse_rules(rules))

    def identity(self, token: Token) -> Identity:
        policies = [
            p
            for p in self._policies_of(token.grants, set())
            if not p.datacenters or self.datacenter in p.datacenters
        ]
        management = any(p.id == GLOBAL_MANAGEMENT_ID for p in policies)
        rules: list[Rule] = [*token.embedded]
        for policy in policies:
            rules.extend(policy.parsed)
        return Identity(token.accessor_id, merge_rules(rules), management)

    def effective_secret(self, secret: str) -> str:
        """The secret a request acts with: its own, else the agent's default token (Consul's
        ``parseToken`` falls back to the agent's user token), else the anonymous token."""
        return secret or self.agent_tokens.get("default") or ANONYMOUS_SECRET

    def resolve(self, secret: str) -> Authorizer:
        """The authorizer for a secret: none given is the anonymous token, an unknown or
        expired one is Consul's 403 ``ACL not found``. With ACLs disabled every secret allows
        everything."""
        if not self.enabled:
            return Authorizer(Identity(ANONYMOUS_TOKEN_ID), ALLOW, enabled=False)
        token = self.token_by_secret(self.effective_secret(secret))
        if token is None:
            raise PermissionDenied(self.not_found_text())
        return Authorizer(self.identity(token), self.default_policy)

    def not_found_text(self) -> str:
        """Consul's answer for a secret it does not know: ``ACL not found``, wrapped while
        the ACL system can still be bootstrapped (``ResolveIdentityFromToken`` in
        ``agent/consul/acl_server.go`` checks ``CanBootstrapACLToken``)."""
        if self.tables.bootstrap_index:
            return ACL_NOT_FOUND
        return NOT_BOOTSTRAPPED + ACL_NOT_FOUND

    # -- the agent's tokens ----------------------------------------------------------------
    AGENT_TOKEN_KINDS = {
        "default": "default", "acl_token": "default",
        "agent": "agent", "acl_agent_token": "agent",
        "agent_recovery": "agent_recovery", "agent_master": "agent_recovery",
        "acl_agent_master_token": "agent_recovery",
        "replication": "replication", "acl_replication_token": "replication",
        "config_file_service_registration": "config_file_service_registration",
        "dns": "dns", "dns_token": "dns",
    }  # fmt: skip
    """``AgentToken``'s targets (``agent/agent_endpoint.go``), old names included."""

    def set_agent_token(self, authz: Authorizer, kind: str, node_name: str, secret: str) -> None:
        """``/v1/agent/token/<kind>``: needs ``agent:write`` on this node; the ``default``
        token then stands in for requests that carry none, as the agent's user token does."""
        authz.require("agent", "write", node_name)
        target = self.AGENT_TOKEN_KINDS.get(kind)
        if target is None:
            raise NotFound(f"Token {quote(kind)} is unknown")
        self.agent_tokens[target] = secret

    def debug_config(self) -> dict[str, Any]:
        """The ACL part of ``/v1/agent/self``'s ``DebugConfig`` (the sanitized runtime config:
        a secret that is set shows as ``hidden``)."""

        def hidden(value: str | None) -> str:
            return "hidden" if value else ""

        tokens = self.agent_tokens
        return {
            "ACLEnableKeyListPolicy": False,
            "ACLInitialManagementToken": hidden(self.initial_management),
            "ACLResolverSettings": {
                "ACLDefaultPolicy": self.default_policy,
                "ACLDownPolicy": "extend-cache",
                "ACLPolicyTTL": "30s",
                "ACLRoleTTL": "0s",
                "ACLTokenTTL": "30s",
                "ACLsEnabled": self.enabled,
                "Datacenter": self.datacenter,
                "EnterpriseMeta": {},
            },
            "ACLTokenReplication": False,
            "ACLTokens": {
                "ACLAgentRecoveryToken": hidden(tokens.get("agent_recovery")),
                "ACLAgentToken": hidden(tokens.get("agent")),
                "ACLConfigFileRegistrationToken": hidden(
                    tokens.get("config_file_service_registration")
                ),
                "ACLDNSToken": hidden(tokens.get("dns")),
                "ACLDefaultToken": hidden(tokens.get("default")),
                "ACLReplicationToken": hidden(tokens.get("replication")),
                "DataDir": "",
                "EnablePersistence": False,
                "EnterpriseConfig": {},
            },
            "ACLsEnabled": self.enabled,
        }

    # -- rendering -------------------------------------------------------------------------
    def _links(self, ids: list[str], table: Mapping[str, Any]) -> list[dict[str, str]]:
        """Links to objects that still exist, with their current names (deleted ones drop out,
        as ``fixupTokenPolicyLinks`` drops them)."""
        return [{"ID": i, "Name": table[i].name} for i in ids if i in table]

    def _render_grants(self, grants: Grants, *, roles: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if grants.policies:
            out["Policies"] = self._links(grants.policies, self.tables.policies)
        if roles and grants.roles:
            out["Roles"] = self._links(grants.roles, self.tables.roles)
        if grants.service_identities:
            out["ServiceIdentities"] = [
                render_service_identity(s) for s in grants.service_identities
            ]
        if grants.node_identities:
            out["NodeIdentities"] = [render_node_identity(n) for n in grants.node_identities]
        if grants.templated_policies:
            out["TemplatedPolicies"] = [render_templated(t) for t in grants.templated_policies]
        return out

    def render_token(self, token: Token, *, show_secret: bool = True) -> dict[str, Any]:
        """``structs.ACLToken`` as JSON (``ACLTokenListStub`` has the same keys in CE)."""
        out: dict[str, Any] = {
            "AccessorID": token.accessor_id,
            "SecretID": token.secret_id if show_secret else REDACTED,
            "Description": token.description,
            **self._render_grants(token.grants, roles=True),
            "Local": token.local,
        }
        if token.auth_method:
            out["AuthMethod"] = token.auth_method
        if token.expiration_time is not None:
            out["ExpirationTime"] = render_time(token.expiration_time)
        out.update(
            CreateTime=render_time(token.create_time),
            Hash=token.hash,
            CreateIndex=token.create_index,
            ModifyIndex=token.modify_index,
        )
        return out

    def render_role(self, role: Role) -> dict[str, Any]:
        return {
            "ID": role.id,
            "Name": role.name,
            "Description": role.description,
            **self._render_grants(role.grants, roles=False),
            "Hash": role.hash,
            "CreateIndex": role.create_index,
            "ModifyIndex": role.modify_index,
        }
