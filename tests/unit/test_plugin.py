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


def test_peer_and_export_helpers_set_up_the_page_and_report_refusals(
    consul_world: World,
) -> None:
    import pytest

    from consul_sim.errors import ConsulError
    from consul_sim.testing import export, peer

    c1, c2 = consul_world.add_cluster("cluster-01"), consul_world.add_cluster("cluster-02")
    peer(c1, c2)
    export(c1, {"web": ["cluster-02"]})
    assert c2.peering.read("cluster-01")["State"] == "ACTIVE"
    assert c1.client.get("/v1/config/exported-services/default").json()["Services"] == [
        {"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}
    ]
    with pytest.raises(ConsulError) as refused:
        peer(c1, c1)
    assert refused.value.status_code == 500
    assert "cannot create a peering within the same cluster" in refused.value.message
