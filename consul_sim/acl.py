"""A minimal ACL system: tokens with simple grants, the anonymous token and the default policy.

Consul answers a request with ACLs enabled by resolving the token the caller sent (``?token=``,
then ``X-Consul-Token``, then ``Authorization: Bearer``; the HTTP layer extracts it) to an
authorizer, and each endpoint asks that authorizer for one permission where Consul asks it. A
rule decides when one exists (an exact segment before the longest prefix, as
``acl/policy_authorizer.go`` does); otherwise the cluster's default policy decides. ``mesh`` and
``peering`` fall back to ``operator`` before the default, and a ``service`` rule implies
``intentions:read`` on the same segment unless an ``intentions`` rule says otherwise, as Consul's
policy authorizer does. Denials carry Consul's sentence from ``acl/errors.go``.

With ACLs disabled (the default) every check passes and the default policy reads ``allow``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from consul_sim.errors import PermissionDenied
from consul_sim.gostd import quote
from consul_sim.rand import SimRandom

ALLOW = "allow"
DENY = "deny"
READ = "read"
WRITE = "write"
ACCESS_LEVELS = (DENY, READ, WRITE)

ACL_NOT_FOUND = "ACL not found"
ANONYMOUS_TOKEN_ID = "00000000-0000-0000-0000-000000000002"
"""The anonymous token's AccessorID in every Consul cluster."""
ANONYMOUS_SECRET = "anonymous"
ANONYMOUS_HINT = " The anonymous token is used implicitly when a request does not specify a token."

SEGMENTED = frozenset(
    {"service", "node", "key", "intentions", "agent", "session", "event", "query"}
)
SEGMENTLESS = frozenset({"peering", "operator", "mesh", "acl", "keyring"})
FALLBACK = {"mesh": "operator", "peering": "operator"}
"""Segment-less resources whose missing rule defers to another before the default policy."""


class ACLError(ValueError):
    """A malformed grant passed to ``create_token``."""


def permission_denied(accessor_id: str, resource: str, access: str, segment: str | None) -> str:
    """Consul's ``PermissionDeniedError.Error()``: the anonymous token has its own wording and a
    hint; a named resource adds ``on "<segment>"`` (Go ``%q``)."""
    who = (
        "anonymous token"
        if accessor_id == ANONYMOUS_TOKEN_ID
        else f"token with AccessorID '{accessor_id}'"
    )
    message = f"Permission denied: {who} lacks permission '{resource}:{access}'"
    if segment:
        message += f" on {quote(segment)}"
    if accessor_id == ANONYMOUS_TOKEN_ID:
        message += "." + ANONYMOUS_HINT
    return message


@dataclass(frozen=True)
class Rule:
    resource: str
    segment: str | None
    prefix: bool
    access: str


def parse_rules(rules: Mapping[str, str]) -> tuple[Rule, ...]:
    """``{"service:web": "write", "node:*": "read", "peering": "read"}``: a resource, for the
    segmented ones a segment (exact, or a prefix when it ends in ``*``), and an access."""
    parsed: list[Rule] = []
    for key, access in rules.items():
        if access not in ACCESS_LEVELS:
            raise ACLError(f"invalid access {access!r} for {key!r}: use read, write or deny")
        resource, colon, segment = key.partition(":")
        if resource in SEGMENTLESS:
            if colon:
                raise ACLError(f"{resource!r} takes no segment")
            parsed.append(Rule(resource, None, False, access))
        elif resource in SEGMENTED:
            if not colon:
                raise ACLError(f"{resource!r} needs a segment, e.g. '{resource}:*'")
            prefix = segment.endswith("*")
            parsed.append(Rule(resource, segment[:-1] if prefix else segment, prefix, access))
        else:
            raise ACLError(f"unknown ACL resource {resource!r}")
    return tuple(parsed)


def _enforce(rule_access: str, wanted: str) -> bool:
    """``write`` grants read and write, ``read`` only read, ``deny`` nothing."""
    return rule_access == WRITE or (rule_access == READ and wanted == READ)


@dataclass(frozen=True)
class Token:
    accessor_id: str
    secret_id: str
    description: str = ""
    rules: tuple[Rule, ...] = ()
    management: bool = False


