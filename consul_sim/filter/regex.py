"""Go's ``regexp`` for ``matches``: RE2 in linear time, refused with Go's error wording.

bexpr compiles the value of ``matches``/``not matches`` with Go's ``regexp.Compile`` when the
filter is built (``evaluate.go``/``validate.go`` at v0.1.2), so a bad pattern is refused before
any object is looked at: ``Failed to compile regular expression "(": error parsing regexp:
missing closing ): `(```. The search is unanchored (``MatchString``).

Go's engine is linear in the text whatever the pattern; Python's ``re`` backtracks, so ``(a+)+$``
against a few dozen characters stalls the event loop (and every cluster served by it) for
seconds. Matching therefore runs on google-re2, the C++ RE2 that Go's ``regexp`` was ported from:
same syntax, same leftmost-first semantics, same ASCII-only Perl classes, ``$`` as end of text
unless ``(?m)``, the ``U`` (ungreedy) flag, Unicode classes such as ``\\p{Greek}``.

C++ RE2 words its errors differently from Go's ``regexp/syntax`` and accepts a little more, so
``GoRegexp`` first reads the pattern left to right as Go's parser does (``parse.go``, the Go
release Consul 1.16 is built with, before 1.22), raising Go's first error with Go's code and
fragment, and only then hands the pattern to RE2. Where the two differ, Go wins:

* ``(?<name>x)`` - Go before 1.22 refuses it (``invalid or unsupported Perl syntax: `(?<```);
  C++ RE2 accepts it.
* ``\\C`` - C++ RE2 matches any byte; Go refuses it (``invalid escape sequence``).
* ``\\p{Name}`` - each name is looked up in RE2's tables when the parser reaches it (the same
  ``Any``, general categories and scripts Go's ``unicode`` package has), so an unknown name is
  refused with Go's ``invalid character class range`` in Go's left-to-right order.
* A lone surrogate (a raw byte that is not UTF-8) is Go's ``invalid UTF-8`` in a pattern, and
  a U+FFFD in a searched text, as Go decodes it; RE2 would refuse the text outright.
* Nested counted repetitions whose product passes 1000 (``(a{100}){100}``): both refuse; RE2's
  ``invalid repetition size`` is reported as Go's ``invalid repeat count``.
* Program size: RE2 compiles within a memory budget (its default, 8 MiB) and Go within about
  3.3 million instructions; RE2 expands a Unicode class into UTF-8 byte ranges, so ``\\pL{1000}``
  passes Go but not RE2's budget. Such a pattern gets Go's ``expression too large`` wording. The
  budget is kept: raising it lets one filter spend half a second compiling on the event loop,
  the very stall this module exists to prevent.
* Go's parse-tree height limit (``expression nests too deeply``, 1000 levels) is not modelled.
"""

from __future__ import annotations

import re

import re2

from consul_sim.filter.errors import FilterError
from consul_sim.gostd import quote, unhex

__all__ = ["GoRegexp", "RegexpSyntaxError"]


class RegexpSyntaxError(ValueError):
    """A pattern Go's ``regexp.Compile`` refuses; ``str()`` is Go's ``error parsing regexp``."""


