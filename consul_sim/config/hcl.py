"""HCL config files, read into the same generic map a JSON body gives (the one hcl2 import).

``consul config write`` parses HCL v1 with hashicorp/hcl; python-hcl2 reads HCL2, which accepts
the same config-entry files. Two differences are bridged here: python-hcl2 8.x keeps the quotes
on strings and turns comments into keys unless told otherwise, and its syntax errors are lark
exceptions. For the latter we report what HCL v1 reports, ``At <line>:<col>: <what>``, and for
the common case, brackets left open at the end of the file, the exact nesting of messages
hashicorp/hcl's parser builds (an object inside a list wraps its error in ``error while trying
to parse object within list``), with its positions: the opening ``{`` and the end of the file.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from consul_sim.config.decode import ConfigDecodeError
from consul_sim.models.base import DecodeError, parse_json

if TYPE_CHECKING:
    from hcl2.utils import SerializationOptions
    from lark.exceptions import UnexpectedInput

DECODE_PREFIX = "Failed to decode config entry input: "


@cache
def _options() -> SerializationOptions:
    """python-hcl2 (and its lark grammar) load on the first HCL text, not on import."""
    from hcl2.utils import SerializationOptions

    return SerializationOptions(
        with_comments=False,
        strip_string_quotes=True,
        explicit_blocks=False,
        preserve_heredocs=False,
    )


def parse_config(text: str) -> Any:
    """What ``consul config write`` parses: JSON if the first non-blank character is ``{``,
    else HCL. Syntax errors raise ConfigDecodeError with Consul's wording."""
    if text.lstrip().startswith("{"):
        try:
            return parse_json(text.encode())
        except DecodeError as exc:
            raise ConfigDecodeError(f"{DECODE_PREFIX}{exc}") from None
    return parse_hcl(text)


class HCLError(ValueError):
    """The text is not valid HCL; ``str()`` is HCL v1's ``At LINE:COL: reason`` sentence."""


def load_hcl(text: str) -> dict[str, Any]:
    """HCL text as the map JSON would give (blocks as lists of objects), for config entries and
    the CLI's service definition files alike."""
    import hcl2
    from lark.exceptions import LarkError, UnexpectedInput

    text = text.replace("\r\n", "\n")
    try:
        data = hcl2.loads(text, serialization_options=_options())
    except UnexpectedInput as exc:
        raise HCLError(_hcl_v1_error(text, exc)) from None
    except LarkError as exc:
        raise HCLError(str(exc).splitlines()[0] if str(exc) else "invalid HCL") from None
    if not isinstance(data, dict):
        raise HCLError("At 1:1: expected a body of attributes and blocks")
    return data


def parse_hcl(text: str) -> dict[str, Any]:
    """A config entry's HCL; syntax errors carry ``consul config write``'s prefix."""
    try:
        return load_hcl(text)
    except HCLError as exc:
        raise ConfigDecodeError(f"{DECODE_PREFIX}{exc}") from None


def _hcl_v1_error(text: str, exc: UnexpectedInput) -> str:
    unclosed = _unclosed_brackets(text)
    if unclosed and _at_end(text, exc):
        return _unclosed_error(text, unclosed)
    line = getattr(exc, "line", 0) or 0
    column = getattr(exc, "column", 0) or 0
    token = getattr(exc, "token", None)
    if token is not None:
        what = f"unexpected token: {str(token)!r}" if str(token) else "unexpected end of input"
    else:
        char = getattr(exc, "char", "")
        what = f"illegal char {char!r}" if char else "syntax error"
    return f"At {line}:{column}: {what}"


def _at_end(text: str, exc: UnexpectedInput) -> bool:
    token = getattr(exc, "token", None)
    return token is not None and getattr(token, "type", "") == "$END"


def _eof_position(text: str) -> tuple[int, int]:
    """Where hashicorp/hcl's scanner puts EOF: one column past the last character."""
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def _unclosed_error(text: str, unclosed: list[tuple[str, int, int]]) -> str:
    """Rebuild hashicorp/hcl's message for brackets still open at EOF, innermost first."""
    eof_line, eof_col = _eof_position(text)
    innermost, _, _ = unclosed[-1]
    if innermost == "{":
        message = f"At {eof_line}:{eof_col}: object expected closing RBRACE got: EOF"
    else:
        message = f"At {eof_line}:{eof_col}: unexpected token while parsing list: EOF"
    # Each enclosing list wraps the error of the element it was parsing; objects pass it on.
    for depth in range(len(unclosed) - 1, 0, -1):
        kind, line, col = unclosed[depth]
        parent, _, _ = unclosed[depth - 1]
        if parent == "[":
            inner = "object" if kind == "{" else "list"
            message = f"At {line}:{col}: error while trying to parse {inner} within list: {message}"
    return message


def _unclosed_brackets(text: str) -> list[tuple[str, int, int]]:
    """The brackets open at the end of ``text``, outermost first, skipping strings, comments
    and heredocs."""
    stack: list[tuple[str, int, int]] = []
    line, col = 1, 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        elif ch == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            col += end - i - 1
            i = end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            chunk = text[i:end]
            line += chunk.count("\n")
            col = len(chunk) - chunk.rfind("\n") - 1 if "\n" in chunk else col + len(chunk) - 1
            i = end
            continue
        elif ch == '"':
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            closed = j < n and text[j] == '"'
            col += j - i if closed else j - i - 1
            i = j if closed else j - 1
        elif ch in "{[":
            stack.append((ch, line, col))
        elif ch in "}]" and stack:
            stack.pop()
        i += 1
    return stack
