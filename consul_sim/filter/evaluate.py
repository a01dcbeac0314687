"""Evaluating a parsed filter over JSON objects, with bexpr's validation sentences.

Consul builds the filter for the endpoint's Go struct type, so bexpr validates at construction
time (``validate.go``, ``field_config.go`` at v0.1.2; summarised in our own words):

* An unknown field gives ``Selector "Foo" is not valid`` (the selector quoted Go-style, cut after
  the first part that does not resolve); an operator the field type does not support gives
  ``Invalid match operator "Equal" for selector "Service.Tags"``; an uncoercible literal gives
  ``Failed to coerce value "x" for selector "Port": strconv.ParseInt: parsing "x": invalid
  syntax``. Like every filter error they carry the ``Failed to create boolean expression
  evaluator:`` prefix and answer 500.
* Strings, ints, floats and bools support ``==``/``!=``, the literal coerced with Go's
  ``strconv`` rules (``ParseInt(s, 0, 64)``, ``ParseBool``, ``ParseFloat``); strings also
  ``in``/``contains`` (substring) and ``matches`` (unanchored RE2 search); slices of primitives
  support ``in``/``contains`` (membership) and ``is empty``; slices of structs only ``is empty``,
  and selecting through them is "any element matches"; ``map[string]X`` supports
  ``in``/``contains`` on keys and ``is empty``. ``is empty`` on a string field is *rejected*,
  not "true when blank".
* Selecting into a map key that does not exist yields false for ``==``, ``is not empty`` and
  ``in`` and true for every other operator, ``matches`` included (a v0.1.2 quirk kept here).

The simulator has no Go types, so this maps the rules onto the JSON value actually found: a
dict is treated as a map (struct-ness is unknowable), a list by its elements, ``None`` and a
missing key as a missing map key. Type checks therefore happen while an object is evaluated,
with the same sentences: Consul would report them even when no object reaches the expression,
we only report them when one does. ``compile_filter(expr, valid_fields)`` checks the first
selector part against the endpoint's field names at compile time, giving Consul's ``Selector
"X" is not valid``; regexes are compiled at compile time too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from consul_sim.filter.errors import FilterError
from consul_sim.filter.grammar import parse
from consul_sim.filter.regex import GoRegexp
from consul_sim.filter.tree import BinaryNode, MatchNode, Node, NotNode, Op
from consul_sim.gostd import NumError, parse_bool, parse_float, parse_int, quote

__all__ = ["Filter", "compile_filter"]

# A missing map key: these operators answer false, every other one answers true.
_FALSE_WHEN_MISSING = frozenset({Op.EQUAL, Op.IS_NOT_EMPTY, Op.IN})


def _invalid_selector(selector: Sequence[str]) -> FilterError:
    return FilterError(f"Selector {quote('.'.join(selector))} is not valid")


def _invalid_operator(node: MatchNode) -> FilterError:
    op, selector = quote(node.op.value), quote(node.selector_text)
    return FilterError(f"Invalid match operator {op} for selector {selector}")


def _validate(root: Node, valid_fields: Collection[str] | None) -> None:
    """bexpr's construction-time pass, in its order: depth first, left to right.

    An explicit stack, not recursion: a 10,000-term chain is a tree 10,000 levels deep.
    """
    pending: list[Node] = [root]
    while pending:
        node = pending.pop()
        if isinstance(node, NotNode):
            pending.append(node.operand)
        elif isinstance(node, BinaryNode):
            pending.append(node.right)
            pending.append(node.left)
        else:
            if valid_fields is not None and node.selector[0] not in valid_fields:
                raise _invalid_selector(node.selector[:1])
            if node.op in (Op.MATCHES, Op.NOT_MATCHES):
                node.regex = GoRegexp.for_filter(node.raw or "")


def _is_primitive(value: Any) -> bool:
    return isinstance(value, str | bool | int | float)


def _coerce_equal(node: MatchNode, value: Any) -> bool:
    """``==`` between a JSON primitive and the literal, coerced to the value's Go kind."""
    raw = node.raw or ""
    try:
        if isinstance(value, bool):
            return parse_bool(raw) == value
        if isinstance(value, int):
            return parse_int(raw) == value
        if isinstance(value, float):
            return parse_float(raw) == value
    except NumError as err:
        raise FilterError(
            f"Failed to coerce value {quote(raw)} for selector {quote(node.selector_text)}: {err}"
        ) from None
    return bool(raw == value)


