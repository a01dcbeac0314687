"""Consul's rule language and how a token's rules resolve (acl/policy.go, policy_authorizer.go)."""

from __future__ import annotations

import pytest

from consul_sim.acl import Authorizer, Identity
from consul_sim.acl.authorizer import merge_rules
from consul_sim.acl.rules import ACLError, parse_rules


def authz(*policies: str, default: str = "deny") -> Authorizer:
    rules = [rule for text in policies for rule in parse_rules(text)]
    return Authorizer(Identity("11111111-2222-3333-4444-555555555555", merge_rules(rules)), default)


WEB_PREFIX = 'service_prefix "web" { policy = "read" }'
WEB_ADMIN = 'service_prefix "web-admin" { policy = "deny" }'
WEB_EXACT = 'service "web" { policy = "write" }'


@pytest.mark.parametrize(
    ("policies", "resource", "access", "segment", "allowed"),
    [
        # exact beats prefix, whatever the prefix's length
        ((WEB_PREFIX, WEB_EXACT), "service", "write", "web", True),
        ((WEB_PREFIX, WEB_EXACT), "service", "write", "web-api", False),
        ((WEB_PREFIX, WEB_EXACT), "service", "read", "web-api", True),
        # the longest prefix wins
        ((WEB_PREFIX, WEB_ADMIN), "service", "read", "web-admin-ui", False),
        ((WEB_PREFIX, WEB_ADMIN), "service", "read", "web-ui", True),
        # deny wins when two policies name the same segment the same way
        (
            ('key "a" { policy = "write" }', 'key "a" { policy = "deny" }'),
            "key",
            "read",
            "a",
            False,
        ),
        (
            ('key "a" { policy = "read" }', 'key "a" { policy = "write" }'),
            "key",
            "write",
            "a",
            True,
        ),
        # no rule: the default policy
        ((WEB_EXACT,), "node", "read", "n1", False),
        # list allows read and list, not write
        (('key_prefix "" { policy = "list" }',), "key", "list", "x", True),
        (('key_prefix "" { policy = "list" }',), "key", "write", "x", False),
        # intentions: set explicitly, or read from a read/write service rule
        (
            ('service "db" { policy = "read" intentions = "write" }',),
            "intentions",
            "write",
            "db",
            True,
        ),
        ((WEB_EXACT,), "intentions", "read", "web", True),
        ((WEB_EXACT,), "intentions", "write", "web", False),
        # mesh and peering fall back to operator
        (('operator = "write"',), "mesh", "write", None, True),
        (('operator = "read"',), "peering", "write", None, False),
        (('operator = "write"', 'peering = "deny"'), "peering", "read", None, False),
        # levels are case-insensitive (AccessLevelFromString lowercases)
        (('acl = "WRITE"',), "acl", "write", None, True),
        # JSON is HCL too
        (('{"node_prefix": {"": {"policy": "read"}}}',), "node", "read", "any", True),
        (('{"agent": [{"n1": {"policy": "write"}}]}',), "agent", "write", "n1", True),
    ],
)
def test_rules_resolve_as_consul_resolves_them(
    policies: tuple[str, ...], resource: str, access: str, segment: str | None, allowed: bool
) -> None:
    assert authz(*policies).allowed(resource, access, segment) is allowed


def test_default_allow_lets_through_what_no_rule_names() -> None:
    a = authz('service "web" { policy = "deny" }', default="allow")
    assert (a.allowed("service", "read", "web"), a.allowed("service", "read", "db")) == (
        False,
        True,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'service "web" { policy = "wrote" }',
            'Invalid service policy: &acl.ServiceRule{Name:"web", Policy:"wrote", Intentions:"", '
            "EnterpriseRule:acl.EnterpriseRule{}}",
        ),
        (
            'service_prefix "" { policy = "read" intentions = "list" }',
            'Invalid service_prefix intentions policy: &acl.ServiceRule{Name:"", Policy:"read", '
            'Intentions:"list", EnterpriseRule:acl.EnterpriseRule{}}',
        ),
        ('operator = "admin"', 'Invalid operator policy: "admin"'),
        ('acl = "list"', 'Invalid acl policy: "list"'),
        (
            'agent "n1" { }',
            'Invalid agent policy: &acl.AgentRule{Node:"n1", Policy:""}',
        ),
        (
            'service "web" { policy = ',
            "Failed to parse ACL rules: At 1:26: unexpected token: '\\n'",
        ),
    ],
)
def test_malformed_rules_get_consuls_error(text: str, message: str) -> None:
    with pytest.raises(ACLError) as info:
        parse_rules(text)
    assert str(info.value) == message


def test_unknown_rule_keys_are_ignored_as_hcl_v1_ignores_them() -> None:
    assert parse_rules('bogus = "x"\nkeyring = "read"') == parse_rules('keyring = "read"')
