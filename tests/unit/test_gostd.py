"""Go's strconv/encoding-json text conventions: each expected value is what Go itself returns
(the rows follow Go's documentation and ``strconv`` tests, checked against a Go toolchain)."""

from __future__ import annotations

import math

import pytest

from consul_sim.gostd import (
    ERR_RANGE,
    ERR_SYNTAX,
    NumError,
    UnquoteError,
    json_quote_char,
    parse_bool,
    parse_float,
    parse_int,
    parse_uint,
    quote,
    unquote,
)

# -- Quote -----------------------------------------------------------------------------------------

QUOTES = [
    ("plain", '"plain"'),
    ("", '""'),
    ('a"b\\c', '"a\\"b\\\\c"'),
    ("it's", '"it\'s"'),
    ("tab\there\n", '"tab\\there\\n"'),
    ("\a\b\f\r\v", '"\\a\\b\\f\\r\\v"'),
    ("\x00\x1b\x7f", '"\\x00\\x1b\\x7f"'),
    ("\x80", '"\\u0080"'),  # a C1 control is a rune, not a byte
    ("é日本", '"é日本"'),
    ("\u00a0\u00ad\u2028\ufeff", '"\\u00a0\\u00ad\\u2028\\ufeff"'),
    ("\U0001f600", '"\U0001f600"'),
    ("\U000e0001", '"\\U000e0001"'),
    # invalid UTF-8 bytes, as Python's surrogateescape carries them: Go's \x escapes
    (b"a\xffb\xc3".decode("utf-8", "surrogateescape"), '"a\\xffb\\xc3"'),
    ("\ud800", '"\\ufffd"'),  # a lone surrogate is no valid rune
]


@pytest.mark.parametrize(("text", "quoted"), QUOTES)
def test_quote_matches_go(text: str, quoted: str) -> None:
    assert quote(text) == quoted


@pytest.mark.parametrize(("text", "quoted"), QUOTES[:-1])
def test_unquote_reverses_quote(text: str, quoted: str) -> None:
    assert unquote(quoted) == text


UNQUOTES = [
    ('"a\\tb"', "a\tb"),
    ('"\\x41\\u00e9\\U0001F600\\101\\\\"', "Aé\U0001f600A\\"),
    ('"\\a\\b\\f\\n\\r\\v\\""', '\a\b\f\n\r\v"'),
    ("`raw \\t\r\n`", "raw \\t\n"),  # raw strings keep escapes and drop carriage returns
    ('"\\xff"', b"\xff".decode("utf-8", "surrogateescape")),
    ('""', ""),
    ("``", ""),
]


@pytest.mark.parametrize(("literal", "value"), UNQUOTES)
def test_unquote_matches_go(literal: str, value: str) -> None:
    assert unquote(literal) == value


@pytest.mark.parametrize(
    "literal",
    [
        '"',
        "`",
        "abc",
        '"a"b"',
        '"a\nb"',
        '"\\q"',
        '"\\x4"',
        '"\\400"',
        '"\\12"',
        '"\\ud800"',
        '"\\U00110000"',
        '"trailing\\"',
        "`a`b`",
        "'a'",  # rune literals are not needed by any caller and are refused
    ],
)
def test_unquote_refuses_what_go_refuses(literal: str) -> None:
    with pytest.raises(UnquoteError, match="^invalid syntax$"):
        unquote(literal)


JSON_CHARS = [
    ("x", "'x'"),
    ("'", "'\\''"),
    ('"', "'\"'"),
    ("\\", "'\\\\'"),
    ("\x01", "'\\x01'"),
    ("\x7f", "'\\x7f'"),
    ("\n", "'\\n'"),
    # encoding/json names a multi-byte character by its first byte, read as a rune
    ("é", "'Ã'"),
    ("日", "'æ'"),
    ("\u00ad", "'Â'"),
]


@pytest.mark.parametrize(("ch", "quoted"), JSON_CHARS)
def test_json_quote_char_matches_encoding_json(ch: str, quoted: str) -> None:
    assert json_quote_char(ch) == quoted


# -- ParseBool -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1", "t", "T", "TRUE", "true", "True"])
def test_parse_bool_true_words(text: str) -> None:
    assert parse_bool(text) is True


@pytest.mark.parametrize("text", ["0", "f", "F", "FALSE", "false", "False"])
def test_parse_bool_false_words(text: str) -> None:
    assert parse_bool(text) is False


@pytest.mark.parametrize("text", ["", "tRUE", "yes", "on", "2", " true", "truE", 'a"b'])
def test_parse_bool_refuses_other_spellings_with_go_text(text: str) -> None:
    with pytest.raises(NumError) as info:
        parse_bool(text)
    assert str(info.value) == f"strconv.ParseBool: parsing {quote(text)}: invalid syntax"
    assert (info.value.func, info.value.num, info.value.err) == ("ParseBool", text, ERR_SYNTAX)


