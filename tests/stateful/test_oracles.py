"""world.check_invariants and world.assert_converged: quiet on a healthy world, and a readable
diff naming cluster, peer, service, expected, found and the journal when something is wrong.

A healthy simulator never breaks an invariant, so each failing case breaks the world's state
behind the API's back, as a bug in the simulator (or a hand-edited snapshot) would.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consul_sim.peering.replication import remove_imported
from consul_sim.testing import InvariantViolation, export, peer
from consul_sim.world import Cluster, World

A, B = "cluster-01", "cluster-02"


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=9)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def pair(world: World) -> tuple[Cluster, Cluster]:
    c1, c2 = world.add_cluster(A), world.add_cluster(B)
    r = c1.client.put(
        "/v1/catalog/register",
        json={
            "Node": "node-1",
            "Address": "10.0.0.1",
            "Service": {"ID": "web-1", "Service": "web"},
            "Check": {"CheckID": "web-check", "Status": "warning", "ServiceID": "web-1"},
        },
    )
    assert r.status_code == 200
    peer(c1, c2)
    export(c1, {"web": [B]})
    world.assert_converged()
    return c1, c2


def test_a_healthy_world_passes_every_check(world: World, pair: tuple[Cluster, Cluster]) -> None:
    world.partition(A, B)
    world.check_invariants()
    world.heal(A, B)
    world.advance(world.heartbeat_interval + 1)
    world.assert_converged()


def test_lost_import_is_a_diff_with_the_journal(
    world: World, pair: tuple[Cluster, Cluster]
) -> None:
    _, c2 = pair
    remove_imported(c2.store, A)
    with pytest.raises(InvariantViolation) as caught:
        world.check_invariants()
    text = str(caught.value)
    assert text.startswith(
        "1 invariant broken\n"
        "[imports-equal-exports] cluster cluster-02, peer cluster-01, service web\n"
        "  expected: [('node-1', 'web-1', 'warning')] (what cluster-01 exports to 'cluster-02')\n"
        "  found:    []\n"
        "  journal:\n"
    ), text
    assert (
        " cluster-01 -> cluster-02 ReplicationResponse delivered (web nonce=00000002: 1 instance)"
        in text
    )
    assert " Ack delivered (nonce=" in text
    (problem,) = caught.value.problems
    assert (problem.cluster, problem.peer, problem.service) == (B, A, "web")
    assert problem.journal


def test_data_kept_after_the_peering_is_gone(world: World, pair: tuple[Cluster, Cluster]) -> None:
    _, c2 = pair
    with c2.store.txn() as txn:
        c2.peering.table.remove(txn, A)
    with pytest.raises(InvariantViolation) as caught:
        world.check_invariants()
    assert (
        "[no-foreign-data] cluster cluster-02, peer cluster-01\n"
        "  expected: data imported only under the name of a peering of cluster-02\n"
        "  found:    ['web'] imported under 'cluster-01', which names no peering"
    ) in str(caught.value)


def test_index_going_down_is_caught_between_calls(
    world: World, pair: tuple[Cluster, Cluster]
) -> None:
    c1, _ = pair
    seen = c1.store.index
    c1.store.index -= 1
    with pytest.raises(InvariantViolation) as caught:
        world.check_invariants()
    assert (
        "[index-never-goes-down] cluster cluster-01\n"
        f"  expected: Raft index >= {seen} (seen before)\n"
        f"  found:    Raft index {seen - 1}"
    ) in str(caught.value)


def test_an_illegal_stored_state_is_named(world: World, pair: tuple[Cluster, Cluster]) -> None:
    from consul_sim.models.peering_state import PeeringState

    _, c2 = pair
    record = c2.peering.table.get(A)
    assert record is not None
    record.state = PeeringState.ACTIVE
    with pytest.raises(InvariantViolation) as caught:
        world.check_invariants()
    assert (
        "[legal-states] cluster cluster-02, peer cluster-01\n"
        "  expected: a stored state in ['DELETING', 'ESTABLISHING', 'PENDING', 'TERMINATED']\n"
        "  found:    stored state ACTIVE"
    ) in str(caught.value)


def test_invariant_violation_is_the_worlds_own_assertion_error() -> None:
    import consul_sim.oracles

    assert InvariantViolation is consul_sim.oracles.InvariantViolation
    assert issubclass(InvariantViolation, AssertionError)
