"""Go's ``flag`` package as Consul's commands use it, plus Consul's ``command/flags`` helpers.

argparse and click disagree with Go on exactly the things a Consul user notices: Go takes
``-name`` and ``--name`` alike, stops at the first non-flag argument (``--`` ends flags and is
consumed, a lone ``-`` is an argument), lets a boolean take a value only as ``-b=false``, and on a
bad flag prints ``flag provided but not defined: -x`` followed by ``Usage:`` and the flag list on
stderr. ``FlagSet.parse`` reproduces that, error sentences included; ``consul_usage`` renders the
``-h`` text the way ``command/flags/usage.go`` does (``HTTP API Options`` / ``Command Options``,
wrapped at 72 columns with ``kr/text``'s minimum-raggedness algorithm).

Values mirror Go's: the standard types (bool, string, int, uint, duration) report ``parse
error`` / ``value out of range``; Consul's set-aware values (``OptString``, ``OptBool``) know
whether the user gave them, so an environment default is only overridden by an explicit flag.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, NoReturn, TextIO, TypeVar

from consul_sim.durations import DurationError, format_duration, parse_duration
from consul_sim.gostd import ERR_SYNTAX, NumError, parse_bool, parse_int, parse_uint
from consul_sim.gostd import quote as go_quote

__all__ = [
    "AppendSlice",
    "Bool",
    "Duration",
    "FlagError",
    "FlagHelp",
    "FlagSet",
    "HTTP_OPTION_NAMES",
    "Int",
    "MapValue",
    "OptBool",
    "OptString",
    "String",
    "Uint",
    "Value",
    "consul_usage",
    "wrap_text",
]

_ERR_PARSE = "parse error"
_ERR_RANGE = "value out of range"


class FlagError(Exception):
    """Parsing stopped; the message and usage were already written to the flag set's output."""


class FlagHelp(FlagError):
    """``-h``/``-help`` reached a flag set that does not define them (Go's ``ErrHelp``)."""


# -- flag values ----------------------------------------------------------------------------------


class Value:
    """One flag's value, with the Go type facts PrintDefaults and the parser need."""

    #: The placeholder Go's UnquoteUsage guesses from the type ("" for boolean flags).
    type_name: ClassVar[str] = "value"
    is_bool: ClassVar[bool] = False
    #: Only Go's own *stringValue quotes its default in PrintDefaults.
    quote_default: ClassVar[bool] = False

    def set(self, text: str) -> None:
        raise NotImplementedError

    def string(self) -> str:
        raise NotImplementedError

    def zero_string(self) -> str:
        """``String()`` of a fresh zero value of this type (Go's isZeroValue)."""
        return type(self)().string()


class Bool(Value):
    """Go's BoolVar."""

    type_name = ""
    is_bool = True

    def __init__(self, default: bool = False) -> None:
        self.value = default

    def set(self, text: str) -> None:
        try:
            self.value = parse_bool(text)
        except NumError:
            raise ValueError(_ERR_PARSE) from None

    def string(self) -> str:
        return "true" if self.value else "false"


class String(Value):
    """Go's StringVar."""

    type_name = "string"
    quote_default = True

    def __init__(self, default: str = "") -> None:
        self.value = default

    def set(self, text: str) -> None:
        self.value = text

    def string(self) -> str:
        return self.value


class Int(Value):
    """Go's IntVar (64-bit); ``Uint`` is its unsigned twin. Go's flag package reports a
    ParseInt failure as ``parse error`` or ``value out of range``."""

    type_name = "int"
    signed: ClassVar[bool] = True

    def __init__(self, default: int = 0) -> None:
        self.value = default

    def set(self, text: str) -> None:
        try:
            self.value = parse_int(text) if self.signed else parse_uint(text)
        except NumError as exc:
            raise ValueError(_ERR_PARSE if exc.err == ERR_SYNTAX else _ERR_RANGE) from None

    def string(self) -> str:
        return str(self.value)


class Uint(Int):
    """Go's Uint64Var."""

    type_name = "uint"
    signed = False


class Duration(Value):
    """Go's DurationVar; ``value`` is in seconds."""

    type_name = "duration"

    def __init__(self, default: float = 0.0) -> None:
        self.value = default

    def set(self, text: str) -> None:
        try:
            self.value = parse_duration(text)
        except DurationError:
            raise ValueError(_ERR_PARSE) from None

    def string(self) -> str:
        return format_duration(self.value)


