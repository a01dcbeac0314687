"""Parsing a request body the way Go's ``encoding/json`` scanner does, and refusing what it refuses.

Python's ``json`` module and Go's scanner disagree at the edges, and each disagreement was a
way to crash or poison the simulator:

- Go refuses nesting deeper than ``maxNestingDepth`` (10,000) with the scanner's
  ``invalid character '[' exceeded max depth`` (``encoding/json/scanner.go``:
  ``pushParseState`` goes through ``scanner.error``, which always starts with
  ``invalid character``). Python's parser recurses and raised ``RecursionError`` long before
  that, so a deep body answered 500. Shallow bodies still go through ``json.loads`` (fast, in
  C); a body it cannot take is scanned again by :class:`_Scanner`, which keeps its own stack.
- Python reads ``NaN``/``Infinity`` and 5,000-digit integers (``ValueError`` past
  ``sys.get_int_max_str_digits``); Go's grammar has no ``NaN`` and keeps every number as its
  literal until a field's type says how to read it. Numbers with a fraction or exponent come
  back here as :class:`GoNumber`, a float that remembers its literal, so the decoder can say
  ``cannot unmarshal number 1e400 into ... of type float64`` or ``number 80.0 ... of type int``
  with Go's exact text (``decode.go`` ``literalStore``: ``"number " + string(item)``).
- Go's ``unquote`` turns a ``\\u`` escape of a lone UTF-16 surrogate into U+FFFD; Python keeps
  the surrogate, which then cannot be encoded as UTF-8 when the object is served back.
- Invalid UTF-8 in the body becomes U+FFFD, as Go's ``unquote`` does inside strings.

Every refusal is a :class:`DecodeError` whose ``str()`` is Go's sentence; endpoints add their
own prefix (``Request decode failed: ``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from consul_sim.gostd import json_quote_char

# encoding/json/scanner.go: maxNestingDepth.
MAX_NESTING_DEPTH = 10000
# How deep a free-form value (Go's ``interface{}``: a proxy's Config, a config entry) may nest
# for the simulator to store it: copying, hashing and validating it recurse in Python, and
# Python's recursion limit is far below Go's 10,000. Deeper ones are refused with the sentence
# Go uses for its own limit, before anything is stored: a deviation, in exchange for never
# storing an object that cannot be read back.
MAX_STORED_DEPTH = 200
# Integer literals longer than this are kept as literals (Python refuses to convert past 4,300
# digits, and no Go integer type holds more than 20).
_MAX_INT_DIGITS = 4000
_WS = re.compile(r"[ \t\n\r]*")
_STRING_RUN = re.compile(r'[^"\\\x00-\x1f]*')
_DIGITS = re.compile(r"[0-9]*")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPES = frozenset('"\\/bfnrtu')
_HEX = frozenset("0123456789abcdefABCDEF")


class DecodeError(ValueError):
    """A body Go's encoding/json would refuse; ``str()`` is Go's sentence."""


class GoNumber(float):
    """A JSON number Go would keep as text until a field's type reads it: one with a fraction
    or exponent, or an integer too long for Python to convert. Its value is the nearest float
    (``inf`` when out of range); ``literal`` is the text the client sent."""

    literal: str

    def __new__(cls, literal: str) -> GoNumber:
        self = super().__new__(cls, literal)
        self.literal = literal
        return self


def _refuse_constant(name: str) -> Any:
    raise DecodeError(name)


# Built once: json.loads with hooks would build a decoder on every call.
_DECODER = json.JSONDecoder(parse_float=GoNumber, parse_constant=_refuse_constant)


def parse_json(raw: bytes) -> Any:
    """Parse a body as Go does, with Go's wording for every refusal."""
    text = raw.decode("utf-8", errors="replace")
    if not text.strip(" \t\r\n"):
        raise DecodeError("EOF")
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError):
        # Invalid to Go, or too deep or too long for Python: the scanner decides which.
        value = _Scanner(text).parse()
    if _SURROGATE_ESCAPE.search(text):
        value = _replace_lone_surrogates(value)
    return value


def check_stored_depth(value: Any, limit: int = MAX_STORED_DEPTH) -> None:
    """Refuse a value nested deeper than ``limit`` (see :data:`MAX_STORED_DEPTH`), naming the
    bracket that went too deep as Go's scanner would."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth + 1 > limit:
                bracket = "{" if isinstance(node, dict) else "["
                raise DecodeError(f"invalid character '{bracket}' exceeded max depth")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)


def numbers_in(value: Any) -> Iterator[int | float]:
    """Every JSON number in ``value``, in document order, walked with a stack (it may nest
    10,000 deep)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(reversed(node.values()))
        elif isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, int | float) and not isinstance(node, bool):
            yield node


def beyond_float64(number: int | float) -> str | None:
    """The literal of a number strconv.ParseFloat refuses as out of range, else None."""
    try:
        if math.isfinite(float(number)):
            return None
    except OverflowError:
        pass
    return number.literal if isinstance(number, GoNumber) else str(number)


def check_float64_numbers(value: Any) -> None:
    """Go's refusal of a number an ``interface{}`` cannot hold, for a body decoded whole into
    ``map[string]interface{}`` (config entries): every number there is a float64, so one past
    its range fails with ``cannot unmarshal number <literal> into Go value of type float64``."""
    for number in numbers_in(value):
        literal = beyond_float64(number)
        if literal is not None:
            raise DecodeError(
                f"json: cannot unmarshal number {literal} into Go value of type float64"
            )


