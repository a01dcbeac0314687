"""Consul ``?filter=`` expressions: grammar, error sentences and semantics over JSON objects."""

from __future__ import annotations

import time
from typing import Any

import pytest
import re2

from consul_sim.api.http import apply_filter
from consul_sim.errors import ConsulError
from consul_sim.filter import Filter, FilterError, compile_filter
from consul_sim.filter.errors import EVALUATOR_ERROR_PREFIX
from consul_sim.gostd import quote as go_quote

SERVICE: dict[str, Any] = {
    "Node": {
        "Node": "node-1",
        "Address": "10.0.0.1",
        "Meta": {"rack": "r1", "env": "prod"},
        "TaggedAddresses": {},
    },
    "Service": {
        "ID": "web-1",
        "Service": "web",
        "Tags": ["primary", "v2"],
        "Meta": {"version": "2.1", "key with spaces": "yes", "é": "accent"},
        "Port": 8080,
        "Weights": {"Passing": 1, "Warning": 1},
        "EnableTagOverride": False,
        "Ratio": 0.5,
        "Proxy": None,
        "Empty": "",
        "Ports": [80, 443],
    },
    "Checks": [
        {"CheckID": "serfHealth", "Status": "passing", "ServiceTags": []},
        {"CheckID": "service:web-1", "Status": "critical", "ServiceTags": ["primary", "v2"]},
    ],
}


def run(expression: str, obj: dict[str, Any] | None = None) -> bool:
    return compile_filter(expression).matches(SERVICE if obj is None else obj)


def reason_of(expression: str, obj: dict[str, Any] | None = None) -> str:
    with pytest.raises(FilterError) as info:
        run(expression, obj)
    return info.value.reason


# ---------------------------------------------------------------------------------------------
# Syntax errors: the exact text bexpr's pigeon parser produces (several rows are bexpr's own
# grammar_test.go cases at v0.1.2; "foo" is the body shown in hashicorp/consul#7338).
# ---------------------------------------------------------------------------------------------