class OptString(Value):
    """Consul's ``flags.StringValue``: empty until set, and it knows whether it was set."""

    def __init__(self) -> None:
        self.value: str | None = None

    @property
    def is_set(self) -> bool:
        return self.value is not None

    def set(self, text: str) -> None:
        self.value = text

    def string(self) -> str:
        return self.value or ""


class OptBool(Value):
    """Consul's ``flags.BoolValue``: a boolean flag whose errors are strconv's own."""

    type_name = ""
    is_bool = True

    def __init__(self) -> None:
        self.value: bool | None = None

    @property
    def is_set(self) -> bool:
        return self.value is not None

    def set(self, text: str) -> None:
        self.value = parse_bool(text)

    def string(self) -> str:
        return "true" if self.value else "false"


class AppendSlice(Value):
    """Consul's ``flags.AppendSliceValue``: every use appends (``-tag a -tag b``)."""

    def __init__(self) -> None:
        self.value: list[str] = []

    def set(self, text: str) -> None:
        self.value.append(text)

    def string(self) -> str:
        return ",".join(self.value)


class MapValue(Value):
    """Consul's ``flags.FlagMapValue``: ``-meta k=v``, repeatable, later keys win."""

    def __init__(self) -> None:
        self.value: dict[str, str] = {}

    def set(self, text: str) -> None:
        key, sep, val = text.partition("=")
        if not sep:
            raise ValueError(f'Missing "=" value in argument: {text}')
        self.value[key] = val

    def string(self) -> str:
        inner = " ".join(f"{k}:{self.value[k]}" for k in sorted(self.value))
        return f"map[{inner}]"


V = TypeVar("V", bound=Value)


class Flag:
    __slots__ = ("name", "usage", "value", "default")

    def __init__(self, name: str, usage: str, value: Value) -> None:
        self.name = name
        self.usage = usage
        self.value = value
        self.default = value.string()


# -- the flag set ---------------------------------------------------------------------------------


class FlagSet:
    """Go's ``flag.FlagSet`` with ``ContinueOnError``: ``parse`` raises after printing."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.formal: dict[str, Flag] = {}
        self.actual: set[str] = set()
        self.args: list[str] = []

    # definition
    def var(self, value: V, name: str, usage: str) -> V:
        if name.startswith("-") or "=" in name:
            raise ValueError(f"flag {name!r} begins with - or contains =")
        if name in self.formal:
            raise ValueError(f"flag redefined: {name}")
        self.formal[name] = Flag(name, usage, value)
        return value

    def boolean(self, name: str, default: bool, usage: str) -> Bool:
        return self.var(Bool(default), name, usage)

    def string(self, name: str, default: str, usage: str) -> String:
        return self.var(String(default), name, usage)

    def integer(self, name: str, default: int, usage: str) -> Int:
        return self.var(Int(default), name, usage)

    def uint(self, name: str, default: int, usage: str) -> Uint:
        return self.var(Uint(default), name, usage)

    def duration(self, name: str, default: float, usage: str) -> Duration:
        return self.var(Duration(default), name, usage)

    def visit_all(self) -> Iterator[Flag]:
        """Every defined flag, in lexicographical order, as Go visits them."""
        for name in sorted(self.formal):
            yield self.formal[name]

    def is_set(self, name: str) -> bool:
        return name in self.actual

    # parsing
    def parse(self, arguments: list[str], output: TextIO) -> list[str]:
        """Consume flags from the front of ``arguments``; return the positional rest."""
        self.args = list(arguments)
        while self._parse_one(output):
            pass
        return self.args

    def _parse_one(self, output: TextIO) -> bool:
        if not self.args:
            return False
        s = self.args[0]
        if len(s) < 2 or s[0] != "-":
            return False
        minuses = 1
        if s[1] == "-":
            minuses = 2
            if len(s) == 2:  # "--" ends the flags and is consumed
                self.args = self.args[1:]
                return False
        name = s[minuses:]
        if not name or name[0] in "-=":
            self._fail(output, f"bad flag syntax: {s}")
        self.args = self.args[1:]
        has_value = False
        value = ""
        eq = name.find("=", 1)
        if eq != -1:
            name, value, has_value = name[:eq], name[eq + 1 :], True
        flag = self.formal.get(name)
        if flag is None:
            if name in ("help", "h"):
                self.usage(output)
                raise FlagHelp("flag: help requested")
            self._fail(output, f"flag provided but not defined: -{name}")
        if flag.value.is_bool:
            text = value if has_value else "true"
            try:
                flag.value.set(text)
            except ValueError as exc:
                if has_value:
                    self._fail(
                        output, f"invalid boolean value {go_quote(value)} for -{name}: {exc}"
                    )
                self._fail(output, f"invalid boolean flag {name}: {exc}")
        else:
            if not has_value and self.args:
                value, self.args, has_value = self.args[0], self.args[1:], True
            if not has_value:
                self._fail(output, f"flag needs an argument: -{name}")
            try:
                flag.value.set(value)
            except ValueError as exc:
                self._fail(output, f"invalid value {go_quote(value)} for flag -{name}: {exc}")
        self.actual.add(name)
        return True

    def _fail(self, output: TextIO, message: str) -> NoReturn:
        output.write(message + "\n")
        self.usage(output)
        raise FlagError(message)

    # usage
    def usage(self, output: TextIO) -> None:
        """Go's defaultUsage: ``Usage:`` (or ``Usage of NAME:``) then PrintDefaults."""
        output.write("Usage:\n" if not self.name else f"Usage of {self.name}:\n")
        self.print_defaults(output)

    def print_defaults(self, output: TextIO) -> None:
        for flag in self.visit_all():
            line = f"  -{flag.name}"
            name, usage = unquote_usage(flag)
            if name:
                line += " " + name
            line += "\t" if len(line) <= 4 else "\n    \t"
            line += usage.replace("\n", "\n    \t")
            if flag.default != flag.value.zero_string():
                if flag.value.quote_default:
                    line += f" (default {go_quote(flag.default)})"
                else:
                    line += f" (default {flag.default})"
            output.write(line + "\n")


