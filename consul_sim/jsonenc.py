"""Go's JSON encoding, byte for byte where clients can see it.

Consul writes compact JSON with HTML-sensitive characters escaped (``<`` as ``\\u003c``), and with
``?pretty`` indents by four spaces and ends with a newline. Stored objects cache their encoded
bytes with this, so a hot read joins bytes instead of encoding them again.
"""

from __future__ import annotations

import json
import re
import secrets
import typing
from typing import Any

from consul_sim.gostd import json_float

_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
_NEEDS_ESCAPE = frozenset("<>&\u2028\u2029")


def encode_json(obj: Any, pretty: bool = False) -> bytes:
    """Go's json.Marshal (compact, HTML-escaped) or MarshalIndent with 4 spaces and a newline."""
    try:
        if pretty:
            text = json.dumps(obj, indent=4, ensure_ascii=False) + "\n"
        else:
            text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        # Go stores and serves back any value its decoder took, nested up to 10,000 deep;
        # Python's encoder recurses and gives up far sooner.
        text = _encode_deep(obj, pretty)
    if not _NEEDS_ESCAPE.isdisjoint(text):
        text = text.translate(_GO_ESCAPES)
    return text.encode()


def encode_json_go_floats(obj: Any, pretty: bool = False) -> bytes:
    """:func:`encode_json`, with every float written as Go writes a float64 (``0.00001``, not
    Python's ``1e-05``; ``0``, not ``0.0``). Each float travels through the encoder as a
    placeholder string carrying a per-call random tag, so no text a client sent can pose as
    one, and is put back formatted."""
    tag = secrets.token_hex(8)
    floats: list[float] = []

    def swap(value: Any) -> Any:
        if isinstance(value, float):
            floats.append(value)
            return f"{tag}:{len(floats) - 1}"
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [swap(v) for v in value]
        return value

    text = encode_json(swap(obj), pretty)
    pattern = re.compile(rf'"{tag}:(\d+)"'.encode())
    return pattern.sub(lambda m: json_float(floats[int(m[1])]).encode(), text)


def _encode_deep(obj: Any, pretty: bool) -> str:
    """The same text as ``json.dumps`` above, built with an explicit stack."""
    out: list[str] = []
    # Each frame: the closing bracket, the remaining items, the depth, whether any was written.
    stack: list[tuple[str, Any, int, list[bool]]] = []

    def newline(depth: int) -> None:
        if pretty:
            out.append("\n" + "    " * depth)

    def emit(value: Any, depth: int) -> None:
        if isinstance(value, dict) and value:
            out.append("{")
            stack.append(("}", iter(value.items()), depth + 1, [False]))
        elif isinstance(value, list | tuple) and value:
            out.append("[")
            stack.append(("]", iter(value), depth + 1, [False]))
        else:
            out.append(json.dumps(value, ensure_ascii=False))

    emit(obj, 0)
    while stack:
        close, items, depth, started = stack[-1]
        item = next(items, _END)
        if item is _END:
            stack.pop()
            newline(depth - 1)
            out.append(close)
            continue
        if started[0]:
            out.append(",")
        started[0] = True
        newline(depth)
        if close == "}":
            key, item = typing.cast(tuple[Any, Any], item)
            out.append(json.dumps(str(key), ensure_ascii=False) + (": " if pretty else ":"))
        emit(item, depth)
    return "".join(out) + ("\n" if pretty else "")


_END = object()
