"""Timers on the simulation clock, ordered like SimPy's event heap by ``(when, seq)``.

Nothing in consul-sim sleeps: a TTL expiry or a heartbeat is a timer here. Under the virtual
clock ``World.advance`` moves time from timer to timer; under the wall clock every request, every
blocking query and the server's ticker fire whatever is due, so expiry is exact without threads.

Pending timers are part of a world snapshot (:mod:`consul_sim.snapshot`), so a callback must
pickle: a bound method or a ``functools.partial`` of one or of a module function, never a lambda
or a closure.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from consul_sim.clock import Clock


@dataclass(order=True)
class Timer:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[Timer] = []
        self._seq = itertools.count()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(when, next(self._seq), callback)
        heapq.heappush(self._heap, timer)
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.call_at(self.clock.now() + delay, callback)

    def next_deadline(self) -> float | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    def pop_due(self, until: float) -> Timer | None:
        """The earliest live timer due at or before ``until``, removed from the heap."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        if self._heap and self._heap[0].when <= until:
            return heapq.heappop(self._heap)
        return None

    def run_due(self) -> int:
        ran = 0
        now = self.clock.now()
        while (timer := self.pop_due(now)) is not None:
            timer.callback()
            ran += 1
        return ran

    def __len__(self) -> int:
        return sum(1 for t in self._heap if not t.cancelled)