def unquote_usage(flag: Flag) -> tuple[str, str]:
    """Go's UnquoteUsage: a back-quoted word names the argument, else the type does."""
    usage = flag.usage
    start = usage.find("`")
    if start != -1:
        end = usage.find("`", start + 1)
        if end != -1:
            name = usage[start + 1 : end]
            return name, usage[:start] + name + usage[end + 1 :]
    return flag.value.type_name, usage


# -- Consul's help text ---------------------------------------------------------------------------

#: The flags ``command/flags/usage.go`` lists under "HTTP API Options" (Client + Server flags).
HTTP_OPTION_NAMES = frozenset(
    {
        "http-addr",
        "token",
        "token-file",
        "ca-file",
        "ca-path",
        "client-cert",
        "client-key",
        "tls-server-name",
        "datacenter",
        "stale",
    }
)

_MAX_LINE = 72


def consul_usage(text: str, flags: FlagSet | None) -> str:
    """A command's ``Help()``: its text, then its flags grouped as Consul groups them."""
    out = [text.strip(), "\n\n"]
    if flags is not None:
        http = [f for f in flags.visit_all() if f.name in HTTP_OPTION_NAMES]
        cmd = [f for f in flags.visit_all() if f.name not in HTTP_OPTION_NAMES]
        for title, group in (("HTTP API Options", http), ("Command Options", cmd)):
            if not group:
                continue
            out.append(f"{title}\n\n")
            for flag in group:
                example, _ = unquote_usage(flag)
                out.append(f"  -{flag.name}=<{example}>\n" if example else f"  -{flag.name}\n")
                out.append(_indent(wrap_text(flag.usage, _MAX_LINE - 5), 5) + "\n\n")
    return "".join(out).rstrip("\n")


def _indent(text: str, pad: int) -> str:
    return "\n".join(" " * pad + line for line in text.split("\n"))


def wrap_text(text: str, limit: int) -> str:
    """kr/text.Wrap: minimum raggedness, too-long lines penalised, words split on single spaces."""
    words = text.strip().replace("\n", " ").split(" ")
    n = len(words)
    penalty = 100_000
    widths = [len(w) for w in words]
    # length[i][j]: width of words i..j joined by single spaces
    cost = [0] * n
    brk = [0] * n
    for i in range(n - 1, -1, -1):
        line = widths[i]
        for k in range(i + 1, n):
            line += 1 + widths[k]
        if line <= limit or i == n - 1:
            cost[i] = 0
            brk[i] = n
            continue
        best = 2**31 - 1
        length = widths[i]
        for j in range(i + 1, n):
            # the line holds words i..j-1
            d = limit - length
            c = d * d + cost[j]
            if length > limit:
                c += penalty
            if c < best:
                best = c
                brk[i] = j
            length += 1 + widths[j]
        cost[i] = best
    lines = []
    i = 0
    while i < n:
        lines.append(" ".join(words[i : brk[i]]))
        i = brk[i]
    return "\n".join(lines)