def _replace_lone_surrogates(value: Any) -> Any:
    """Go's ``unquote``: an escaped surrogate with no partner reads as U+FFFD. Iterative, as
    the value may be deep."""

    def fix(v: Any) -> Any:
        return _LONE_SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v

    root = [fix(value)]
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for i, item in enumerate(node):
                node[i] = fix(item)
                if isinstance(item, list | dict):
                    stack.append(item)
        elif isinstance(node, dict):
            items = list(node.items())
            node.clear()
            for k, item in items:
                node[fix(k)] = fix(item)
                if isinstance(item, list | dict):
                    stack.append(item)
    return root[0]


class _Scanner:
    """Go's scanner over text, with an explicit stack instead of recursion.

    Each error names the character Go's scanner stops at and the state it was in
    (``looking for beginning of value``, ``after array element``...), as ``scanner.go`` does.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.end = len(text)

    def fail(self, pos: int, context: str) -> DecodeError:
        if pos >= self.end:
            return DecodeError("unexpected EOF")
        return DecodeError(f"invalid character {json_quote_char(self.text[pos])} {context}")

    def ws(self, pos: int) -> int:
        m = _WS.match(self.text, pos)
        return m.end() if m else pos

    def peek(self, pos: int) -> str:
        return self.text[pos] if pos < self.end else ""

    def parse(self) -> Any:
        containers: list[tuple[Any, str]] = []
        pos = self.ws(0)
        while True:
            # A value starts at pos.
            c = self.peek(pos)
            value: Any
            if c in ("{", "["):
                if len(containers) + 1 > MAX_NESTING_DEPTH:
                    raise self.fail(pos, "exceeded max depth")
                pos = self.ws(pos + 1)
                if c == "[":
                    if self.peek(pos) == "]":
                        value, pos = [], pos + 1
                    else:
                        containers.append(([], ""))
                        continue
                elif self.peek(pos) == "}":
                    value, pos = {}, pos + 1
                else:
                    key, pos = self.key(pos)
                    containers.append(({}, key))
                    continue
            elif c == '"':
                value, pos = self.string(pos)
            elif c == "-" or c.isascii() and c.isdigit():
                value, pos = self.number(pos)
            elif c in ("t", "f", "n"):
                value, pos = self.literal(pos)
            else:
                raise self.fail(pos, "looking for beginning of value")
            # A value ends at pos: place it, closing every container it completes.
            while True:
                pos = self.ws(pos)
                if not containers:
                    if pos < self.end:
                        raise self.fail(pos, "after top-level value")
                    return value
                container, key = containers[-1]
                c = self.peek(pos)
                if isinstance(container, dict):
                    container[key] = value
                    if c == ",":
                        key, pos = self.key(self.ws(pos + 1))
                        containers[-1] = (container, key)
                        break
                    if c != "}":
                        raise self.fail(pos, "after object key:value pair")
                else:
                    container.append(value)
                    if c == ",":
                        pos = self.ws(pos + 1)
                        break
                    if c != "]":
                        raise self.fail(pos, "after array element")
                containers.pop()
                value, pos = container, pos + 1

    def key(self, pos: int) -> tuple[str, int]:
        """An object key and its colon; returns the position of the value after them."""
        if self.peek(pos) != '"':
            raise self.fail(pos, "looking for beginning of object key string")
        key, pos = self.string(pos)
        pos = self.ws(pos)
        if self.peek(pos) != ":":
            raise self.fail(pos, "after object key")
        return key, self.ws(pos + 1)

    def string(self, start: int) -> tuple[str, int]:
        text = self.text
        pos = start + 1
        while True:
            m = _STRING_RUN.match(text, pos)
            pos = m.end() if m else pos
            c = self.peek(pos)
            if c == '"':
                decoded: str = json.loads(text[start : pos + 1])
                return decoded, pos + 1
            if c == "\\":
                esc = self.peek(pos + 1)
                if esc not in _ESCAPES or esc == "":
                    raise self.fail(pos + 1, "in string escape code")
                pos += 2
                if esc == "u":
                    for i in range(4):
                        if self.peek(pos + i) not in _HEX or self.peek(pos + i) == "":
                            raise self.fail(pos + i, "in \\u hexadecimal character escape")
                    pos += 4
                continue
            raise self.fail(pos, "in string literal")

    def number(self, start: int) -> tuple[Any, int]:
        text = self.text
        pos = start + 1 if text[start] == "-" else start
        c = self.peek(pos)
        if not (c.isascii() and c.isdigit()):
            raise self.fail(pos, "in numeric literal")
        pos = pos + 1 if c == "0" else _DIGITS.match(text, pos + 1).end()  # type: ignore[union-attr]
        whole = True
        if self.peek(pos) == ".":
            whole = False
            c = self.peek(pos + 1)
            if not (c.isascii() and c.isdigit()):
                raise self.fail(pos + 1, "after decimal point in numeric literal")
            pos = _DIGITS.match(text, pos + 1).end()  # type: ignore[union-attr]
        if self.peek(pos) in ("e", "E"):
            whole = False
            pos += 1
            if self.peek(pos) in ("+", "-"):
                pos += 1
            c = self.peek(pos)
            if not (c.isascii() and c.isdigit()):
                raise self.fail(pos, "in exponent of numeric literal")
            pos = _DIGITS.match(text, pos).end()  # type: ignore[union-attr]
        literal = text[start:pos]
        if whole and len(literal) <= _MAX_INT_DIGITS:
            return int(literal), pos
        return GoNumber(literal), pos

    def literal(self, start: int) -> tuple[Any, int]:
        word = {"t": "true", "f": "false", "n": "null"}[self.text[start]]
        for i, want in enumerate(word):
            got = self.peek(start + i)
            if got != want:
                raise self.fail(start + i, f"in literal {word} (expecting {json_quote_char(want)})")
        return {"true": True, "false": False, "null": None}[word], start + len(word)
