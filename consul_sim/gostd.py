"""Go's text conventions that Consul's answers carry, in one leaf.

Consul's error sentences are Go's: a name is quoted with ``%q`` (``strconv.Quote``), a bad number
or boolean is reported through ``*strconv.NumError`` (``strconv.ParseInt: parsing "x": invalid
syntax``), a filter's string literal is read with ``strconv.Unquote``. Reproducing each of these
once here keeps every caller's text identical; each function cites the Go source file whose
behaviour it follows (Go's standard library, ``src/strconv/`` and ``src/encoding/json/``),
re-implemented in our own words.

Strings are Python ``str``; a byte that is not valid UTF-8 travels as a ``surrogateescape``
code point (U+DC80..U+DCFF), the way Python decodes such bytes.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = [
    "ERR_RANGE",
    "ERR_SYNTAX",
    "NumError",
    "json_float",
    "UnquoteError",
    "json_quote_char",
    "parse_bool",
    "parse_float",
    "parse_int",
    "parse_uint",
    "quote",
    "unhex",
    "unquote",
]

ERR_SYNTAX = "invalid syntax"
ERR_RANGE = "value out of range"


class NumError(ValueError):
    """Go's ``*strconv.NumError`` (``strconv/atoi.go``): ``str()`` is Go's ``Error()`` text.

    ``func`` is the failing function (``ParseInt``, ``ParseBool``...), ``num`` the input, ``err``
    the reason: :data:`ERR_SYNTAX`, :data:`ERR_RANGE` or Go's ``invalid base``/``invalid bit
    size`` sentence.
    """

    def __init__(self, func: str, num: str, err: str) -> None:
        super().__init__(f"strconv.{func}: parsing {quote(num)}: {err}")
        self.func = func
        self.num = num
        self.err = err


class UnquoteError(ValueError):
    """Go's ``strconv.ErrSyntax`` as ``Unquote`` returns it."""

    def __init__(self) -> None:
        super().__init__(ERR_SYNTAX)


# -- strconv/quote.go ----------------------------------------------------------------------------

_C_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def quote(s: str) -> str:
    """Go's ``strconv.Quote`` (also ``%q``), after ``strconv/quote.go`` ``appendQuotedWith``.

    Printable runes stay as they are, ``"`` and ``\\`` are escaped, the C escapes are used where
    Go has them, other control bytes become ``\\xNN``, other unprintable runes ``\\uNNNN`` or
    ``\\UNNNNNNNN``. A raw byte (a ``surrogateescape`` code point) is Go's invalid UTF-8 byte,
    ``\\xNN``; any other lone surrogate is not a valid rune and becomes ``\\ufffd``.
    """
    out = ['"']
    for ch in s:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _C_ESCAPES:
            out.append(_C_ESCAPES[ch])
        elif 0xDC80 <= cp <= 0xDCFF:  # a raw byte smuggled through surrogateescape
            out.append(f"\\x{cp - 0xDC00:02x}")
        elif 0xD800 <= cp <= 0xDFFF:
            out.append("\\ufffd")
        elif ch.isprintable():
            out.append(ch)
        elif cp < 0x20 or cp == 0x7F:
            out.append(f"\\x{cp:02x}")
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


def json_quote_char(ch: str) -> str:
    """encoding/json's ``quoteChar`` (``encoding/json/scanner.go``) for ``invalid character``.

    Go's scanner works on bytes, so a multi-byte character is named by its first UTF-8 byte read
    as a rune (``é`` shows as ``'Ã'``); ``'`` and ``"`` have their own spellings, everything else
    is ``strconv.Quote`` of that one rune between single quotes.
    """
    byte = ch.encode("utf-8", "surrogateescape")[0]
    if byte == ord("'"):
        return "'\\''"
    if byte == ord('"'):
        return "'\"'"
    return "'" + quote(chr(byte))[1:-1] + "'"


def unhex(c: str) -> int:
    """The value of one hex digit, -1 for anything else (``unhex`` in ``strconv/quote.go``; RE2's
    parser in ``regexp/syntax/parse.go`` reads ``\\x`` escapes with the same rule)."""
    if "0" <= c <= "9":
        return ord(c) - ord("0")
    if "a" <= c <= "f":
        return ord(c) - ord("a") + 10
    if "A" <= c <= "F":
        return ord(c) - ord("A") + 10
    return -1


