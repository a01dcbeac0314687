"""go-bexpr's expression grammar (v0.1.2, the version Consul pins) as rules for the PEG engine.

Consul pins ``github.com/hashicorp/go-bexpr v0.1.2`` (``go.mod`` of hashicorp/consul, still so
in the 1.16 line). ``grammar.peg`` at that tag says (summarised in our own words):

* ``or`` binds loosest, then ``and``, then prefix ``not``; parentheses group; ``not not X`` is
  folded into ``X``.
* Match expressions are ``Sel == V``, ``Sel != V``, ``Sel contains V``, ``Sel not contains V``,
  ``Sel matches V``, ``Sel not matches V``, ``Sel is empty``, ``Sel is not empty``, ``V in Sel``
  and ``V not in Sel``. Operators and keywords are case-sensitive.
* A selector is ``Ident`` (``[a-zA-Z][a-zA-Z0-9_]*``) followed by ``.Ident`` or ``["string"]``
  parts. A value is a bare selector-like word (its parts joined with ``.``), a number
  (``-?(0|[1-9][0-9]*)(\\.[0-9]+)?``) or a string in double quotes (Go ``strconv.Unquote``
  escapes, no embedded ``"``) or backticks (raw).
* There are no ``any``/``all``/``is nil``/JSON pointer forms in that version.
* The grammar's own error rules give the sentences ``Unmatched parentheses``, ``Invalid
  selector``, ``Invalid index``, ``Unclosed index expression``, ``Invalid number literal``,
  ``Unterminated string literal`` and ``invalid syntax`` (a bad string escape), each reported
  under the rule's display name (``rule "grouping": Unmatched parentheses``).

``RULES`` follows ``grammar.peg`` rule for rule and alternative for alternative, because the
order of alternatives decides which tokens pigeon lists in a syntax error.
"""

from __future__ import annotations

from typing import Any, cast

from consul_sim.filter.errors import FilterError
from consul_sim.filter.fastparse import Fallback, parse_fast
from consul_sim.filter.peg import (
    Action,
    ActionFailed,
    AndAhead,
    AnyChar,
    Class,
    Expr,
    Fail,
    NotAhead,
    ParseError,
    PegParser,
    Rule,
    Seq,
    TooDeep,
    choice,
    const,
    lit,
    opt,
    pick,
    plus,
    ref,
    seq,
    star,
)
from consul_sim.filter.tree import BinaryNode, MatchNode, Node, NotNode, Op
from consul_sim.gostd import UnquoteError, unquote

__all__ = ["RULES", "TOO_DEEP", "parse"]


def _unquote_action(text: str, _value: Any) -> Any:
    try:
        return unquote(text)
    except UnquoteError as err:
        raise ActionFailed(str(err), "") from None


def _not_action(_text: str, value: Any) -> Any:
    operand = value[2]
    if isinstance(operand, NotNode):  # bexpr folds ``not not X`` into ``X``
        return operand.operand
    return NotNode(operand)


def _selector_action(_text: str, value: Any) -> Any:
    return (value[0], *value[1])


_WS = ref("_")
_OPT_WS = opt(_WS)
_IN_OR_NOT_IN = choice(ref("MatchIn"), ref("MatchNotIn"))


def _op_rule(name: str, op: Op, *items: Expr) -> Rule:
    return Rule(name, None, Action(Seq(items), const(op)))


