"""The simulated network as data: ordering, latency, faults, the journal, and driving time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from consul_sim.clock import VIRTUAL_EPOCH, VirtualClock
from consul_sim.net import Network, Unreachable
from consul_sim.rand import SimRandom
from consul_sim.world import NotSettled, World


@dataclass(frozen=True)
class Note:
    text: str

    def summary(self) -> str:
        return self.text


@dataclass
class Inbox:
    clock: VirtualClock
    got: list[tuple[float, str]] = field(default_factory=list)

    def receive(self, source: str, message: object) -> object:
        assert isinstance(message, Note)
        self.got.append((self.clock.now() - VIRTUAL_EPOCH, message.text))
        return "ok"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def net(clock: VirtualClock) -> Network:
    return Network(clock, SimRandom(1, "net"))


def wire(net: Network, clock: VirtualClock) -> tuple[str, str, Inbox, Inbox]:
    a_in, b_in = Inbox(clock), Inbox(clock)
    return net.attach("a", a_in), net.attach("b", b_in), a_in, b_in


def test_messages_wait_for_their_latency_and_arrive_in_deliver_at_then_seq_order(
    net: Network, clock: VirtualClock
) -> None:
    a, b, a_in, b_in = wire(net, clock)
    net.set_link("a", "b", latency=2.0)
    net.send(a, b, Note("first"))
    net.send(a, b, Note("second"))
    assert net.deliver_due(clock.now()) == 0
    clock.advance(1.999)
    assert net.deliver_due(clock.now()) == 0
    clock.advance(0.001)
    assert net.deliver_due(clock.now()) == 2
    assert b_in.got == [(2.0, "first"), (2.0, "second")]


def test_a_partition_cuts_both_directions_until_healed(net: Network, clock: VirtualClock) -> None:
    a, b, a_in, b_in = wire(net, clock)
    net.partition("b", "a")
    net.send(a, b, Note("lost"))
    net.send(b, a, Note("lost too"))
    with pytest.raises(Unreachable):
        net.call(a, b, Note("dial"))
    net.deliver_due(clock.now())
    assert a_in.got == b_in.got == []
    net.heal()
    net.send(a, b, Note("after"))
    net.deliver_due(clock.now())
    assert b_in.got == [(0.0, "after")]
    assert [e.outcome for e in net.journal] == [
        "dropped: partitioned",
        "dropped: partitioned",
        "unreachable: partitioned",
        "sent",
        "delivered",
    ]


def test_messages_in_flight_when_the_link_is_cut_are_dropped(
    net: Network, clock: VirtualClock
) -> None:
    a, b, _, b_in = wire(net, clock)
    net.set_link("a", "b", latency=1.0)
    net.send(a, b, Note("in flight"))
    net.partition("a", "b")
    clock.advance(1)
    net.deliver_due(clock.now())
    assert b_in.got == []
    assert net.journal[-1].outcome == "dropped: partitioned"


def test_held_messages_wait_for_release_in_send_order(net: Network, clock: VirtualClock) -> None:
    a, b, _, b_in = wire(net, clock)
    net.hold("a", "b")
    net.send(a, b, Note("1"))
    net.send(a, b, Note("2"))
    clock.advance(5)
    assert net.deliver_due(clock.now()) == 0
    assert net.held() == 2 and net.in_flight() == 0
    net.release("a", "b")
    net.deliver_due(clock.now())
    assert b_in.got == [(5.0, "1"), (5.0, "2")]


def test_a_crashed_cluster_neither_sends_nor_receives(net: Network, clock: VirtualClock) -> None:
    a, b, a_in, b_in = wire(net, clock)
    net.crash("b")
    net.send(a, b, Note("to b"))
    net.send(b, a, Note("from b"))
    with pytest.raises(Unreachable):
        net.call(a, b, Note("dial"))
    net.deliver_due(clock.now())
    assert a_in.got == b_in.got == []
    net.restart("b")
    assert net.call(a, b, Note("dial")) == "ok"


def test_loss_and_duplication_are_drawn_from_the_seed(clock: VirtualClock) -> None:
    def run() -> list[str]:
        net = Network(VirtualClock(), SimRandom(99, "net"))
        a, b, _, _ = wire(net, net.clock)  # type: ignore[arg-type]
        net.set_link("a", "b", loss=0.3, duplicate=0.3)
        for i in range(40):
            net.send(a, b, Note(str(i)))
        net.deliver_due(net.clock.now())
        return [f"{e.message_seq}:{e.outcome}" for e in net.journal]

    first = run()
    assert first == run()
    assert any(line.endswith("dropped: lost") for line in first)
    assert any(line.endswith("sent: duplicate") for line in first)


def test_link_settings_refuse_impossible_values(net: Network) -> None:
    with pytest.raises(ValueError, match="probability"):
        net.set_link("a", "b", loss=1.5)
    with pytest.raises(ValueError, match="negative"):
        net.set_link("a", "b", latency=-1)


def test_each_journal_line_names_clusters_kind_outcome_and_summary(
    net: Network, clock: VirtualClock
) -> None:
    a, b, _, _ = wire(net, clock)
    net.send(a, b, Note("hello"))
    net.deliver_due(clock.now())
    sent, delivered = net.journal
    assert (sent.source_cluster, sent.destination_cluster, sent.kind, sent.summary) == (
        "a",
        "b",
        "Note",
        "hello",
    )
    assert (sent.outcome, delivered.outcome) == ("sent", "delivered")
    assert sent.message_seq == delivered.message_seq == 1
    assert delivered.render()["Source"] == "a"
    assert "a -> b Note delivered (hello)" in net.tail()


# -- driving a world ----------------------------------------------------------------------------
@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=3)
    try:
        yield w
    finally:
        w.close()


@dataclass
class PingPong:
    """A receiver that answers every message: a world with it can never settle."""

    world: World
    me: str
    other: str

    def receive(self, source: str, message: object) -> object:
        self.world.network.send(self.me, self.other, message)
        return None


def test_settle_raises_with_the_journal_tail_when_work_never_ends(world: World) -> None:
    a = world.network.attach("x", PingPong(world, "", ""))
    b = world.network.attach("y", PingPong(world, "", ""))
    world.network._receivers[a] = PingPong(world, a, b)
    world.network._receivers[b] = PingPong(world, b, a)
    world.network.send(a, b, Note("ball"))
    with pytest.raises(NotSettled) as caught:
        world.settle(max_steps=5)
    assert "did not settle within 5 steps" in str(caught.value)
    assert "x -> y Note" in str(caught.value) or "y -> x Note" in str(caught.value)


def test_settle_moves_virtual_time_to_deliveries_in_flight(world: World) -> None:
    world.add_cluster("a")
    world.add_cluster("b")
    inbox = Inbox(world.clock)  # type: ignore[arg-type]
    src = world.network.attach("p", inbox)
    dst = world.network.attach("q", inbox)
    world.network.set_link("p", "q", latency=0.25)
    world.network.send(src, dst, Note("late"))
    world.settle()
    assert inbox.got == [(0.25, "late")]
    assert not world.pending()


def test_advance_interleaves_timers_and_deliveries_in_time_order(world: World) -> None:
    inbox = Inbox(world.clock)  # type: ignore[arg-type]
    src = world.network.attach("p", inbox)
    dst = world.network.attach("q", inbox)
    world.network.set_link("p", "q", latency=2.0)
    world.network.send(src, dst, Note("message at 2"))
    world.scheduler.call_later(1.0, lambda: inbox.got.append((1.0, "timer at 1")))
    world.scheduler.call_later(3.0, lambda: inbox.got.append((3.0, "timer at 3")))
    world.advance(5)
    assert [text for _, text in inbox.got] == ["timer at 1", "message at 2", "timer at 3"]


def test_faults_name_clusters_that_exist(world: World) -> None:
    world.add_cluster("a")
    with pytest.raises(KeyError, match="nowhere"):
        world.partition("a", "nowhere")
    with pytest.raises(KeyError):
        world.crash("nowhere")
    with pytest.raises(ValueError):
        world.heal("a")


def test_advance_refuses_the_wall_clock() -> None:
    with World(clock="wall", seed=1) as w, pytest.raises(RuntimeError):
        w.advance(1)
