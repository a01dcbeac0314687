"""A direct parser for well-formed filters: the PEG engine's language and trees, without its cost.

The PEG engine (:mod:`.peg` running :data:`.grammar.RULES`) reproduces pigeon exactly, errors
included, but interpreting a grammar in Python costs about 240 steps a term: a 10,000-term filter
took ~1 s of the server's only thread. This module walks the same grammar by hand, alternative for
alternative in the grammar's order (a PEG's ordered choice commits to the first alternative that
matches, so a hand-written descent in the same order builds the same tree). It gives up, raising
:class:`Fallback`, at anything it is not sure of: every syntax error, nesting past
:data:`MAX_NESTING`, a string escape ``strconv.Unquote`` refuses. The caller then runs the PEG
engine, which either accepts too (never with another tree: ``tests/unit/test_filter_fastparse.py``
holds the two against each other on generated input) or words the error as bexpr does.

Chains of ``and``/``or`` are read in a loop and folded to the right, as the grammar's right
recursion builds them; only parentheses and ``not`` recurse, up to :data:`MAX_NESTING` levels.
"""

from __future__ import annotations

from consul_sim.filter.tree import BinaryNode, MatchNode, Node, NotNode, Op
from consul_sim.gostd import UnquoteError, unquote

MAX_NESTING = 100
"""Parentheses and ``not`` deeper than this go to the PEG engine (Python recursion stays small)."""

_WHITESPACE = " \t\r\n"
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_IDENT_CHARS = _LETTERS | frozenset("0123456789_")
_DIGITS = frozenset("0123456789")

# ``Selector <op> Value`` operators that need whitespace around them, in the grammar's order
# (MatchContains, MatchNotContains, MatchMatches, MatchNotMatches after == and !=).
_WORD_OPS: tuple[tuple[tuple[str, ...], Op], ...] = (
    (("contains",), Op.IN),
    (("not", "contains"), Op.NOT_IN),
    (("matches",), Op.MATCHES),
    (("not", "matches"), Op.NOT_MATCHES),
)
_EMPTY_OPS: tuple[tuple[tuple[str, ...], Op], ...] = (
    (("is", "empty"), Op.IS_EMPTY),
    (("is", "not", "empty"), Op.IS_NOT_EMPTY),
)
_IN_OPS: tuple[tuple[tuple[str, ...], Op], ...] = (
    (("in",), Op.IN),
    (("not", "in"), Op.NOT_IN),
)


class Fallback(Exception):
    """Not a filter this parser is sure of: let the PEG engine decide and word the error."""


