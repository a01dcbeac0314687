"""``connect { enabled = false }``: the Connect CA endpoints answer ``ErrConnectNotEnabled``.

Consul's ``ConnectCA`` RPCs return it first (``agent/consul/connect_ca_endpoint.go``) and
``agent/http.go`` answers it as a plain-text 500; the api package's
``TestAPI_ConnectCARoots_empty`` and ``TestAPI_AgentConnectCARoots_empty`` rely on it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from consul_sim.world import World

DISABLED = (500, "Connect must be enabled in order to use this endpoint")


@pytest.fixture
def off() -> Iterator[httpx.Client]:
    world = World(clock="virtual", seed=7)
    try:
        yield world.add_cluster("dc1", connect_enabled=False).client
    finally:
        world.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/connect/ca/roots"),
        ("GET", "/v1/connect/ca/roots?pem=true"),
        ("GET", "/v1/agent/connect/ca/roots"),
        ("GET", "/v1/agent/connect/ca/leaf/web"),
        ("GET", "/v1/connect/ca/configuration"),
        ("PUT", "/v1/connect/ca/configuration"),
    ],
)
def test_connect_ca_endpoints_refuse_when_connect_is_off(
    off: httpx.Client, method: str, path: str
) -> None:
    body = b'{"Provider": "consul"}' if method == "PUT" else None
    r = off.request(method, path, content=body)
    assert (r.status_code, r.text) == DISABLED
    assert r.headers["Content-Type"].startswith("text/plain")


def test_malformed_input_is_still_refused_first(off: httpx.Client) -> None:
    """The HTTP handlers parse the request before they reach the RPC."""
    r = off.get("/v1/connect/ca/roots?pem=maybe")
    assert (r.status_code, r.text) == (400, "The 'pem' query parameter must be a boolean value")
    r = off.put("/v1/connect/ca/configuration", content=b"[]")
    assert (r.status_code, r.text) == (
        400,
        "Request decode failed: json: cannot unmarshal array into Go value of type "
        "structs.CAConfiguration",
    )


def test_connect_is_on_by_default() -> None:
    with World(clock="virtual", seed=7) as world:
        r = world.add_cluster("dc1").client.get("/v1/connect/ca/roots")
        assert r.status_code == 200
        assert r.json()["Roots"]
