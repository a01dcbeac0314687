"""GET|PUT /v1/connect/ca/configuration: Consul's shape, its validation texts, and rotation.

New key settings (PrivateKey, PrivateKeyType, PrivateKeyBits) make a new root that rotates in,
cross-signed by the old key unless ForceWithoutCrossSigning; a TTL change only rewrites the
configuration; a body deep-equal to the stored one changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from consul_sim.world import World

PATH = "/v1/connect/ca/configuration"


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


KEY = _pem(ec.derive_private_key(0x1234_5678_9ABC_DEF0, ec.SECP256R1()))


def _roots(client: httpx.Client) -> list[dict[str, Any]]:
    roots: list[dict[str, Any]] = client.get("/v1/connect/ca/roots").json()["Roots"]
    return roots


def _active(client: httpx.Client) -> dict[str, Any]:
    [active] = [root for root in _roots(client) if root["Active"]]
    return active


def _put(client: httpx.Client, body: object) -> httpx.Response:
    return client.put(PATH, json=body)


def test_a_ttl_change_keeps_the_root_and_stores_the_config_verbatim(
    client: httpx.Client,
) -> None:
    before = client.get(PATH).json()
    roots = _roots(client)
    config = {"LeafCertTTL": "24h", "IntermediateCertTTL": "9000h", "csrmaxpersecond": 0}
    r = _put(client, {"Provider": "consul", "Config": config})
    assert (r.status_code, r.text) == (200, "")
    after = client.get(PATH).json()
    assert after == {
        "Provider": "consul",
        "Config": config,
        "State": None,
        "ForceWithoutCrossSigning": False,
        "CreateIndex": before["CreateIndex"],
        "ModifyIndex": after["ModifyIndex"],
    }
    assert after["ModifyIndex"] > before["ModifyIndex"]
    assert _roots(client) == roots


def test_test_state_in_the_config_becomes_the_provider_state(client: httpx.Client) -> None:
    """The built-in provider reports ``test_state`` as its State (provider_consul.go)."""
    config = {"LeafCertTTL": "24h", "test_state": {"foo": "bar"}}
    r = _put(client, {"Provider": "consul", "Config": config, "State": None})
    assert (r.status_code, r.text) == (200, "")
    after = client.get(PATH).json()
    assert (after["Config"], after["State"]) == (config, {"foo": "bar"})
    # The state read back may be sent again with the next write.
    after["Config"]["LeafCertTTL"] = "48h"
    assert _put(client, after).status_code == 200
    assert client.get(PATH).json()["State"] == {"foo": "bar"}


def test_the_same_config_again_changes_nothing(client: httpx.Client) -> None:
    body = {"Provider": "consul", "Config": {"LeafCertTTL": "24h"}}
    assert _put(client, body).status_code == 200
    stored = client.get(PATH).json()
    roots = _roots(client)
    assert _put(client, body).status_code == 200
    assert client.get(PATH).json() == stored
    assert _roots(client) == roots


def test_a_new_private_key_rotates_the_root_cross_signed(client: httpx.Client) -> None:
    [old] = _roots(client)
    r = _put(client, {"Provider": "consul", "Config": {"PrivateKey": KEY}})
    assert (r.status_code, r.text) == (200, "")
    roots = _roots(client)
    assert len(roots) == 2
    new = _active(client)
    assert new["ID"] != old["ID"]
    [cross] = new["IntermediateCerts"]
    x509.load_pem_x509_certificate(cross.encode()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(old["RootCert"].encode())
    )
    public = serialization.load_pem_private_key(KEY.encode(), None).public_key()
    assert x509.load_pem_x509_certificate(new["RootCert"].encode()).public_key() == public


def test_dropping_the_private_key_rotates_to_a_fresh_one(client: httpx.Client) -> None:
    """Consul names the provider's state by its key settings and cleans up the old state on a
    rotation: a config without the key no longer finds the key's root."""
    assert _put(client, {"Provider": "consul", "Config": {"PrivateKey": KEY}}).status_code == 200
    keyed = _active(client)
    r = _put(client, {"Provider": "consul", "Config": {"LeafCertTTL": "24h"}})
    assert r.status_code == 200
    assert len(_roots(client)) == 3
    assert _active(client)["SigningKeyID"] != keyed["SigningKeyID"]


@pytest.mark.parametrize(
    ("config", "key_type", "bits", "public_type"),
    [
        ({"PrivateKeyType": "ec", "PrivateKeyBits": 384}, "ec", 384, ec.EllipticCurvePublicKey),
        ({"PrivateKeyType": "rsa", "PrivateKeyBits": 2048}, "rsa", 2048, rsa.RSAPublicKey),
    ],
)
def test_new_key_settings_rotate_to_a_key_of_that_kind(
    world: World,
    client: httpx.Client,
    config: dict[str, Any],
    key_type: str,
    bits: int,
    public_type: type,
) -> None:
    r = _put(client, {"Provider": "consul", "Config": config})
    assert (r.status_code, r.text) == (200, "")
    active = _active(client)
    assert (active["PrivateKeyType"], active["PrivateKeyBits"]) == (key_type, bits)
    root = x509.load_pem_x509_certificate(active["RootCert"].encode())
    assert isinstance(root.public_key(), public_type)
    leaf = client.get("/v1/agent/connect/ca/leaf/web").json()
    [cert, cross] = x509.load_pem_x509_certificates(leaf["CertPEM"].encode())
    cert.verify_directly_issued_by(root)
    assert cross.subject == root.subject


