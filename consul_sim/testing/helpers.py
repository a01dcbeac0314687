"""Set-up steps a peering test repeats, done the way the page does them: over the HTTP API.

They raise :class:`consul_sim.errors.ConsulError` with Consul's status and body when a cluster
refuses, so a failing set-up reads like the API answer that caused it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import httpx

from consul_sim.errors import ConsulError
from consul_sim.world import Cluster


def _expect(r: httpx.Response, body: str | None = None) -> httpx.Response:
    if r.status_code != 200 or (body is not None and r.text != body):
        raise ConsulError(r.text, r.status_code)
    return r


def peer(
    acceptor: Cluster,
    dialer: Cluster,
    *,
    acceptor_name: str | None = None,
    dialer_name: str | None = None,
) -> None:
    """Generate a token on ``acceptor`` for ``dialer`` and establish it on ``dialer``.

    Each side names the other by its cluster name unless told otherwise (the page's "exact
    name" rule holds by default; pass other names only with ``verify_peer_name`` off).
    """
    token = _expect(
        acceptor.client.post("/v1/peering/token", json={"PeerName": dialer_name or dialer.name})
    ).json()["PeeringToken"]
    _expect(
        dialer.client.post(
            "/v1/peering/establish",
            json={"PeerName": acceptor_name or acceptor.name, "PeeringToken": token},
        ),
        "{}",
    )


def export(
    cluster: Cluster, services: Mapping[str, Iterable[str]], *, name: str = "default"
) -> None:
    """Write the ``exported-services`` entry: service name -> the peer names that consume it."""
    _expect(
        cluster.client.put(
            "/v1/config",
            json={
                "Kind": "exported-services",
                "Name": name,
                "Services": [
                    {"Name": service, "Consumers": [{"Peer": p} for p in peers]}
                    for service, peers in services.items()
                ],
            },
        ),
        "true",
    )
