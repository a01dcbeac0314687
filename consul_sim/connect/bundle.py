"""A peer's trust bundle as the importing cluster holds it (``pbpeering.PeeringTrustBundle``).

The exporter sends its roots' PEMs with its trust domain on every change of its CA roots
(``agent/grpc-external/services/peerstream/``, reference §5.2); the importer stores them under
the local peer name and copies the PEMs into the peering's ``PeerCAPems``. Consul CE serves the
bundle only over gRPC (``PeeringService.TrustBundleRead``, ``agent/rpc/peering/service.go``);
``agent/peering_endpoint.go`` has no HTTP read for it, so the simulator shows it through the
Python API (``Cluster.trust_bundle``) and ``GET /_sim/trust-bundle/:peer``.

The simulator keeps the PEMs on the peering record (``PeerCAPems``), so the bundle is read from
there: the trust domain is the SPIFFE signing ID every Consul root carries as its URI SAN
(``spiffe://<trust domain>``, ``connect.SpiffeIDSigning``), the same value the exporter's
``IndexedCARoots.TrustDomain`` sends. The bundle's own Raft indexes are not kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consul_sim.models.peering import Peering


def trust_domain_of(pem: str) -> str:
    """The host of a root's ``spiffe://`` URI SAN, or "" when it has none."""
    from urllib.parse import urlsplit

    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem.encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        parts = urlsplit(uri)
        if parts.scheme == "spiffe":
            return parts.netloc
    return ""


def trust_bundle(record: Peering) -> dict[str, Any] | None:
    """The bundle the importer holds for ``record``'s peer; None before one arrived (and after
    the peering is deleted, which drops it)."""
    if not record.peer_ca_pems or record.deleted_at is not None:
        return None
    return {
        "TrustDomain": trust_domain_of(record.peer_ca_pems[0]),
        "PeerName": record.name,
        "RootPEMs": list(record.peer_ca_pems),
    }