def test_force_without_cross_signing_skips_the_cross_signature(client: httpx.Client) -> None:
    body = {
        "Provider": "consul",
        "Config": {"PrivateKey": KEY},
        "ForceWithoutCrossSigning": True,
    }
    assert _put(client, body).status_code == 200
    assert len(_roots(client)) == 2
    assert _active(client)["IntermediateCerts"] is None
    assert client.get(PATH).json()["ForceWithoutCrossSigning"] is True
    leaf = client.get("/v1/agent/connect/ca/leaf/web").json()
    assert leaf["CertPEM"].count("BEGIN CERTIFICATE") == 1


def test_a_provider_that_cannot_cross_sign_needs_the_force_flag(client: httpx.Client) -> None:
    no_xsign = {"Provider": "consul", "Config": {"DisableCrossSigning": True}}
    assert _put(client, no_xsign).status_code == 200
    rotate = {"Provider": "consul", "Config": {"PrivateKey": KEY}}
    r = _put(client, rotate)
    assert (r.status_code, r.text) == (
        500,
        "The current CA Provider does not support cross-signing. You can try again with "
        "ForceWithoutCrossSigningSet but this may cause disruption - see documentation for more.",
    )
    assert len(_roots(client)) == 1
    assert client.get(PATH).json()["Config"] == {"DisableCrossSigning": True}
    assert _put(client, {**rotate, "force_without_cross_signing": True}).status_code == 200
    assert len(_roots(client)) == 2


CONFIG_ERRORS = [
    (
        {"LeafCertTTL": "abc"},
        "error decoding config: 1 error(s) decoding:\n\n"
        "* error decoding 'LeafCertTTL': time: invalid duration \"abc\"",
    ),
    (
        {"LeafCertTTL": "30m", "PrivateKeyBits": "lots"},
        "error decoding config: 1 error(s) decoding:\n\n"
        "* cannot parse 'PrivateKeyBits' as int: strconv.ParseInt: parsing \"lots\": "
        "invalid syntax",
    ),
    ({"LeafCertTTL": "30m"}, "leaf cert TTL must be greater or equal than 1h0m0s"),
    ({"LeafCertTTL": 3600}, "leaf cert TTL must be greater or equal than 1h0m0s"),
    (
        {"LeafCertTTL": "9000h", "IntermediateCertTTL": "30000h"},
        "leaf cert TTL must be less than 8760h0m0s",
    ),
    (
        {"IntermediateCertTTL": "100h"},
        "Intermediate Cert TTL must be greater or equal than 3 * LeafCertTTL (>=216h0m0s).",
    ),
    (
        {"IntermediateCertTTL": "2h", "LeafCertTTL": "1h"},
        "Intermediate Cert TTL must be greater or equal than 3h",
    ),
    (
        {"RootCertTTL": "1000h"},
        "root cert TTL is set and is not greater than intermediate cert ttl. "
        "root cert ttl: 1000h0m0s, intermediate cert ttl: 8760h0m0s",
    ),
    ({"PrivateKeyType": "dsa"}, "private key type must be either 'ec' or 'rsa'"),
    ({"PrivateKeyBits": 512}, "EC key length must be one of (224, 256, 384, 521) bits"),
    ({"PrivateKeyType": "rsa"}, "RSA key length must be 2048 or 4096 bits"),
    ({"RootCert": "x"}, "must provide a private key when providing a root cert"),
]


@pytest.mark.parametrize(("config", "message"), CONFIG_ERRORS)
def test_config_errors_are_consuls_500s_and_change_nothing(
    client: httpx.Client, config: dict[str, Any], message: str
) -> None:
    stored = client.get(PATH).json()
    roots = _roots(client)
    r = _put(client, {"Provider": "consul", "Config": config})
    assert (r.status_code, r.text, r.headers["content-type"]) == (
        500,
        f"error configuring provider: {message}",
        "text/plain; charset=utf-8",
    )
    assert client.get(PATH).json() == stored
    assert _roots(client) == roots


def test_skip_validate_lets_a_short_leaf_ttl_through(client: httpx.Client) -> None:
    r = _put(client, {"Provider": "consul", "Config": {"LeafCertTTL": "30m", "SkipValidate": True}})
    assert r.status_code == 200
    leaf = client.get("/v1/agent/connect/ca/leaf/web").json()
    assert (leaf["ValidAfter"], leaf["ValidBefore"]) == (
        "2025-12-31T23:59:00Z",
        "2026-01-01T00:29:00Z",
    )


