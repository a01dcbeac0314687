"""Real or virtual time behind one interface.

Everything time-based in consul-sim (TTL checks, blocking-query deadlines, token expiry,
heartbeats) reads a ``Clock``; nothing else calls ``time.time()``. A fresh world uses the wall
clock because clients that sleep expect TTLs to expire; tests use ``VirtualClock`` and move time
explicitly, so runs are reproducible. Like trio's MockClock, virtual time never goes backwards.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Seconds since the Unix epoch, as a float."""

    @property
    def virtual(self) -> bool: ...

    def now(self) -> float: ...


class WallClock:
    virtual = False

    def now(self) -> float:
        return time.time()


# 2026-01-01T00:00:00Z: a fixed start keeps virtual runs (and the timestamps they show) identical.
VIRTUAL_EPOCH = 1_767_225_600.0


class VirtualClock:
    """Time that moves only when told to."""

    virtual = True

    def __init__(self, start: float = VIRTUAL_EPOCH) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("virtual time never goes backwards")
        self._now += seconds
        return self._now

    def set(self, when: float) -> None:
        if when < self._now:
            raise ValueError("virtual time never goes backwards")
        self._now = when


def rfc3339(ts: float) -> str:
    """Go's time.Time JSON form, in UTC with nanosecond precision trimmed as Go trims it."""
    dt = datetime.fromtimestamp(ts, tz=UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
