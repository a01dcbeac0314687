"""A cluster's built-in Connect CA: a real self-signed root, rotation, and what the API shows.

What Consul's built-in ("consul") provider makes, read from ``agent/connect/ca/provider_consul.go``
(``generateCA``, ``CrossSignCA``), ``agent/connect/parsing.go`` (``KeyId``,
``CalculateCertFingerprint``, ``EncodeSigningKeyID``), ``agent/connect/common_names.go`` (``CACN``)
and ``agent/consul/leader_connect_ca.go`` (``newCARoot``):

* an EC P-256 key; the root's Subject Key ID (and Authority Key ID) is the SHA-256 of the
  PKIX DER public key, all 32 bytes;
* CommonName ``pri-<8 base36 chars>.consul.ca.<first 8 of the cluster ID>.consul``, one URI SAN
  ``spiffe://<cluster ID>.consul``, CA with cert-sign, CRL-sign and digital-signature usages;
* NotBefore = now, NotAfter = now + ``RootCertTTL`` (87600h);
* the root record: ``ID`` = colon-hex SHA-1 of the DER certificate, ``SigningKeyID`` = colon-hex
  Subject Key ID, ``Name`` = ``Consul CA Primary Cert``, ``ExternalTrustDomain`` = the cluster ID;
* serial numbers from one counter that starts after the provider's first Raft write;
* rotation: the new root becomes active, the old one stays listed with ``Active: false`` (and a
  ``RotatedOutAt`` that is never serialized), and the old key cross-signs the new root, which
  Consul hands out as the new root's ``IntermediateCerts``.

Determinism: the private key is derived from the cluster's seeded random stream
(``ec.derive_private_key``) and certificates are signed with RFC 6979 deterministic ECDSA, so
the same seed gives byte-identical certificates. Where the installed ``cryptography``/OpenSSL
cannot sign deterministically the signature (and so ``ID``) differs between runs while the key,
``SigningKeyID``, serials and times stay seeded. The keys are a simulator's: predictable from the
seed, never to be trusted outside it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from consul_sim.clock import rfc3339

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from consul_sim.clock import Clock
    from consul_sim.rand import SimRandom
    from consul_sim.store import Store

ROOTS_TABLE = "connect-ca-roots"
CONFIG_TABLE = "connect-ca-config"

PROVIDER = "consul"
ROOT_NAME = "Consul CA Primary Cert"
PRIVATE_KEY_TYPE = "ec"
PRIVATE_KEY_BITS = 256
LEAF_CERT_TTL = "72h"
INTERMEDIATE_CERT_TTL = "8760h"
ROOT_CERT_TTL = "87600h"
ROOT_CERT_TTL_SECONDS = 87600 * 3600
CROSS_SIGN_TTL_SECONDS = 7 * 24 * 3600
CLOCK_DRIFT_BUFFER_SECONDS = 60

# The order of NIST P-256: a private scalar lies in [1, n-1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def hex_string(data: bytes) -> str:
    """Consul's colon-separated lower-case hex (``connect.HexString``)."""
    return ":".join(f"{b:02x}" for b in data)


