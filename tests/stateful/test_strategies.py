"""consul_sim.testing.strategies: what each strategy draws, the API accepts (or refuses with the
answer paired with it), and a drawn topology with a drawn fault schedule converges once the
faults are lifted."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from consul_sim.testing import strategies as cst
from consul_sim.world import World
from tests.budgets import scaled


def _world() -> World:
    return World(clock="virtual", seed=3)


@scaled(10)
@given(st.lists(cst.peer_names(), min_size=1, max_size=5, unique=True))
def test_peer_names_are_accepted_for_tokens(names: list[str]) -> None:
    with _world() as world:
        client = world.add_cluster("dc1").client
        for name in names:
            r = client.post("/v1/peering/token", json={"PeerName": name})
            assert r.status_code == 200, (name, r.text)


@scaled(10)
@given(st.lists(cst.registrations(), min_size=1, max_size=5))
def test_registrations_register(bodies: list[dict[str, object]]) -> None:
    with _world() as world:
        client = world.add_cluster("dc1").client
        for body in bodies:
            r = client.put("/v1/catalog/register", json=body)
            assert (r.status_code, r.text) == (200, "true")
            service = body["Service"]
            assert isinstance(service, dict)
            listed = client.get(f"/v1/health/service/{service['Service']}").json()
            assert service["ID"] in [e["Service"]["ID"] for e in listed]


@scaled(5)
@given(cst.registrations(service_names=["web"]))
def test_registrations_pick_from_a_given_list(drawn: dict[str, Any]) -> None:
    assert drawn["Service"]["Service"] == "web"
    assert drawn["Check"]["Status"] in cst.STATUSES


@scaled(10)
@given(
    cst.exported_services_entries(services=["web", "api", "*"], peers=["p1", "p2"]),
    cst.service_intentions_entries(destination="web", sources=["api", "db"], peers=["p1"]),
)
def test_valid_entries_are_written_as_given(
    exports: dict[str, object], intentions: dict[str, object]
) -> None:
    with _world() as world:
        client = world.add_cluster("dc1").client
        for entry in (exports, intentions):
            r = client.put("/v1/config", json=entry)
            assert (r.status_code, r.text) == (200, "true"), (entry, r.text)
        stored = client.get("/v1/config/exported-services/default").json()
        assert stored["Services"] == exports["Services"]


@scaled(10)
@given(cst.invalid_config_entries())
def test_invalid_entries_get_the_answer_paired_with_them(invalid: cst.InvalidEntry) -> None:
    with _world() as world:
        r = world.add_cluster("dc1").client.put("/v1/config", json=invalid.body)
        assert (r.status_code, r.text) == (invalid.status, invalid.message)


def test_every_invalid_entry_is_drawable() -> None:
    assert len({e.message for e in cst.INVALID_ENTRIES}) == len(cst.INVALID_ENTRIES)


@scaled(8)
@given(cst.topologies(min_clusters=2, max_clusters=4), st.data())
def test_a_topology_converges_after_any_fault_schedule(
    topology: cst.Topology, data: st.DataObject
) -> None:
    schedule = data.draw(cst.fault_schedules(clusters=topology.clusters, max_size=6))
    with _world() as world:
        clusters = topology.build(world)
        assert sorted(clusters) == topology.clusters
        world.assert_converged()
        cst.apply_faults(world, schedule)
        world.settle()
        world.check_invariants()
        world.heal()
        for a in topology.clusters:
            world.restart(a)
            for b in topology.clusters:
                if a < b:
                    world.set_link(a, b, loss=0.0, latency=0.0)
        world.advance(world.heartbeat_timeout + world.heartbeat_interval + 1)
        world.assert_converged()


def test_consul_sim_and_the_testing_package_load_without_hypothesis() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'hypothesis' or name.startswith('hypothesis.'):\n"
        "            raise ImportError('no hypothesis here')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import consul_sim, consul_sim.testing, consul_sim.testing.plugin\n"
        "from consul_sim.testing import InvariantViolation, export, peer\n"
        "try:\n"
        "    from consul_sim.testing import PeeringMachine\n"
        "except ImportError as exc:\n"
        "    print('machine needs', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "machine needs no hypothesis here\n"
