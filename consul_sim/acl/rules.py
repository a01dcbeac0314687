"""Consul's ACL rule language: HCL or JSON text to a flat tuple of rules, with Consul's errors.

A policy's ``Rules`` is decoded the way ``acl/policy.go`` (``NewPolicyFromSource``) and
``acl/policy_ce.go`` (``decodeRules``) decode it: HashiCorp HCL v1, which also reads JSON, into
``PolicyRules`` (``service``/``service_prefix`` with ``intentions``, ``node``/``node_prefix``,
``key``/``key_prefix``, ``session``/``session_prefix``, ``agent``/``agent_prefix``,
``event``/``event_prefix``, ``query``/``query_prefix``, and the segment-less ``acl``,
``operator``, ``keyring``, ``mesh``, ``peering``). Keys HCL v1 does not know are ignored, as
its decoder ignores them. A syntax error is ``Failed to parse ACL rules: <HCL's error>``; an
access level that is not ``deny``/``read``/``write`` (``list`` as well for keys, compared
case-insensitively by ``AccessLevelFromString``) is ``PolicyRules.Validate``'s ``Invalid
<kind> policy: <Go %#v of the rule>``, checked in Consul's field order.

Python callers may also pass the simulator's older grant map, ``{"service:web": "read",
"key:app/*": "write", "intentions:db": "write", "peering": "read"}``, which
:func:`parse_grants` turns into the same rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from consul_sim.gostd import quote

DENY = "deny"
READ = "read"
LIST = "list"
WRITE = "write"
ACCESS_LEVELS = (DENY, READ, WRITE)

SEGMENTED = ("service", "node", "key", "intentions", "agent", "session", "event", "query")
SEGMENTLESS = ("acl", "operator", "keyring", "mesh", "peering")

# The blocks of ``PolicyRules`` in the order ``Validate`` checks them, each with the Go type
# ``%#v`` names and that type's key field (``acl/policy.go``).
_BLOCKS: tuple[tuple[str, str, str, bool], ...] = (
    ("agent", "AgentRule", "Node", False),
    ("agent_prefix", "AgentRule", "Node", False),
    ("key", "KeyRule", "Prefix", True),
    ("key_prefix", "KeyRule", "Prefix", True),
    ("node", "NodeRule", "Name", True),
    ("node_prefix", "NodeRule", "Name", True),
    ("service", "ServiceRule", "Name", True),
    ("service_prefix", "ServiceRule", "Name", True),
    ("session", "SessionRule", "Node", False),
    ("session_prefix", "SessionRule", "Node", False),
    ("event", "EventRule", "Event", False),
    ("event_prefix", "EventRule", "Event", False),
    ("query", "PreparedQueryRule", "Prefix", False),
    ("query_prefix", "PreparedQueryRule", "Prefix", False),
)
"""(block, Go type, key field, whether the type embeds ``EnterpriseRule``)."""


class ACLError(ValueError):
    """Rules Consul refuses; ``str()`` is Consul's sentence."""


@dataclass(frozen=True)
class Rule:
    """One rule: a resource, its segment (None for segment-less ones), exact or prefix, an
    access level (``""`` when a grant map named only ``intentions``), and for service rules
    the ``intentions`` level (``""``: derived from the service level, as Consul derives it)."""

    resource: str
    segment: str | None
    prefix: bool
    access: str
    intentions: str = ""


def _valid(level: str, *, allow_list: bool = False) -> bool:
    """``isPolicyValid``: ``AccessLevelFromString`` lowercases; ``list`` only for keys."""
    low = level.lower()
    return low in ACCESS_LEVELS or (allow_list and low == LIST)


def _go_rule(go_type: str, key_field: str, name: str, body: Mapping[str, str], ent: bool) -> str:
    """Go's ``%#v`` of a ``*acl.<Type>Rule``, as ``Validate``'s errors print it."""
    fields = [f"{key_field}:{quote(name)}", f"Policy:{quote(body.get('policy', ''))}"]
    if go_type == "ServiceRule":
        fields.append(f"Intentions:{quote(body.get('intentions', ''))}")
    if ent:
        fields.append("EnterpriseRule:acl.EnterpriseRule{}")
    return f"&acl.{go_type}{{{', '.join(fields)}}}"


