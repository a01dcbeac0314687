"""The KV table, with Consul's prefix and separator semantics."""

from __future__ import annotations

import bisect

from consul_sim.models.kv import DirEntry

KVS = "kvs"


class KVTable:
    def __init__(self) -> None:
        self.entries: dict[str, DirEntry] = {}
        self._sorted: list[str] = []

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