@dataclass(frozen=True)
class Authorizer:
    """One resolved token against the cluster's default policy (``enabled=False``: allow all)."""

    token: Token
    default_policy: str = ALLOW
    enabled: bool = True

    @property
    def accessor_id(self) -> str:
        return self.token.accessor_id

    def _rule_access(self, resource: str, segment: str | None) -> str | None:
        """The access of the rule that decides, or None to fall to the default."""
        rules = [r for r in self.token.rules if r.resource == resource]
        if segment is None:
            found = [r.access for r in rules if r.segment is None]
            return found[-1] if found else None
        exact = [r.access for r in rules if not r.prefix and r.segment == segment]
        if exact:
            return exact[-1]
        prefixes = [r for r in rules if r.prefix and segment.startswith(r.segment or "")]
        if prefixes:
            return max(prefixes, key=lambda r: len(r.segment or "")).access
        return None

    def _decide(self, resource: str, access: str, segment: str | None) -> bool | None:
        found = self._rule_access(resource, segment)
        if found is None and resource == "intentions" and segment is not None:
            implied = self._rule_access("service", segment)
            if implied is not None:
                found = READ if implied in (READ, WRITE) else DENY
        if found is not None:
            return _enforce(found, access)
        if resource in FALLBACK:
            return self._decide(FALLBACK[resource], access, None)
        return None

    def allowed(self, resource: str, access: str, segment: str | None = None) -> bool:
        if not self.enabled or self.token.management:
            return True
        if resource == "intentions" and segment == "*" and access == WRITE:
            return self._all_allow(resource, access)
        decided = self._decide(resource, access, segment)
        if decided is None:
            return self.default_policy == ALLOW
        return decided

    def _all_allow(self, resource: str, access: str) -> bool:
        """A wildcard intention write needs every intentions rule to allow it (Consul's
        ``allAllowed``): the catch-all prefix, or the default, and no rule that refuses."""
        catch_all = self._decide(resource, access, "")
        if catch_all is False or (catch_all is None and self.default_policy != ALLOW):
            return False
        segments = {r.segment for r in self.token.rules if r.resource in (resource, "service")}
        return all(self._decide(resource, access, s) is not False for s in segments if s)

    def key_write_prefix(self, prefix: str) -> bool:
        """Consul's ``KeyWritePrefix`` (a recursive KV delete): the longest ``key`` prefix rule
        covering ``prefix`` must grant write, and no rule at or under ``prefix`` may grant
        less; with neither kind of rule the default policy decides."""
        if not self.enabled or self.token.management:
            return True
        rules = [r for r in self.token.rules if r.resource == "key"]
        covering = [r for r in rules if r.prefix and prefix.startswith(r.segment or "")]
        if covering:
            longest = max(len(r.segment or "") for r in covering)
            decisive = [r for r in covering if len(r.segment or "") == longest][-1]
            if decisive.access != WRITE:
                return False
        if any((r.segment or "").startswith(prefix) and r.access != WRITE for r in rules):
            return False
        if covering:
            return True
        return self.default_policy == ALLOW

    def require(self, resource: str, access: str, segment: str | None = None) -> None:
        """Raise Consul's 403 when the token lacks the permission."""
        if not self.allowed(resource, access, segment):
            raise PermissionDenied(permission_denied(self.accessor_id, resource, access, segment))

    def intention_default_allow(self) -> bool:
        """No policy can set it: it is the default policy (``IntentionDefaultAllow``)."""
        return self.default_policy == ALLOW


@dataclass
class ACLResolver:
    """A cluster's ACL state (``cluster.acl``): enabled or not, its default policy, and tokens.

    The initial management token's IDs come from the cluster's seeded random source, so a seed
    replays the same secret."""

    rand: SimRandom
    enabled: bool = False
    default_policy: str = ALLOW
    tokens: dict[str, Token] = field(default_factory=dict)
    initial_management: str | None = None
    """``acl.tokens.initial_management`` (or ``master``): the management token's SecretID;
    None draws one from the seeded source."""

    def __post_init__(self) -> None:
        if self.default_policy not in (ALLOW, DENY):
            raise ACLError(
                f"acl default policy must be 'allow' or 'deny', not {self.default_policy!r}"
            )
        self.anonymous = Token(ANONYMOUS_TOKEN_ID, ANONYMOUS_SECRET, "Anonymous Token")
        accessor, secret = self.rand.uuid(), self.rand.uuid()
        if self.initial_management is not None:
            secret = self.initial_management
        self.management = Token(accessor, secret, "Initial Management Token", management=True)
        self.tokens[self.anonymous.secret_id] = self.anonymous
        self.tokens[secret] = self.management

    @property
    def management_token(self) -> str:
        """The initial management token's SecretID (``acl.tokens.initial_management``)."""
        return self.management.secret_id

    @property
    def management_accessor_id(self) -> str:
        return self.management.accessor_id

    @property
    def header_policy(self) -> str:
        """What ``X-Consul-Default-ACL-Policy`` says: the configured policy (``allow`` when
        ACLs are disabled, Consul's configuration default)."""
        return self.default_policy if self.enabled else ALLOW

    def create_token(self, rules: Mapping[str, str], description: str = "") -> tuple[str, str]:
        """A token whose policy is ``rules``; returns ``(accessor_id, secret_id)``."""
        token = Token(self.rand.uuid(), self.rand.uuid(), description, parse_rules(rules))
        self.tokens[token.secret_id] = token
        return token.accessor_id, token.secret_id

    def resolve(self, secret: str) -> Authorizer:
        """The authorizer for a secret: none given is the anonymous token, an unknown one is
        Consul's 403 ``ACL not found``. With ACLs disabled every secret allows everything."""
        if not self.enabled:
            return Authorizer(self.anonymous, ALLOW, enabled=False)
        token = self.tokens.get(secret or ANONYMOUS_SECRET)
        if token is None:
            raise PermissionDenied(ACL_NOT_FOUND)
        return Authorizer(token, self.default_policy)

    def intention_default(self) -> str | None:
        """The intentions default for ``consul_sim.config.intentions``: None when ACLs are
        disabled (allow, with its own reason), else the default policy."""
        return self.default_policy if self.enabled else None
