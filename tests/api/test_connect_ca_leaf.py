"""GET /v1/agent/connect/ca/leaf/:service: a leaf signed by the active root, verified as a
client would verify it, kept until it nears expiry or the root rotates."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store

from consul_sim.world import Cluster, World
from tests.blocking import wait_until_blocked


def _cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def _colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def _key_id(cert: x509.Certificate) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(
        cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return digest.finalize()


def _verify(leaf_pem: str, roots_pem: str, at: float) -> list[x509.Certificate]:
    """Verify the leaf's chain (the leaf and its intermediates) against the roots as a TLS
    client verifies a client certificate; returns the chain it built."""
    [leaf, *intermediates] = x509.load_pem_x509_certificates(leaf_pem.encode())
    store = Store(x509.load_pem_x509_certificates(roots_pem.encode()))
    verifier = (
        PolicyBuilder()
        .store(store)
        .time(datetime.fromtimestamp(at, tz=UTC))
        .build_client_verifier()
    )
    return verifier.verify(leaf, intermediates).chain


def test_leaf_has_consuls_shape(dc1: Cluster, client: httpx.Client) -> None:
    r = client.get("/v1/agent/connect/ca/leaf/web")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert list(body) == [
        "SerialNumber",
        "CertPEM",
        "PrivateKeyPEM",
        "Service",
        "ServiceURI",
        "ValidAfter",
        "ValidBefore",
        "CreateIndex",
        "ModifyIndex",
    ]
    assert body["Service"] == "web"
    assert body["ServiceURI"] == f"spiffe://{dc1.trust_domain}/ns/default/dc/dc1/svc/web"
    assert body["CreateIndex"] == body["ModifyIndex"]
    assert r.headers["X-Consul-Index"] == str(body["ModifyIndex"])
    assert r.headers["X-Cache"] == "MISS"
    # The handler sets cache meta, not query meta.
    assert "X-Consul-KnownLeader" not in r.headers
    assert body["PrivateKeyPEM"].startswith("-----BEGIN EC PRIVATE KEY-----\n")
    leaf = _cert(body["CertPEM"])
    assert body["SerialNumber"] == _colon_hex(
        leaf.serial_number.to_bytes((leaf.serial_number.bit_length() + 7) // 8, "big")
    )


def test_leaf_verifies_against_the_roots_and_carries_the_spiffe_id(
    world: World, dc1: Cluster, client: httpx.Client
) -> None:
    body = client.get("/v1/agent/connect/ca/leaf/web").json()
    roots = client.get("/v1/connect/ca/roots").json()
    [root] = roots["Roots"]
    chain = _verify(
        body["CertPEM"], client.get("/v1/connect/ca/roots?pem=true").text, world.clock.now()
    )
    leaf = chain[0]
    assert chain[-1] == _cert(root["RootCert"])
    leaf.verify_directly_issued_by(_cert(root["RootCert"]))
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.critical  # Go marks it critical: the subject is empty
    assert san.value.get_values_for_type(x509.UniformResourceIdentifier) == [body["ServiceURI"]]
    assert san.value.get_values_for_type(x509.DNSName) == []
    assert leaf.subject == x509.Name([])
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and usage.key_agreement
    assert not usage.key_cert_sign
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ExtendedKeyUsageOID.SERVER_AUTH,
    ]
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert _colon_hex(aki.key_identifier or b"") == root["SigningKeyID"]
    # The private key is the certificate's, EC P-256.
    key = serialization.load_pem_private_key(body["PrivateKeyPEM"].encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    assert key.public_key() == leaf.public_key()
    ski = leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert ski == _key_id(leaf)


def test_validity_is_leaf_cert_ttl_on_the_cluster_clock(world: World, client: httpx.Client) -> None:
    world.advance(3600)
    body = client.get("/v1/agent/connect/ca/leaf/web").json()
    # Valid from a minute ago (clock drift buffer) for LeafCertTTL 72h.
    assert body["ValidAfter"] == "2026-01-01T00:59:00Z"
    assert body["ValidBefore"] == "2026-01-04T00:59:00Z"
    leaf = _cert(body["CertPEM"])
    assert leaf.not_valid_before_utc.timestamp() == world.clock.now() - 60


def test_the_same_cert_is_returned_until_the_root_rotates(
    dc1: Cluster, client: httpx.Client
) -> None:
    first = client.get("/v1/agent/connect/ca/leaf/web").json()
    assert client.get("/v1/agent/connect/ca/leaf/web").json() == first
    other = client.get("/v1/agent/connect/ca/leaf/api").json()
    assert other["SerialNumber"] != first["SerialNumber"]
    assert other["ModifyIndex"] > first["ModifyIndex"]
    dc1.ca.rotate()
    renewed = client.get("/v1/agent/connect/ca/leaf/web").json()
    assert renewed["SerialNumber"] != first["SerialNumber"]
    assert renewed["PrivateKeyPEM"] != first["PrivateKeyPEM"]
    assert renewed["ModifyIndex"] > first["ModifyIndex"]
    roots = client.get("/v1/connect/ca/roots").json()
    [active] = [root for root in roots["Roots"] if root["Active"]]
    leaf = _cert(renewed["CertPEM"])
    leaf.verify_directly_issued_by(_cert(active["RootCert"]))
    # Consul appends the active root's intermediates: the cross-signed root.
    [cross] = active["IntermediateCerts"]
    assert renewed["CertPEM"].endswith(cross)
    assert renewed["CertPEM"].count("BEGIN CERTIFICATE") == 2


def test_a_renewed_leaf_verifies_against_old_and_new_roots(
    world: World, dc1: Cluster, client: httpx.Client
) -> None:
    [old] = client.get("/v1/connect/ca/roots").json()["Roots"]
    dc1.ca.rotate()
    body = client.get("/v1/agent/connect/ca/leaf/web").json()
    now = world.clock.now()
    # A peer that only knows the old root still trusts it, through the cross-signed root.
    chain = _verify(body["CertPEM"], old["RootCert"], now)
    assert chain[-1] == _cert(old["RootCert"])
    roots = client.get("/v1/connect/ca/roots").json()
    [new] = [root for root in roots["Roots"] if root["Active"]]
    assert _verify(body["CertPEM"], new["RootCert"], now)[-1] == _cert(new["RootCert"])


def test_the_leaf_is_renewed_once_it_nears_expiry(world: World, client: httpx.Client) -> None:
    first = client.get("/v1/agent/connect/ca/leaf/web").json()
    world.advance(0.59 * 72 * 3600)  # before 60% of its lifetime: kept
    assert client.get("/v1/agent/connect/ca/leaf/web").json() == first
    world.advance(0.32 * 72 * 3600)  # past 90%: renewed
    second = client.get("/v1/agent/connect/ca/leaf/web").json()
    assert second["SerialNumber"] != first["SerialNumber"]
    assert second["ValidAfter"] > first["ValidAfter"]


def test_leaf_cert_ttl_from_the_configuration_applies_to_new_leaves(
    dc1: Cluster, client: httpx.Client
) -> None:
    r = client.put(
        "/v1/connect/ca/configuration",
        json={"Provider": "consul", "Config": {"LeafCertTTL": "24h"}},
    )
    assert (r.status_code, r.text) == (200, "")
    body = client.get("/v1/agent/connect/ca/leaf/web").json()
    assert body["ValidAfter"] == "2025-12-31T23:59:00Z"
    assert body["ValidBefore"] == "2026-01-01T23:59:00Z"


@pytest.mark.slow
def test_a_blocking_read_wakes_with_a_new_cert_on_rotation(
    world: World, dc1: Cluster, client: httpx.Client
) -> None:
    first = client.get("/v1/agent/connect/ca/leaf/web")
    index = int(first.headers["X-Consul-Index"])
    results: list[httpx.Response] = []

    def blocked() -> None:
        with httpx.Client(transport=client._transport, base_url=client.base_url) as other:
            results.append(other.get(f"/v1/agent/connect/ca/leaf/web?index={index}&wait=60s"))

    reader = threading.Thread(target=blocked)
    reader.start()
    wait_until_blocked(world)
    assert not results, "nothing changed yet: the query must still be waiting"
    dc1.ca.rotate()
    reader.join(timeout=10)
    assert results, "rotation must wake the blocking query"
    r = results[0]
    assert r.status_code == 200
    assert int(r.headers["X-Consul-Index"]) > index
    assert r.json()["SerialNumber"] != first.json()["SerialNumber"]


def test_a_blocking_read_behind_the_cache_is_a_hit(
    world: World, dc1: Cluster, client: httpx.Client
) -> None:
    first = client.get("/v1/agent/connect/ca/leaf/web")
    behind = int(first.headers["X-Consul-Index"]) - 1
    world.advance(30)
    r = client.get(f"/v1/agent/connect/ca/leaf/web?index={behind}")
    assert r.status_code == 200
    assert r.json() == first.json()
    assert (r.headers["X-Cache"], r.headers["Age"]) == ("HIT", "30")
    # Even after a rotation: the reader behind gets the cached one, unchecked, as in Consul;
    # the next read (or a blocking read at the current index) brings the new one.
    dc1.ca.rotate()
    r = client.get(f"/v1/agent/connect/ca/leaf/web?index={behind}")
    assert (r.json(), r.headers["X-Cache"]) == (first.json(), "HIT")
    renewed = client.get(f"/v1/agent/connect/ca/leaf/web?index={behind + 1}")
    assert renewed.headers["X-Cache"] == "MISS"
    assert renewed.json()["SerialNumber"] != first.json()["SerialNumber"]


def test_acls_need_service_write_on_the_service(world: World) -> None:
    deny = world.add_cluster("secure", acl_default_policy="deny")
    reader_accessor, reader = deny.acl.create_token({"service:web": "read"})
    _, writer = deny.acl.create_token({"service:web": "write"})
    r = deny.client.get("/v1/agent/connect/ca/leaf/web", headers={"X-Consul-Token": reader})
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: token with AccessorID '{reader_accessor}' lacks permission "
        "'service:write' on \"web\"",
    )
    r = deny.client.get("/v1/agent/connect/ca/leaf/web")
    assert r.status_code == 403
    assert r.text.startswith(
        "Permission denied: anonymous token lacks permission 'service:write' on \"web\"."
    )
    ok = deny.client.get("/v1/agent/connect/ca/leaf/web", headers={"X-Consul-Token": writer})
    assert ok.status_code == 200
    assert ok.json()["Service"] == "web"
    # A denied reader does not get the cached certificate either.
    again = deny.client.get("/v1/agent/connect/ca/leaf/web", headers={"X-Consul-Token": reader})
    assert again.status_code == 403


def test_names_consul_cannot_sign_are_its_500s(client: httpx.Client) -> None:
    r = client.get("/v1/agent/connect/ca/leaf/a/b")
    assert (r.status_code, r.text) == (500, "SPIFFE ID is not in the expected format")
    r = client.get("/v1/agent/connect/ca/leaf/")
    assert (r.status_code, r.text) == (500, "URI must be either service, agent, server, or kind")
    r = client.get("/v1/agent/connect/ca/leaf/web?dc=elsewhere")
    assert (r.status_code, r.text) == (500, "No path to datacenter")


def test_python_api_returns_the_same_cert(dc1: Cluster, client: httpx.Client) -> None:
    cert = dc1.ca.leaf("web")
    assert cert.to_json() == client.get("/v1/agent/connect/ca/leaf/web").json()
    assert cert.service_uri.endswith("/svc/web")


def _leaves_for(seed: int) -> list[dict[str, object]]:
    with World(clock="virtual", seed=seed) as w:
        cluster = w.add_cluster("dc1")
        first = cluster.ca.leaf("web").to_json()
        cluster.ca.rotate()
        return [first, cluster.ca.leaf("web").to_json()]


def test_same_seed_gives_the_same_leaves() -> None:
    one = _leaves_for(5)
    assert one == _leaves_for(5)
    assert one != _leaves_for(6)