SYNTAX_ERRORS = [
    (
        "foo",
        '1:4 (3): no match found, expected: "!=", ".", "==", "[", [ \\t\\r\\n] or [a-zA-Z0-9_]',
    ),
    ('foo == "12x', '1:12 (11): rule "string": Unterminated string literal'),
    ("foo == `12x", '1:12 (11): rule "string": Unterminated string literal'),
    ("foo == 3x", '1:9 (8): rule "number": Invalid number literal'),
    ("foo[3] == abc", '1:5 (4): rule "index": Invalid index'),
    ('x in foo["abc"', '1:15 (14): rule "index": Unclosed index expression'),
    ('foo["abc" == 3', '1:11 (10): rule "index": Unclosed index expression'),
    ("x in 32", '1:6 (5): rule "match": Invalid selector'),
    ("32 == 32", '1:4 (3): no match found, expected: "in", "not" or [ \\t\\r\\n]'),
    ("32 is empty", '1:4 (3): no match found, expected: "in", "not" or [ \\t\\r\\n]'),
    ("x in foo abc", '1:10 (9): no match found, expected: "and", "or", [ \\t\\r\\n] or EOF'),
    (
        "x in foo and ",
        '1:14 (13): no match found, expected: "(", "-", "0", "\\"", "`", "not", '
        "[ \\t\\r\\n], [1-9] or [a-zA-Z]",
    ),
    (
        "x in foo or ",
        '1:13 (12): no match found, expected: "(", "-", "0", "\\"", "`", "not", '
        "[ \\t\\r\\n], [1-9] or [a-zA-Z]",
    ),
    (
        "x in foo or not ",
        '1:17 (16): no match found, expected: "!=", "(", "-", "0", "==", "\\"", "`", '
        '"contains", "in", "is", "matches", "not", [ \\t\\r\\n], [1-9] or [a-zA-Z]',
    ),
    ("(foo == 4", '1:10 (9): rule "grouping": Unmatched parentheses'),
    (
        "Service ==",
        '1:11 (10): no match found, expected: "-", "0", "\\"", "`", [ \\t\\r\\n], '
        "[1-9] or [a-zA-Z]",
    ),
    (
        " ",
        '1:2 (1): no match found, expected: "(", "-", "0", "\\"", "`", "not", '
        "[ \\t\\r\\n], [1-9] or [a-zA-Z]",
    ),
    # bad escapes in a double-quoted string are strconv.Unquote's ErrSyntax, reported at the quote
    ('foo == "a\\qb"', '1:8 (7): rule "string": invalid syntax'),
    ('foo == "\\400"', '1:8 (7): rule "string": invalid syntax'),
    ('foo == "\\ud800"', '1:8 (7): rule "string": invalid syntax'),
    # a backslash before the closing quote escapes it: the string then never ends
    ('foo == "a\\"', '1:8 (7): rule "string": invalid syntax'),
    # a newline moves to the next line at column 0; offsets count UTF-8 bytes
    (
        "a ==\n",
        '2:1 (5): no match found, expected: "-", "0", "\\"", "`", [ \\t\\r\\n], [1-9] or [a-zA-Z]',
    ),
    ('a == "é', '1:8 (8): rule "string": Unterminated string literal'),
    (
        'Service.Meta["é"] == "x" an',
        '1:26 (26): no match found, expected: "and", "or", [ \\t\\r\\n] or EOF',
    ),
    # keywords are case-sensitive
    (
        "a == 1 AND b == 2",
        '1:8 (7): no match found, expected: "and", "or", [ \\t\\r\\n] or EOF',
    ),
    # operators need surrounding whitespace, except == and !=
    ("a contains", "1:11 (10): no match found, expected: [ \\t\\r\\n]"),
    ("a==1", None),
    (
        "not(a == 1)",
        '1:4 (3): no match found, expected: "!=", ".", "==", "[", [ \\t\\r\\n] or [a-zA-Z0-9_]',
    ),
    # numbers: no leading zeros, no exponent, no leading dot
    ("a == 01", '1:7 (6): rule "number": Invalid number literal'),
    ("a == 1e5", '1:7 (6): rule "number": Invalid number literal'),
    (
        "a == .5",
        '1:6 (5): no match found, expected: "-", "0", "\\"", "`", [ \\t\\r\\n], [1-9] or [a-zA-Z]',
    ),
    # the value of == cannot be a parenthesised or empty thing
    ('a == ""', None),
    (
        "()",
        '1:2 (1): no match found, expected: "(", "-", "0", "\\"", "`", "not", '
        "[ \\t\\r\\n], [1-9] or [a-zA-Z]",
    ),
]


@pytest.mark.parametrize(("expression", "reason"), SYNTAX_ERRORS)
def test_syntax_errors_match_bexpr_exactly(expression: str, reason: str | None) -> None:
    if reason is None:
        compile_filter(expression)
        return
    with pytest.raises(FilterError) as info:
        compile_filter(expression)
    err = info.value
    assert err.reason == reason
    assert err.message == EVALUATOR_ERROR_PREFIX + reason
    assert str(err) == err.message
    assert err.status_code == 500


def test_filter_error_is_a_consul_error_carrying_the_prefix() -> None:
    with pytest.raises(FilterError) as info:
        compile_filter("foo")
    err = info.value
    assert isinstance(err, ConsulError)
    assert err.message.startswith("Failed to create boolean expression evaluator: 1:4 (3): ")
    made = FilterError('Selector "Foo" is not valid')
    assert made.reason == 'Selector "Foo" is not valid'
    assert made.message == EVALUATOR_ERROR_PREFIX + made.reason
    assert made.status_code == 500


def test_several_grammar_errors_are_joined_with_newlines() -> None:
    # Both strings are bad; each error rule fires once (pigeon de-duplicates the same text).
    with pytest.raises(FilterError) as info:
        compile_filter('a == "\\q" and b == "\\z"')
    assert info.value.reason == (
        '1:6 (5): rule "string": invalid syntax\n1:20 (19): rule "string": invalid syntax'
    )


DEEP = [
    ("(" * 1_000 + "Service.Port == 8080" + ")" * 1_000, True),
    ("(" * 1_000 + "not (" * 1_000 + "Service.Port == 8080" + ")" * 2_000, True),
    ("not " * 10_001 + "Service.Port == 8080", False),
    ("Service.Port == 8080" + " and (Service.Port == 8080" * 1_000 + ")" * 1_000, True),
]


