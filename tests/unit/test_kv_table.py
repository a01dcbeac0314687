"""The KV table answers prefixes from its live keys, and its graveyard reaps by index."""

from __future__ import annotations

from consul_sim.models.kv import DirEntry
from consul_sim.store.kv import KVTable


def entry(key: str, index: int) -> DirEntry:
    return DirEntry(key=key, value=b"", create_index=index, modify_index=index)


def test_a_prefix_is_answered_from_live_keys_whatever_the_graveyard_holds() -> None:
    table = KVTable()
    for i in range(1000):
        table.bury(f"t/{i:04}", i + 1)
    table.put(entry("u/1", 2000))
    table.put(entry("t/x", 2001))
    assert [e.key for e in table.with_prefix("u/")] == ["u/1"]
    assert table.keys("t/") == ["t/x"]
    assert table.graveyard_index("u/") == 0
    assert table.graveyard_index("t/05") == 600


def test_reap_removes_stones_at_or_below_the_index_and_remembers_the_highest() -> None:
    table = KVTable()
    for i in range(1000):
        table.bury(f"t/{i:04}", i + 1)
    assert table.graveyard.reap(500) == 500
    assert len(table.graveyard) == 500
    assert table.graveyard_index("t/0") == 1000
    assert table.graveyard_index("t/01") == 0
    assert table.graveyard.reaped_index == 500
    assert table.graveyard.reap(400) == 0
    assert table.graveyard.reaped_index == 500


def test_a_stone_buried_again_is_reaped_only_at_its_newer_index() -> None:
    table = KVTable()
    table.bury("k", 3)
    table.bury("k", 9)
    assert table.graveyard.reap(5) == 0
    assert table.graveyard.stones == {"k": 9}
    assert table.graveyard.reap(9) == 1
    assert len(table.graveyard) == 0
