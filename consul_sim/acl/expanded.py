"""``GET /v1/acl/token/:AccessorID?expanded``: the token with everything its authorizer is built
from (``structs.ACLTokenExpanded``).

``agent/consul/acl_endpoint.go`` (``lookupExpandedTokenInfo``) gathers the token's policy links,
its roles' policy links and the synthetic policies of every service identity, node identity and
templated policy on the token or its roles into ``ExpandedPolicies``, the linked roles into
``ExpandedRoles``; ``agent/acl_endpoint.go`` adds the answering agent's ``default_policy``,
``down_policy`` and node name. Consul fills these from Go maps, so their order is unspecified;
here they are sorted by ID so the answer is stable. The namespace defaults are Enterprise-only:
CE answers ``null``. The embedded token comes first, as Go marshals an embedded struct's fields
in place.
"""

from __future__ import annotations

from typing import Any

from consul_sim.acl.identities import TEMPLATES, node_rules, service_rules, synthetic_id
from consul_sim.acl.objects import Grants, Policy, Role, Token
from consul_sim.acl.resolver import ACLResolver
from consul_sim.gostd import quote

DOWN_POLICY = "extend-cache"
"""``acl.down_policy``'s default; the simulator does not take another."""


def _synthetic(rules: str, description: str, datacenters: list[str]) -> Policy:
    """``SyntheticPolicy``: ID from the rules' FNV hash, named after it."""
    pid = synthetic_id(rules)
    return Policy(pid, f"synthetic-policy-{pid}", description, rules, list(datacenters))


def _identity_policies(grants: Grants) -> list[Policy]:
    out = [
        _synthetic(
            service_rules(s.service_name),
            f"synthetic policy for service identity {quote(s.service_name)}",
            s.datacenters,
        )
        for s in grants.service_identities
    ]
    out += [
        _synthetic(
            node_rules(n.node_name),
            f"synthetic policy for node identity {quote(n.node_name)}",
            [n.datacenter],
        )
        for n in grants.node_identities
    ]
    for t in grants.templated_policies:
        template = TEMPLATES.get(t.template_name)
        if template is not None:
            name = t.template_variables.name if t.template_variables else ""
            description = f"synthetic policy generated from templated policy: {t.template_name}"
            out.append(_synthetic(template.rules(name), description, t.datacenters))
    return out


def render(acl: ACLResolver, token: Token, rendered: dict[str, Any], node: str) -> dict[str, Any]:
    """``rendered`` (the token as ``render_token`` gave it) with the expansion after it."""
    roles: list[Role] = [acl.tables.roles[r] for r in token.grants.roles if r in acl.tables.roles]
    policy_ids = set(token.grants.policies)
    synthetic = {p.id: p for p in _identity_policies(token.grants)}
    for role in roles:
        policy_ids.update(role.grants.policies)
        synthetic.update((p.id, p) for p in _identity_policies(role.grants))
    policies = [acl.tables.policies[p] for p in policy_ids if p in acl.tables.policies]
    expanded = sorted(policies, key=lambda p: p.id) + sorted(synthetic.values(), key=lambda p: p.id)
    return {
        **rendered,
        "ExpandedPolicies": [p.render() for p in expanded] or None,
        "ExpandedRoles": [acl.render_role(r) for r in sorted(roles, key=lambda r: r.id)] or None,
        "NamespaceDefaultPolicyIDs": None,
        "NamespaceDefaultRoleIDs": None,
        "AgentACLDefaultPolicy": acl.default_policy,
        "AgentACLDownPolicy": DOWN_POLICY,
        "ResolvedByAgent": node,
    }