def _apply_operator(node: MatchNode, value: Any) -> bool:
    op = node.op
    if op in (Op.EQUAL, Op.NOT_EQUAL):
        if not _is_primitive(value):
            raise _invalid_operator(node)
        return _coerce_equal(node, value) == (op is Op.EQUAL)
    if op in (Op.IN, Op.NOT_IN):
        raw = node.raw or ""
        if isinstance(value, str | Mapping):
            found = raw in value
        elif isinstance(value, list | tuple):
            if any(isinstance(item, Mapping | list | tuple) for item in value):
                raise _invalid_operator(node)
            found = any(item is not None and _coerce_equal(node, item) for item in value)
        else:
            raise _invalid_operator(node)
        return found == (op is Op.IN)
    if op in (Op.IS_EMPTY, Op.IS_NOT_EMPTY):
        if not isinstance(value, Mapping | list | tuple):
            raise _invalid_operator(node)
        return (len(value) == 0) == (op is Op.IS_EMPTY)
    if not isinstance(value, str) or node.regex is None:
        raise _invalid_operator(node)
    return node.regex.found(value) == (op is Op.MATCHES)


def _walk(node: MatchNode, value: Any, depth: int) -> bool:
    if value is None:  # a nil map/slice/pointer: answered like a missing map key
        return node.op not in _FALSE_WHEN_MISSING
    if depth >= len(node.selector):
        return _apply_operator(node, value)
    if isinstance(value, Mapping):
        part = node.selector[depth]
        if part not in value:
            return node.op not in _FALSE_WHEN_MISSING
        return _walk(node, value[part], depth + 1)
    if isinstance(value, list | tuple):
        # selecting through a slice: true when any element matches (none: false)
        return any(item is not None and _walk(node, item, depth) for item in value)
    raise _invalid_selector(node.selector[: depth + 1])


def _evaluate(root: Node, obj: Mapping[str, Any]) -> bool:
    """The tree's answer for ``obj``, left operand first and short-circuiting like Go's ``&&``/
    ``||`` (so a type error on the right only shows when the left does not decide).

    An explicit stack of ``(node, right_done)`` replaces recursion, for trees thousands deep.
    """
    pending: list[tuple[NotNode | BinaryNode, bool]] = []
    node: Node = root
    while True:
        while not isinstance(node, MatchNode):  # descend to the leftmost match
            pending.append((node, False))
            node = node.operand if isinstance(node, NotNode) else node.left
        result = _walk(node, obj, 0)
        while True:  # climb until an unanswered right operand is found
            if not pending:
                return result
            parent, right_done = pending.pop()
            if isinstance(parent, NotNode):
                result = not result
            elif not right_done and result != parent.is_and:
                pass  # ``false and _`` / ``true or _``: the left operand decides
            elif not right_done:
                pending.append((parent, True))
                node = parent.right
                break


class Filter:
    """A compiled ``?filter=`` expression. The empty expression matches everything."""

    __slots__ = ("_ast", "expression")

    def __init__(self, expression: str, ast: Node | None) -> None:
        self.expression = expression
        self._ast = ast

    def __repr__(self) -> str:
        return f"Filter({self.expression!r})"

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether one JSON-rendered object passes; raises FilterError where Consul would."""
        if self._ast is None:
            return True
        return _evaluate(self._ast, obj)


def compile_filter(expression: str, valid_fields: Collection[str] | None = None) -> Filter:
    """Parse ``expression`` as Consul would; raise FilterError carrying Consul's 500 body.

    ``valid_fields`` names the selector roots the endpoint's object has (its Go struct fields);
    a selector starting elsewhere is refused at compile time, as Consul does.
    """
    if expression == "":
        return Filter(expression, None)
    ast = parse(expression)
    _validate(ast, valid_fields)
    return Filter(expression, ast)
