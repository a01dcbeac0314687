"""RE2 patterns (Go's ``regexp``) translated to Python ``re``, with Go's error wording.

bexpr compiles the value of ``matches``/``not matches`` with Go's ``regexp.Compile`` when the
filter is built (``evaluate.go``/``validate.go`` at v0.1.2), so a bad pattern is refused before
any object is looked at: ``Failed to compile regular expression "(": error parsing regexp:
missing closing ): `(```. The search is unanchored.

This module reads the pattern left to right as RE2's parser does (``regexp/syntax/parse.go``),
reporting the common RE2 syntax errors with Go's codes and fragments (``missing closing )``,
``invalid nested repetition operator``, ``invalid escape sequence``, ``invalid repeat count``...),
and emits an equivalent Python pattern: RE2's ASCII-only Perl classes, POSIX classes, ``$`` as end
of text unless ``(?m)``, flag groups scoped like RE2's. Unicode classes other than ``\\pL`` and
``\\pN`` and the ``U`` (ungreedy) flag are not supported and say so in the error text.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence

from consul_sim.filter.errors import FilterError
from consul_sim.gostd import quote, unhex

__all__ = ["compile_go_regex"]


class _RegexError(Exception):
    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")


class _RegexUnsupported(Exception):
    pass


_MAX_RUNE = 0x10FFFF

_POSIX_CLASSES: dict[str, tuple[tuple[int, int], ...]] = {
    "alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    "alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "ascii": ((0x00, 0x7F),),
    "blank": ((0x09, 0x09), (0x20, 0x20)),
    "cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    "digit": ((0x30, 0x39),),
    "graph": ((0x21, 0x7E),),
    "lower": ((0x61, 0x7A),),
    "print": ((0x20, 0x7E),),
    "punct": ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)),
    "space": ((0x09, 0x0D), (0x20, 0x20)),
    "upper": ((0x41, 0x5A),),
    "word": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A), (0x5F, 0x5F)),
    "xdigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
}

# RE2's Perl classes are ASCII-only.
_PERL_CLASSES: dict[str, tuple[tuple[int, int], ...]] = {
    "d": ((0x30, 0x39),),
    "s": ((0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)),
    "w": ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
}


def _complement(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in sorted(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt <= _MAX_RUNE:
        out.append((nxt, _MAX_RUNE))
    return out


def _class_char(cp: int) -> str:
    ch = chr(cp)
    if ch.isascii() and ch.isalnum():
        return ch
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def _render_class(ranges: Sequence[tuple[int, int]], negated: bool) -> str:
    if not ranges:
        return r"(?s:.)" if negated else r"(?!)"
    parts = [
        _class_char(lo) if lo == hi else f"{_class_char(lo)}-{_class_char(hi)}" for lo, hi in ranges
    ]
    return "[" + ("^" if negated else "") + "".join(parts) + "]"


class _RegexTranslator:
    """A left-to-right RE2 parser emitting an equivalent Python pattern (Go's error wording)."""

    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        # Per open group: the flag groups opened inside it (closed/reopened around ``|``) and
        # whether multi-line mode is on.
        self.scopes: list[list[str]] = [[]]
        self.multiline: list[bool] = [False]
        self.can_repeat = False
        self.last_repeat_start: int | None = None
        self.last_atom_index: int | None = None

    def translate(self) -> str:
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
                self._atom(self._class())
            elif c == "(":
                self._open_group()
            elif c == ")":
                self._close_group()
            elif c == "|":
                scopes = self.scopes[-1]
                self.out.append(")" * len(scopes) + "|" + "".join(scopes))
                self.can_repeat = False
                self.i += 1
            elif c == "$":
                self._atom("$" if self.multiline[-1] else r"\Z")
                self.i += 1
            elif c in ".^":
                self._atom(c)
                self.i += 1
            else:
                self._atom(re.escape(c))
                self.i += 1
        if len(self.scopes) > 1:
            raise _RegexError("missing closing )", p)
        self.out.append(")" * len(self.scopes[0]))
        return "".join(self.out)

    def _atom(self, text: str) -> None:
        self.last_atom_index = len(self.out)
        self.out.append(text)
        self.can_repeat = True

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
        if not self.can_repeat or self.last_atom_index is None:
            raise _RegexError("missing argument to repetition operator", self.p[start:end])
        atom = self.out[self.last_atom_index]
        if atom in ("^", "$", r"\Z", r"\A", r"\b", r"\B"):
            self.out[self.last_atom_index] = f"(?:{atom})"
        self.out.append(self.p[start:end])
        self.last_repeat_start = start
        self.i = end

    def _open_group(self) -> None:
        p = self.p
        start = self.i
        if not p.startswith("(?", start):
            self._push_group("(")
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
            self._push_group("(")
            self.i = start + end + 1
            return
        on: list[str] = []
        off: list[str] = []
        negate = False
        saw_flag = False
        j = start + 2
        while j < len(p):
            c = p[j]
            j += 1
            if c in "ims":
                (off if negate else on).append(c)
                saw_flag = True
            elif c == "U":
                raise _RegexUnsupported("the U (ungreedy) flag")
            elif c == "-" and not negate:
                negate = True
                saw_flag = False
            elif c in ":)" and (not negate or saw_flag):
                flags = "".join(on) + ("-" + "".join(off) if off else "")
                multiline = self.multiline[-1]
                if "m" in on:
                    multiline = True
                if "m" in off:
                    multiline = False
                opener = f"(?{flags}:" if flags else "(?:"
                if c == ":":
                    self._push_group(opener)
                    self.multiline[-1] = multiline
                else:
                    if flags:
                        self.out.append(opener)
                        self.scopes[-1].append(opener)
                    self.multiline[-1] = multiline
                    self.can_repeat = False
                self.i = j
                return
            else:
                break
        raise _RegexError("invalid or unsupported Perl syntax", p[start:j])

    def _push_group(self, opener: str) -> None:
        self.out.append(opener)
        self.scopes.append([])
        self.multiline.append(self.multiline[-1])
        self.can_repeat = False

    def _close_group(self) -> None:
        if len(self.scopes) == 1:
            raise _RegexError("unexpected )", self.p)
        scopes = self.scopes.pop()
        self.multiline.pop()
        self.i += 1
        self._atom(")" * len(scopes) + ")")  # the group is what a following repeat applies to

    def _escape(self) -> None:
        p = self.p
        start = self.i
        if start + 1 >= len(p):
            raise _RegexError("trailing backslash at end of expression", "")
        c = p[start + 1]
        if c in "AbBz":
            self._atom({"A": r"\A", "b": r"\b", "B": r"\B", "z": r"\Z"}[c])
            self.i = start + 2
            return
        if c == "C":
            raise _RegexError("invalid escape sequence", p[start : start + 2])
        if c == "Q":
            end = p.find(r"\E", start + 2)
            literal = p[start + 2 :] if end < 0 else p[start + 2 : end]
            self.i = len(p) if end < 0 else end + 2
            for ch in literal:
                self._atom(re.escape(ch))
            return
        if c in "pP":
            fragment, self.i = self._unicode_class(start, in_class=False)
            self._atom(fragment)
            return
        if c.lower() in _PERL_CLASSES:
            ranges = _PERL_CLASSES[c.lower()]
            self._atom(_render_class(list(ranges), negated=c.isupper()))
            self.i = start + 2
            return
        cp, self.i = self._single_escape(start)
        self._atom(_render_class([(cp, cp)], negated=False) if cp > 0x7F else re.escape(chr(cp)))

    def _single_escape(self, start: int) -> tuple[int, int]:
        """RE2 ``parseEscape``: the code point of ``\\X`` at ``start`` and the index after it."""
        p = self.p
        if start + 1 >= len(p):
            raise _RegexError("trailing backslash at end of expression", "")
        c = p[start + 1]
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

    def _unicode_class(self, start: int, *, in_class: bool) -> tuple[str, int]:
        p = self.p
        negated = p[start + 1] == "P"
        j = start + 2
        if j < len(p) and p[j] == "{":
            end = p.find("}", j)
            if end < 0:
                raise _RegexError("invalid character class range", p[start:])
            name = p[j + 1 : end]
            j = end + 1
        elif j < len(p):
            name = p[j]
            j += 1
        else:
            raise _RegexError("invalid character class range", p[start:])
        if name.startswith("^"):
            negated = not negated
            name = name[1:]
        if name in ("N", "Nd") and not in_class:
            return (r"\D" if negated else r"\d"), j
        if name in ("N", "Nd") and not negated:
            return r"\d", j
        if name == "L" and not in_class:
            return (r"[\W\d_]" if negated else r"[^\W\d_]"), j
        raise _RegexUnsupported(f"the Unicode class {p[start:j]}")

    def _class(self) -> str:
        p = self.p
        start = self.i
        j = start + 1
        negated = False
        if j < len(p) and p[j] == "^":
            negated = True
            j += 1
        ranges: list[tuple[int, int]] = []
        fragments: list[str] = []
        first = True
        while j >= len(p) or p[j] != "]" or first:
            first = False
            if j >= len(p):
                raise _RegexError("missing closing ]", p[start:])
            if p.startswith("[:", j):
                end = p.find(":]", j + 2)
                if end >= 0:
                    name = p[j + 2 : end]
                    invert = name.startswith("^")
                    group = _POSIX_CLASSES.get(name[1:] if invert else name)
                    if group is None:
                        raise _RegexError("invalid character class range", p[j : end + 2])
                    ranges.extend(_complement(group) if invert else group)
                    j = end + 2
                    continue
            if p[j] == "\\" and j + 1 < len(p) and p[j + 1] in "pP":
                fragment, j = self._unicode_class(j, in_class=True)
                fragments.append(fragment)
                continue
            if p[j] == "\\" and j + 1 < len(p) and p[j + 1].lower() in _PERL_CLASSES:
                group = _PERL_CLASSES[p[j + 1].lower()]
                ranges.extend(_complement(group) if p[j + 1].isupper() else group)
                j += 2
                continue
            range_start = j
            lo, j = self._class_char(j, start)
            hi = lo
            if j + 1 < len(p) and p[j] == "-" and p[j + 1] != "]":
                hi, j = self._class_char(j + 1, start)
                if hi < lo:
                    raise _RegexError("invalid character class range", p[range_start:j])
            ranges.append((lo, hi))
        self.i = j + 1
        if fragments:
            if negated:
                raise _RegexUnsupported("a negated class holding a Unicode class")
            body = _render_class(ranges, negated=False)[1:-1] if ranges else ""
            return "[" + body + "".join(fragments) + "]"
        return _render_class(ranges, negated)

    def _class_char(self, j: int, class_start: int) -> tuple[int, int]:
        p = self.p
        if j >= len(p):
            raise _RegexError("missing closing ]", p[class_start:])
        if p[j] == "\\":
            return self._single_escape(j)
        return ord(p[j]), j + 1


def compile_go_regex(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern; raise FilterError with bexpr's sentence when Go would refuse it."""
    try:
        translated = _RegexTranslator(pattern).translate()
    except _RegexError as err:
        raise FilterError(f"Failed to compile regular expression {quote(pattern)}: {err}") from None
    except _RegexUnsupported as err:
        raise FilterError(
            f"Failed to compile regular expression {quote(pattern)}: "
            f"consul_sim cannot translate {err} to Python"
        ) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(translated)
    except re.error as err:  # pragma: no cover - the translator should catch these first
        raise FilterError(
            f"Failed to compile regular expression {quote(pattern)}: error parsing regexp: {err}"
        ) from None