# The v0.1.2 grammar, rule for rule and alternative for alternative.
RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            "Input",
            None,
            choice(
                Action(
                    seq(
                        _OPT_WS,
                        lit("("),
                        _OPT_WS,
                        ref("OrExpression"),
                        _OPT_WS,
                        lit(")"),
                        _OPT_WS,
                        ref("EOF"),
                    ),
                    pick(3),
                ),
                Action(seq(_OPT_WS, ref("OrExpression"), _OPT_WS, ref("EOF")), pick(1)),
            ),
        ),
        Rule(
            "OrExpression",
            None,
            choice(
                Action(
                    seq(ref("AndExpression"), _WS, lit("or"), _WS, ref("OrExpression")),
                    lambda _t, v: BinaryNode(False, v[0], v[4]),
                ),
                Action(ref("AndExpression"), lambda _t, v: v),
            ),
        ),
        Rule(
            "AndExpression",
            None,
            choice(
                Action(
                    seq(ref("NotExpression"), _WS, lit("and"), _WS, ref("AndExpression")),
                    lambda _t, v: BinaryNode(True, v[0], v[4]),
                ),
                Action(ref("NotExpression"), lambda _t, v: v),
            ),
        ),
        Rule(
            "NotExpression",
            None,
            choice(
                Action(seq(lit("not"), _WS, ref("NotExpression")), _not_action),
                Action(ref("ParenthesizedExpression"), lambda _t, v: v),
            ),
        ),
        Rule(
            "ParenthesizedExpression",
            '"grouping"',
            choice(
                Action(seq(lit("("), _OPT_WS, ref("OrExpression"), _OPT_WS, lit(")")), pick(2)),
                Action(ref("MatchExpression"), lambda _t, v: v),
                seq(
                    lit("("),
                    _OPT_WS,
                    ref("OrExpression"),
                    _OPT_WS,
                    NotAhead(lit(")")),
                    Fail("Unmatched parentheses"),
                ),
            ),
        ),
        Rule(
            "MatchExpression",
            '"match"',
            choice(
                ref("MatchSelectorOpValue"),
                ref("MatchSelectorOp"),
                ref("MatchValueOpSelector"),
            ),
        ),
        Rule(
            "MatchSelectorOpValue",
            '"match"',
            Action(
                seq(
                    ref("Selector"),
                    choice(
                        ref("MatchEqual"),
                        ref("MatchNotEqual"),
                        ref("MatchContains"),
                        ref("MatchNotContains"),
                        ref("MatchMatches"),
                        ref("MatchNotMatches"),
                    ),
                    ref("Value"),
                ),
                lambda _t, v: MatchNode(v[0], v[1], v[2]),
            ),
        ),
        Rule(
            "MatchSelectorOp",
            '"match"',
            Action(
                seq(ref("Selector"), choice(ref("MatchIsEmpty"), ref("MatchIsNotEmpty"))),
                lambda _t, v: MatchNode(v[0], v[1], None),
            ),
        ),
        Rule(
            "MatchValueOpSelector",
            '"match"',
            choice(
                Action(
                    seq(ref("Value"), _IN_OR_NOT_IN, ref("Selector")),
                    lambda _t, v: MatchNode(v[2], v[1], v[0]),
                ),
                seq(
                    ref("Value"),
                    _IN_OR_NOT_IN,
                    NotAhead(ref("Selector")),
                    Fail("Invalid selector"),
                ),
            ),
        ),
        _op_rule("MatchEqual", Op.EQUAL, _OPT_WS, lit("=="), _OPT_WS),
        _op_rule("MatchNotEqual", Op.NOT_EQUAL, _OPT_WS, lit("!="), _OPT_WS),
        _op_rule("MatchIsEmpty", Op.IS_EMPTY, _WS, lit("is"), _WS, lit("empty")),
        _op_rule(
            "MatchIsNotEmpty",
            Op.IS_NOT_EMPTY,
            _WS,
            lit("is"),
            _WS,
            lit("not"),
            _WS,
            lit("empty"),
        ),
        _op_rule("MatchIn", Op.IN, _WS, lit("in"), _WS),
        _op_rule("MatchNotIn", Op.NOT_IN, _WS, lit("not"), _WS, lit("in"), _WS),
        _op_rule("MatchContains", Op.IN, _WS, lit("contains"), _WS),
        _op_rule("MatchNotContains", Op.NOT_IN, _WS, lit("not"), _WS, lit("contains"), _WS),
        _op_rule("MatchMatches", Op.MATCHES, _WS, lit("matches"), _WS),
        _op_rule("MatchNotMatches", Op.NOT_MATCHES, _WS, lit("not"), _WS, lit("matches"), _WS),
        Rule(
            "Selector",
            '"selector"',
            Action(seq(ref("Identifier"), star(ref("SelectorOrIndex"))), _selector_action),
        ),
        Rule(
            "Identifier",
            None,
            Action(
                seq(
                    Class("[a-zA-Z]", "", (("a", "z"), ("A", "Z"))),
                    star(Class("[a-zA-Z0-9_]", "_", (("a", "z"), ("A", "Z"), ("0", "9")))),
                ),
                lambda text, _v: text,
            ),
        ),
        Rule(
            "SelectorOrIndex",
            None,
            choice(
                Action(seq(lit("."), ref("Identifier")), pick(1)),
                Action(ref("IndexExpression"), lambda _t, v: v),
            ),
        ),
        Rule(
            "IndexExpression",
            '"index"',
            choice(
                Action(seq(lit("["), _OPT_WS, ref("StringLiteral"), _OPT_WS, lit("]")), pick(2)),
                seq(lit("["), _OPT_WS, NotAhead(ref("StringLiteral")), Fail("Invalid index")),
                seq(
                    lit("["),
                    _OPT_WS,
                    ref("StringLiteral"),
                    _OPT_WS,
                    NotAhead(lit("]")),
                    Fail("Unclosed index expression"),
                ),
            ),
        ),
        Rule(
            "Value",
            '"value"',
            choice(
                Action(ref("Selector"), lambda _t, v: ".".join(v)),
                Action(ref("NumberLiteral"), lambda _t, v: v),
                Action(ref("StringLiteral"), lambda _t, v: v),
            ),
        ),
        Rule(
            "NumberLiteral",
            '"number"',
            choice(
                Action(
                    seq(opt(lit("-")), ref("IntegerOrFloat"), AndAhead(ref("AfterNumbers"))),
                    lambda text, _v: text,
                ),
                seq(
                    opt(lit("-")),
                    ref("IntegerOrFloat"),
                    NotAhead(ref("AfterNumbers")),
                    Fail("Invalid number literal"),
                ),
            ),
        ),
        Rule("AfterNumbers", None, AndAhead(choice(_WS, ref("EOF"), lit(")")))),
        Rule(
            "IntegerOrFloat",
            None,
            seq(
                choice(
                    lit("0"),
                    seq(
                        Class("[1-9]", "", (("1", "9"),)),
                        star(Class("[0-9]", "", (("0", "9"),))),
                    ),
                ),
                opt(seq(lit("."), plus(Class("[0-9]", "", (("0", "9"),))))),
            ),
        ),
        Rule(
            "StringLiteral",
            '"string"',
            choice(
                Action(
                    choice(
                        seq(lit("`"), star(ref("RawStringChar")), lit("`")),
                        seq(lit('"'), star(ref("DoubleStringChar")), lit('"')),
                    ),
                    _unquote_action,
                ),
                seq(
                    choice(
                        seq(lit("`"), star(ref("RawStringChar"))),
                        seq(lit('"'), star(ref("DoubleStringChar"))),
                    ),
                    ref("EOF"),
                    Fail("Unterminated string literal"),
                ),
            ),
        ),
        Rule("RawStringChar", None, seq(NotAhead(lit("`")), AnyChar())),
        Rule("DoubleStringChar", None, seq(NotAhead(lit('"')), AnyChar())),
        Rule("_", '"whitespace"', plus(Class("[ \\t\\r\\n]", " \t\r\n"))),
        Rule("EOF", None, NotAhead(AnyChar())),
    )
}


# Go's pigeon parser recurses on a stack that grows to 1 GB, so bexpr has no depth limit short of
# crashing the agent; ours is the engine's explicit bound, refused in the filter's words.
TOO_DEEP = "consul_sim: the expression nests and/or/not/parentheses too deeply to parse"


def parse(expression: str) -> Node:
    """The expression's tree; raises FilterError with bexpr's syntax-error text.

    Well-formed input is read by :mod:`.fastparse`; whatever it is unsure of (errors first of
    all) goes through the PEG engine, which words bexpr's errors.

    Input nesting past the engine's bound (``peg.MAX_DEPTH`` pending expressions: more than
    about 15,000 chained terms or 4,000 parentheses) is a FilterError too.
    """
    try:
        return parse_fast(expression)
    except Fallback:
        pass
    try:
        return cast(Node, PegParser(RULES, expression).parse("Input"))
    except ParseError as err:
        raise FilterError(str(err)) from None
    except TooDeep:
        raise FilterError(TOO_DEEP) from None