_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
_HEX_WIDTH = {"x": 2, "u": 4, "U": 8}


def unquote(text: str) -> str:
    """Go's ``strconv.Unquote`` for a backtick- or double-quoted literal (``strconv/quote.go``).

    A raw string drops its carriage returns; a double-quoted one takes Go's escapes (``\\x`` and
    octal give bytes, ``\\u``/``\\U`` runes). Raises :class:`UnquoteError` where Go returns
    ``ErrSyntax``. Single-quoted rune literals are not needed here and are refused.
    """
    if text.startswith("`"):
        if len(text) < 2 or not text.endswith("`") or "`" in text[1:-1]:
            raise UnquoteError
        return text[1:-1].replace("\r", "")
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise UnquoteError
    body = text[1:-1]
    if "\\" not in body and "\n" not in body and '"' not in body:
        return body
    buf = bytearray()
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c == "\n" or c == '"':
            raise UnquoteError
        if c != "\\":
            buf += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        if i + 1 >= n:
            raise UnquoteError
        e = body[i + 1]
        i += 2
        if e in _SIMPLE_ESCAPES:
            buf.append(_SIMPLE_ESCAPES[e])
        elif e in _HEX_WIDTH:
            width = _HEX_WIDTH[e]
            digits = body[i : i + width]
            if len(digits) < width or any(unhex(d) < 0 for d in digits):
                raise UnquoteError
            value = int(digits, 16)
            i += width
            if e == "x":
                buf.append(value)
            else:
                if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                    raise UnquoteError
                buf += chr(value).encode("utf-8")
        elif "0" <= e <= "7":
            digits = body[i : i + 2]
            if len(digits) < 2 or any(not ("0" <= d <= "7") for d in digits):
                raise UnquoteError
            value = int(e + digits, 8)
            i += 2
            if value > 255:
                raise UnquoteError
            buf.append(value)
        else:
            raise UnquoteError
    return buf.decode("utf-8", "surrogateescape")


# -- strconv/atob.go -----------------------------------------------------------------------------

_BOOL_WORDS = {
    "1": True,
    "t": True,
    "T": True,
    "TRUE": True,
    "true": True,
    "True": True,
    "0": False,
    "f": False,
    "F": False,
    "FALSE": False,
    "false": False,
    "False": False,
}


def parse_bool(s: str) -> bool:
    """Go's ``strconv.ParseBool`` (``strconv/atob.go``): exactly twelve spellings, else NumError."""
    try:
        return _BOOL_WORDS[s]
    except KeyError:
        raise NumError("ParseBool", s, ERR_SYNTAX) from None


# -- strconv/atoi.go -----------------------------------------------------------------------------