class _RegexError(RegexpSyntaxError):
    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{_displayable(expr)}`")


_SURROGATES = re.compile("[\ud800-\udfff]")


def _displayable(text: str) -> str:
    """``text`` with lone surrogates as U+FFFD: Go sends the raw bytes, a text body cannot."""
    return _SURROGATES.sub("\ufffd", text)


_MAX_RUNE = 0x10FFFF

# Names Go accepts in ``[[:name:]]`` (``perl_groups.go`` posixGroup), each also as ``^name``.
_POSIX_CLASSES = frozenset(
    {
        "alnum",
        "alpha",
        "ascii",
        "blank",
        "cntrl",
        "digit",
        "graph",
        "lower",
        "print",
        "punct",
        "space",
        "upper",
        "word",
        "xdigit",
    }
)

_PERL_CLASSES = frozenset("dsw")

# C++ RE2's error codes (``re2/regexp.cc``) as Go's ``regexp/syntax`` words them. The syntax
# check below catches these first; the table only keeps Go's wording if one slips through.
_RE2_CODES = {
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
    "invalid named capture group": "invalid named capture",
}

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern on stderr


def _re2_compile(pattern: str) -> re2._Regexp[str]:
    """RE2's compile of ``pattern``, its refusal reworded as Go's ``*syntax.Error``."""
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as err:
        detail = err.args[0] if err.args else b""
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        if text.startswith("pattern too large"):
            raise _RegexError("expression too large", pattern) from None
        code, _, fragment = text.partition(": ")
        raise _RegexError(_RE2_CODES.get(code, code), fragment) from None


class _GoSyntax:
    """Reads a pattern as Go's ``regexp/syntax`` parser does, raising Go's first error."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.depth = 0
        # Whether the parse stack's top is something a repetition applies to (not ``(``/``|``).
        self.can_repeat = False
        self.last_repeat_start: int | None = None

    def check(self) -> None:
        p = self.p
        while self.i < len(p):
            c = p[self.i]
            start = self.i
            repeat_end = self._repeat_end(start)
            if repeat_end is not None:
                self._repeat(start, repeat_end)
                continue
            self.last_repeat_start = None
            if c == "\\":
                self._escape()
            elif c == "[":
                self._class()
                self.can_repeat = True
            elif c == "(":
                self._open_group()
            elif c == ")":
                if self.depth == 0:
                    raise _RegexError("unexpected )", p)
                self.depth -= 1
                self.can_repeat = True  # the group is what a following repeat applies to
                self.i += 1
            elif c == "|":
                self.can_repeat = False
                self.i += 1
            else:
                self._rune(start)
                self.can_repeat = True
                self.i += 1
        if self.depth:
            raise _RegexError("missing closing )", p)

    def _rune(self, j: int) -> int:
        """The code point at ``j``; a lone surrogate is a byte Go cannot decode."""
        cp = ord(self.p[j])
        if 0xD800 <= cp <= 0xDFFF:
            raise _RegexError("invalid UTF-8", self.p[j:])
        return cp

    def _repeat_end(self, start: int) -> int | None:
        """End of a repetition operator at ``start`` (with its lazy ``?``), or None."""
        p = self.p
        c = p[start]
        if c in "*+?":
            end = start + 1
        elif c == "{":
            m = re.match(r"\{([0-9]+)(,([0-9]*))?\}", p[start:])
            if m is None:
                return None
            numbers = [m.group(1)] + ([m.group(3)] if m.group(3) else [])
            if any(len(n) >= 2 and n[0] == "0" for n in numbers):
                return None  # RE2 reads a leading zero as "not a repeat": a literal ``{``
            end = start + m.end()
            low = int(m.group(1))
            high = low if m.group(2) is None else (int(m.group(3)) if m.group(3) else -1)
            if low > 1000 or high > 1000 or (high >= 0 and low > high):
                raise _RegexError("invalid repeat count", p[start:end])
        else:
            return None
        if end < len(p) and p[end] == "?":
            end += 1
        return end

    def _repeat(self, start: int, end: int) -> None:
        if self.last_repeat_start is not None:
            raise _RegexError(
                "invalid nested repetition operator", self.p[self.last_repeat_start : end]
            )
        if not self.can_repeat:
            raise _RegexError("missing argument to repetition operator", self.p[start:end])
        self.last_repeat_start = start
        self.i = end

    def _open_group(self) -> None:
        p = self.p
        start = self.i
        if not p.startswith("(?", start):
            self._push_group()
            self.i += 1
            return
        t = p[start:]
        if len(t) > 4 and t[2] == "P" and t[3] == "<":
            end = t.find(">")
            if end < 0:
                raise _RegexError("invalid named capture", t)
            name = t[4:end]
            if not name or not all(ch == "_" or (ch.isascii() and ch.isalnum()) for ch in name):
                raise _RegexError("invalid named capture", t[: end + 1])
            self._push_group()
            self.i = start + end + 1
            return
        negate = False
        saw_flag = False
        j = start + 2
        while j < len(p):
            c = p[j]
            j += 1
            if c in "imsU":
                saw_flag = True
            elif c == "-" and not negate:
                negate = True
                saw_flag = False
            elif c in ":)" and (not negate or saw_flag):
                if c == ":":
                    self._push_group()
                # ``(?i)`` alone pushes nothing: a repeat after it applies to what came before
                self.i = j
                return
            else:
                break
        raise _RegexError("invalid or unsupported Perl syntax", p[start:j])

    def _push_group(self) -> None:
        self.depth += 1
        self.can_repeat = False

    def _escape(self) -> None:
        p = self.p
        start = self.i
        if start + 1 >= len(p):
            raise _RegexError("trailing backslash at end of expression", "")
        c = p[start + 1]
        if c == "Q":
            end = p.find(r"\E", start + 2)
            stop = len(p) if end < 0 else end
            for j in range(start + 2, stop):
                self._rune(j)
            # an empty ``\Q\E`` pushes nothing: a repeat after it applies to what came before
            self.can_repeat = self.can_repeat or stop > start + 2
            self.i = len(p) if end < 0 else end + 2
            return
        self.can_repeat = True
        if c in "AbBz":
            self.i = start + 2
            return
        if c == "C":
            raise _RegexError("invalid escape sequence", p[start : start + 2])
        if c in "pP":
            self.i = self._unicode_class(start)
            return
        if c.lower() in _PERL_CLASSES:
            self.i = start + 2
            return
        _cp, self.i = self._single_escape(start)

    def _single_escape(self, start: int) -> tuple[int, int]:
        """Go's ``parseEscape``: the code point of ``\\X`` at ``start`` and the index after it."""
        p = self.p
        if start + 1 >= len(p):
            raise _RegexError("trailing backslash at end of expression", "")
        c = p[start + 1]
        self._rune(start + 1)
        j = start + 2
        if c.isascii() and not c.isalnum():
            return ord(c), j
        if "1" <= c <= "7" and not (j < len(p) and "0" <= p[j] <= "7"):
            raise _RegexError("invalid escape sequence", p[start:j])
        if "0" <= c <= "7":
            value = ord(c) - ord("0")
            for _ in range(2):
                if j < len(p) and "0" <= p[j] <= "7":
                    value = value * 8 + ord(p[j]) - ord("0")
                    j += 1
            return value, j
        if c == "x":
            if j < len(p) and p[j] == "{":
                k = j + 1
                value = 0
                digits = 0
                while k < len(p) and p[k] != "}":
                    d = unhex(p[k])
                    if d < 0:
                        raise _RegexError("invalid escape sequence", p[start : k + 1])
                    value = value * 16 + d
                    if value > _MAX_RUNE:
                        raise _RegexError("invalid escape sequence", p[start : k + 1])
                    digits += 1
                    k += 1
                if k >= len(p) or digits == 0:
                    raise _RegexError("invalid escape sequence", p[start : min(k + 1, len(p))])
                return value, k + 1
            hi = unhex(p[j]) if j < len(p) else -1
            lo = unhex(p[j + 1]) if j + 1 < len(p) else -1
            if hi < 0 or lo < 0:
                raise _RegexError("invalid escape sequence", p[start : min(j + 2, len(p))])
            return hi * 16 + lo, j + 2
        simple = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}
        if c in simple:
            return simple[c], j
        raise _RegexError("invalid escape sequence", p[start:j])

    def _unicode_class(self, start: int) -> int:
        """Go's ``parseUnicodeClass``: the index after ``\\pX``/``\\p{Name}``, name checked."""
        p = self.p
        j = start + 2
        if j < len(p) and p[j] == "{":
            end = p.find("}", j)
            if end < 0:
                raise _RegexError("invalid character class range", p[start:])
            j = end + 1
        elif j < len(p):
            self._rune(j)
            j += 1
        else:
            raise _RegexError("invalid character class range", p[start:])
        fragment = p[start:j]
        if _SURROGATES.search(fragment):
            raise _RegexError("invalid UTF-8", fragment[2:])
        try:
            _re2_compile(fragment)
        except _RegexError:
            raise _RegexError("invalid character class range", fragment) from None
        return j

    def _class(self) -> None:
        p = self.p
        start = self.i
        j = start + 1
        if j < len(p) and p[j] == "^":
            j += 1
        first = True
        while j >= len(p) or p[j] != "]" or first:
            first = False
            if j >= len(p):
                raise _RegexError("missing closing ]", p[start:])
            if p.startswith("[:", j):
                end = p.find(":]", j + 2)
                if end >= 0:
                    name = p[j + 2 : end]
                    if name.removeprefix("^") not in _POSIX_CLASSES:
                        raise _RegexError("invalid character class range", p[j : end + 2])
                    j = end + 2
                    continue
            if p[j] == "\\" and j + 1 < len(p) and p[j + 1] in "pP":
                j = self._unicode_class(j)
                continue
            if p[j] == "\\" and j + 1 < len(p) and p[j + 1].lower() in _PERL_CLASSES:
                j += 2
                continue
            range_start = j
            lo, j = self._class_char(j, start)
            if j + 1 < len(p) and p[j] == "-" and p[j + 1] != "]":
                hi, j = self._class_char(j + 1, start)
                if hi < lo:
                    raise _RegexError("invalid character class range", p[range_start:j])
        self.i = j + 1

    def _class_char(self, j: int, class_start: int) -> tuple[int, int]:
        p = self.p
        if j >= len(p):
            raise _RegexError("missing closing ]", p[class_start:])
        if p[j] == "\\":
            return self._single_escape(j)
        return self._rune(j), j + 1


class GoRegexp:
    """A pattern Go's ``regexp.Compile`` accepts, searched by RE2 in time linear in the text."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        """Compile ``pattern``; raise RegexpSyntaxError with Go's text when Go would refuse it."""
        self.pattern = pattern
        _GoSyntax(pattern).check()
        self._compiled = _re2_compile(pattern)

    @classmethod
    def for_filter(cls, pattern: str) -> GoRegexp:
        """As bexpr compiles a ``matches`` operand: a refusal is a FilterError in its words."""
        try:
            return cls(pattern)
        except RegexpSyntaxError as err:
            raise FilterError(
                f"Failed to compile regular expression {quote(pattern)}: {err}"
            ) from None

    def __repr__(self) -> str:
        return f"GoRegexp({self.pattern!r})"

    def submatches(self, text: str) -> list[str] | None:
        """Go's ``FindStringSubmatch``: the leftmost match and its groups ("" for a group that
        took no part), or None."""
        try:
            found = self._compiled.search(text)
        except UnicodeEncodeError:
            found = self._compiled.search(_displayable(text))
        if found is None:
            return None
        return [found.group(0) or "", *(g or "" for g in found.groups())]

    def found(self, text: str) -> bool:
        """Go's ``MatchString``: whether the pattern matches anywhere in ``text``."""
        try:
            return self._compiled.search(text) is not None
        except UnicodeEncodeError:
            # Go reads each byte that is not UTF-8 as U+FFFD; RE2 cannot take the surrogate.
            return self._compiled.search(_displayable(text)) is not None
