"""The direct parser accepts only what the PEG grammar accepts, and builds the very same tree.

The PEG engine follows bexpr's grammar rule for rule; :mod:`consul_sim.filter.fastparse` reads
well-formed filters without it. Generated filters (valid ones with random spacing, keywords as
values, indexes, escapes, and the same filters cut or spliced) are given to both: wherever the
direct parser answers, the PEG engine must answer the same tree.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consul_sim.filter import FilterError, compile_filter
from consul_sim.filter.fastparse import MAX_NESTING, Fallback, parse_fast
from consul_sim.filter.grammar import RULES
from consul_sim.filter.peg import ParseError, PegParser, TooDeep
from consul_sim.filter.tree import BinaryNode, MatchNode, Node, NotNode


def shape(node: Node) -> Any:
    if isinstance(node, MatchNode):
        return ("match", node.selector, node.op, node.raw)
    if isinstance(node, NotNode):
        return ("not", shape(node.operand))
    assert isinstance(node, BinaryNode)
    return ("and" if node.is_and else "or", shape(node.left), shape(node.right))


def peg(text: str) -> Any:
    try:
        return shape(PegParser(RULES, text).parse("Input"))
    except (ParseError, TooDeep):
        return None


def fast(text: str) -> Any:
    try:
        return shape(parse_fast(text))
    except Fallback:
        return None


spaces = st.sampled_from(["", " ", "  ", "\t", "\n", " \r\n "])
some_space = st.sampled_from([" ", "  ", "\t", "\n", " \r\n "])
words = st.sampled_from(["Service", "Tags", "a", "not", "and", "or", "in", "is", "empty", "x_1"])
selectors = st.builds(
    lambda head, rest: head + "".join(rest),
    words,
    st.lists(
        st.one_of(
            st.builds(lambda w: "." + w, words),
            st.builds(lambda s, w: f"[{s}{w}{s}]", spaces, st.sampled_from(['"k"', "`k v`"])),
        ),
        max_size=2,
    ),
)
values = st.one_of(
    selectors,
    st.sampled_from(["0", "-1", "12", "3.25", "-0.5", "01", "1.", "-"]),
    st.sampled_from(['"web"', '"a b"', '"\\u00e9"', '"a\\"b"', "`raw`", '""', '"\\q"', '"x']),
)


def match_exprs() -> st.SearchStrategy[str]:
    with_value = st.builds(
        lambda sel, a, op, b, val: f"{sel}{a}{op}{b}{val}",
        selectors,
        spaces,
        st.sampled_from(["==", "!="]),
        spaces,
        values,
    )
    with_word = st.builds(
        lambda sel, a, op, b, val: f"{sel}{a}{op}{b}{val}",
        selectors,
        some_space,
        st.sampled_from(["contains", "not contains", "matches", "not matches", "not  contains"]),
        some_space,
        values,
    )
    empty = st.builds(
        lambda sel, a, op: f"{sel}{a}{op}",
        selectors,
        some_space,
        st.sampled_from(["is empty", "is not empty", "is  not\tempty", "is", "is not"]),
    )
    value_in = st.builds(
        lambda val, a, op, b, sel: f"{val}{a}{op}{b}{sel}",
        values,
        some_space,
        st.sampled_from(["in", "not in"]),
        some_space,
        selectors,
    )
    return st.one_of(with_value, with_word, empty, value_in)


expressions = st.recursive(
    match_exprs(),
    lambda inner: st.one_of(
        st.builds(
            lambda left, a, op, b, right: f"{left}{a}{op}{b}{right}",
            inner,
            some_space,
            st.sampled_from(["and", "or"]),
            some_space,
            inner,
        ),
        st.builds(lambda a, e: f"not{a}{e}", some_space, inner),
        st.builds(lambda a, e, b: f"({a}{e}{b})", spaces, inner, spaces),
    ),
    max_leaves=8,
)


@given(st.builds(lambda a, e, b: a + e + b, spaces, expressions, spaces))
def test_a_tree_the_direct_parser_builds_is_the_peg_tree(text: str) -> None:
    tree = fast(text)
    if tree is not None:
        assert tree == peg(text)


@given(expressions, st.data())
def test_cut_or_spliced_filters_are_never_accepted_differently(text: str, data: Any) -> None:
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, len(text)))
    insert = data.draw(st.sampled_from(["", "(", ")", " and ", "not ", '"', "[", "==", " "]))
    mutated = text[:i] + insert + text[j:]
    tree = fast(mutated)
    if tree is not None:
        assert tree == peg(mutated)


TYPICAL = [
    'Service == "web"',
    "Service.Service == web and Checks.Status != passing",
    '"primary" in Service.Tags or not (Node.Meta["rack"] is empty)',
    'ServiceName matches "^web-[0-9]+$" and ServicePort == 8080',
    "not not (Kind is not empty)",
    "( Service contains `x` )",
    'Node.Meta.env == "prod" and ( a == 1.5 or b != -2 )',
]


@pytest.mark.parametrize("text", TYPICAL)
def test_typical_filters_take_the_direct_path_and_agree(text: str) -> None:
    """Not a vacuous property: the filters people write never fall back."""
    assert fast(text) is not None
    assert fast(text) == peg(text)


def test_nesting_past_the_direct_bound_goes_to_the_peg_engine() -> None:
    deep = "(" * (MAX_NESTING + 1) + "a == 1" + ")" * (MAX_NESTING + 1)
    assert fast(deep) is None
    assert peg(deep) == ("match", ("a",), peg("a == 1")[2], "1")


def test_errors_keep_bexprs_words() -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter('Service == "web" and (')
    assert "no match found" in str(caught.value) or "rule" in str(caught.value)
