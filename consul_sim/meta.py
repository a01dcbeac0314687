"""Consul's metadata rules (node, service and peering meta share them)."""

from __future__ import annotations

import re
from collections.abc import Mapping

MAX_PAIRS = 64
MAX_KEY = 128
MAX_VALUE = 512
RESERVED_PREFIX = "consul-"
_KEY = re.compile(r"^[a-zA-Z0-9_-]+$")


def validate_meta(meta: Mapping[str, str], *, allow_consul_prefix: bool = False) -> str | None:
    """Consul's sentence for the first broken rule, or None when the meta is valid."""
    if len(meta) > MAX_PAIRS:
        return f"Node metadata cannot contain more than {MAX_PAIRS} key/value pairs"
    for key, value in meta.items():
        problem = _pair_problem(key, value, allow_consul_prefix)
        if problem:
            return f"Couldn't load metadata pair ('{key}', '{value}'): {problem}"
    return None


def _pair_problem(key: str, value: str, allow_consul_prefix: bool) -> str | None:
    if key == "":
        return "Key cannot be blank"
    if not _KEY.match(key):
        return "Key contains invalid characters"
    if len(key) > MAX_KEY:
        return f"Key is too long (limit: {MAX_KEY} characters)"
    if key.startswith(RESERVED_PREFIX) and not allow_consul_prefix:
        return f"Key prefix '{RESERVED_PREFIX}' is reserved for internal use"
    if len(value) > MAX_VALUE:
        return f"Value is too long (limit: {MAX_VALUE} characters)"
    return None