def _decode(text: str) -> dict[str, Any]:
    """HCL v1 reads JSON too: an object first means JSON."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ACLError(
                f"Failed to parse ACL rules: At {exc.lineno}:{exc.colno}: {exc.msg}"
            ) from None
        if not isinstance(data, dict):
            raise ACLError("Failed to parse ACL rules: At 1:1: root must be an object")
        return data
    # Lazily: consul_sim.config imports this package's authorizer (one domain, two modules).
    from consul_sim.config.hcl import HCLError, load_hcl

    try:
        return load_hcl(text)
    except HCLError as exc:
        raise ACLError(f"Failed to parse ACL rules: {exc}") from None


def _blocks(resource: str, value: Any) -> list[tuple[str, dict[str, str]]]:
    """A block resource's ``(name, body)`` pairs from HCL's list of objects or JSON's object
    (or list of objects); body keys are matched case-insensitively, as HCL v1's decoder does."""
    items = value if isinstance(value, list) else [value]
    found: list[tuple[str, dict[str, str]]] = []
    for item in items:
        if not isinstance(item, dict):
            raise ACLError(f"Failed to parse ACL rules: {resource}: expected a block of rules")
        for name, body in item.items():
            if not isinstance(body, dict):
                raise ACLError(
                    f"Failed to parse ACL rules: {resource} {quote(str(name))}: expected a block"
                )
            found.append((str(name), {str(k).lower(): _text(v) for k, v in body.items()}))
    return found


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    return str(value)


@lru_cache(maxsize=4096)
def parse_rules(text: str) -> tuple[Rule, ...]:
    """Rules text (HCL or JSON) as rules, or :class:`ACLError` with Consul's sentence.

    Cached by text (the rules are immutable): identities and templated policies are rendered
    into rules text on every resolution, as Consul renders synthetic policies, and its parsed
    policy cache (``ACLCaches``) is keyed by content the same way."""
    if not text.strip():
        return ()
    data = {str(k).lower(): v for k, v in _decode(text).items()}
    rules: list[Rule] = []
    acl_level = _text(data.get("acl", "")) if "acl" in data else ""
    if acl_level and not _valid(acl_level):
        raise ACLError(f"Invalid acl policy: {quote(acl_level)}")
    if acl_level:
        rules.append(Rule("acl", None, False, acl_level.lower()))
    for block, go_type, key_field, ent in _BLOCKS:
        if block not in data:
            continue
        resource, _, suffix = block.partition("_")
        for name, body in _blocks(block, data[block]):
            level = body.get("policy", "")
            if not _valid(level, allow_list=resource == "key"):
                raise ACLError(
                    f"Invalid {block} policy: {_go_rule(go_type, key_field, name, body, ent)}"
                )
            intentions = body.get("intentions", "") if resource == "service" else ""
            if intentions and not _valid(intentions):
                raise ACLError(
                    f"Invalid {block} intentions policy: "
                    f"{_go_rule(go_type, key_field, name, body, ent)}"
                )
            rules.append(Rule(resource, name, bool(suffix), level.lower(), intentions.lower()))
    for resource in ("keyring", "operator", "mesh", "peering"):
        level = _text(data.get(resource, "")) if resource in data else ""
        if level and not _valid(level):
            raise ACLError(f"Invalid {resource} policy: {quote(level)}")
        if level:
            rules.append(Rule(resource, None, False, level.lower()))
    return tuple(rules)


def parse_grants(grants: Mapping[str, str]) -> tuple[Rule, ...]:
    """The simulator's grant map: ``"resource:segment"`` (a trailing ``*`` makes a prefix) or a
    segment-less resource, to an access level. ``intentions:<segment>`` sets the intentions
    level of that segment's service rule."""
    parsed: list[Rule] = []
    for key, access in grants.items():
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
            name = segment[:-1] if prefix else segment
            if resource == "intentions":
                parsed.append(Rule("service", name, prefix, "", access))
            else:
                parsed.append(Rule(resource, name, prefix, access))
        else:
            raise ACLError(f"unknown ACL resource {resource!r}")
    return tuple(parsed)
