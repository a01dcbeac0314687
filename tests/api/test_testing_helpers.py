"""consul_sim.testing.peer and export on clusters with ACLs: the token goes in X-Consul-Token,
and a refusal raises ConsulError with Consul's own status and text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consul_sim.errors import ConsulError
from consul_sim.testing import export, peer
from consul_sim.world import World


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=11)
    try:
        yield w
    finally:
        w.close()


def test_export_needs_a_token_that_may_write_mesh(world: World) -> None:
    c1 = world.add_cluster("cluster-01", acl_default_policy="deny")
    with pytest.raises(ConsulError) as refused:
        export(c1, {"web": ["cluster-02"]})
    assert refused.value.status_code == 403
    assert str(refused.value).startswith("Permission denied: ")
    export(c1, {"web": ["cluster-02"]}, token=c1.acl.management_token)
    r = c1.client.get(
        "/v1/config/exported-services/default",
        headers={"X-Consul-Token": c1.acl.management_token},
    )
    assert r.json()["Services"] == [{"Name": "web", "Consumers": [{"Peer": "cluster-02"}]}]


def test_peer_uses_one_token_for_both_sides_unless_told(world: World) -> None:
    c1 = world.add_cluster("cluster-01", acl_default_policy="deny")
    c2 = world.add_cluster("cluster-02")
    peer(c1, c2, token=c1.acl.management_token)
    world.settle()
    assert c2.peering.read("cluster-01")["State"] == "ACTIVE"
