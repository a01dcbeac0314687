"""Private keys for the built-in CA and its leaves: drawn from the seed, parsed from PEM.

Consul generates keys with ``connect.GeneratePrivateKeyWithConfig`` (``agent/connect/generate.go``:
EC on the NIST curve of the configured size, or RSA of 2048/4096 bits) and reads a configured
``PrivateKey`` with ``connect.ParseSigner`` (``agent/connect/parsing.go``: a PEM block of type
``EC PRIVATE KEY``, ``RSA PRIVATE KEY`` or ``PRIVATE KEY``). Here an EC key is derived from the
seeded stream with ``ec.derive_private_key``, and an RSA key is built from seeded primes
(a sieve, then Miller-Rabin with seeded witnesses), so a seed replays the same keys. That costs
what pure-Python big numbers cost: a 2048-bit key takes a fraction of a second, a 4096-bit one
several seconds (Consul's Go takes about a second); only a rotation to RSA pays it. Leaves are
always EC P-256, whatever the CA's key, as Consul's agent makes them
(``agent/leafcert/generate.go``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from consul_sim.rand import SimRandom

SigningKey: TypeAlias = "ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey"
Digest: TypeAlias = "hashes.SHA256 | hashes.SHA384 | hashes.SHA512"


def _small_primes(limit: int) -> list[int]:
    sieve = bytearray([1]) * limit
    sieve[:2] = b"\x00\x00"
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, limit, i)))
    return [i for i in range(3, limit) if sieve[i]]


_SMALL_PRIMES = _small_primes(1 << 16)


class SignerError(ValueError):
    """A configured key Consul's ``ParseSigner`` refuses; ``str()`` is Go's sentence."""


def _curve(bits: int) -> ec.EllipticCurve:
    from cryptography.hazmat.primitives.asymmetric import ec

    curves: dict[int, ec.EllipticCurve] = {
        224: ec.SECP224R1(),
        256: ec.SECP256R1(),
        384: ec.SECP384R1(),
        521: ec.SECP521R1(),
    }
    return curves[bits]


def generate(rand: SimRandom, key_type: str = "ec", bits: int = 256) -> SigningKey:
    """A seeded key of Consul's configured type and size (already validated)."""
    if key_type == "rsa":
        return _rsa(rand, bits)
    from cryptography.hazmat.primitives.asymmetric import ec

    curve = _curve(bits)
    order = _ORDERS[bits]
    return ec.derive_private_key(rand.randint(1, order - 1), curve)


# The group orders of the NIST curves: a private scalar lies in [1, n-1].
_ORDERS = {
    224: 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFF16A2E0B8F03E13DD29455C5C2A3D,
    256: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    384: int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    521: int(
        "01" + "FF" * 32 + "FA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}


def _rounds(bits: int) -> int:
    """Miller-Rabin rounds for a random candidate of ``bits`` bits, as FIPS 186-4 (table C.3)
    sizes them for an error below 2^-100."""
    return 4 if bits >= 1024 else 5


def _probable_prime(n: int, rand: SimRandom, rounds: int) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(rand.randint(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rand: SimRandom, bits: int, e: int) -> int:
    """A seeded prime: a random odd start with the top two bits set, then the odd numbers after
    it, sieved by every prime below 2^16 before any Miller-Rabin test (Python's big-number
    arithmetic is the cost, so the sieve saves most of it)."""
    window = 4096
    while True:
        start = rand.randint(0, 2**bits - 1) | (3 << (bits - 2)) | 1
        alive = bytearray([1]) * window  # alive[i]: start + 2*i has no small factor
        for p in _SMALL_PRIMES:
            first = (-start * pow(2, -1, p)) % p  # the i with start + 2*i = 0 (mod p)
            alive[first::p] = bytes(len(range(first, window, p)))
        for i in range(window):
            candidate = start + 2 * i
            if (
                alive[i]
                and candidate.bit_length() == bits
                and (candidate - 1) % e
                and _probable_prime(candidate, rand, _rounds(bits))
            ):
                return candidate


def _rsa(rand: SimRandom, bits: int) -> rsa.RSAPrivateKey:
    from cryptography.hazmat.primitives.asymmetric import rsa

    e = 65537
    p = _prime(rand, bits // 2, e)
    q = _prime(rand, bits // 2, e)
    while q == p:
        q = _prime(rand, bits // 2, e)
    n = p * q
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=d % (p - 1),
        dmq1=d % (q - 1),
        iqmp=pow(q, -1, p),
        public_numbers=rsa.RSAPublicNumbers(e, n),
    )
    return numbers.private_key()


def parse_signer(pem: str) -> SigningKey:
    """``connect.ParseSigner``: the first PEM block, by its type."""
    import re

    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    match = re.search(
        r"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", pem, flags=re.DOTALL
    )
    if match is None:
        raise SignerError("no PEM-encoded data found")
    block_type = match.group(1)
    if block_type not in ("EC PRIVATE KEY", "RSA PRIVATE KEY", "PRIVATE KEY"):
        raise SignerError(f"unknown PEM block type for signing key: {block_type}")
    import base64
    import binascii

    try:
        der = base64.b64decode("".join(match.group(2).split()), validate=True)
        key = load_der_private_key(der, password=None)
    except (ValueError, TypeError, binascii.Error):
        what = {"EC PRIVATE KEY": "EC ", "RSA PRIVATE KEY": "PKCS1 "}.get(block_type, "")
        raise SignerError(f"x509: failed to parse {what}private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise SignerError("private key is not a valid format")
    return key


_LOADED: dict[str, SigningKey] = {}
"""Keys by their PEM, so each is parsed at most once per process (RSA parsing checks the key,
which is slow); a CA holds a handful."""


def to_pem(key: SigningKey) -> str:
    """PKCS#8 PEM, unencrypted: how the CA keeps its keys (key objects do not pickle)."""
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    _remember(pem, key)
    return pem


def load(pem: str) -> SigningKey:
    """A key kept by :func:`to_pem`: the object it was made from, or parsed once (a restored
    snapshot's). The PEM is the simulator's own, so the slow RSA consistency check is skipped."""
    known = _LOADED.get(pem)
    if known is not None:
        return known
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(pem.encode(), password=None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise SignerError("private key is not a valid format")
    _remember(pem, key)
    return key


def _remember(pem: str, key: SigningKey) -> None:
    if len(_LOADED) >= 256:
        _LOADED.clear()
    _LOADED[pem] = key


def key_info(key: SigningKey) -> tuple[str, int]:
    """``connect.KeyInfoFromCert``'s answer for a key: ``("ec", 256)``, ``("rsa", 2048)``."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ec", key.curve.key_size
    return "rsa", key.key_size


def root_hash(key: SigningKey) -> Digest:
    """The digest Go's x509 picks for a self-signed template without a SignatureAlgorithm:
    SHA-256 for RSA and P-256, SHA-384 for P-384, SHA-512 for P-521 (P-224 assumed SHA-256)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.key_size == 384:
            return hashes.SHA384()
        if key.curve.key_size == 521:
            return hashes.SHA512()
    return hashes.SHA256()
