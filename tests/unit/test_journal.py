"""The network journal is a ring: it keeps the newest lines, counts the ones that fell off, and
clips what a line holds, so a long or hostile run holds bounded memory."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from consul_sim.clock import VirtualClock
from consul_sim.journal import DEFAULT_JOURNAL_SIZE, JOURNAL_TEXT_LIMIT, Journal
from consul_sim.net import Network
from consul_sim.rand import SimRandom
from consul_sim.world import NotSettled, World
from tests.unit.test_net import Note


@dataclass
class Sink:
    got: list[str] = field(default_factory=list)

    def receive(self, source: str, message: object) -> object:
        assert isinstance(message, Note)
        self.got.append(message.text)
        return "ok"


def pair(size: int) -> tuple[Network, str, str]:
    net = Network(VirtualClock(), SimRandom(1, "net"), journal_size=size)
    return net, net.attach("a", Sink()), net.attach("b", Sink())


def test_the_ring_keeps_the_newest_lines_and_counts_the_rest() -> None:
    net, a, b = pair(4)
    for i in range(5):
        net.send(a, b, Note(str(i)))  # seqs 1-5: "sent"
    net.deliver_due(net.clock.now())  # seqs 6-10: "delivered"
    journal = net.journal
    assert (len(journal), journal.size, journal.dropped, journal.last_seq) == (4, 4, 6, 10)
    assert [(e.seq, e.outcome, e.summary) for e in journal] == [
        (7, "delivered", "1"),
        (8, "delivered", "2"),
        (9, "delivered", "3"),
        (10, "delivered", "4"),
    ]
    assert journal[-1].seq == 10
    assert [e.seq for e in journal[1:3]] == [8, 9]
    assert "#10 " in net.tail(1) and "#9 " not in net.tail(1)


def test_since_says_how_many_lines_after_it_fell_off() -> None:
    net, a, b = pair(4)
    for i in range(5):
        net.send(a, b, Note(str(i)))
    net.deliver_due(net.clock.now())

    def seqs(since: int) -> tuple[int, list[int]]:
        missed, lines = net.journal.since(since)
        return missed, [e.seq for e in lines]

    assert seqs(0) == (6, [7, 8, 9, 10])
    assert seqs(4) == (2, [7, 8, 9, 10])
    assert seqs(6) == (0, [7, 8, 9, 10])
    assert seqs(8) == (0, [9, 10])
    assert seqs(10) == (0, [])
    assert seqs(99) == (0, [])
    assert Journal(3).since(0) == (0, [])


@pytest.mark.parametrize("size", [0, -1, True, 2.5])
def test_a_journal_keeps_at_least_one_line(size: object) -> None:
    with pytest.raises(ValueError, match="journal size must be a whole number of at least 1"):
        Journal(size)  # type: ignore[arg-type]


def test_a_world_takes_its_journal_size_and_defaults_to_ten_thousand() -> None:
    with World(clock="virtual", seed=1) as world:
        assert world.network.journal.size == DEFAULT_JOURNAL_SIZE == 10_000
    with World(clock="virtual", seed=1, journal_size=7) as world:
        assert world.network.journal.size == 7


def test_a_huge_summary_is_clipped_in_the_journal_not_kept_whole() -> None:
    net, a, b = pair(10)
    huge = "n" * (1024 * 1024)
    net.send(a, b, Note(huge))
    net.deliver_due(net.clock.now())
    sent, delivered = net.journal
    expected = "n" * JOURNAL_TEXT_LIMIT + f"... ({len(huge) - JOURNAL_TEXT_LIMIT} more characters)"
    assert sent.summary == delivered.summary == expected


def test_same_seed_same_journal_with_a_small_ring() -> None:
    def run() -> list[dict[str, object]]:
        net = Network(VirtualClock(), SimRandom(7, "net"), journal_size=16)
        a, b = net.attach("a", Sink()), net.attach("b", Sink())
        net.set_link("a", "b", loss=0.3, duplicate=0.3)
        for i in range(50):
            net.send(a, b, Note(str(i)))
        net.deliver_due(net.clock.now())
        return [e.render() for e in net.journal]

    first = run()
    assert len(first) == 16
    assert first == run()


def test_settle_still_reports_the_tail_when_the_ring_is_full() -> None:
    with World(clock="virtual", seed=3, journal_size=3) as world:

        @dataclass
        class Echo:
            me: str = ""
            other: str = ""

            def receive(self, source: str, message: object) -> object:
                world.network.send(self.me, self.other, message)
                return None

        x, y = Echo(), Echo()
        a = world.network.attach("x", x)
        b = world.network.attach("y", y)
        x.me, x.other, y.me, y.other = a, b, b, a
        world.network.send(a, b, Note("ball"))
        with pytest.raises(NotSettled) as caught:
            world.settle(max_steps=50)
        tail = str(caught.value).split("last messages:\n", 1)[1].splitlines()
        assert len(tail) == 3
        assert [int(line.split()[0][1:]) for line in tail] == list(
            range(world.network.journal.last_seq - 2, world.network.journal.last_seq + 1)
        )


def test_a_full_ring_comes_back_from_a_snapshot_and_keeps_rolling() -> None:
    with World(clock="virtual", seed=5, journal_size=4) as world:
        a = world.network.attach("a", Sink())
        b = world.network.attach("b", Sink())
        for i in range(5):
            world.network.send(a, b, Note(f"note {i} é"))
        world.settle()
        restored = World.restore(world.snapshot())
        try:
            journal = restored.network.journal
            assert (journal.size, journal.dropped, len(journal)) == (4, 6, 4)
            assert [e.render() for e in journal] == [e.render() for e in world.network.journal]
            assert journal[-1].summary == world.network.journal[-1].summary
            restored.network.send(a, b, Note("after"))
            world.network.send(a, b, Note("after"))
            restored.settle()
            world.settle()
            assert journal.dropped == world.network.journal.dropped == 8
            assert restored.network.tail(4) == world.network.tail(4)
        finally:
            restored.close()
