"""A rotation through PUT /v1/connect/ca/configuration reaches the peer's trust bundle, and a
leaf of one cluster verifies against what its peer trusts for it (issue 12, part 2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from consul_sim.testing.helpers import peer
from consul_sim.world import Cluster, World


@pytest.fixture
def world() -> Iterator[World]:
    with World(clock="virtual", seed=12) as w:
        yield w


@pytest.fixture
def a(world: World) -> Cluster:
    return world.add_cluster("cluster-01")


@pytest.fixture
def b(world: World, a: Cluster) -> Cluster:
    return world.add_cluster("cluster-02")


def _verifies(leaf_pem: str, trusted: list[str], at: float) -> x509.Certificate:
    """The root a TLS client holding ``trusted`` ends the leaf's chain at."""
    [leaf, *intermediates] = x509.load_pem_x509_certificates(leaf_pem.encode())
    store = Store([x509.load_pem_x509_certificate(pem.encode()) for pem in trusted])
    verifier = (
        PolicyBuilder()
        .store(store)
        .time(datetime.fromtimestamp(at, tz=UTC))
        .build_client_verifier()
    )
    return verifier.verify(leaf, intermediates).chain[-1]


def _bundle(cluster: Cluster, peer_name: str) -> httpx.Response:
    return cluster.client.get(f"/_sim/trust-bundle/{peer_name}")


def test_the_peers_trust_bundle_follows_a_rotation(world: World, a: Cluster, b: Cluster) -> None:
    assert (_bundle(b, "cluster-01").status_code, _bundle(b, "cluster-01").text) == (
        404,
        'no trust bundle for peer "cluster-01"',
    )
    peer(a, b)
    world.settle()
    [old] = a.client.get("/v1/connect/ca/roots").json()["Roots"]
    r = _bundle(b, "cluster-01")
    assert r.status_code == 200
    assert r.json() == {
        "TrustDomain": a.trust_domain,
        "PeerName": "cluster-01",
        "RootPEMs": [old["RootCert"]],
    }
    assert b.trust_bundle("cluster-01") == r.json()
    # The acceptor holds the dialer's bundle too.
    assert a.trust_bundle("cluster-02") == {
        "TrustDomain": b.trust_domain,
        "PeerName": "cluster-02",
        "RootPEMs": b.ca.root_pems(),
    }

    rotate = {"Provider": "consul", "Config": {"PrivateKeyType": "ec", "PrivateKeyBits": 384}}
    assert a.client.put("/v1/connect/ca/configuration", json=rotate).status_code == 200
    world.settle()
    roots = a.client.get("/v1/connect/ca/roots").json()
    [new] = [root for root in roots["Roots"] if root["Active"]]
    bundle = _bundle(b, "cluster-01").json()
    assert new["RootCert"] in bundle["RootPEMs"]
    assert old["RootCert"] in bundle["RootPEMs"]
    assert bundle["RootPEMs"] == a.ca.root_pems()
    # What Consul shows over HTTP: PeerCAPems on the peering.
    peering = b.client.get("/v1/peering/cluster-01").json()
    assert peering["PeerCAPems"] == bundle["RootPEMs"]

    # cluster-01's new leaf verifies against what cluster-02 trusts for cluster-01.
    leaf = a.client.get("/v1/agent/connect/ca/leaf/web").json()
    now = world.clock.now()
    end = _verifies(leaf["CertPEM"], bundle["RootPEMs"], now)
    assert end in (
        x509.load_pem_x509_certificate(new["RootCert"].encode()),
        x509.load_pem_x509_certificate(old["RootCert"].encode()),
    )
    # A peer still holding only the old root trusts it through the cross-signed root.
    assert _verifies(leaf["CertPEM"], [old["RootCert"]], now) == x509.load_pem_x509_certificate(
        old["RootCert"].encode()
    )


def test_the_acceptor_verifies_the_dialers_leaf_with_its_bundle(
    world: World, a: Cluster, b: Cluster
) -> None:
    peer(a, b)
    world.settle()
    leaf = b.client.get("/v1/agent/connect/ca/leaf/frontend").json()
    now = world.clock.now()
    with pytest.raises(VerificationError):
        _verifies(leaf["CertPEM"], a.ca.root_pems(), now)  # cluster-01's own roots: no
    bundle = a.trust_bundle("cluster-02")
    assert bundle is not None
    assert _verifies(leaf["CertPEM"], bundle["RootPEMs"], now)
    assert (
        leaf["ServiceURI"]
        == f"spiffe://{bundle['TrustDomain']}/ns/default/dc/cluster-02/svc/frontend"
    )
