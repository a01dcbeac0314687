"""The ``consul acl`` pretty printer (``command/acl/token/formatter.go``,
``command/acl/policy/formatter.go``, ``command/acl/role/formatter.go``) and ``-format=json``.

Labels are padded to Consul's columns; times print as Go's ``time.Time.String()``; a token's
links print ``ID - Name``, identities ``name (Datacenters: a, b)`` (``all`` when none), node
identities ``name (Datacenter: dc)``. ``-meta`` adds the hash (hex) and the indexes. JSON is
Go's ``json.MarshalIndent`` with four spaces.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from consul_sim.cli.commands.peering import go_time_string
from consul_sim.gostd import quote

PRETTY, JSON = "pretty", "json"
FORMATS = (PRETTY, JSON)


def as_json(obj: Any) -> str:
    return json.dumps(obj, indent=4, ensure_ascii=False)


def api_token(obj: dict[str, Any]) -> dict[str, Any]:
    """The token as the Go client's ``api.ACLToken`` marshals it: the indexes first."""
    indexes = {"CreateIndex": obj.get("CreateIndex", 0), "ModifyIndex": obj.get("ModifyIndex", 0)}
    return {**indexes, **{k: v for k, v in obj.items() if k not in indexes}}


def _hash_hex(value: str | None) -> str:
    try:
        return base64.b64decode(value or "").hex()
    except ValueError:
        return ""


def _meta(obj: dict[str, Any], width: int) -> list[str]:
    return [
        f"{'Hash:':<{width}}{_hash_hex(obj.get('Hash'))}",
        f"{'Create Index:':<{width}}{obj.get('CreateIndex', 0)}",
        f"{'Modify Index:':<{width}}{obj.get('ModifyIndex', 0)}",
    ]