@pytest.mark.parametrize(("expression", "expected"), DEEP)
def test_deep_nesting_parses_and_evaluates(expression: str, expected: bool) -> None:
    assert run(expression) is expected


@pytest.mark.slow
@pytest.mark.parametrize("joiner", [" and ", " or "])
def test_ten_thousand_chained_terms_parse_and_evaluate(joiner: str) -> None:
    terms = ["Service.Port == 8080"] * 9_999 + ["Service.Service == db"]
    # the chain's tree is 10,000 levels deep; evaluation walks all of it without recursion
    assert run(joiner.join(terms)) is (joiner == " or ")
    fields = {"Node", "Service", "Checks"}
    with pytest.raises(FilterError) as info:
        compile_filter(joiner.join(terms[:-1] + ["Foo == 1"]), valid_fields=fields)
    assert info.value.reason == 'Selector "Foo" is not valid'


TOO_DEEP_BODY = (
    "Failed to create boolean expression evaluator: "
    "consul_sim: the expression nests and/or/not/parentheses too deeply to parse"
)


@pytest.mark.slow
def test_nesting_past_the_bound_is_a_filter_error_not_a_crash() -> None:
    with pytest.raises(FilterError) as info:
        compile_filter("(" * 5_000 + "a == 1" + ")" * 5_000)
    assert info.value.message == TOO_DEEP_BODY
    assert info.value.status_code == 500


@pytest.mark.slow
def test_a_chain_of_any_length_a_request_can_carry_is_accepted_as_bexpr_accepts_it() -> None:
    """pigeon has no limit on chained terms, and a chain only loops in the direct parser: 40,000
    terms (a ~900 KB request line, under the 1 MiB head limit) parse and evaluate."""
    terms = ["Service.Port == 8080"] * 39_999 + ["Service.Service == db"]
    assert run(" or ".join(terms)) is True
    assert run(" and ".join(terms)) is False


# ---------------------------------------------------------------------------------------------
# Successful parses: whitespace, selectors, values
# ---------------------------------------------------------------------------------------------

PARSES = [
    ("\t\r\n  Service.Tags \t\r\n is \t\r\n not \t\r\n empty \t\r\n", True),
    ("\t\r\n not \t\r\n  primary \t\r\n in \t\r\n Service.Tags \t\r\n", False),
    ("\t\r\n ( \t\r\n Service.Service \t\r\n == \t\r\n web \t\r\n ) \t\r\n", True),
    ('Service["Meta"]["version"] == "2.1"', True),
    ('Service.Meta[ "key with spaces" ] == yes', True),
    ("Service.Meta[`key with spaces`] == `yes`", True),
    ('Service.Meta["é"] == accent', True),
    ("Service.Service==web", True),
    ("Service.Service!=web", False),
    # a bare word value is a selector-shaped literal, its parts joined with dots
    ("Service.Meta.version == 2.1", True),
    ("Service.ID == web-1", None),  # "-" ends the bare word: a syntax error, see below
    ("not not Service.Service == web", True),
    ("not not not Service.Service == web", False),
]


@pytest.mark.parametrize(("expression", "expected"), PARSES)
def test_parses(expression: str, expected: bool | None) -> None:
    if expected is None:
        with pytest.raises(FilterError):
            compile_filter(expression)
        return
    assert run(expression) is expected


# ---------------------------------------------------------------------------------------------
# Operators by JSON type
# ---------------------------------------------------------------------------------------------

