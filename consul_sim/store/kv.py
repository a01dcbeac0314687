"""The KV table, with Consul's prefix and separator semantics.

Deleted keys leave a tombstone (the graveyard) holding the index of the delete, as Consul's
state store does, so a prefix read reports an index that moved when a key under it went away.
"""

from __future__ import annotations

import bisect

from consul_sim.models.kv import DirEntry

KVS = "kvs"


class KVTable:
    def __init__(self) -> None:
        self.entries: dict[str, DirEntry] = {}
        self._sorted: list[str] = []
        self.graveyard: dict[str, int] = {}

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
        start = bisect.bisect_left(self._sorted, prefix)
        end = start
        while end < len(self._sorted) and self._sorted[end].startswith(prefix):
            end += 1
        removed = self._sorted[start:end]
        del self._sorted[start:end]
        for key in removed:
            del self.entries[key]
        return removed

    def bury(self, key: str, index: int) -> None:
        """Leave a tombstone for a delete (a tree delete leaves one at its prefix)."""
        self.graveyard[key] = index

    def graveyard_index(self, prefix: str) -> int:
        """The highest delete index among tombstones under prefix; 0 when there are none."""
        return max((i for k, i in self.graveyard.items() if k.startswith(prefix)), default=0)

    def with_prefix(self, prefix: str) -> list[DirEntry]:
        start = bisect.bisect_left(self._sorted, prefix)
        out: list[DirEntry] = []
        for key in self._sorted[start:]:
            if not key.startswith(prefix):
                break
            out.append(self.entries[key])
        return out

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
