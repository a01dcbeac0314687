"""The one module that imports python-hcl2: HCL text in, plain Python data out.

python-hcl2 keeps the quotes on strings and turns comments into keys unless told otherwise, and
its syntax errors are lark exceptions; both stay behind ``parse_hcl``, which returns what
``json.loads`` would for the equivalent JSON (blocks become lists of objects, as HCL's decoder
gives Consul) and raises ``HCLError`` with a position and a short reason.
"""

from __future__ import annotations

from typing import Any

import hcl2
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

__all__ = ["HCLError", "parse_hcl"]

_OPTIONS = hcl2.SerializationOptions(
    with_comments=False,
    with_meta=False,
    explicit_blocks=False,
    strip_string_quotes=True,
    preserve_heredocs=False,
    preserve_scientific_notation=False,
)


class HCLError(ValueError):
    """The text is not valid HCL; ``str()`` reads ``At LINE:COL: reason``."""


def parse_hcl(text: str) -> dict[str, Any]:
    try:
        data = hcl2.loads(text, serialization_options=_OPTIONS)
    except UnexpectedEOF:
        raise HCLError("At EOF: unexpected end of input") from None
    except UnexpectedCharacters as exc:
        where = exc.pos_in_stream
        char = text[where] if where is not None and where < len(text) else ""
        raise HCLError(f"At {exc.line}:{exc.column}: illegal character {char!r}") from None
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        what = (
            f"unexpected token {str(token).strip()!r}" if token is not None else "unexpected input"
        )
        if token is not None and getattr(token, "type", "") == "$END":
            what = "unexpected end of input"
        raise HCLError(f"At {exc.line}:{exc.column}: {what}") from None
    except LarkError as exc:
        raise HCLError(str(exc).splitlines()[0] if str(exc) else "invalid HCL") from None
    if not isinstance(data, dict):
        raise HCLError("At 1:1: expected a body of attributes and blocks")
    return data