OPERATORS = [
    # strings: exact equality, substring in/contains, unanchored regex
    ('Service.Service == "web"', True),
    ('Service.Service == "Web"', False),
    ('Service.Service == "we"', False),
    ('Service.Service != "db"', True),
    ('"eb" in Service.Service', True),
    ('"x" not in Service.Service', True),
    ('Service.Service contains "we"', True),
    ('Service.Service not contains "we"', False),
    ('Service.Service matches "^w.b$"', True),
    ('Service.Service matches "e"', True),
    ('Service.Service not matches "^db"', True),
    ('Service.Empty == ""', True),
    # lists of strings: membership
    ('"primary" in Service.Tags', True),
    ('"prim" in Service.Tags', False),
    ('"canary" not in Service.Tags', True),
    ("Service.Tags contains v2", True),
    ("Service.Tags not contains v2", False),
    ("Service.Tags is empty", False),
    ("Service.Tags is not empty", True),
    # lists of ints: the literal is coerced to the element type
    ("443 in Service.Ports", True),
    ('"0x50" in Service.Ports', True),
    ("8443 in Service.Ports", False),
    # maps: key membership and emptiness
    ('"version" in Service.Meta', True),
    ('"2.1" in Service.Meta', False),
    ('"rack" not in Node.Meta', False),
    ("Node.Meta is not empty", True),
    ("Node.TaggedAddresses is empty", True),
    ("Service.Meta contains version", True),
    # ints: Go ParseInt(s, 0, 64) — decimal, hex, octal, binary, underscores, quoted
    ("Service.Port == 8080", True),
    ('Service.Port == "8080"', True),
    ('Service.Port == "0x1F90"', True),
    ('Service.Port == "017620"', True),
    ('Service.Port == "0b1111110010000"', True),
    ('Service.Port == "8_080"', True),  # Go literal syntax: underscores between digits
    ('Service.Port == "0x1f_90"', True),
    ("Service.Port != 80", True),
    ("Service.Weights.Passing == -1", False),
    # bools: Go ParseBool spellings
    ("Service.EnableTagOverride == false", True),
    ("Service.EnableTagOverride == False", True),
    ("Service.EnableTagOverride == F", True),
    ("Service.EnableTagOverride == 0", True),
    ('Service.EnableTagOverride == "FALSE"', True),
    ("Service.EnableTagOverride != true", True),
    # floats
    ("Service.Ratio == 0.5", True),
    ('Service.Ratio == "5e-1"', True),
    ('Service.Ratio == "0x1p-1"', True),
    ("Service.Ratio != 0.25", True),
    # lists of objects: selecting through them means "any element"
    ("Checks.Status == critical", True),
    ("Checks.Status == warning", False),
    ("Checks.Status != passing", True),
    ('"v2" in Checks.ServiceTags', True),
    ("Checks.ServiceTags is empty", True),
    ("Checks is not empty", True),
]


@pytest.mark.parametrize(("expression", "expected"), OPERATORS)
def test_operators(expression: str, expected: bool) -> None:
    assert run(expression) is expected


def test_selecting_through_an_empty_list_is_false_for_every_operator() -> None:
    obj: dict[str, Any] = {"Checks": []}
    for expression in (
        "Checks.Status == passing",
        "Checks.Status != passing",
        "Checks.Status is empty",
        '"x" not in Checks.Status',
        'Checks.Status not matches "x"',
    ):
        assert run(expression, obj) is False, expression


# Selecting into a map key that does not exist (bexpr v0.1.2): false for ==, is not empty and in;
# true for the rest, including matches. JSON null is treated the same way.
MISSING = [
    ("Service.Meta.nope == x", False),
    ("Service.Meta.nope != x", True),
    ("Service.Meta.nope is empty", True),
    ("Service.Meta.nope is not empty", False),
    ('"x" in Service.Meta.nope', False),
    ('"x" not in Service.Meta.nope', True),
    ('Service.Meta.nope matches "x"', True),
    ('Service.Meta.nope not matches "x"', True),
    ("Service.Meta.nope.deeper == x", False),
    ("Service.Proxy.DestinationServiceName == web", False),
    ("Service.Proxy.DestinationServiceName != web", True),
    ("Service.Proxy is empty", True),
    ("Nope == x", False),
    ("Nope != x", True),
]


@pytest.mark.parametrize(("expression", "expected"), MISSING)
def test_missing_keys_and_nulls(expression: str, expected: bool) -> None:
    assert run(expression) is expected


# ---------------------------------------------------------------------------------------------
# Boolean structure: precedence not > and > or, parentheses, short-circuit
# ---------------------------------------------------------------------------------------------

T_ = "Service.Service == web"  # true
F_ = "Service.Service == db"  # false