def test_num_error_quotes_the_input_go_style() -> None:
    with pytest.raises(NumError) as info:
        parse_bool('say "hi"\n')
    assert str(info.value) == 'strconv.ParseBool: parsing "say \\"hi\\"\\n": invalid syntax'


# -- ParseInt / ParseUint --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("0x1F", 31),
        ("0X1f", 31),
        ("017", 15),
        ("0o17", 15),
        ("0b101", 5),
        ("1_000", 1000),
        ("0x_1F", 31),
        ("0", 0),
        ("-8", -8),
        ("+8", 8),
        ("9223372036854775807", 9223372036854775807),
        ("-0x8000000000000000", -9223372036854775808),
    ],
)
def test_parse_int_base_zero_reads_go_prefixes_and_underscores(text: str, expected: int) -> None:
    assert parse_int(text) == expected


@pytest.mark.parametrize("text", ["", "+", "-", "_1", "1_", "1__0", "08", "0x", "1 ", "12a", "٣"])
def test_parse_int_syntax_errors(text: str) -> None:
    with pytest.raises(NumError) as info:
        parse_int(text)
    assert str(info.value) == f"strconv.ParseInt: parsing {quote(text)}: invalid syntax"


@pytest.mark.parametrize(
    "text", ["9223372036854775808", "-9223372036854775809", "18446744073709551616", "1" * 30]
)
def test_parse_int_range_errors(text: str) -> None:
    with pytest.raises(NumError) as info:
        parse_int(text)
    assert str(info.value) == f"strconv.ParseInt: parsing {quote(text)}: value out of range"
    assert info.value.err == ERR_RANGE


def test_parse_int_reports_overflow_before_a_later_bad_digit() -> None:
    with pytest.raises(NumError, match="value out of range"):
        parse_int("99999999999999999999x")


def test_parse_int_bit_size_and_explicit_base() -> None:
    assert parse_int("127", 10, 8) == 127
    assert parse_int("-128", 10, 8) == -128
    assert parse_int("zz", 36) == 1295
    with pytest.raises(NumError, match=r'^strconv.ParseInt: parsing "-129": value out of range$'):
        parse_int("-129", 10, 8)
    with pytest.raises(NumError, match=r'^strconv.ParseInt: parsing "1_0": invalid syntax$'):
        parse_int("1_0", 10)  # underscores only with base 0
    with pytest.raises(NumError, match=r'^strconv.ParseInt: parsing "101": invalid base 1$'):
        parse_int("101", 1)


def test_parse_uint_rules() -> None:
    assert parse_uint("18446744073709551615") == 2**64 - 1
    assert parse_uint("255", 10, 8) == 255
    with pytest.raises(NumError, match=r'^strconv.ParseUint: parsing "256": value out of range$'):
        parse_uint("256", 10, 8)
    with pytest.raises(
        NumError, match=r'^strconv.ParseUint: parsing "18446744073709551616": value out of range$'
    ):
        parse_uint("18446744073709551616", 10)
    with pytest.raises(NumError, match=r'^strconv.ParseUint: parsing "-1": invalid syntax$'):
        parse_uint("-1", 10)
    with pytest.raises(NumError, match=r'^strconv.ParseUint: parsing "5": invalid bit size 65$'):
        parse_uint("5", 10, 65)


# -- ParseFloat ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5", 1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("-0", -0.0),
        ("1e3", 1000.0),
        ("1_23.50_0_0e+1_2", 1.235e14),
        ("0x1.8p1", 3.0),
        ("0x1p-2", 0.25),
        ("4.9e-324", 5e-324),
        ("1e-400", 0.0),  # underflow rounds to zero without an error
        ("inf", math.inf),
        ("+Inf", math.inf),
        ("-infinity", -math.inf),
        ("INFINITY", math.inf),
    ],
)
def test_parse_float_forms(text: str, expected: float) -> None:
    assert parse_float(text) == expected


def test_parse_float_nan() -> None:
    assert math.isnan(parse_float("NaN"))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1e400", "value out of range"),
        ("-1e400", "value out of range"),
        ("0x1p1024", "value out of range"),
        ("", "invalid syntax"),
        ("1e", "invalid syntax"),
        ("0x1.8", "invalid syntax"),  # hexadecimal needs its p exponent
        ("1__2.0", "invalid syntax"),
        ("+.e1", "invalid syntax"),
        ("+nan", "invalid syntax"),
        ("infin", "invalid syntax"),
        ("1,5", "invalid syntax"),
    ],
)
def test_parse_float_errors(text: str, reason: str) -> None:
    with pytest.raises(NumError) as info:
        parse_float(text)
    assert str(info.value) == f"strconv.ParseFloat: parsing {quote(text)}: {reason}"