def parse_fast(text: str) -> Node:
    return _Parser(text).input()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.depth = 0

    # -- lexical helpers ------------------------------------------------------------------------
    def ws(self, pos: int) -> int:
        """The end of a run of whitespace at ``pos`` (``pos`` itself when there is none)."""
        text, n = self.text, self.n
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        return pos

    def keyword(self, pos: int, word: str, *, trailing: bool = True) -> int | None:
        """``_ word _`` at ``pos`` (``_ word`` when not ``trailing``): the end, or None."""
        start = self.ws(pos)
        if start == pos or not self.text.startswith(word, start):
            return None
        end = start + len(word)
        if not trailing:
            return end
        after = self.ws(end)
        return after if after > end else None

    def keywords(self, pos: int, words: tuple[str, ...], *, trailing: bool = True) -> int | None:
        """Each word with whitespace before it (and after the last when ``trailing``)."""
        for i, word in enumerate(words):
            found = self.keyword(pos, word, trailing=trailing and i == len(words) - 1)
            if found is None:
                return None
            pos = found
        return pos

    def identifier(self, pos: int) -> int | None:
        text, n = self.text, self.n
        if pos >= n or text[pos] not in _LETTERS:
            return None
        pos += 1
        while pos < n and text[pos] in _IDENT_CHARS:
            pos += 1
        return pos

    def string(self, pos: int) -> tuple[str, int] | None:
        """A backtick or double-quoted literal: (its unquoted value, the end), or None."""
        if pos >= self.n or self.text[pos] not in '`"':
            return None
        end = self.text.find(self.text[pos], pos + 1)
        if end < 0:
            raise Fallback  # "Unterminated string literal"
        try:
            return unquote(self.text[pos : end + 1]), end + 1
        except UnquoteError:
            raise Fallback from None  # "invalid syntax"

    def selector(self, pos: int) -> tuple[tuple[str, ...], int] | None:
        end = self.identifier(pos)
        if end is None:
            return None
        parts = [self.text[pos:end]]
        pos = end
        while pos < self.n:
            if self.text[pos] == ".":
                ident_end = self.identifier(pos + 1)
                if ident_end is None:
                    break  # ``.`` not followed by an identifier ends the selector
                parts.append(self.text[pos + 1 : ident_end])
                pos = ident_end
            elif self.text[pos] == "[":
                found = self.string(self.ws(pos + 1))
                if found is None:
                    raise Fallback  # "Invalid index"
                value, end = found
                end = self.ws(end)
                if end >= self.n or self.text[end] != "]":
                    raise Fallback  # "Unclosed index expression"
                parts.append(value)
                pos = end + 1
            else:
                break
        return tuple(parts), pos

    def number(self, pos: int) -> int | None:
        text, n = self.text, self.n
        start = pos
        if pos < n and text[pos] == "-":
            pos += 1
        if pos < n and text[pos] == "0":
            pos += 1
        elif pos < n and text[pos] in _DIGITS:
            while pos < n and text[pos] in _DIGITS:
                pos += 1
        else:
            return None
        if pos + 1 < n and text[pos] == "." and text[pos + 1] in _DIGITS:
            pos += 1
            while pos < n and text[pos] in _DIGITS:
                pos += 1
        if pos < n and text[pos] not in _WHITESPACE and text[pos] != ")":
            raise Fallback  # "Invalid number literal"
        return pos if pos > start else None

    def value(self, pos: int) -> tuple[str, int] | None:
        """The grammar's ``Value``: a selector-like word, a number, or a string."""
        found = self.selector(pos)
        if found is not None:
            return ".".join(found[0]), found[1]
        number_end = self.number(pos)
        if number_end is not None:
            return self.text[pos:number_end], number_end
        return self.string(pos)

    # -- the grammar ----------------------------------------------------------------------------
    def input(self) -> Node:
        # ``Input``'s first alternative (one parenthesised expression) builds the same tree as
        # the second one reading it as a ParenthesizedExpression, so only the second is needed.
        node, pos = self.or_expression(self.ws(0))
        if self.ws(pos) != self.n:
            raise Fallback
        return node

    def or_expression(self, pos: int) -> tuple[Node, int]:
        return self.chain(pos, "or")

    def chain(self, pos: int, word: str) -> tuple[Node, int]:
        """``X _ word _ Chain / X``, read in a loop and folded to the right."""
        item = self.and_expression if word == "or" else self.not_expression
        node, pos = item(pos)
        items = [node]
        while True:
            after = self.keyword(pos, word)
            if after is None:
                break
            node, pos = item(after)
            items.append(node)
        tree = items[-1]
        for left in reversed(items[:-1]):
            tree = BinaryNode(word == "and", left, tree)
        return tree, pos

    def and_expression(self, pos: int) -> tuple[Node, int]:
        return self.chain(pos, "and")

    def not_expression(self, pos: int) -> tuple[Node, int]:
        after = self.keyword_not(pos)
        if after is not None:
            self.enter()
            operand, end = self.not_expression(after)
            self.depth -= 1
            # bexpr folds ``not not X`` into ``X``
            return (operand.operand if isinstance(operand, NotNode) else NotNode(operand)), end
        return self.parenthesized(pos)

    def keyword_not(self, pos: int) -> int | None:
        """``"not" _`` (no whitespace before it: NotExpression starts at the token)."""
        if not self.text.startswith("not", pos):
            return None
        after = self.ws(pos + 3)
        return after if after > pos + 3 else None

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise Fallback

    def parenthesized(self, pos: int) -> tuple[Node, int]:
        if pos < self.n and self.text[pos] == "(":
            self.enter()
            node, end = self.or_expression(self.ws(pos + 1))
            self.depth -= 1
            end = self.ws(end)
            if end >= self.n or self.text[end] != ")":
                raise Fallback  # "Unmatched parentheses"
            return node, end + 1
        return self.match(pos)

    def match(self, pos: int) -> tuple[Node, int]:
        found = self.selector(pos)
        if found is not None:
            selector, after = found
            # MatchSelectorOpValue: == and != (whitespace optional), then the word operators.
            for symbol, op in (("==", Op.EQUAL), ("!=", Op.NOT_EQUAL)):
                start = self.ws(after)
                if self.text.startswith(symbol, start):
                    return self.match_value(selector, op, self.ws(start + len(symbol)))
            for words, op in _WORD_OPS:
                end = self.keywords(after, words)
                if end is not None:
                    return self.match_value(selector, op, end)
            # MatchSelectorOp
            for words, op in _EMPTY_OPS:
                end = self.keywords(after, words, trailing=False)
                if end is not None:
                    return MatchNode(selector, op, None), end
        # MatchValueOpSelector
        value = self.value(pos)
        if value is None:
            raise Fallback
        raw, after = value
        for words, op in _IN_OPS:
            end = self.keywords(after, words)
            if end is not None:
                found = self.selector(end)
                if found is None:
                    raise Fallback  # "Invalid selector"
                return MatchNode(found[0], op, raw), found[1]
        raise Fallback

    def match_value(self, selector: tuple[str, ...], op: Op, pos: int) -> tuple[Node, int]:
        value = self.value(pos)
        if value is None:
            raise Fallback
        return MatchNode(selector, op, value[0]), value[1]
