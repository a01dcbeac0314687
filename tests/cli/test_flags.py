"""Go's flag package as Consul's commands use it: consul_sim.cli.flags."""

from __future__ import annotations

import io

import pytest

from consul_sim.cli.flags import (
    AppendSlice,
    FlagError,
    FlagHelp,
    FlagSet,
    MapValue,
    OptBool,
    OptString,
    consul_usage,
    wrap_text,
)


def make() -> tuple[FlagSet, dict[str, object]]:
    fs = FlagSet()
    values: dict[str, object] = {
        "name": fs.string("name", "", "the `name` to use"),
        "recurse": fs.boolean("recurse", False, "recurse into prefixes"),
        "port": fs.integer("port", 0, "a port"),
        "index": fs.uint("modify-index", 0, "an index"),
        "tag": fs.var(AppendSlice(), "tag", "a tag; repeatable"),
        "meta": fs.var(MapValue(), "meta", "key=value; repeatable"),
    }
    return fs, values


def parse(args: list[str]) -> tuple[FlagSet, list[str], str]:
    fs, _ = make()
    err = io.StringIO()
    rest = fs.parse(args, err)
    return fs, rest, err.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ["-name", "web", "pos"],
        ["-name=web", "pos"],
        ["--name", "web", "pos"],
        ["--name=web", "pos"],
    ],
)
def test_single_and_double_dash_with_space_or_equals_set_the_same_value(args: list[str]) -> None:
    fs, rest, err = parse(args)
    assert fs.formal["name"].value.string() == "web"
    assert rest == ["pos"]
    assert err == ""


def test_boolean_flag_takes_no_argument_and_accepts_explicit_value_after_equals() -> None:
    fs, rest, _ = parse(["-recurse", "false"])
    assert fs.formal["recurse"].value.string() == "true"
    assert rest == ["false"]
    fs, rest, _ = parse(["-recurse=false", "x"])
    assert fs.formal["recurse"].value.string() == "false"
    assert rest == ["x"]
    fs, _, _ = parse(["--recurse=T"])
    assert fs.formal["recurse"].value.string() == "true"


def test_parsing_stops_at_the_first_positional_argument() -> None:
    fs, rest, _ = parse(["key", "-recurse"])
    assert rest == ["key", "-recurse"]
    assert fs.formal["recurse"].value.string() == "false"
    assert not fs.is_set("recurse")


def test_double_dash_ends_flags_and_is_consumed_while_single_dash_is_an_argument() -> None:
    _, rest, _ = parse(["-recurse", "--", "-name", "x"])
    assert rest == ["-name", "x"]
    _, rest, _ = parse(["-recurse", "-", "-name"])
    assert rest == ["-", "-name"]


def test_a_value_flag_takes_the_next_argument_even_when_it_starts_with_a_dash() -> None:
    fs, rest, _ = parse(["-name", "-recurse"])
    assert fs.formal["name"].value.string() == "-recurse"
    assert rest == []


def test_repeatable_flags_accumulate_tags_and_meta() -> None:
    fs, values = make()
    fs.parse(
        ["-tag", "a", "-tag=b", "-meta", "k=v", "-meta", "x=1=2", "-meta", "k=w"], io.StringIO()
    )
    tag = values["tag"]
    meta = values["meta"]
    assert isinstance(tag, AppendSlice) and tag.value == ["a", "b"]
    assert isinstance(meta, MapValue) and meta.value == {"k": "w", "x": "1=2"}


