"""Go's text conventions that leak into Consul's CLI output.

The commands print what Go's standard library produced for them: ``os`` errors
(``open web.json: no such file or directory``), ``text/tabwriter`` columns (``kv get
-detailed``), and ``encoding/base64`` decode errors with their byte offset (``kv put -base64``).
Reproducing them here keeps every command's output byte-for-byte Consul's.
"""

from __future__ import annotations

__all__ = ["Base64Error", "go_b64decode", "go_os_error", "tabwrite"]


def go_os_error(op: str, exc: OSError) -> str:
    """``*PathError`` wording: ``<op> <path>: <lower-case errno text>``."""
    path = exc.filename if exc.filename is not None else ""
    reason = (exc.strerror or str(exc)).lower()
    if isinstance(exc, IsADirectoryError):
        op = "read"
    return f"{op} {path}: {reason}"


def tabwrite(text: str, *, minwidth: int = 0, padding: int = 6, padchar: str = " ") -> str:
    """``text/tabwriter`` with no flags: tab-terminated cells of adjacent lines form a column."""
    lines = [line.split("\t") for line in text.split("\n")]
    # widths[i][c]: the padded width of terminated cell c on line i
    widths: list[list[int]] = [[0] * (len(cells) - 1) for cells in lines]
    column = 0
    while True:
        active = [i for i, cells in enumerate(lines) if len(cells) - 1 > column]
        if not active:
            break
        run: list[int] = []
        for i in range(len(lines) + 1):
            if i < len(lines) and len(lines[i]) - 1 > column:
                run.append(i)
                continue
            if run:
                width = max(minwidth, *(len(lines[j][column]) + padding for j in run))
                for j in run:
                    widths[j][column] = width
                run = []
        column += 1
    out = []
    for i, cells in enumerate(lines):
        parts = [cell.ljust(widths[i][c], padchar) for c, cell in enumerate(cells[:-1])]
        parts.append(cells[-1])
        out.append("".join(parts))
    return "\n".join(out)


class Base64Error(ValueError):
    """``base64.CorruptInputError``: ``illegal base64 data at input byte N``."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DECODE = {ch: i for i, ch in enumerate(_ALPHABET)}


def go_b64decode(data: bytes) -> tuple[bytes, Base64Error | None]:
    """``base64.StdEncoding.DecodeString``: the bytes decoded so far, and the error if any.

    Go returns both, and ``consul kv put -base64`` prints the error yet writes the partial value.
    """
    src = data
    out = bytearray()
    si = 0
    n = len(src)
    while True:
        quantum = [0, 0, 0, 0]
        dlen = 4
        j = 0
        err: Base64Error | None = None
        done = False
        while j < 4:
            if si == n:
                if j == 0:
                    return bytes(out), None
                return bytes(out), Base64Error(si - j)
            ch = chr(src[si])
            si += 1
            if ch in _DECODE:
                quantum[j] = _DECODE[ch]
                j += 1
                continue
            if ch in "\r\n":
                continue
            if ch != "=":
                return bytes(out), Base64Error(si - 1)
            # padding
            if j in (0, 1):
                return bytes(out), Base64Error(si - 1)
            if j == 2:
                while si < n and chr(src[si]) in "\r\n":
                    si += 1
                if si == n:
                    return bytes(out), Base64Error(n)
                if chr(src[si]) != "=":
                    return bytes(out), Base64Error(si - 1)
                si += 1
            while si < n and chr(src[si]) in "\r\n":
                si += 1
            if si < n:
                err = Base64Error(si)
            dlen = j
            done = True
            break
        val = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
        chunk = bytes([(val >> 16) & 0xFF, (val >> 8) & 0xFF, val & 0xFF])
        out += chunk[: dlen - 1]
        if err is not None:
            return bytes(out), err
        if done:
            return bytes(out), None
