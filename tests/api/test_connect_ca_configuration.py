"""PUT /v1/connect/ca/configuration: a new PrivateKey rotates the built-in CA's root; the same
key, or no key, leaves it; what the simulator cannot do is a plain-text 400 that says so."""

from __future__ import annotations

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


KEY = _pem(ec.derive_private_key(0x1234_5678_9ABC_DEF0, ec.SECP256R1()))


def _roots(client: httpx.Client) -> list[dict[str, object]]:
    roots: list[dict[str, object]] = client.get("/v1/connect/ca/roots").json()["Roots"]
    return roots


def test_a_new_private_key_rotates_the_root(client: httpx.Client) -> None:
    [old] = _roots(client)
    r = client.put(
        "/v1/connect/ca/configuration",
        json={"Provider": "consul", "Config": {"PrivateKey": KEY}},
    )
    assert (r.status_code, r.text) == (200, "")
    roots = _roots(client)
    assert len(roots) == 2
    [new] = [root for root in roots if root["Active"]]
    assert new["ID"] != old["ID"]
    assert new["IntermediateCerts"], "the old key cross-signs the new root"


def test_the_same_key_again_or_no_key_does_not_rotate(client: httpx.Client) -> None:
    body = {"Provider": "consul", "Config": {"PrivateKey": KEY}}
    assert client.put("/v1/connect/ca/configuration", json=body).status_code == 200
    before = _roots(client)
    assert client.put("/v1/connect/ca/configuration", json=body).status_code == 200
    no_key = {"Provider": "consul", "Config": {"LeafCertTTL": "24h"}}
    assert client.put("/v1/connect/ca/configuration", json=no_key).status_code == 200
    assert _roots(client) == before


def test_what_the_simulator_cannot_do_is_a_400_that_says_so(client: httpx.Client) -> None:
    rsa_like = _pem(ec.derive_private_key(7, ec.SECP384R1()))
    cases = [
        (
            {"Provider": "vault", "Config": {}},
            "consul-sim simulates only the built-in \"consul\" CA provider, not 'vault'",
        ),
        (
            {"Provider": "consul", "Config": {"PrivateKey": "nope"}},
            "error parsing private key: not a PEM-encoded private key",
        ),
        (
            {"Provider": "consul", "Config": {"PrivateKey": rsa_like}},
            "consul-sim's built-in CA signs with EC P-256 keys only",
        ),
        (
            {"Provider": "consul", "Config": {"PrivateKey": KEY, "RootCert": "x"}},
            "consul-sim issues its own root: give a PrivateKey without a RootCert",
        ),
    ]
    for body, message in cases:
        r = client.put("/v1/connect/ca/configuration", json=body)
        assert (r.status_code, r.text, r.headers["content-type"]) == (
            400,
            message,
            "text/plain; charset=utf-8",
        ), body
    r = client.put("/v1/connect/ca/configuration", content=b"{")
    assert r.status_code == 400 and r.text.startswith("Request decode failed: ")
    assert len(_roots(client)) == 1


def test_other_methods_are_405(client: httpx.Client) -> None:
    r = client.post("/v1/connect/ca/configuration", json={})
    assert r.status_code == 405