def test_unknown_flag_prints_gos_message_and_usage_then_fails() -> None:
    fs, _ = make()
    err = io.StringIO()
    with pytest.raises(FlagError):
        fs.parse(["-x", "key"], err)
    assert err.getvalue() == (
        "flag provided but not defined: -x\n"
        "Usage:\n"
        "  -meta value\n"
        "    \tkey=value; repeatable\n"
        "  -modify-index uint\n"
        "    \tan index\n"
        "  -name name\n"
        "    \tthe name to use\n"
        "  -port int\n"
        "    \ta port\n"
        "  -recurse\n"
        "    \trecurse into prefixes\n"
        "  -tag value\n"
        "    \ta tag; repeatable\n"
    )


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["-name"], "flag needs an argument: -name"),
        (["-port", "eighty"], 'invalid value "eighty" for flag -port: parse error'),
        (
            ["-port=99999999999999999999"],
            'invalid value "99999999999999999999" for flag -port: value out of range',
        ),
        (["-modify-index", "-1"], 'invalid value "-1" for flag -modify-index: parse error'),
        (["-recurse=maybe"], 'invalid boolean value "maybe" for -recurse: parse error'),
        (
            ["-meta", "novalue"],
            'invalid value "novalue" for flag -meta: Missing "=" value in argument: novalue',
        ),
        (["---name"], "bad flag syntax: ---name"),
        (["-=x"], "bad flag syntax: -=x"),
    ],
)
def test_bad_flags_report_gos_sentence_first(args: list[str], first_line: str) -> None:
    fs, _ = make()
    err = io.StringIO()
    with pytest.raises(FlagError):
        fs.parse(args, err)
    lines = err.getvalue().splitlines()
    assert lines[0] == first_line
    assert lines[1] == "Usage:"


def test_undefined_help_flag_prints_usage_without_an_error_line() -> None:
    fs, _ = make()
    err = io.StringIO()
    with pytest.raises(FlagHelp):
        fs.parse(["--h"], err)
    assert err.getvalue().startswith("Usage:\n  -meta value\n")


def test_consul_bool_value_reports_strconv_error_and_knows_it_was_set() -> None:
    fs = FlagSet()
    stale = fs.var(OptBool(), "stale", "stale reads")
    token = fs.var(OptString(), "token", "a token")
    err = io.StringIO()
    with pytest.raises(FlagError):
        fs.parse(["-stale=perhaps"], err)
    assert err.getvalue().splitlines()[0] == (
        'invalid boolean value "perhaps" for -stale: strconv.ParseBool: parsing "perhaps": '
        "invalid syntax"
    )
    fs.parse(["-token="], io.StringIO())
    assert token.is_set and token.value == ""
    assert not stale.is_set


def test_print_defaults_puts_one_letter_bools_inline_and_quotes_string_defaults() -> None:
    fs = FlagSet()
    fs.boolean("v", False, "verbose")
    fs.string("separator", "/", "the separator")
    fs.uint("flags", 7, "flags")
    out = io.StringIO()
    fs.print_defaults(out)
    assert out.getvalue() == (
        "  -flags uint\n"
        "    \tflags (default 7)\n"
        "  -separator string\n"
        '    \tthe separator (default "/")\n'
        "  -v\tverbose\n"
    )


def test_wrap_minimises_raggedness_rather_than_filling_greedily() -> None:
    # Greedy filling would give "aaa bb" / "cc" / "ddddd"; kr/text prefers even lines.
    assert wrap_text("aaa bb cc ddddd", 6) == "aaa\nbb cc\nddddd"
    assert wrap_text("short text", 72) == "short text"


def test_consul_usage_groups_http_flags_before_command_flags() -> None:
    fs = FlagSet()
    fs.boolean("recurse", False, "Recurse.")
    fs.var(OptString(), "http-addr", "The `address` of the agent.")
    fs.var(OptString(), "namespace", "Falls back to the `default` namespace.")
    assert consul_usage("\nUsage: consul-sim thing [options]\n\n  Does a thing.\n", fs) == (
        "Usage: consul-sim thing [options]\n"
        "\n"
        "  Does a thing.\n"
        "\n"
        "HTTP API Options\n"
        "\n"
        "  -http-addr=<address>\n"
        "     The `address` of the agent.\n"
        "\n"
        "Command Options\n"
        "\n"
        "  -namespace=<default>\n"
        "     Falls back to the `default` namespace.\n"
        "\n"
        "  -recurse\n"
        "     Recurse."
    )
