"""Set-up steps a peering test repeats, done the way the page does them: over the HTTP API.

They raise :class:`consul_sim.errors.ConsulError` with Consul's status and body when a cluster
refuses, so a failing set-up reads like the API answer that caused it. On clusters with ACLs
on, pass ``token``: it goes in ``X-Consul-Token`` as Consul's clients send it (peering needs
``peering:write``, the entry ``mesh:write``; ``acl.go``'s resource rules).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import httpx

from consul_sim.errors import ConsulError
from consul_sim.world import Cluster


def _headers(token: str | None) -> dict[str, str]:
    return {"X-Consul-Token": token} if token else {}


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
    token: str | None = None,
    dialer_token: str | None = None,
) -> None:
    """Generate a token on ``acceptor`` for ``dialer`` and establish it on ``dialer``.

    Each side names the other by its cluster name unless told otherwise (other names are
    aliases, which Consul accepts; a world with ``strict_peer_names`` refuses them).
    ``token`` is the ACL token for the acceptor, ``dialer_token`` for the dialer (``token``
    when not given).
    """
    peering_token = _expect(
        acceptor.client.post(
            "/v1/peering/token",
            json={"PeerName": dialer_name or dialer.name},
            headers=_headers(token),
        )
    ).json()["PeeringToken"]
    _expect(
        dialer.client.post(
            "/v1/peering/establish",
            json={"PeerName": acceptor_name or acceptor.name, "PeeringToken": peering_token},
            headers=_headers(dialer_token or token),
        ),
        "{}",
    )


def export(
    cluster: Cluster,
    services: Mapping[str, Iterable[str]],
    *,
    name: str = "default",
    token: str | None = None,
) -> None:
    """Write the ``exported-services`` entry: service name -> the peer names that consume it.
    ``token``: the ACL token for ``cluster``."""
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
            headers=_headers(token),
        ),
        "true",
    )
