"""/v1/connect/ca and /v1/agent/connect/ca/roots (reference §5.1, conformance 26 and 33's roots)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from consul_sim.world import Cluster, World

TRUST_DOMAIN = re.compile(r"^[0-9a-f-]{36}\.consul$")
COLON_HEX_SHA1 = re.compile(r"^([0-9a-f]{2}:){19}[0-9a-f]{2}$")
COLON_HEX_SHA256 = re.compile(r"^([0-9a-f]{2}:){31}[0-9a-f]{2}$")


def _cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def _colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def test_roots_have_consuls_shape(client: httpx.Client) -> None:
    r = client.get("/v1/connect/ca/roots")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert int(r.headers["X-Consul-Index"]) >= 1
    assert r.headers["X-Consul-KnownLeader"] == "true"
    body = r.json()
    assert list(body) == ["ActiveRootID", "TrustDomain", "Roots"]
    assert TRUST_DOMAIN.match(body["TrustDomain"])
    active = [root for root in body["Roots"] if root["Active"] is True]
    assert len(active) == 1
    [root] = active
    assert body["ActiveRootID"] == root["ID"]
    assert "SigningKey" not in root and "SigningCert" not in root
    assert "RotatedOutAt" not in root
    assert list(root) == [
        "ID",
        "Name",
        "SerialNumber",
        "SigningKeyID",
        "ExternalTrustDomain",
        "NotBefore",
        "NotAfter",
        "RootCert",
        "IntermediateCerts",
        "Active",
        "PrivateKeyType",
        "PrivateKeyBits",
        "CreateIndex",
        "ModifyIndex",
    ]
    assert root["Name"] == "Consul CA Primary Cert"
    assert root["IntermediateCerts"] is None
    assert root["PrivateKeyType"] == "ec"
    assert root["PrivateKeyBits"] == 256
    assert root["ExternalTrustDomain"] == body["TrustDomain"].removesuffix(".consul")
    assert COLON_HEX_SHA1.match(root["ID"])
    assert COLON_HEX_SHA256.match(root["SigningKeyID"])
    assert root["RootCert"].endswith("-----END CERTIFICATE-----\n")


def test_trust_domain_is_the_clusters_own(dc1: Cluster, client: httpx.Client) -> None:
    assert client.get("/v1/connect/ca/roots").json()["TrustDomain"] == dc1.trust_domain


def test_root_cert_is_a_self_signed_p256_ca_with_the_spiffe_uri(client: httpx.Client) -> None:
    body = client.get("/v1/connect/ca/roots").json()
    [root] = body["Roots"]
    cert = _cert(root["RootCert"])
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and usage.digital_signature
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        f"spiffe://{body['TrustDomain']}"
    ]
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    [cn] = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    cluster_id = body["TrustDomain"].removesuffix(".consul")
    assert re.match(rf"^pri-[0-9a-z]{{1,8}}\.consul\.ca\.{cluster_id[:8]}\.consul$", str(cn.value))
    assert cert.serial_number == root["SerialNumber"]


def test_ids_are_computed_as_consul_computes_them(client: httpx.Client) -> None:
    [root] = client.get("/v1/connect/ca/roots").json()["Roots"]
    cert = _cert(root["RootCert"])
    assert root["ID"] == _colon_hex(cert.fingerprint(hashes.SHA1()))
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    assert ski == digest.finalize()  # connect.KeyId: SHA-256 of the PKIX public key
    assert root["SigningKeyID"] == _colon_hex(ski)


def test_validity_comes_from_the_simulation_clock(world: World, client: httpx.Client) -> None:
    [root] = client.get("/v1/connect/ca/roots").json()["Roots"]
    assert root["NotBefore"] == "2026-01-01T00:00:00Z"  # the virtual clock's start
    assert root["NotAfter"] == "2035-12-30T00:00:00Z"  # + RootCertTTL 87600h
    cert = _cert(root["RootCert"])
    assert cert.not_valid_before_utc.timestamp() == world.clock.now()


def test_pem_true_returns_the_chain_as_pem(client: httpx.Client) -> None:
    roots = client.get("/v1/connect/ca/roots").json()["Roots"]
    r = client.get("/v1/connect/ca/roots?pem=true")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/pem-certificate-chain"
    assert int(r.headers["X-Consul-Index"]) >= 1
    assert r.text == "".join(root["RootCert"] for root in roots)
    [cert] = x509.load_pem_x509_certificates(r.content)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.parametrize("value", ["false", "0", ""])
def test_pem_false_or_empty_returns_json(client: httpx.Client, value: str) -> None:
    r = client.get(f"/v1/connect/ca/roots?pem={value}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == client.get("/v1/connect/ca/roots").json()


def test_non_boolean_pem_is_a_bad_request(client: httpx.Client) -> None:
    r = client.get("/v1/connect/ca/roots?pem=yes")
    assert r.status_code == 400
    assert r.text == "The 'pem' query parameter must be a boolean value"


def test_roots_accept_only_get(client: httpx.Client) -> None:
    r = client.put("/v1/connect/ca/roots")
    assert r.status_code == 405
    assert r.text == "method PUT not allowed"
    assert r.headers["Allow"] == "OPTIONS,GET"


def test_agent_roots_equal_the_catalog_roots(client: httpx.Client) -> None:
    catalog = client.get("/v1/connect/ca/roots")
    agent = client.get("/v1/agent/connect/ca/roots")
    assert agent.status_code == 200
    assert agent.json() == catalog.json()
    assert agent.headers["X-Consul-Index"] == catalog.headers["X-Consul-Index"]


def test_rotation_keeps_the_old_root_listed_but_inactive(
    dc1: Cluster, client: httpx.Client
) -> None:
    before = client.get("/v1/connect/ca/roots")
    old = before.json()["Roots"][0]
    dc1.ca.rotate()
    after = client.get("/v1/connect/ca/roots")
    body = after.json()
    assert int(after.headers["X-Consul-Index"]) > int(before.headers["X-Consul-Index"])
    assert len(body["Roots"]) == 2
    by_id = {root["ID"]: root for root in body["Roots"]}
    assert by_id[old["ID"]]["Active"] is False
    assert by_id[old["ID"]]["RootCert"] == old["RootCert"]
    assert by_id[old["ID"]]["CreateIndex"] == old["CreateIndex"]
    [new] = [root for root in body["Roots"] if root["Active"]]
    assert body["ActiveRootID"] == new["ID"] != old["ID"]
    assert new["SigningKeyID"] != old["SigningKeyID"]
    assert new["SerialNumber"] > old["SerialNumber"]
    assert body["TrustDomain"] == before.json()["TrustDomain"]


def test_rotation_cross_signs_the_new_root_with_the_old_key(
    dc1: Cluster, client: httpx.Client
) -> None:
    old = _cert(client.get("/v1/connect/ca/roots").json()["Roots"][0]["RootCert"])
    dc1.ca.rotate()
    body = client.get("/v1/connect/ca/roots").json()
    [new] = [root for root in body["Roots"] if root["Active"]]
    [cross_pem] = new["IntermediateCerts"]
    cross = _cert(cross_pem)
    new_cert = _cert(new["RootCert"])
    cross.verify_directly_issued_by(old)
    assert cross.subject == new_cert.subject
    assert cross.public_key() == new_cert.public_key()
    chain = client.get("/v1/connect/ca/roots?pem=true").text
    assert chain.count("BEGIN CERTIFICATE") == 3
    assert cross_pem in chain


@pytest.mark.slow
def test_blocking_roots_query_wakes_on_rotation(dc1: Cluster, client: httpx.Client) -> None:
    index = int(client.get("/v1/connect/ca/roots").headers["X-Consul-Index"])
    results: list[httpx.Response] = []

    def blocked() -> None:
        with httpx.Client(transport=client._transport, base_url=client.base_url) as other:
            results.append(other.get(f"/v1/connect/ca/roots?index={index}&wait=60s"))

    reader = threading.Thread(target=blocked)
    reader.start()
    time.sleep(0.1)
    assert not results, "nothing changed yet: the query must still be waiting"
    dc1.ca.rotate()
    reader.join(timeout=5)
    assert results, "rotation must wake the blocking query"
    r = results[0]
    assert int(r.headers["X-Consul-Index"]) > index
    assert len(r.json()["Roots"]) == 2


def test_root_pems_are_every_root_newline_terminated(dc1: Cluster, client: httpx.Client) -> None:
    dc1.ca.rotate()
    roots = client.get("/v1/connect/ca/roots").json()["Roots"]
    pems = dc1.ca.root_pems()
    assert pems == [root["RootCert"] for root in roots]
    assert all(pem.endswith("\n") for pem in pems)


def test_configuration_is_the_builtin_providers_defaults(client: httpx.Client) -> None:
    r = client.get("/v1/connect/ca/configuration")
    assert r.status_code == 200
    body = r.json()
    assert body == {
        "Provider": "consul",
        "Config": {"IntermediateCertTTL": "8760h", "LeafCertTTL": "72h", "RootCertTTL": "87600h"},
        "State": None,
        "ForceWithoutCrossSigning": False,
        "CreateIndex": body["CreateIndex"],
        "ModifyIndex": body["CreateIndex"],
    }
    assert body["CreateIndex"] >= 1
    assert "ClusterID" not in body  # json:"-" in Consul
    assert "X-Consul-Index" not in r.headers  # Consul's handler sets no query meta here


def test_clusters_have_distinct_cas(world: World, dc1: Cluster) -> None:
    dc2 = world.add_cluster("dc2")
    one = dc1.client.get("/v1/connect/ca/roots").json()
    two = dc2.client.get("/v1/connect/ca/roots").json()
    assert one["TrustDomain"] != two["TrustDomain"]
    assert one["ActiveRootID"] != two["ActiveRootID"]


def _roots_for(seed: int) -> Iterator[dict[str, object]]:
    with World(clock="virtual", seed=seed) as w:
        cluster = w.add_cluster("dc1")
        cluster.ca.rotate()
        yield cluster.client.get("/v1/connect/ca/roots").json()


def test_same_seed_gives_the_same_roots() -> None:
    assert list(_roots_for(3)) == list(_roots_for(3))
    assert list(_roots_for(3)) != list(_roots_for(4))
