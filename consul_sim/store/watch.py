"""Wake-ups for blocking queries.

A blocked reader registers a callback, re-reads, and sleeps; every commit calls every callback.
Callbacks must be cheap and thread-safe (the API layer passes ``loop.call_soon_threadsafe``), since
a commit may happen on another thread than the one a reader waits on.

A world snapshot keeps only the callbacks added with ``keep=True`` (the domain's own, such as
the sessions' health watch, which must be picklable): a blocked reader belongs to the process
that serves it, not to the state, and the lock is made anew on restore.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any


class WatchSet:
    def __init__(self) -> None:
        self._callbacks: dict[int, Callable[[], object]] = {}
        self._kept: set[int] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, callback: Callable[[], object], *, keep: bool = False) -> int:
        """``keep``: the callback is part of the state and goes into snapshots."""
        with self._lock:
            handle = next(self._ids)
            self._callbacks[handle] = callback
            if keep:
                self._kept.add(handle)
            return handle

    def __getstate__(self) -> dict[str, object]:
        with self._lock:
            kept = {h: cb for h, cb in self._callbacks.items() if h in self._kept}
            return {"callbacks": kept, "ids": self._ids}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._callbacks = dict(state["callbacks"])
        self._kept = set(self._callbacks)
        self._ids = state["ids"]
        self._lock = threading.Lock()

    def remove(self, handle: int) -> None:
        with self._lock:
            self._callbacks.pop(handle, None)
            self._kept.discard(handle)

    def notify(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            callback()

    def __len__(self) -> int:
        return len(self._callbacks)

    @property
    def readers(self) -> int:
        """Callbacks not kept in snapshots: the blocked readers waiting right now."""
        with self._lock:
            return len(self._callbacks) - len(self._kept)
