"""The ACL system: Consul's rule language, tokens, policies, roles, and their resolution.

    rules        the rule language (HCL or JSON) and the simulator's grant map -> rules
    authorizer   merged rules + default policy -> allowed / require, Consul's 403 text
    identities   builtin policies, synthetic policies of identities and templates
    objects      stored tokens, policies, roles, auth methods, binding rules; their JSON
    resolver     a cluster's ACL tables, bootstrap state and token resolution
    tokens       token writes and reads, as ``agent/consul/acl_endpoint.go`` does them
    policies     policy and role writes and reads
    methods      auth methods, binding rules, login and logout

Every other module imports what it needs from here.
"""

from consul_sim.acl.authorizer import (
    ACL_NOT_FOUND,
    ALLOW,
    ANONYMOUS_HINT,
    ANONYMOUS_TOKEN_ID,
    Authorizer,
    Identity,
    permission_denied,
)
from consul_sim.acl.resolver import ANONYMOUS_SECRET, ACLResolver
from consul_sim.acl.rules import ACCESS_LEVELS, DENY, LIST, READ, WRITE, ACLError, Rule

__all__ = [
    "ACCESS_LEVELS",
    "ACL_NOT_FOUND",
    "ALLOW",
    "ANONYMOUS_HINT",
    "ANONYMOUS_SECRET",
    "ANONYMOUS_TOKEN_ID",
    "DENY",
    "LIST",
    "READ",
    "WRITE",
    "ACLError",
    "ACLResolver",
    "Authorizer",
    "Identity",
    "Rule",
    "permission_denied",
]
