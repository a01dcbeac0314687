"""Go's JSON encoding, byte for byte where clients can see it.

Consul writes compact JSON with HTML-sensitive characters escaped (``<`` as ``\\u003c``), and with
``?pretty`` indents by four spaces and ends with a newline. Stored objects cache their encoded
bytes with this, so a hot read joins bytes instead of encoding them again.
"""

from __future__ import annotations

import json
from typing import Any

_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
_NEEDS_ESCAPE = frozenset("<>&\u2028\u2029")


def encode_json(obj: Any, pretty: bool = False) -> bytes:
    """Go's json.Marshal (compact, HTML-escaped) or MarshalIndent with 4 spaces and a newline."""
    if pretty:
        text = json.dumps(obj, indent=4, ensure_ascii=False) + "\n"
    else:
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    if not _NEEDS_ESCAPE.isdisjoint(text):
        text = text.translate(_GO_ESCAPES)
    return text.encode()
