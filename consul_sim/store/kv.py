"""The KV table, with Consul's prefix and separator semantics.

Live keys are kept sorted beside the dict, so a prefix read is a bisect and a walk over the keys
under the prefix: O(log n + k), whatever else the table or the graveyard holds.

Deleted keys leave a tombstone (the graveyard) holding the index of the delete, as Consul's
state store does (``agent/consul/state/graveyard.go``), so a prefix read reports an index that
moved when a key under it went away. Tombstones are reaped by index (``reap``), which the
tombstone GC in :mod:`consul_sim.kvs` does on the cluster's clock; the graveyard remembers the
highest index it reaped so a prefix's index never slides back below a delete it once reported.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable

from consul_sim.models.kv import DirEntry

KVS = "kvs"


def _under(keys: list[str], prefix: str) -> tuple[int, int]:
    """The slice of sorted ``keys`` that start with ``prefix``."""
    start = bisect.bisect_left(keys, prefix)
    end = start
    while end < len(keys) and keys[end].startswith(prefix):
        end += 1
    return start, end


class Graveyard:
    """Tombstones: deleted key -> index of the delete, sorted by key for prefix lookups and
    queued by index for reaping (a key buried again gets the newer index; its older place in
    the queue is skipped when reached)."""

    def __init__(self) -> None:
        self.stones: dict[str, int] = {}
        self._sorted: list[str] = []
        self._by_index: deque[tuple[int, str]] = deque()
        self.reaped_index = 0
        """The highest index among reaped tombstones (0 before the first reap)."""
        self.hint: Callable[[int], None] | None = None
        """Told each new tombstone's index (Consul's ``TombstoneGC.Hint``), once a GC is bound."""

    def bury(self, key: str, index: int) -> None:
        if key not in self.stones:
            bisect.insort(self._sorted, key)
        self.stones[key] = index
        self._by_index.append((index, key))
        if self.hint is not None:
            self.hint(index)

    def max_index(self, prefix: str) -> int:
        """The highest delete index among tombstones under prefix; 0 when there are none."""
        start, end = _under(self._sorted, prefix)
        return max((self.stones[k] for k in self._sorted[start:end]), default=0)

    def reap(self, upto: int) -> int:
        """Remove every tombstone whose index is at most ``upto`` (Consul's ``ReapTxn``);
        returns how many went."""
        reaped = 0
        queue = self._by_index
        while queue and queue[0][0] <= upto:
            index, key = queue.popleft()
            if self.stones.get(key) != index:
                continue  # buried again later: the newer stone waits for its own turn
            del self.stones[key]
            del self._sorted[bisect.bisect_left(self._sorted, key)]
            self.reaped_index = max(self.reaped_index, index)
            reaped += 1
        return reaped

    def __len__(self) -> int:
        return len(self.stones)


class KVTable:
    def __init__(self) -> None:
        self.entries: dict[str, DirEntry] = {}
        self._sorted: list[str] = []
        self.graveyard = Graveyard()

    def get(self, key: str) -> DirEntry | None:
        return self.entries.get(key)

    def put(self, entry: DirEntry) -> None:
        if entry.key not in self.entries:
            bisect.insort(self._sorted, entry.key)
        self.entries[entry.key] = entry

    def delete(self, key: str) -> bool:
        if key not in self.entries:
            return False
        del self.entries[key]
        i = bisect.bisect_left(self._sorted, key)
        del self._sorted[i]
        return True

    def delete_prefix(self, prefix: str) -> list[str]:
        """Remove every key under prefix; return the removed keys in order."""
        start, end = _under(self._sorted, prefix)
        removed = self._sorted[start:end]
        del self._sorted[start:end]
        for key in removed:
            del self.entries[key]
        return removed

    def bury(self, key: str, index: int) -> None:
        """Leave a tombstone for a delete (a tree delete leaves one at its prefix)."""
        self.graveyard.bury(key, index)

    def graveyard_index(self, prefix: str) -> int:
        """The highest delete index among tombstones under prefix; 0 when there are none."""
        return self.graveyard.max_index(prefix)

    def with_prefix(self, prefix: str) -> list[DirEntry]:
        start, end = _under(self._sorted, prefix)
        return [self.entries[key] for key in self._sorted[start:end]]

    def keys(self, prefix: str, separator: str = "") -> list[str]:
        """Keys under prefix; with a separator, cut after the first one past the prefix."""
        out: list[str] = []
        for entry in self.with_prefix(prefix):
            key = entry.key
            if separator:
                cut = key.find(separator, len(prefix))
                if cut >= 0:
                    key = key[: cut + len(separator)]
            if not out or out[-1] != key:
                out.append(key)
        return out
