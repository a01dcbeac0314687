"""The leaf modules: Go durations, the clock, the scheduler's order, seeded IDs, the index."""

from __future__ import annotations

import pytest

from consul_sim.clock import VirtualClock, rfc3339
from consul_sim.durations import DurationError, format_duration, parse_duration
from consul_sim.models.kv import DirEntry
from consul_sim.rand import SimRandom
from consul_sim.scheduler import Scheduler
from consul_sim.store import Store
from consul_sim.world import World


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("10s", 10.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("2h", 7200.0),
        ("1.5s", 1.5),
        ("0", 0.0),
        ("-3s", -3.0),
        ("100us", 1e-4),
        ("1h2m3s4ms", 3723.004),
    ],
)
def test_parse_duration_reads_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text, message",
    [
        ("xyz", 'time: invalid duration "xyz"'),
        ("10", 'time: missing unit in duration "10"'),
        ("", 'time: invalid duration ""'),
        ("5 s", 'time: invalid duration "5 s"'),
    ],
)
def test_parse_duration_refuses_what_go_refuses(text: str, message: str) -> None:
    with pytest.raises(DurationError) as err:
        parse_duration(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0s"),
        (10, "10s"),
        (0.5, "500ms"),
        (90, "1m30s"),
        (7200, "2h0m0s"),
        (1.5, "1.5s"),
    ],
)
def test_format_duration_writes_go_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_virtual_clock_never_goes_backwards() -> None:
    clock = VirtualClock()
    clock.advance(5)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(clock.now() - 1)
    assert rfc3339(clock.now()) == "2026-01-01T00:00:05Z"


def test_scheduler_fires_in_time_then_insertion_order() -> None:
    clock = VirtualClock()
    sched = Scheduler(clock)
    fired: list[str] = []
    sched.call_later(2, lambda: fired.append("b"))
    sched.call_later(1, lambda: fired.append("a"))
    sched.call_later(2, lambda: fired.append("c"))
    cancelled = sched.call_later(1.5, lambda: fired.append("never"))
    cancelled.cancel()
    clock.advance(2)
    assert sched.run_due() == 3
    assert fired == ["a", "b", "c"]


def test_world_advance_fires_timers_at_their_own_moment() -> None:
    with World(clock="virtual", seed=1) as world:
        seen: list[float] = []
        start = world.clock.now()
        world.scheduler.call_later(3, lambda: seen.append(world.clock.now() - start))
        world.scheduler.call_later(1, lambda: seen.append(world.clock.now() - start))
        world.advance(5)
        assert seen == [1, 3]
        assert world.clock.now() - start == 5


def test_same_seed_same_ids_and_streams_are_independent() -> None:
    a, b = SimRandom(7, "x"), SimRandom(7, "x")
    assert [a.uuid() for _ in range(3)] == [b.uuid() for _ in range(3)]
    assert SimRandom(7, "x").uuid() != SimRandom(7, "y").uuid()
    with World(seed=9) as w1, World(seed=9) as w2:
        w1.add_cluster("other")
        assert w1.add_cluster("dc1").node_id == w2.add_cluster("dc1").node_id


def test_store_index_moves_only_on_writes_and_is_never_zero() -> None:
    store = Store()
    assert store.max_index(["kvs"]) == 1
    with store.txn():
        pass
    assert store.index == 0
    with store.txn() as txn:
        store.kv.put(DirEntry(key="a", create_index=txn.index, modify_index=txn.index))
        txn.touch("kvs")
    assert store.index == 1
    assert store.max_index(["kvs", "nodes"]) == 1