def key_id(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """``connect.KeyId``: SHA-256 of the PKIX DER public key, not RFC 5280's method 1."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()


def fingerprint(cert: x509.Certificate) -> str:
    """``connect.CalculateCertFingerprint``: colon-hex SHA-1 of the DER certificate."""
    from cryptography.hazmat.primitives import hashes

    return hex_string(cert.fingerprint(hashes.SHA1()))  # noqa: S303 - Consul's ID, not security


def _pem(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _utc(ts: float) -> datetime:
    """X.509 times have whole seconds; Go's ``time.Now()`` is truncated the same way on encode."""
    return datetime.fromtimestamp(int(ts), tz=UTC)


def _sign(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes

    try:
        return builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    except (TypeError, UnsupportedAlgorithm):  # older cryptography or OpenSSL < 3.2
        return builder.sign(key, hashes.SHA256())


@dataclass
class CARoot:
    """One entry of Consul's CA roots table (``structs.CARoot``)."""

    id: str
    name: str
    serial_number: int
    signing_key_id: str
    external_trust_domain: str
    not_before: float
    not_after: float
    root_cert: str
    intermediate_certs: list[str] | None
    active: bool
    private_key_type: str
    private_key_bits: int
    create_index: int
    modify_index: int
    rotated_out_at: float | None = None
    private_key: ec.EllipticCurvePrivateKey | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Consul's JSON: ``SigningCert``/``SigningKey`` are omitempty (never set for the
        built-in provider's roots) and ``RotatedOutAt`` is ``json:"-"``."""
        return {
            "ID": self.id,
            "Name": self.name,
            "SerialNumber": self.serial_number,
            "SigningKeyID": self.signing_key_id,
            "ExternalTrustDomain": self.external_trust_domain,
            "NotBefore": rfc3339(self.not_before),
            "NotAfter": rfc3339(self.not_after),
            "RootCert": self.root_cert,
            "IntermediateCerts": (
                list(self.intermediate_certs) if self.intermediate_certs is not None else None
            ),
            "Active": self.active,
            "PrivateKeyType": self.private_key_type,
            "PrivateKeyBits": self.private_key_bits,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }


class ConnectCA:
    """The cluster's CA: its roots live here, their index in the cluster's store, so blocking
    queries on ``connect-ca-roots`` wake on rotation like any other table."""

    def __init__(self, store: Store, clock: Clock, rand: SimRandom, trust_domain: str) -> None:
        if not trust_domain.endswith(".consul"):
            raise ValueError(f"trust domain {trust_domain!r} must end in .consul")
        self.store = store
        self.clock = clock
        self.rand = rand
        self.trust_domain = trust_domain
        self.cluster_id = trust_domain.removesuffix(".consul")
        self._roots: list[CARoot] = []
        self._serial = 0
        self._config_index = 0
        with store.txn() as txn:
            # Consul's first serial follows the Raft index of the provider-state write.
            self._config_index = txn.touch(CONFIG_TABLE)
            self._serial = txn.index
            root = self._new_root(txn.index)
            txn.touch(ROOTS_TABLE)
            self._roots = [root]

    # -- reads --------------------------------------------------------------------------------
    def roots(self) -> list[CARoot]:
        """Every trusted root, ordered by ID as Consul's memdb ``id`` index returns them."""
        with self.store.lock:
            return sorted((_public(r) for r in self._roots), key=lambda r: r.id)

    def active_root(self) -> CARoot:
        with self.store.lock:
            return _public(next(r for r in self._roots if r.active))

    def root_pems(self) -> list[str]:
        """Every root's ``RootCert``, newline-terminated: a peer's trust bundle ``RootPEMs``."""
        return [_newline_terminated(r.root_cert) for r in self.roots()]

    def indexed_roots(self) -> tuple[int, dict[str, Any]]:
        """``structs.IndexedCARoots`` as JSON, with the roots table's index."""
        with self.store.lock:
            index = self.store.max_index([ROOTS_TABLE])
            roots = self.roots()
            active = next(r for r in roots if r.active)
            return index, {
                "ActiveRootID": active.id,
                "TrustDomain": self.trust_domain,
                "Roots": [r.to_json() for r in roots],
            }

    def configuration(self) -> dict[str, Any]:
        """``structs.CAConfiguration`` as JSON; ``ClusterID`` is ``json:"-"`` in Consul."""
        return {
            "Provider": PROVIDER,
            "Config": {
                "IntermediateCertTTL": INTERMEDIATE_CERT_TTL,
                "LeafCertTTL": LEAF_CERT_TTL,
                "RootCertTTL": ROOT_CERT_TTL,
            },
            "State": None,
            "ForceWithoutCrossSigning": False,
            "CreateIndex": self._config_index,
            "ModifyIndex": self._config_index,
        }

    # -- writes -------------------------------------------------------------------------------
    def rotate(self, key: ec.EllipticCurvePrivateKey | None = None) -> CARoot:
        """A new key (``key``, else one drawn from the seed) and root become active; the old
        root stays trusted (Active false) and cross-signs the new one, as a built-in CA
        rotation (a new PrivateKey in ``PUT /v1/connect/ca/configuration``) does."""
        with self.store.txn() as txn:
            old = next(r for r in self._roots if r.active)
            new = self._new_root(txn.index, key)
            if old.private_key is not None:
                new.intermediate_certs = [self._cross_sign(old, new)]
            now = self.clock.now()
            for root in self._roots:
                if root.active:
                    root.active = False
                    root.rotated_out_at = now
                root.modify_index = txn.index
            self._roots.append(new)
            txn.touch(ROOTS_TABLE)
            return _public(new)

    # -- certificates -------------------------------------------------------------------------
    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _compact_uid(self) -> str:
        """``connect.CompactUID``: 8 base36 characters of a random 63-bit value."""
        value = self.rand.randint(1, 2**63 - 1)
        digits = ""
        while value:
            value, rem = divmod(value, 36)
            digits = _BASE36[rem] + digits
        return digits[:8]

    def signs_with(self, key: ec.EllipticCurvePrivateKey) -> bool:
        """Whether ``key`` is the active root's: Consul's provider state is keyed by its key
        settings, so configuring the same key again yields the same root and no rotation."""
        with self.store.lock:
            active = next(r for r in self._roots if r.active)
            return active.private_key is not None and key_id(
                active.private_key.public_key()
            ) == key_id(key.public_key())

    def _new_root(self, index: int, key: ec.EllipticCurvePrivateKey | None = None) -> CARoot:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        if key is None:
            key = ec.derive_private_key(self.rand.randint(1, _P256_ORDER - 1), ec.SECP256R1())
        kid = key_id(key.public_key())
        now = self.clock.now()
        not_before, not_after = _utc(now), _utc(now + ROOT_CERT_TTL_SECONDS)
        cn = f"pri-{self._compact_uid()}.consul.ca.{self.cluster_id[:8]}.consul"
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = _ca_extensions(
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(self._next_serial())
            .not_valid_before(not_before)
            .not_valid_after(not_after),
            subject_key_id=kid,
            authority_key_id=kid,
            spiffe_uri=f"spiffe://{self.trust_domain}",
        )
        cert = _sign(builder, key)
        return CARoot(
            id=fingerprint(cert),
            name=ROOT_NAME,
            serial_number=cert.serial_number,
            signing_key_id=hex_string(kid),
            external_trust_domain=self.cluster_id,
            not_before=not_before.timestamp(),
            not_after=not_after.timestamp(),
            root_cert=_pem(cert),
            intermediate_certs=None,
            active=True,
            private_key_type=PRIVATE_KEY_TYPE,
            private_key_bits=PRIVATE_KEY_BITS,
            create_index=index,
            modify_index=index,
            private_key=key,
        )

    def _cross_sign(self, old: CARoot, new: CARoot) -> str:
        """The new root re-issued by the old key, valid from a minute ago for 7 days, so
        leaves signed by the new key verify against the old root during the rollout."""
        from cryptography import x509

        assert old.private_key is not None
        old_cert = x509.load_pem_x509_certificate(old.root_cert.encode())
        new_cert = x509.load_pem_x509_certificate(new.root_cert.encode())
        now = self.clock.now() - CLOCK_DRIFT_BUFFER_SECONDS
        builder = _ca_extensions(
            x509.CertificateBuilder()
            .subject_name(new_cert.subject)
            .issuer_name(old_cert.subject)
            .public_key(new_cert.public_key())
            .serial_number(self._next_serial())
            .not_valid_before(_utc(now))
            .not_valid_after(_utc(now + CROSS_SIGN_TTL_SECONDS)),
            subject_key_id=bytes.fromhex(new.signing_key_id.replace(":", "")),
            authority_key_id=key_id(old.private_key.public_key()),
            spiffe_uri=f"spiffe://{self.trust_domain}",
        )
        return _pem(_sign(builder, old.private_key))


def _public(root: CARoot) -> CARoot:
    """A copy for callers: the signing key never leaves the CA."""
    return replace(root, private_key=None)


def _newline_terminated(pem: str) -> str:
    return pem if pem.endswith("\n") else pem + "\n"


def _ca_extensions(
    builder: x509.CertificateBuilder,
    *,
    subject_key_id: bytes,
    authority_key_id: bytes,
    spiffe_uri: str,
) -> x509.CertificateBuilder:
    """The extensions Go's x509 writes for Consul's CA template, in Go's order."""
    from cryptography import x509

    return (
        builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(subject_key_id), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(authority_key_id, None, None), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_uri)]),
            critical=False,
        )
    )
