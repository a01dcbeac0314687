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


def token(obj: dict[str, Any], *, meta: bool = False) -> str:
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
    lines += _grants(obj)
    return "\n".join(lines) + "\n"


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