REFUSALS = [
    (
        {"Provider": "nope", "Config": {}},
        500,
        'could not initialize provider: unknown CA provider "nope"',
    ),
    ({"Config": {}}, 500, 'could not initialize provider: unknown CA provider ""'),
    (
        {"Provider": "consul", "Config": {"PrivateKey": "nope"}},
        500,
        "error generating CA root certificate: error generating CA: "
        'error parsing private key "nope": no PEM-encoded data found',
    ),
    (
        {"Provider": "consul", "Config": {}, "State": {"foo": "bar"}},
        400,
        "Provider State is read-only. It must be omitted or identical to the current value",
    ),
    (
        {"Provider": 7},
        400,
        "Request decode failed: json: cannot unmarshal number into Go struct field "
        "CAConfiguration.Provider of type string",
    ),
    (
        {"Provider": "consul", "Config": []},
        400,
        "Request decode failed: json: cannot unmarshal array into Go struct field "
        "CAConfiguration.Config of type map[string]interface {}",
    ),
    # What the simulator does not run, said plainly.
    (
        {"Provider": "vault", "Config": {}},
        400,
        "consul-sim simulates only the built-in \"consul\" CA provider, not 'vault'",
    ),
    (
        {"Provider": "consul", "Config": {"PrivateKey": KEY, "RootCert": "x"}},
        400,
        "consul-sim issues its own root: give a PrivateKey without a RootCert",
    ),
]


@pytest.mark.parametrize(("body", "status", "message"), REFUSALS)
def test_refusals_are_consuls_and_change_nothing(
    client: httpx.Client, body: dict[str, Any], status: int, message: str
) -> None:
    stored = client.get(PATH).json()
    r = _put(client, body)
    assert (r.status_code, r.text) == (status, message)
    assert client.get(PATH).json() == stored
    assert len(_roots(client)) == 1


def test_a_malformed_body_is_a_decode_error(client: httpx.Client) -> None:
    r = client.put(PATH, content=b"{")
    assert r.status_code == 400 and r.text.startswith("Request decode failed: ")
    assert len(_roots(client)) == 1


def test_reading_and_writing_both_need_operator_write(world: World) -> None:
    """Consul's read checks OperatorWriteAllowed, whatever its comment says."""
    deny = world.add_cluster("secure", acl_default_policy="deny")
    reader_accessor, reader = deny.acl.create_token({"operator": "read"})
    _, writer = deny.acl.create_token({"operator": "write"})
    r = deny.client.get(PATH)
    assert r.status_code == 403
    assert r.text.startswith(
        "Permission denied: anonymous token lacks permission 'operator:write'."
    )
    r = deny.client.get(PATH, headers={"X-Consul-Token": reader})
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: token with AccessorID '{reader_accessor}' lacks permission "
        "'operator:write'",
    )
    body = {"Provider": "consul", "Config": {"LeafCertTTL": "24h"}}
    r = deny.client.put(PATH, json=body, headers={"X-Consul-Token": reader})
    assert r.status_code == 403
    assert deny.client.get(PATH, headers={"X-Consul-Token": writer}).json()["Config"] == {
        "IntermediateCertTTL": "8760h",
        "LeafCertTTL": "72h",
        "RootCertTTL": "87600h",
    }
    assert deny.client.put(PATH, json=body, headers={"X-Consul-Token": writer}).status_code == 200
    r = deny.client.get(PATH, headers={"X-Consul-Token": writer})
    assert r.json()["Config"] == {"LeafCertTTL": "24h"}


def test_another_datacenter_is_consuls_500(client: httpx.Client) -> None:
    body = {"Provider": "consul", "Config": {"LeafCertTTL": "24h"}}
    r = client.put(f"{PATH}?dc=elsewhere", json=body)
    assert (r.status_code, r.text) == (500, "No path to datacenter")
    assert client.get(f"{PATH}?dc=elsewhere").status_code == 500


def test_other_methods_are_405(client: httpx.Client) -> None:
    r = client.post(PATH, json={})
    assert r.status_code == 405


@pytest.mark.parametrize(
    "config",
    [
        {"PrivateKeyType": "rsa", "PrivateKeyBits": 2048},
        {"PrivateKeyType": "ec", "PrivateKeyBits": 521},
        {"PrivateKeyType": "ec", "PrivateKeyBits": 224},
    ],
)
def test_a_world_snapshot_keeps_any_ca_key(
    world: World, client: httpx.Client, config: dict[str, Any]
) -> None:
    assert _put(client, {"Provider": "consul", "Config": config}).status_code == 200
    leaf = client.get("/v1/agent/connect/ca/leaf/web").json()
    saved = world.snapshot()
    with World.restore(saved) as copy:
        restored = copy.clusters["dc1"]
        assert (
            restored.client.get("/v1/connect/ca/roots").json()
            == client.get("/v1/connect/ca/roots").json()
        )
        assert restored.client.get("/v1/agent/connect/ca/leaf/web").json() == leaf
        assert copy.snapshot() == saved
        # The restored CA still signs: a new service's leaf chains to the restored root.
        other = restored.client.get("/v1/agent/connect/ca/leaf/api").json()
        root = x509.load_pem_x509_certificate(_active(restored.client)["RootCert"].encode())
        x509.load_pem_x509_certificates(other["CertPEM"].encode())[0].verify_directly_issued_by(
            root
        )
