"""What go-memdb's UUID index says about an ID it cannot turn into bytes.

Consul looks prepared queries, intentions and sessions up through that index, so a malformed ID
is refused with these sentences (``UUID must be 36 characters``) rather than "not found".
"""

from __future__ import annotations


def uuid_index_error(text: str) -> str | None:
    """The index's sentence for ``text``, or None when it parses as a UUID."""
    if len(text) != 36:
        return "UUID must be 36 characters"
    hyphens = text.count("-")
    if hyphens > 4:
        return f'UUID should have maximum of 4 "-"; got {hyphens}'
    digits = text.replace("-", "")
    if len(digits) % 2:
        return "Input (without hyphens) must be even length"
    for ch in digits:
        if ch not in "0123456789abcdefABCDEF":
            return f"Invalid UUID: encoding/hex: invalid byte: U+{ord(ch):04X} {_go_rune(ch)}"
    return None


def _go_rune(ch: str) -> str:
    return "'\\''" if ch == "'" else f"'{ch}'"