BOOLEANS = [
    (f"{T_} and {F_}", False),
    (f"{T_} or {F_}", True),
    (f"not {T_}", False),
    (f"not {F_} and {T_}", True),  # (not F) and T
    (f"not {T_} and {F_}", False),
    (f"not ({T_} and {F_})", True),
    (f"{T_} or {T_} and {F_}", True),  # T or (T and F)
    (f"({T_} or {T_}) and {F_}", False),
    (f"{F_} and {T_} or {T_}", True),  # (F and T) or T
    (f"{F_} and ({T_} or {T_})", False),
    (f"{F_} or {F_} or {T_}", True),
    (f"{T_} and {T_} and {F_}", False),
    (f"not not {F_}", False),
    (f"((({T_}) and (not (({F_}) or ({F_})))))", True),
    (f"not ({F_}) and not ({F_})", True),
]


@pytest.mark.parametrize(("expression", "expected"), BOOLEANS)
def test_boolean_structure(expression: str, expected: bool) -> None:
    assert run(expression) is expected


def test_and_or_short_circuit_skips_type_errors() -> None:
    assert run(f"{F_} and Service.Tags == x") is False
    assert run(f"{T_} or Service.Tags == x") is True
    assert "Invalid match operator" in reason_of(f"{T_} and Service.Tags == x")


# ---------------------------------------------------------------------------------------------
# Errors Consul raises from its type checks (reported here when a value reaches them)
# ---------------------------------------------------------------------------------------------

TYPE_ERRORS = [
    ("Service.Tags == primary", 'Invalid match operator "Equal" for selector "Service.Tags"'),
    ("Service.Meta != x", 'Invalid match operator "Not Equal" for selector "Service.Meta"'),
    (
        "Service.Service is empty",
        'Invalid match operator "Is Empty" for selector "Service.Service"',
    ),
    (
        "Service.Port is not empty",
        'Invalid match operator "Is Not Empty" for selector "Service.Port"',
    ),
    ("80 in Service.Port", 'Invalid match operator "In" for selector "Service.Port"'),
    ('"x" not in Checks', 'Invalid match operator "Not In" for selector "Checks"'),
    ('Service.Tags matches "p"', 'Invalid match operator "Matches" for selector "Service.Tags"'),
    (
        'Service.Port not matches "8"',
        'Invalid match operator "Not Matches" for selector "Service.Port"',
    ),
    ("Service.Port.Value == 1", 'Selector "Service.Port.Value" is not valid'),
    ("Service.Tags.Name == x", 'Selector "Service.Tags.Name" is not valid'),
    ("Checks.Status.x == y", 'Selector "Checks.Status.x" is not valid'),
    (
        "Service.Port == http",
        'Failed to coerce value "http" for selector "Service.Port": '
        'strconv.ParseInt: parsing "http": invalid syntax',
    ),
    (
        "Service.Port == 1.5",
        'Failed to coerce value "1.5" for selector "Service.Port": '
        'strconv.ParseInt: parsing "1.5": invalid syntax',
    ),
    (
        "Service.Port == 9223372036854775808",
        'Failed to coerce value "9223372036854775808" for selector "Service.Port": '
        'strconv.ParseInt: parsing "9223372036854775808": value out of range',
    ),
    (
        'Service.Port == ""',
        'Failed to coerce value "" for selector "Service.Port": '
        'strconv.ParseInt: parsing "": invalid syntax',
    ),
    (
        'Service.Port == "8__080"',
        'Failed to coerce value "8__080" for selector "Service.Port": '
        'strconv.ParseInt: parsing "8__080": invalid syntax',
    ),
    (
        'Service.Port == "0x"',
        'Failed to coerce value "0x" for selector "Service.Port": '
        'strconv.ParseInt: parsing "0x": invalid syntax',
    ),
    (
        "Service.EnableTagOverride == yes",
        'Failed to coerce value "yes" for selector "Service.EnableTagOverride": '
        'strconv.ParseBool: parsing "yes": invalid syntax',
    ),
    (
        "Service.Ratio == half",
        'Failed to coerce value "half" for selector "Service.Ratio": '
        'strconv.ParseFloat: parsing "half": invalid syntax',
    ),
    (
        'Service.Ratio == "1e999"',
        'Failed to coerce value "1e999" for selector "Service.Ratio": '
        'strconv.ParseFloat: parsing "1e999": value out of range',
    ),
    (
        "web in Service.Ports",
        'Failed to coerce value "web" for selector "Service.Ports": '
        'strconv.ParseInt: parsing "web": invalid syntax',
    ),
    (
        'Service.Port == "a\\tb"',
        'Failed to coerce value "a\\tb" for selector "Service.Port": '
        'strconv.ParseInt: parsing "a\\tb": invalid syntax',
    ),
]


