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
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from consul_sim.clock import rfc3339
from consul_sim.connect import keys
from consul_sim.connect.config import (
    DEFAULT_CONFIG,
    CAConfiguration,
    ConfigError,
    ProviderSettings,
    parse_consul_config,
)
from consul_sim.errors import BadRequest, ConsulError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    from consul_sim.clock import Clock
    from consul_sim.connect.keys import Digest, SigningKey
    from consul_sim.connect.leaf import IssuedCert, LeafCerts
    from consul_sim.rand import SimRandom
    from consul_sim.store import Store
    from consul_sim.store.txn import Txn

ROOTS_TABLE = "connect-ca-roots"
CONFIG_TABLE = "connect-ca-config"
LEAF_TABLE = "connect-ca-leaf-certs"

PROVIDER = "consul"
ROOT_NAME = "Consul CA Primary Cert"
CROSS_SIGN_TTL_SECONDS = 7 * 24 * 3600
CLOCK_DRIFT_BUFFER_SECONDS = 60
KNOWN_PROVIDERS = ("consul", "vault", "aws-pca")
STATE_READ_ONLY = (
    "Provider State is read-only. It must be omitted or identical to the current value"
)
NO_CROSS_SIGNING = (
    "The current CA Provider does not support cross-signing. You can try again with "
    "ForceWithoutCrossSigningSet but this may cause disruption - see documentation for more."
)
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def hex_string(data: bytes) -> str:
    """Consul's colon-separated lower-case hex (``connect.HexString``)."""
    return ":".join(f"{b:02x}" for b in data)


def key_id(public_key: Any) -> bytes:
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


