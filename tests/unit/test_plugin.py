"""The pytest plugin consul-sim installs gives tests a fresh virtual-clock world."""

from __future__ import annotations

from consul_sim.world import Cluster, World


def test_plugin_fixtures_give_a_virtual_world_and_a_cluster(
    consul_world: World, consul_cluster: Cluster
) -> None:
    assert consul_world.clock.virtual
    assert consul_cluster.name == "dc1"
    assert consul_world.cluster("dc1") is consul_cluster
    r = consul_cluster.client.get("/v1/status/leader")
    assert (r.status_code, r.json()) == (200, "127.0.0.1:8300")
