"""Go ``time.Duration`` strings, the form Consul reads (``wait=30s``) and writes (``"10s"``)."""

from __future__ import annotations

import re
from typing import NewType

Nanoseconds = NewType("Nanoseconds", int)
"""A Go ``time.Duration`` field of a config entry: whole nanoseconds, as Go stores it. The
config decoder reads a string with ``time.ParseDuration`` and a number as nanoseconds
(mapstructure's ``StringToTimeDurationHookFunc``); :func:`go_duration` writes it back."""

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string; raises DurationError as Go's time.ParseDuration would."""
    s = text.strip()
    if not s:
        raise DurationError(f'time: invalid duration "{text}"')
    sign = 1.0
    if s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            if re.match(r"\d", s[pos:]) and not re.search(r"[a-zµμ]", s[pos:]):
                raise DurationError(f'time: missing unit in duration "{text}"')
            raise DurationError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos == 0:
        raise DurationError(f'time: invalid duration "{text}"')
    return sign * total


def format_duration(seconds: float) -> str:
    """Go's Duration.String(): ``0s``, ``500ms``, ``10s``, ``1m30s``, ``2h0m0s``."""
    if seconds == 0:
        return "0s"
    neg = seconds < 0
    ns = round(abs(seconds) * 1e9)
    if ns < 1_000_000_000:
        if ns < 1_000:
            out = f"{ns}ns"
        elif ns < 1_000_000:
            out = _trim(ns / 1_000) + "µs"
        else:
            out = _trim(ns / 1_000_000) + "ms"
    else:
        h, rem = divmod(ns, 3_600_000_000_000)
        m, rem = divmod(rem, 60_000_000_000)
        secs = _trim(rem / 1e9)
        if h:
            out = f"{h}h{m}m{secs}s"
        elif m:
            out = f"{m}m{secs}s"
        else:
            out = f"{secs}s"
    return "-" + out if neg else out


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def go_duration(ns: int) -> str:
    """Go's ``Duration.String()`` of whole nanoseconds (``15s``, ``1m30s``, ``-1s``)."""
    if ns == 0:
        return "0s"
    if abs(ns) < 1_000_000_000:
        return format_duration(ns / 1e9)
    sign = "-" if ns < 0 else ""
    h, rem = divmod(abs(ns), 3_600_000_000_000)
    m, rem = divmod(rem, 60_000_000_000)
    s, frac = divmod(rem, 1_000_000_000)
    secs = f"{s}.{frac:09d}".rstrip("0").rstrip(".") if frac else str(s)
    if h:
        return f"{sign}{h}h{m}m{secs}s"
    if m:
        return f"{sign}{m}m{secs}s"
    return f"{sign}{secs}s"
