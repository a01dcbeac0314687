"""An exported instance keeps its ``Locality`` on the importer.

Consul replicates each instance as a ``pbservice.CheckServiceNode`` converted from the catalog's
``structs.CheckServiceNode`` (``proto/private/pbservice/convert.go``), ``Locality`` included,
and the importer stores what it receives (``peerstream/replication.go``). Checked once because
the exporter was suspected of dropping it; it does not, here or across processes (the wire
codec carries every model field).
"""

from __future__ import annotations

from consul_sim.testing.helpers import export, peer
from consul_sim.world import World

LOCALITY = {"Region": "us-east-1", "Zone": "us-east-1a"}


def test_imported_instance_carries_the_exporters_locality(world: World) -> None:
    one, two = world.add_cluster("cluster-01"), world.add_cluster("cluster-02")
    body = {"Name": "web", "Port": 80, "Locality": LOCALITY}
    assert one.client.put("/v1/agent/service/register", json=body).status_code == 200
    peer(one, two)
    export(one, {"web": ["cluster-02"]})
    world.settle()
    [entry] = two.client.get("/v1/health/service/web?peer=cluster-01").json()
    assert (entry["Service"]["PeerName"], entry["Service"]["Locality"]) == ("cluster-01", LOCALITY)
    [row] = two.client.get("/v1/catalog/service/web?peer=cluster-01").json()
    assert row["ServiceLocality"] == LOCALITY