def _underscore_ok(s: str) -> bool:
    """Go's ``underscoreOK``: ``_`` only between digits, a base prefix counting as a digit."""
    saw = "^"
    i = 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in ("b", "o", "x"):
        i = 2
        saw = "0"
        hexa = s[1].lower() == "x"
    while i < len(s):
        c = s[i]
        if "0" <= c <= "9" or (hexa and c in "abcdefABCDEF"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def _check_bit_size(func: str, s: str, bit_size: int) -> int:
    if bit_size == 0:
        return 64  # Go's IntSize on the 64-bit platforms Consul ships for
    if not 1 <= bit_size <= 64:
        raise NumError(func, s, f"invalid bit size {bit_size}")
    return bit_size


def parse_uint(s: str, base: int = 0, bit_size: int = 64) -> int:
    """Go's ``strconv.ParseUint`` (``strconv/atoi.go``).

    Base 0 reads Go's prefixes (``0x``, ``0o``, ``0b``, a bare leading ``0`` for octal) and
    allows ``_`` between digits; any other base from 2 to 36 takes plain digits only. A value
    past ``bit_size`` bits is a range error, reported as soon as the digits overflow.
    """
    func = "ParseUint"
    if s == "":
        raise NumError(func, s, ERR_SYNTAX)
    base0 = base == 0
    digits = s
    if base0:
        base = 10
        if s[0] == "0":
            marker = s[1:2].lower()
            if len(s) >= 3 and marker in ("b", "o", "x"):
                base, digits = {"b": 2, "o": 8, "x": 16}[marker], s[2:]
            else:
                base, digits = 8, s[1:]
    elif not 2 <= base <= 36:
        raise NumError(func, s, f"invalid base {base}")
    limit = 1 << _check_bit_size(func, s, bit_size)
    underscores = False
    n = 0
    for c in digits:
        if c == "_" and base0:
            underscores = True
            continue
        if "0" <= c <= "9":
            d = ord(c) - ord("0")
        elif c.isascii() and "a" <= c.lower() <= "z":
            d = ord(c.lower()) - ord("a") + 10
        else:
            raise NumError(func, s, ERR_SYNTAX)
        if d >= base:
            raise NumError(func, s, ERR_SYNTAX)
        n = n * base + d
        if n >= limit:
            raise NumError(func, s, ERR_RANGE)
    if underscores and not _underscore_ok(s):
        raise NumError(func, s, ERR_SYNTAX)
    return n


def parse_int(s: str, base: int = 0, bit_size: int = 64) -> int:
    """Go's ``strconv.ParseInt`` (``strconv/atoi.go``): an optional sign, then ``ParseUint``.

    Errors name ``ParseInt`` and the whole input, sign included.
    """
    func = "ParseInt"
    if s == "":
        raise NumError(func, s, ERR_SYNTAX)
    body, neg = s, False
    if s[0] in "+-":
        body, neg = s[1:], s[0] == "-"
    try:
        magnitude = parse_uint(body, base, bit_size)
    except NumError as exc:
        if exc.err != ERR_RANGE:
            raise NumError(func, s, exc.err) from None
        magnitude = 1 << 64
    bits = bit_size or 64
    cutoff = 1 << (bits - 1)
    if (not neg and magnitude >= cutoff) or (neg and magnitude > cutoff):
        raise NumError(func, s, ERR_RANGE)
    return -magnitude if neg else magnitude


# -- strconv/atof.go -----------------------------------------------------------------------------

_DEC = r"[0-9](?:_?[0-9])*"
_HEX = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
_DEC_FLOAT = re.compile(
    rf"[+-]?(?:{_DEC}(?:\.(?:{_DEC})?)?|\.{_DEC})(?:[eE][+-]?{_DEC})?", re.ASCII
)
_HEX_FLOAT = re.compile(
    rf"([+-]?)0[xX](_?(?:{_HEX})?(?:\.(?:{_HEX})?)?)[pP]([+-]?{_DEC})", re.ASCII
)


def parse_float(s: str) -> float:
    """Go's ``strconv.ParseFloat(s, 64)`` (``strconv/atof.go``).

    Decimal and hexadecimal (``p`` exponent required) forms with ``_`` separators, and the
    case-insensitive words ``inf``/``infinity`` (optionally signed) and ``nan``. A finite literal
    too large for a float64 is a range error.
    """
    func = "ParseFloat"
    low = s.lower()
    if low in ("inf", "+inf", "infinity", "+infinity"):
        return float("inf")
    if low in ("-inf", "-infinity"):
        return float("-inf")
    if low == "nan":
        return float("nan")
    hexm = _HEX_FLOAT.fullmatch(s)
    if hexm is not None:
        mantissa = hexm.group(2).replace("_", "")
        if mantissa.strip(".") == "":
            raise NumError(func, s, ERR_SYNTAX)
        try:
            return float.fromhex(f"{hexm.group(1)}0x{mantissa}p{hexm.group(3).replace('_', '')}")
        except OverflowError:
            raise NumError(func, s, ERR_RANGE) from None
    if _DEC_FLOAT.fullmatch(s) is None:
        raise NumError(func, s, ERR_SYNTAX)
    value = float(s.replace("_", ""))
    if value in (float("inf"), float("-inf")):
        raise NumError(func, s, ERR_RANGE)
    return value


def json_float(value: float) -> str:
    """A float64 as Go's ``encoding/json`` writes it (``floatEncoder`` in ``encode.go``): the
    shortest digits that read back the same, in plain notation when ``1e-6 <= |x| < 1e21``
    (``1e-05`` is ``0.00001``, ``2.0`` is ``2``), otherwise in exponent form with a negative
    exponent's leading zero dropped (``1e-07`` is ``1e-7``). NaN and infinities are not JSON."""
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    if 1e-6 <= abs(value) < 1e21:
        return format(Decimal(repr(value)).normalize(), "f")
    text = repr(value)
    if len(text) >= 4 and text[-4:-1] == "e-0":
        text = text[:-2] + text[-1]
    return text