def _sign(
    builder: x509.CertificateBuilder,
    key: SigningKey,
    digest: Digest | None = None,
) -> x509.Certificate:
    """Sign with SHA-256 unless told otherwise (``connect.SigAlgoForKey``), deterministically
    where the key is EC and the library can."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    algorithm = digest or hashes.SHA256()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        try:
            return builder.sign(key, algorithm, ecdsa_deterministic=True)
        except (TypeError, UnsupportedAlgorithm):  # older cryptography or OpenSSL < 3.2
            pass
    return builder.sign(key, algorithm)


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
    signing_key_pem: str = field(default="", repr=False)
    """The key as PKCS#8 PEM: cryptography's key objects do not pickle, and a world snapshot
    must hold every key the CA may have (EC of any size, RSA)."""

    @property
    def private_key(self) -> SigningKey | None:
        return keys.load(self.signing_key_pem) if self.signing_key_pem else None

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

    def __init__(
        self,
        store: Store,
        clock: Clock,
        rand: SimRandom,
        trust_domain: str,
        *,
        datacenter: str = "dc1",
    ) -> None:
        if not trust_domain.endswith(".consul"):
            raise ValueError(f"trust domain {trust_domain!r} must end in .consul")
        self.store = store
        self.clock = clock
        self.rand = rand
        self.trust_domain = trust_domain
        self.datacenter = datacenter
        self.cluster_id = trust_domain.removesuffix(".consul")
        self._roots: list[CARoot] = []
        self._serial = 0
        self._settings = ProviderSettings()
        with store.txn() as txn:
            # Consul's first serial follows the Raft index of the provider-state write.
            index = txn.touch(CONFIG_TABLE)
            self._config = CAConfiguration(
                "consul", dict(DEFAULT_CONFIG), None, False, index, index
            )
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
        """``structs.CAConfiguration`` as JSON: the ``Config`` map as last stored, verbatim."""
        with self.store.lock:
            return self._config.to_json()

    @property
    def settings(self) -> ProviderSettings:
        """The built-in provider's parsed configuration (TTLs, key settings)."""
        return self._settings

    # -- writes -------------------------------------------------------------------------------
    def update_configuration(
        self,
        provider: str,
        config: dict[str, Any],
        *,
        state: dict[str, str] | None = None,
        force_without_cross_signing: bool = False,
    ) -> None:
        """``CAManager.UpdateConfiguration`` (``agent/consul/leader_connect_ca.go``) for the
        built-in provider.

        In Consul's order: a ``State`` other than the stored one is refused; the same provider
        with a deep-equal ``Config`` is a no-op (no index moves); an unknown provider or a
        ``Config`` the provider's parse refuses is a 500 with the leader's wrapping; then the
        provider's key settings (PrivateKey, RootCert, PrivateKeyType, PrivateKeyBits) name its
        state (``ConsulProvider.Configure``): the same ones keep the root and only the
        configuration is written; new ones make a new root (from the given key, else a fresh
        one; even the active key makes a new certificate, as Consul's provider state for the
        old settings is cleaned up) that rotates in, cross-signed by the old key unless
        ``ForceWithoutCrossSigning``.
        An old configuration with ``DisableCrossSigning`` (the provider's test switch) refuses
        a rotation without the force flag, as a provider that cannot cross-sign does.

        Assumed where the simulator stops short: ``vault`` and ``aws-pca`` are real Consul
        providers the simulator does not run (400 saying so), and a ``RootCert`` of the caller's
        own is refused (the simulator issues its roots itself).
        """
        with self.store.txn() as txn:
            stored = self._config
            if state and state != (stored.state or {}):
                raise BadRequest(STATE_READ_ONLY)
            if provider == stored.provider and config == stored.config:
                return
            if provider not in KNOWN_PROVIDERS:
                raise ConsulError(
                    f'could not initialize provider: unknown CA provider "{provider}"'
                )
            if provider != "consul":
                raise BadRequest(
                    f'consul-sim simulates only the built-in "consul" CA provider, not {provider!r}'
                )
            try:
                settings = parse_consul_config(config)
            except ConfigError as exc:
                raise ConsulError(f"error configuring provider: {exc}") from None
            if settings.root_cert:
                raise BadRequest(
                    "consul-sim issues its own root: give a PrivateKey without a RootCert"
                )
            rotating = settings.key_settings != self._settings.key_settings
            key: SigningKey | None = None
            if rotating and settings.private_key:
                try:
                    key = keys.parse_signer(settings.private_key)
                except keys.SignerError as exc:
                    raise ConsulError(
                        "error generating CA root certificate: error generating CA: "
                        f'error parsing private key "{settings.private_key}": {exc}'
                    ) from None
            cross_sign = not force_without_cross_signing
            if rotating and self._settings.disable_cross_signing and cross_sign:
                raise ConsulError(NO_CROSS_SIGNING)
            self._settings = settings
            if rotating:
                self._rotate(txn, key, cross_sign=cross_sign)
            self._config = CAConfiguration(
                provider,
                json.loads(json.dumps(config)),
                _provider_state(config, stored.state),
                force_without_cross_signing,
                stored.create_index,
                txn.touch(CONFIG_TABLE),
            )

    def rotate(self, key: SigningKey | None = None) -> CARoot:
        """A new key (``key``, else one drawn from the seed) and root become active; the old
        root stays trusted (Active false) and cross-signs the new one, as a built-in CA
        rotation (a new PrivateKey in ``PUT /v1/connect/ca/configuration``) does."""
        with self.store.txn() as txn:
            return self._rotate(txn, key, cross_sign=True)

    def _rotate(self, txn: Txn, key: SigningKey | None, *, cross_sign: bool) -> CARoot:
        """``primaryUpdateRootCA``: the old roots go inactive (``RotatedOutAt`` now), the new
        one is appended with the cross-signed certificate first in its intermediates."""
        index = txn.index
        old = next(r for r in self._roots if r.active)
        new = self._new_root(index, key)
        if cross_sign and old.private_key is not None:
            new.intermediate_certs = [self._cross_sign(old, new)]
        now = self.clock.now()
        for root in self._roots:
            if root.active:
                root.active = False
                root.rotated_out_at = now
            root.modify_index = index
        self._roots.append(new)
        txn.touch(ROOTS_TABLE)
        return _public(new)

    # -- leaves -------------------------------------------------------------------------------
    @cached_property
    def leaves(self) -> LeafCerts:
        """The agent's leaf certificates (``consul_sim.connect.leaf``)."""
        from consul_sim.connect.leaf import LeafCerts

        return LeafCerts(self, self.rand.derive("leaf-keys"))

    def leaf(self, service: str) -> IssuedCert:
        """The leaf certificate for ``service``, as ``GET /v1/agent/connect/ca/leaf/:service``
        answers it without ``?index``: the cached one while it is valid and signed by the
        active root, else a new one."""
        return self.leaves.get(service)

    def sign(self, public_key: ec.EllipticCurvePublicKey, uri: str) -> tuple[str, int]:
        """``ConsulProvider.Sign`` then ``CAManager.SignCertificate``: a leaf for ``uri``
        signed by the active root's key, and its Raft index.

        The template is Consul's: the next serial, no subject, the URI SAN (marked critical,
        as Go's x509 does when the subject is empty), digital-signature, key-encipherment,
        data-encipherment and key-agreement usages, client and server auth, not a CA, Subject
        Key ID from the leaf's key and Authority Key ID from the signer's, valid from a minute
        ago for ``LeafCertTTL``. The answer is the leaf PEM followed by the active root's
        intermediates (the cross-signed root after a rotation), each newline-terminated; the
        index is the leaf-certs table's, bumped by ``ApplyCALeafRequest``.
        """
        from cryptography import x509
        from cryptography.x509.oid import ExtendedKeyUsageOID

        with self.store.txn() as txn:
            active = next(r for r in self._roots if r.active)
            assert active.private_key is not None
            issuer = x509.load_pem_x509_certificate(active.root_cert.encode())
            now = self.clock.now() - CLOCK_DRIFT_BUFFER_SECONDS
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([]))
                .issuer_name(issuer.subject)
                .public_key(public_key)
                .serial_number(self._next_serial())
                .not_valid_before(_utc(now))
                .not_valid_after(_utc(now + self._settings.leaf_cert_ttl))
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=True,
                        data_encipherment=True,
                        key_agreement=True,
                        key_cert_sign=False,
                        crl_sign=False,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(
                    x509.ExtendedKeyUsage(
                        [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
                    ),
                    critical=False,
                )
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.SubjectKeyIdentifier(key_id(public_key)), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier(
                        key_id(active.private_key.public_key()), None, None
                    ),
                    critical=False,
                )
                .add_extension(
                    x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]),
                    critical=True,
                )
            )
            pem = _pem(_sign(builder, active.private_key))
            for intermediate in active.intermediate_certs or []:
                pem += _newline_terminated(intermediate)
            return pem, txn.touch(LEAF_TABLE)

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

    def _new_root(self, index: int, key: SigningKey | None = None) -> CARoot:
        """``ConsulProvider.generateCA`` with ``newCARoot``: a key of the configured type and
        size unless one is given, valid from now for ``RootCertTTL``."""
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        if key is None:
            key = keys.generate(
                self.rand, self._settings.private_key_type, self._settings.private_key_bits
            )
        kid = key_id(key.public_key())
        now = self.clock.now()
        not_before, not_after = _utc(now), _utc(now + self._settings.root_cert_ttl)
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
        cert = _sign(builder, key, keys.root_hash(key))
        key_type, key_bits = keys.key_info(key)
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
            private_key_type=key_type,
            private_key_bits=key_bits,
            create_index=index,
            modify_index=index,
            signing_key_pem=keys.to_pem(key),
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
        return _pem(_sign(builder, old.private_key, keys.root_hash(old.private_key)))


def _public(root: CARoot) -> CARoot:
    """A copy for callers: the signing key never leaves the CA."""
    return replace(root, signing_key_pem="")


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


def _provider_state(config: dict[str, Any], stored: dict[str, str] | None) -> dict[str, str] | None:
    """The ``State`` a configuration write stores: the built-in provider keeps its state in
    Consul's own tables and reports none, except the ``test_state`` map its ``Configure``
    takes from the raw configuration and ``State()`` hands back
    (``agent/connect/ca/provider_consul.go``); the Go client's
    ``TestAPI_ConnectCAConfig_get_set`` reads it back. Assumed: only string values count."""
    raw = config.get("test_state")
    if not isinstance(raw, dict):
        return stored
    return {str(k): v for k, v in raw.items() if isinstance(v, str)}
