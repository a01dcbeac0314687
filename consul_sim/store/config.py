"""The config-entries table, keyed like Consul's: by kind and lower-cased name.

Lookups ignore the case of the name (``web`` and ``WEB`` are one entry) while the entry keeps the
spelling of its latest write. Every write and delete raises the table's index, which is what
``X-Consul-Index`` reports for every config read, whatever kind or name was asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consul_sim.models.config_entries import ConfigEntryBase
    from consul_sim.store.txn import Txn

CONFIG_ENTRIES = "config-entries"


class ConfigEntriesTable:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], ConfigEntryBase] = {}

    def get(self, kind: str, name: str) -> ConfigEntryBase | None:
        return self.entries.get((kind, name.lower()))

    def put(self, txn: Txn, entry: ConfigEntryBase) -> None:
        """Store ``entry`` stamped with the transaction's index, keeping the first CreateIndex."""
        key = (entry.kind, entry.entry_name.lower())
        existing = self.entries.get(key)
        index = txn.touch(CONFIG_ENTRIES)
        entry.create_index = existing.create_index if existing else index
        entry.modify_index = index
        self.entries[key] = entry

    def delete(self, txn: Txn, kind: str, name: str) -> bool:
        """Remove an entry; only a real delete moves the table's index."""
        if self.entries.pop((kind, name.lower()), None) is None:
            return False
        txn.touch(CONFIG_ENTRIES)
        return True

    def list(self, kind: str) -> list[ConfigEntryBase]:
        """Entries of a kind by case-insensitive name; every kind when ``kind`` is empty."""
        keys = sorted(k for k in self.entries if not kind or k[0] == kind)
        return [self.entries[k] for k in keys]