@pytest.mark.parametrize(("expression", "reason"), TYPE_ERRORS)
def test_type_errors_use_consul_sentences(expression: str, reason: str) -> None:
    with pytest.raises(FilterError) as info:
        run(expression)
    assert info.value.reason == reason
    assert info.value.message == EVALUATOR_ERROR_PREFIX + reason
    assert info.value.status_code == 500


def test_valid_fields_reject_unknown_roots_at_compile_time() -> None:
    fields = {"Node", "Service", "Checks"}
    compile_filter("Service.Service == web and Node.Meta.env == prod", valid_fields=fields)
    with pytest.raises(FilterError) as info:
        compile_filter('Service.Service == web or Foo.Bar == "x"', valid_fields=fields)
    assert info.value.message == (
        'Failed to create boolean expression evaluator: Selector "Foo" is not valid'
    )
    # the first offending match expression, depth first, left to right, wins
    with pytest.raises(FilterError) as info:
        compile_filter("not (B == 1 and A == 2)", valid_fields=fields)
    assert info.value.reason == 'Selector "B" is not valid'


# ---------------------------------------------------------------------------------------------
# Regular expressions (RE2 semantics and Go's error sentences)
# ---------------------------------------------------------------------------------------------

REGEX_MATCHES = [
    ("^web$", "web", True),
    ("^web$", "web\n", False),  # RE2 $ is end of text unless (?m)
    ("(?m)^web$", "x\nweb\ny", True),
    ("(?i)^WEB", "web", True),
    ("(?i)a|B", "xb", True),
    ("a(?i)b|c", "C", True),
    ("\\d+", "٣", False),  # RE2 \d is ASCII only
    ("\\d+", "v3", True),
    ("[[:upper:]]", "abc", False),
    ("[[:^lower:]]", "abc", False),
    ("[[:^lower:]]", "abC", True),
    ("\\Qa.b\\E", "a.b", True),
    ("\\Qa.b\\E", "axb", False),
    ("\\x41\\x{42}", "AB", True),
    ("\\101", "A", True),
    ("a{2,3}", "aa", True),
    ("x{,3}", "x{,3}", True),  # not a repeat in RE2: literal
    ("^$", "", True),
    ("\\pL+", "élan", True),
    ("[^]]", "]", False),
    ("(?s)a.b", "a\nb", True),
    ("a.b", "a\nb", False),
    ("web\\z", "web", True),
    # Unicode scripts and categories, as Go's unicode tables name them
    ("^\\p{Greek}+$", "αβγ", True),
    ("\\p{Greek}", "abc", False),
    ("\\P{Greek}", "αβγ", False),
    ("\\p{^Greek}", "αβγx", True),
    ("[^\\p{Greek}\\d]", "α1", False),
    ("[\\p{Greek}x]", "x", True),
    ("\\p{Lu}", "é", False),
    ("\\p{Any}", "é", True),
    # (?U) swaps greedy and lazy; a search only asks whether there is a match
    ("(?U)^a+$", "aaa", True),
    ("(?U)a+?b", "aab", True),
    ("(?U:a*)x", "x", True),
    # (?i) alone pushes nothing: in Go (and RE2) the star repeats the ``a`` before it
    ("^a(?i)*$", "", True),
    ("^a\\Q\\E+$", "aa", True),
    # Go folds case by Unicode simple folding: the Kelvin sign is a K
    ("(?i)k", "\u212a", True),
]


@pytest.mark.parametrize(("pattern", "text", "expected"), REGEX_MATCHES)
def test_regex_semantics(pattern: str, text: str, expected: bool) -> None:
    flt = compile_filter(f"Value matches {go_quote(pattern)}")
    assert flt.matches({"Value": text}) is expected