def _grants(obj: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, title in (("Policies", "Policies:"), ("Roles", "Roles:")):
        if obj.get(key):
            lines.append(title)
            lines += [f"   {link['ID']} - {link['Name']}" for link in obj[key]]
    if obj.get("ServiceIdentities"):
        lines.append("Service Identities:")
        for s in obj["ServiceIdentities"]:
            dcs = ", ".join(s.get("Datacenters") or []) or "all"
            lines.append(f"   {s['ServiceName']} (Datacenters: {dcs})")
    if obj.get("NodeIdentities"):
        lines.append("Node Identities:")
        lines += [
            f"   {n['NodeName']} (Datacenter: {n['Datacenter']})" for n in obj["NodeIdentities"]
        ]
    if obj.get("TemplatedPolicies"):
        lines.append("Templated Policies:")
        for t in obj["TemplatedPolicies"]:
            lines.append(f"   {t['TemplateName']}")
            name = (t.get("TemplateVariables") or {}).get("name")
            if name:
                lines.append(f"      Name: {name}")
            dcs = ", ".join(t.get("Datacenters") or []) or "all"
            lines.append(f"      Datacenters: {dcs}")
    return lines


def _token_head(obj: dict[str, Any], meta: bool) -> list[str]:
    lines = [
        f"AccessorID:       {obj['AccessorID']}",
        f"SecretID:         {obj['SecretID']}",
        f"Description:      {obj.get('Description', '')}",
        f"Local:            {'true' if obj.get('Local') else 'false'}",
    ]
    if obj.get("AuthMethod"):
        lines.append(f"Auth Method:      {obj['AuthMethod']} (Namespace: )")
    lines.append(f"Create Time:      {go_time_string(obj.get('CreateTime'))}")
    if obj.get("ExpirationTime"):
        lines.append(f"Expiration Time:  {go_time_string(obj['ExpirationTime'])}")
    if meta:
        lines += _meta(obj, 18)
    return lines


def token(obj: dict[str, Any], *, meta: bool = False) -> str:
    return "\n".join([*_token_head(obj, meta), *_grants(obj)]) + "\n"


def _policy_block(p: dict[str, Any], indent: str) -> str:
    rules = str(p.get("Rules", "")).replace("\n", "\n" + indent + "\t\t")
    return (
        f"{indent}Policy Name: {p.get('Name', '')}\n{indent}\tID: {p.get('ID', '')}\n"
        f"{indent}\tDescription: {p.get('Description', '')}\n{indent}\tRules:\n"
        f"{indent}\t\t{rules}\n\n"
    )


def _identity_block(head: str, p: dict[str, Any] | None, indent: str) -> str:
    """An identity: its line, its synthetic policy's description and rules (the rules follow
    ``Rules:`` directly: they start with a newline)."""
    p = p or {}
    rules = str(p.get("Rules", "")).replace("\n", "\n" + indent + "\t\t")
    return (
        f"{indent}Name: {head}\n{indent}\tDescription: {p.get('Description', '')}\n"
        f"{indent}\tRules:{rules}\n\n"
    )


def token_expanded(obj: dict[str, Any], *, meta: bool = False) -> str:
    """``FormatTokenExpanded`` (``command/acl/token/formatter.go``): every policy with its
    rules, identities with their synthetic policies, roles with theirs, then the authorizer's
    layers (CE has no namespace layer)."""
    policies = {p["ID"]: p for p in obj.get("ExpandedPolicies") or []}
    by_desc = {p.get("Description"): p for p in policies.values()}
    roles = {r["ID"]: r for r in obj.get("ExpandedRoles") or []}
    out = "\n".join(_token_head(obj, meta)) + "\n"

    def grants(o: dict[str, Any], indent: str, titled: str) -> str:
        text = ""
        if o.get("Policies"):
            text += f"{titled}Policies:\n"
            text += "".join(_policy_block(policies.get(link["ID"], {}), indent)
                            for link in o["Policies"])  # fmt: skip
        if o.get("ServiceIdentities"):
            text += f"{titled}Service Identities:\n"
            for s in o["ServiceIdentities"]:
                dcs = ", ".join(s.get("Datacenters") or []) or "all"
                p = by_desc.get(f'synthetic policy for service identity "{s["ServiceName"]}"')
                text += _identity_block(f"{s['ServiceName']} (Datacenters: {dcs})", p, indent)
        if o.get("NodeIdentities"):
            text += f"{titled}Node Identities:\n"
            for n in o["NodeIdentities"]:
                p = by_desc.get(f'synthetic policy for node identity "{n["NodeName"]}"')
                head = f"{n['NodeName']} (Datacenter: {n['Datacenter']})"
                text += _identity_block(head, p, indent)
        return text

    out += grants(obj, "\t", "")
    if obj.get("Roles"):
        out += "Roles:\n"
        for link in obj["Roles"]:
            r = roles.get(link["ID"], {})
            out += f"\tRole Name: {r.get('Name', '')}\n\t\tID: {r.get('ID', '')}\n"
            out += f"\t\tDescription: {r.get('Description', '')}\n"
            out += grants(r, "\t\t\t", "\t\t")
    return out + (
        "=== End of Authorizer Layer 0: Token ===\n"
        "=== Start of Authorizer Layer 2: Agent Configuration Defaults (Inherited) ===\n"
        "Description: Defined at request-time by the agent that resolves the ACL token; other "
        "agents may have different configuration defaults\n"
        f"Resolved By Agent: {quote(obj.get('ResolvedByAgent', ''))}\n\n"
        f"Default Policy: {obj.get('AgentACLDefaultPolicy', '')}\n"
        "\tDescription: Backstop rule used if no preceding layer has a matching rule (refer to "
        "default_policy option in agent configuration)\n\n"
        f"Down Policy: {obj.get('AgentACLDownPolicy', '')}\n"
        "\tDescription: Defines what to do if this Token's information cannot be read from the "
        "primary_datacenter (refer to down_policy option in agent configuration)\n\n"
    )


def token_list(objs: list[dict[str, Any]], *, meta: bool = False) -> str:
    return "\n".join(token(o, meta=meta) for o in objs)


def policy(obj: dict[str, Any], *, meta: bool = False) -> str:
    lines = [
        f"ID:           {obj['ID']}",
        f"Name:         {obj['Name']}",
        f"Description:  {obj.get('Description', '')}",
        f"Datacenters:  {', '.join(obj.get('Datacenters') or [])}",
    ]
    if meta:
        lines += _meta(obj, 14)
    lines += ["Rules:", obj.get("Rules", "")]
    return "\n".join(lines)


def _entry(obj: dict[str, Any], meta: bool, before: list[str], after: list[str]) -> str:
    """One entry of a policy or role list: name, ID, description, ``before``, the meta when
    asked, ``after``."""
    lines = [
        f"{obj['Name']}:",
        f"   ID:           {obj['ID']}",
        f"   Description:  {obj.get('Description', '')}",
        *before,
    ]
    if meta:
        lines += ["   " + line for line in _meta(obj, 14)]
    return "\n".join([*lines, *after]) + "\n"


def policy_list(objs: list[dict[str, Any]], *, meta: bool = False) -> str:
    return "".join(
        _entry(o, meta, [f"   Datacenters:  {', '.join(o.get('Datacenters') or [])}"], [])
        for o in objs
    )


def role(obj: dict[str, Any], *, meta: bool = False) -> str:
    lines = [
        f"ID:           {obj['ID']}",
        f"Name:         {obj['Name']}",
        f"Description:  {obj.get('Description', '')}",
    ]
    if meta:
        lines += _meta(obj, 14)
    lines += _grants(obj)
    return "\n".join(lines) + "\n"


def role_list(objs: list[dict[str, Any]], *, meta: bool = False) -> str:
    out = []
    for o in objs:
        grants = ["   " + line for line in _grants(o)]
        out.append(_entry(o, meta, [], grants))
    return "".join(out)
