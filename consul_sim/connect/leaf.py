"""The agent's leaf certificates: one per service name, kept until it nears expiry or the root
rotates (``GET /v1/agent/connect/ca/leaf/:service``).

After Consul's ``agent/leafcert/`` (the leaf-cert manager) and ``agent/agent_endpoint.go``
(``AgentConnectCALeafCert``):

* the certificate is keyed by the service *name* (not an instance ID); its SPIFFE ID is
  ``spiffe://<trust domain>/ns/default/dc/<dc>/svc/<service>`` (``connect.SpiffeIDService``,
  ``agent/connect/uri_service.go``; CE has no ``/ap/`` segment for the default partition), and
  the HTTP endpoint asks for no DNS or IP SANs, so the URI is the only SAN;
* each new certificate gets a fresh EC P-256 key (``connect.GeneratePrivateKey``), whatever the
  CA's own key type, returned PEM-encoded as SEC 1 (``EC PRIVATE KEY``);
* ``generate.go`` (``attemptLeafRefresh``): a cached certificate is replaced when its soft expiry
  has passed (``calculateSoftExpiry``: a point drawn between 60% and 90% of its lifetime) or
  when the active root's signing key is no longer the one that signed it;
* the answer is ``structs.IssuedCert``: ``SerialNumber`` in colon hex, ``CertPEM`` (the leaf and
  then the active root's intermediates), ``PrivateKeyPEM``, ``Service``, ``ServiceURI``,
  ``ValidAfter``/``ValidBefore`` and the Raft indexes of the signing write.

Deviations, kept because the simulator has no wall-clock jitter to offer: Consul waits a random
0-30 s (``caChangeJitterWindow``) after a rotation before a blocked reader gets its new
certificate; here the rotation itself wakes it. The soft-expiry point is drawn once per
certificate from the seed instead of on every read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from consul_sim.clock import rfc3339
from consul_sim.errors import ConsulError

if TYPE_CHECKING:
    from consul_sim.connect.ca import ConnectCA
    from consul_sim.rand import SimRandom

SOFT_RENEW = 0.6
HARD_RENEW = 0.9
_PATH_SAFE = "!$&'()*+,;=:@~-._"
"""What Go's ``url.URL.String`` leaves unescaped in a path segment besides letters and digits."""


@dataclass
class IssuedCert:
    """``structs.IssuedCert`` for a service, plus what the agent keeps beside it."""

    serial_number: str
    cert_pem: str
    private_key_pem: str
    service: str
    service_uri: str
    valid_after: float
    valid_before: float
    create_index: int
    modify_index: int
    authority_key_id: str = field(repr=False, default="")
    renew_at: float = field(repr=False, default=0.0)
    fetched_at: float = field(repr=False, default=0.0)

    def to_json(self) -> dict[str, Any]:
        """Consul's JSON: ``Agent``/``AgentURI``/``Kind`` are omitempty and CE's enterprise
        meta has no fields."""
        return {
            "SerialNumber": self.serial_number,
            "CertPEM": self.cert_pem,
            "PrivateKeyPEM": self.private_key_pem,
            "Service": self.service,
            "ServiceURI": self.service_uri,
            "ValidAfter": rfc3339(self.valid_after),
            "ValidBefore": rfc3339(self.valid_before),
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }


def service_uri(trust_domain: str, datacenter: str, service: str) -> str:
    """``SpiffeIDService.URI().String()`` in the default namespace and partition."""
    path = (
        f"/ns/default/dc/{quote(datacenter, safe=_PATH_SAFE)}/svc/{quote(service, safe=_PATH_SAFE)}"
    )
    return f"spiffe://{trust_domain}{path}"


class LeafCerts:
    """The agent's cache of leaf certificates, one per service name."""

    def __init__(self, ca: ConnectCA, rand: SimRandom) -> None:
        self.ca = ca
        self.rand = rand
        self._certs: dict[str, IssuedCert] = {}

    def cached(self, service: str) -> IssuedCert | None:
        """The certificate the agent holds for ``service``, without renewing it."""
        return self._certs.get(service)

    def ahead_of(self, service: str, index: int) -> IssuedCert | None:
        """The held certificate when a blocking reader's ``index`` is behind it: the manager
        answers that reader from the cache at once, unchecked (``certNeedsUpdate``), even if
        the root has rotated since; None when the reader must wait or revalidate."""
        cert = self._certs.get(service)
        if index > 0 and cert is not None and index < cert.modify_index:
            return cert
        return None

    def age(self, cert: IssuedCert) -> float:
        """Seconds since the certificate was fetched: the ``Age`` of a cache hit."""
        return max(self.ca.clock.now() - cert.fetched_at, 0.0)

    def get(self, service: str) -> IssuedCert:
        """The current certificate for ``service``: the cached one unless it is past its soft
        expiry or was signed by a key that is no longer the active root's."""
        check_service(service)
        with self.ca.store.lock:
            cert = self._certs.get(service)
            if cert is None or self._stale(cert):
                cert = self._issue(service)
                self._certs[service] = cert
            return cert

    def _stale(self, cert: IssuedCert) -> bool:
        if self.ca.clock.now() >= cert.renew_at:
            return True
        return self.ca.active_root().signing_key_id != cert.authority_key_id

    def _issue(self, service: str) -> IssuedCert:
        """``generateNewLeaf``: a new key, the SPIFFE ID, and the CA's signature."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        from consul_sim.connect.ca import hex_string
        from consul_sim.connect.keys import generate

        key = generate(self.rand, "ec", 256)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        uri = service_uri(self.ca.trust_domain, self.ca.datacenter, service)
        pem, index = self.ca.sign(key.public_key(), uri)
        leaf = x509.load_pem_x509_certificate(pem.encode())
        valid_after = leaf.not_valid_before_utc.timestamp()
        valid_before = leaf.not_valid_after_utc.timestamp()
        lifetime = valid_before - valid_after
        renew_at = valid_after + lifetime * self.rand.uniform(SOFT_RENEW, HARD_RENEW)
        aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        return IssuedCert(
            serial_number=hex_string(_serial_bytes(leaf.serial_number)),
            cert_pem=pem,
            private_key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ).decode(),
            service=service,
            service_uri=uri,
            valid_after=valid_after,
            valid_before=valid_before,
            create_index=index,
            modify_index=index,
            authority_key_id=hex_string(aki.key_identifier or b""),
            renew_at=renew_at,
            fetched_at=self.ca.clock.now(),
        )


def _serial_bytes(serial: int) -> bytes:
    """``big.Int.Bytes()``: big-endian, no leading zeros (``connect.EncodeSerialNumber``)."""
    return serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")


def check_service(service: str) -> None:
    """What Consul refuses before it signs: no name at all (``generateNewLeaf``: the request
    names no service, agent, server or kind) and a name the SPIFFE parser cannot read back
    (``connect.ParseCertURI``: a ``/`` splits the ``svc`` segment). Both are 500s in Consul,
    and both come before any ACL check (the signing RPC is never made, or parses first)."""
    if service == "":
        raise ConsulError("URI must be either service, agent, server, or kind")
    if "/" in service:
        raise ConsulError("SPIFFE ID is not in the expected format")
