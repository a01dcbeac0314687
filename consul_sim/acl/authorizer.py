"""The authorizer: one resolved identity's merged rules against the cluster's default policy.

Consul answers a request with ACLs enabled by resolving the token the caller sent (``?token=``,
then ``X-Consul-Token``, then ``Authorization: Bearer``; the HTTP layer extracts it) to an
authorizer, and each endpoint asks that authorizer for one permission where Consul asks it.

Resolution follows ``acl/policy_authorizer.go`` and ``acl/policy_merger.go``:

- the rules of every policy a token carries (its own, its roles', its identities' synthetic
  ones) are merged first: rules on the same resource, segment and kind (exact or prefix) become
  one, whose level is the one ``takesPrecedenceOver`` picks (``deny`` > ``write`` > ``list`` >
  ``read``), so deny wins between policies; a service rule's ``intentions`` merge the same way;
- a lookup then takes the exact rule for the segment if there is one, else the longest prefix
  rule that covers it (``getPolicy`` walks the radix tree from the root, the last prefix seen
  wins);
- ``write`` grants everything, ``list`` read and list, ``read`` only read, ``deny`` nothing
  (``enforce``); with no rule ``mesh`` and ``peering`` ask ``operator``, ``acl`` is denied
  whatever the default policy (``acl/static_authorizer.go``: the ``allow`` root authorizer
  grants ``ACLRead``/``ACLWrite``/``Snapshot`` only when ``allowManage``, which only the
  ``manage`` root sets), and anything else falls to the default policy (the chained
  ``allow``/``deny`` authorizer);
- a service rule's intentions level, when it has none, is ``read`` for a ``read``/``write``
  service rule and ``deny`` otherwise (``loadRules``).

Denials carry Consul's sentence from ``acl/errors.go``. With ACLs disabled (the default) every
check passes and the default policy reads ``allow``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from consul_sim.acl.rules import DENY, LIST, READ, WRITE, Rule
from consul_sim.errors import PermissionDenied
from consul_sim.gostd import quote

ALLOW = "allow"
ACL_NOT_FOUND = "ACL not found"
ANONYMOUS_TOKEN_ID = "00000000-0000-0000-0000-000000000002"
"""The anonymous token's AccessorID in every Consul cluster (``acl.AnonymousTokenID``)."""
ANONYMOUS_HINT = " The anonymous token is used implicitly when a request does not specify a token."
FALLBACK = {"mesh": "operator", "peering": "operator"}
"""Segment-less resources whose missing rule defers to another before the default policy."""
MANAGE_ONLY = frozenset({"acl"})
"""Resources the ``allow`` default policy does not grant (``StaticAuthorizer.allowManage``)."""

_PRECEDENCE = {DENY: 4, WRITE: 3, LIST: 2, READ: 1, "": 0}
"""``takesPrecedenceOver`` (``acl/policy.go``) as a rank; no level loses to any level."""


def permission_denied(accessor_id: str, resource: str, access: str, segment: str | None) -> str:
    """Consul's ``PermissionDeniedError.Error()``: the anonymous token has its own wording and a
    hint; a named resource adds ``on "<segment>"``."""
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


def merge_rules(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """``policy_merger.go``: one rule per (resource, segment, exact/prefix); the level and the
    intentions level each the one that takes precedence. Order: first appearance."""
    merged: dict[tuple[str, str | None, bool], Rule] = {}
    for rule in rules:
        key = (rule.resource, rule.segment, rule.prefix)
        seen = merged.get(key)
        if seen is None:
            merged[key] = rule
            continue
        access = rule.access if _PRECEDENCE[rule.access] > _PRECEDENCE[seen.access] else seen.access
        intentions = (
            rule.intentions
            if _PRECEDENCE[rule.intentions] > _PRECEDENCE[seen.intentions]
            else seen.intentions
        )
        merged[key] = Rule(rule.resource, rule.segment, rule.prefix, access, intentions)
    return tuple(merged.values())


def _enforce(rule_access: str, wanted: str) -> bool:
    """``enforce``: write grants all, list grants read and list, read only read, deny nothing."""
    if rule_access == WRITE:
        return True
    if rule_access == LIST:
        return wanted in (READ, LIST)
    return rule_access == READ and wanted == READ


def _intentions_level(rule: Rule) -> str:
    """A service rule's intentions level, derived from its policy when it sets none."""
    if rule.intentions:
        return rule.intentions
    if not rule.access:
        return ""
    return READ if rule.access in (READ, WRITE) else DENY


@dataclass(frozen=True)
class Identity:
    """What an authorizer needs of a token: its AccessorID, its merged rules, and whether it
    is a management token (the builtin global-management policy grants everything)."""

    accessor_id: str
    rules: tuple[Rule, ...] = ()
    management: bool = False


@dataclass(frozen=True)
class Authorizer:
    """One resolved identity against the cluster's default policy (``enabled=False``: allow
    all)."""

    token: Identity
    default_policy: str = ALLOW
    enabled: bool = True

    @property
    def accessor_id(self) -> str:
        return self.token.accessor_id

    def _levels(self, resource: str) -> list[tuple[Rule, str]]:
        """Each rule of the resource's tree with its level (intentions live on service rules)."""
        if resource == "intentions":
            found = [(r, _intentions_level(r)) for r in self.token.rules if r.resource == "service"]
        else:
            found = [(r, r.access) for r in self.token.rules if r.resource == resource]
        return [(r, level) for r, level in found if level]

    def _rule_access(self, resource: str, segment: str | None) -> str | None:
        """The level of the rule that decides (``getPolicy``), or None to fall to the default."""
        levels = self._levels(resource)
        if segment is None:
            found = [level for r, level in levels if r.segment is None]
            return found[-1] if found else None
        for rule, level in levels:
            if not rule.prefix and rule.segment == segment:
                return level
        covering = [(r, lv) for r, lv in levels if r.prefix and segment.startswith(r.segment or "")]
        if covering:
            return max(covering, key=lambda pair: len(pair[0].segment or ""))[1]
        return None

    def _decide(self, resource: str, access: str, segment: str | None) -> bool | None:
        found = self._rule_access(resource, segment)
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
            return self.default_policy == ALLOW and resource not in MANAGE_ONLY
        return decided

    def _all_allow(self, resource: str, access: str) -> bool:
        """A wildcard intention write needs every intentions rule to allow it (Consul's
        ``allAllowed``): the catch-all prefix, or the default, and no rule that refuses."""
        catch_all = self._decide(resource, access, "")
        if catch_all is False or (catch_all is None and self.default_policy != ALLOW):
            return False
        segments = {r.segment or "" for r, _ in self._levels(resource)}
        return all(self._decide(resource, access, s) is not False for s in sorted(segments) if s)

    def key_write_prefix(self, prefix: str) -> bool:
        """Consul's ``KeyWritePrefix`` (a recursive KV delete): the longest ``key`` prefix rule
        covering ``prefix`` must grant write, and no rule at or under ``prefix`` may grant
        less; with neither kind of rule the default policy decides."""
        if not self.enabled or self.token.management:
            return True
        rules = [r for r, _ in self._levels("key")]
        covering = [r for r in rules if r.prefix and prefix.startswith(r.segment or "")]
        if covering:
            decisive = max(covering, key=lambda r: len(r.segment or ""))
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