REGEX_ERRORS = [
    ("(", "missing closing ): `(`"),
    ("a(b", "missing closing ): `a(b`"),
    ("a)", "unexpected ): `a)`"),
    ("[a", "missing closing ]: `[a`"),
    ("x[]", "missing closing ]: `[]`"),
    ("[z-a]", "invalid character class range: `z-a`"),
    ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
    ("*a", "missing argument to repetition operator: `*`"),
    ("a|+", "missing argument to repetition operator: `+`"),
    ("a**", "invalid nested repetition operator: `**`"),
    ("a+?*", "invalid nested repetition operator: `+?*`"),
    ("a{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
    ("a{1001}", "invalid repeat count: `{1001}`"),
    ("a{3,2}", "invalid repeat count: `{3,2}`"),
    ("\\", "trailing backslash at end of expression: ``"),
    ("\\1", "invalid escape sequence: `\\1`"),
    ("\\q", "invalid escape sequence: `\\q`"),
    ("\\Z", "invalid escape sequence: `\\Z`"),
    ("\\C", "invalid escape sequence: `\\C`"),
    ("\\xZZ", "invalid escape sequence: `\\xZZ`"),
    ("[\\b]", "invalid escape sequence: `\\b`"),
    ("(?=x)", "invalid or unsupported Perl syntax: `(?=`"),
    ("(?<=x)", "invalid or unsupported Perl syntax: `(?<`"),
    ("(?i", "invalid or unsupported Perl syntax: `(?i`"),
    ("(?-)", "invalid or unsupported Perl syntax: `(?-)`"),
    ("(?P<>x)", "invalid named capture: `(?P<>`"),
    ("(?P<a-b>x)", "invalid named capture: `(?P<a-b>`"),
    ("(?i)*", "missing argument to repetition operator: `*`"),
    ("\\p{Foo}", "invalid character class range: `\\p{Foo}`"),
    ("[\\p{Foo}]", "invalid character class range: `\\p{Foo}`"),
    ("\\p{Greek", "invalid character class range: `\\p{Greek`"),
    # Go reports the first error left to right: the class name before the missing paren
    ("\\p{Foo}(", "invalid character class range: `\\p{Foo}`"),
    # the product of nested counts may not pass 1000 either
    ("(a{100}){100}", "invalid repeat count: `{100}`"),
    ("(?:a{10}){10}(?:b{20}){51}", "invalid repeat count: `{51}`"),
]

_QUIET_RE2 = re2.Options()
_QUIET_RE2.log_errors = False

# Where google-re2 (C++ RE2) and Go's regexp/syntax part ways, the filter follows Go (at the Go
# release Consul 1.16 is built with): RE2 accepts each of these patterns, Go refuses them.
RE2_ACCEPTS_GO_REFUSES = [
    ("\\C", "invalid escape sequence: `\\C`"),  # RE2: any byte
    ("(?<n>x)", "invalid or unsupported Perl syntax: `(?<`"),  # RE2 (and Go 1.22+): a name
]


@pytest.mark.parametrize(("pattern", "detail"), RE2_ACCEPTS_GO_REFUSES)
def test_regex_follows_go_where_re2_is_more_lenient(pattern: str, detail: str) -> None:
    re2.compile(pattern, options=_QUIET_RE2)  # the C++ engine alone would take it
    test_regex_errors_use_go_wording(pattern, detail)


def test_regex_over_re2s_memory_budget_gets_gos_too_large_wording() -> None:
    # Go's budget (about 3.3 million instructions) takes \pL{1000}; RE2 expands the class into
    # UTF-8 byte ranges and passes its 8 MiB budget. We keep RE2's budget (a larger one spends
    # half a second compiling on the event loop) and answer in Go's words for an oversized one.
    pattern = "\\pL{1000}"
    with pytest.raises(FilterError) as info:
        compile_filter(f"Service.Service matches {go_quote(pattern)}")
    assert info.value.reason == (
        'Failed to compile regular expression "\\\\pL{1000}": '
        "error parsing regexp: expression too large: `\\pL{1000}`"
    )


def test_regex_with_a_byte_that_is_not_utf8() -> None:
    # gostd.unquote carries "\xff" as a surrogateescape; Go's parser refuses the byte, and the
    # body shows it as U+FFFD (a text body cannot carry the raw byte).
    with pytest.raises(FilterError) as info:
        compile_filter('V matches "a\\xff"')
    assert info.value.reason == (
        'Failed to compile regular expression "a\\xff": '
        "error parsing regexp: invalid UTF-8: `\ufffd`"
    )
    # in a searched value such a byte is a U+FFFD to Go, never an error
    flt = compile_filter('V matches "^a.b$"')
    assert flt.matches({"V": "a\udcffb"})
    assert compile_filter('V matches "\ufffd"').matches({"V": "\udcff"})


def test_regex_bomb_is_answered_in_linear_time() -> None:
    flt = compile_filter('V matches "(a+)+$" or V matches "(x+x+)+y"')
    texts = [{"V": "a" * 10_000 + "!"}, {"V": "x" * 10_000}, {"V": "a" * 10_000}]
    started = time.perf_counter()
    assert [flt.matches(text) for text in texts] == [False, False, True]
    assert time.perf_counter() - started < 0.1  # a backtracking engine needs years here


@pytest.mark.parametrize(("pattern", "detail"), REGEX_ERRORS)
def test_regex_errors_use_go_wording(pattern: str, detail: str) -> None:
    with pytest.raises(FilterError) as info:
        compile_filter(f"Service.Service matches {go_quote(pattern)}")
    assert info.value.reason == (
        f"Failed to compile regular expression {go_quote(pattern)}: error parsing regexp: {detail}"
    )


def test_regex_is_checked_at_compile_time_even_if_unused() -> None:
    with pytest.raises(FilterError):
        compile_filter('Service.Service == web or Service.Service matches "("')


# ---------------------------------------------------------------------------------------------
# filtering lists and maps the way the server does (api/http.py apply_filter) / empty filter
# ---------------------------------------------------------------------------------------------


def test_apply_filter_keeps_order_and_renders_each_item() -> None:
    items = [{"Name": "a", "N": 1}, {"Name": "b", "N": 2}, {"Name": "c", "N": 3}]
    assert apply_filter("N != 2", items, lambda item: item) == [items[0], items[2]]
    wrapped = [("x", item) for item in items]
    assert apply_filter("N != 2", wrapped, lambda pair: pair[1]) == [wrapped[0], wrapped[2]]


def test_apply_filter_over_a_map_filters_by_value() -> None:
    # /v1/agent/services answers a map: the server filters its (id, service) pairs by value.
    services = {
        "web-1": {"Service": "web", "Tags": ["v1"]},
        "web-2": {"Service": "web", "Tags": ["v2"]},
        "db-1": {"Service": "db", "Tags": []},
    }
    expression = 'Service == web and "v2" in Tags'
    kept = apply_filter(expression, list(services.items()), lambda pair: pair[1])
    assert dict(kept) == {"web-2": services["web-2"]}
    boxed = {k: [v] for k, v in services.items()}
    kept_boxed = apply_filter(expression, list(boxed.items()), lambda pair: pair[1][0])
    assert dict(kept_boxed) == {"web-2": boxed["web-2"]}


def test_empty_expression_is_no_filter() -> None:
    flt = compile_filter("")
    assert isinstance(flt, Filter)
    assert flt.matches({})
    items = [{"A": 1}, {"B": 2}]
    assert apply_filter("", items, lambda item: item) == items


def test_evaluation_errors_propagate_from_apply_filter() -> None:
    with pytest.raises(FilterError) as info:
        apply_filter("Tags == x", [{"Tags": []}], lambda item: item)
    assert info.value.message == (
        EVALUATOR_ERROR_PREFIX + 'Invalid match operator "Equal" for selector "Tags"'
    )


STRING_LITERALS = [
    ('"a\\tb"', "a\tb"),
    ('"\\x41\\u00e9\\U0001F600\\101\\\\"', "Aé\U0001f600A\\"),
    ("`raw \\t\r\n`", "raw \\t\n"),
    ('"\\a\\b\\f\\n\\r\\v"', "\a\b\f\n\r\v"),
]


@pytest.mark.parametrize(("literal", "value"), STRING_LITERALS)
def test_string_literals_unquote_like_go(literal: str, value: str) -> None:
    assert compile_filter(f"Value == {literal}").matches({"Value": value})
