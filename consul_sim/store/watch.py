"""Wake-ups for blocking queries.

A blocked reader registers a callback, re-reads, and sleeps; every commit calls every callback.
Callbacks must be cheap and thread-safe (the API layer passes ``loop.call_soon_threadsafe``), since
a commit may happen on another thread than the one a reader waits on.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable


class WatchSet:
    def __init__(self) -> None:
        self._callbacks: dict[int, Callable[[], object]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, callback: Callable[[], object]) -> int:
        with self._lock:
            handle = next(self._ids)
            self._callbacks[handle] = callback
            return handle

    def remove(self, handle: int) -> None:
        with self._lock:
            self._callbacks.pop(handle, None)

    def notify(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            callback()

    def __len__(self) -> int:
        return len(self._callbacks)
