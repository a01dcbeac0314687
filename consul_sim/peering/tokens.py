"""Peering tokens: Consul's base64 envelope around an establishment secret we sign.

The envelope is what Consul emits (standard padded base64 of ``structs.PeeringToken`` JSON), so
clients that decode tokens keep working. Consul's ``EstablishmentSecret`` is a bare UUID the
acceptor remembers; ours is a JWT the acceptor signs with its own key, binding the peer name the
token was made for (``aud``), the acceptor's peering ID (``sub``), a one-time id (``jti``), the
issue time, an optional expiry, and a digest of the envelope's addresses, server name and CA.
The acceptor still remembers the one usable ``jti`` per peering, so one-time use, supersession
and deletion behave as in Consul; the signature and digest add what an edited or forged token
should meet. This module is the only pyjwt user. pyjwt's own time checks read the wall clock, so
they are off; expiry is compared with the simulation clock by the caller's ``now``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from consul_sim.clock import rfc3339
from consul_sim.errors import RPCError
from consul_sim.models.base import DecodeError, decode_body, parse_json
from consul_sim.models.peering import PeeringToken

ALGORITHM = "HS256"
KEY_BYTES = 64
REQUIRED_CLAIMS = ["aud", "sub", "jti", "iat", "digest"]

INVALID_SECRET = "invalid peering establishment secret"
NEW_TOKEN_NEEDED = "a new peering token must be generated"


class SecretRefused(RPCError):
    """The acceptor refused an establishment secret.

    Consul words a used, superseded or deleted token alike (``invalid peering establishment
    secret``); the simulator keeps that sentence and appends what happened after a colon, so
    clients matching Consul's text keep working and a person sees which case it was.
    ``reason`` names the case for code.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        desc = INVALID_SECRET if not detail else f"{INVALID_SECRET}: {detail}"
        super().__init__("PermissionDenied", desc)
        self.reason = reason

    def as_seen_by_dialer(self) -> RPCError:
        """The dialer wraps a PermissionDenied from the acceptor, keeping the code."""
        wrapped = SecretRefused(self.reason)
        wrapped.desc = f"{NEW_TOKEN_NEEDED}: {self.desc}"
        wrapped.message = f"rpc error: code = {self.code} desc = {wrapped.desc}"
        wrapped.args = (wrapped.message,)
        return wrapped


@dataclass(frozen=True)
class SecretClaims:
    peer_name: str
    peer_id: str
    jti: str
    issued_at: float
    expires_at: float | None
    digest: str


def unknown(desc: str) -> RPCError:
    """A plain Go error that crossed the gRPC boundary."""
    return RPCError("Unknown", desc)


# -- the envelope --------------------------------------------------------------------------------
def envelope_digest(token: PeeringToken) -> str:
    """What the secret binds: the addresses a dialer will use, the name it verifies, the CA."""
    material = {
        "CA": token.ca or [],
        "ManualServerAddresses": token.manual_server_addresses or [],
        "ServerAddresses": token.server_addresses or [],
        "ServerName": token.server_name,
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def encode_token(token: PeeringToken) -> str:
    raw = json.dumps(token.render(), separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(raw.encode()).decode()


def decode_token(text: str) -> PeeringToken:
    """Consul's ``DecodeToken``: Go's strict StdEncoding, then ``json.Unmarshal``."""
    bad = _go_base64_error(text)
    if bad is not None:
        raise unknown(f"failed to decode token: illegal base64 data at input byte {bad}")
    try:
        raw = base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except binascii.Error:
        raise unknown("failed to decode token: illegal base64 data at input byte 0") from None
    try:
        data = parse_json(raw)
        return decode_body(PeeringToken, data, root="PeeringToken")
    except DecodeError as exc:
        message = str(exc)
        if message in ("EOF", "unexpected EOF"):
            message = "unexpected end of JSON input"
        raise unknown(message) from None


_B64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _go_base64_error(text: str) -> int | None:
    """The byte offset Go's ``base64.StdEncoding.DecodeString`` reports, or None if valid."""
    si = 0
    n = len(text)
    while si < n:
        j = 0
        while j < 4:
            while si < n and text[si] in "\r\n":
                si += 1
            if si == n:
                if j == 0:
                    return None
                return si - j
            ch = text[si]
            si += 1
            if ch in _B64:
                j += 1
                continue
            if ch != "=":
                return si - 1
            # Padding: only in the last two places of a quantum, and nothing after it.
            if j in (0, 1):
                return si - 1
            if j == 2:
                while si < n and text[si] in "\r\n":
                    si += 1
                if si == n:
                    return n
                if text[si] != "=":
                    return si - 1
                si += 1
            while si < n and text[si] in "\r\n":
                si += 1
            if si < n:
                return si
            return None
    return None


_PEER_NAME = re.compile(r"^[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?$")
PEER_NAME_RULE = (
    "a valid peering name must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)


def validate_peer_name(name: str) -> None:
    if not _PEER_NAME.match(name):
        raise unknown(f"{name} is not a valid peer name: {PEER_NAME_RULE}")


def validate_token(token: PeeringToken) -> None:
    """Consul's ``validatePeeringToken``, in its order."""
    for pem in token.ca or []:
        problem = _ca_problem(pem)
        if problem:
            raise unknown(f"peering token invalid CA: {problem}")
    if not token.server_addresses and not token.manual_server_addresses:
        raise unknown("peering token server addresses value is empty")
    for addr in [*(token.manual_server_addresses or []), *(token.server_addresses or [])]:
        if not _valid_address(addr):
            raise unknown(f"{addr} is not a valid peering server address")
    if token.ca and not token.server_name:
        raise unknown("peering token server name value is empty")
    if not token.peer_id:
        raise unknown("peering token peer ID value is empty")


def _ca_problem(pem: str) -> str:
    from cryptography import x509

    text = pem.strip()
    if not text.startswith("-----BEGIN "):
        return "no PEM-encoded data found"
    if not text.startswith("-----BEGIN CERTIFICATE-----"):
        return "first PEM-block should be CERTIFICATE type"
    try:
        x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return "x509: malformed certificate"
    return ""


def _valid_address(addr: str) -> bool:
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit():
        return False
    return 1 <= int(port) <= 65535


# -- the establishment secret -------------------------------------------------------------------
def sign_secret(
    key: bytes,
    *,
    peer_name: str,
    peer_id: str,
    jti: str,
    issued_at: float,
    expires_at: float | None,
    digest: str,
) -> str:
    claims: dict[str, Any] = {
        "aud": peer_name,
        "sub": peer_id,
        "jti": jti,
        "iat": int(issued_at),
        "digest": digest,
    }
    if expires_at is not None:
        claims["exp"] = int(expires_at)
    import jwt  # pyjwt loads cryptography's backends: paid on the first token, not on import

    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify_secret(
    key: bytes, secret: str, *, now: float, peer_id: str, digest: str, dialer: str | None
) -> SecretClaims:
    """Check what the secret itself proves: our signature, its expiry on the simulation clock,
    the PeerID and envelope it was issued with, and (when ``dialer`` is given) that the dialing
    cluster is the peer it was made for. Whether the ``jti`` is still usable is the caller's."""
    import jwt

    try:
        claims = jwt.decode(
            secret,
            key,
            algorithms=[ALGORITHM],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "require": REQUIRED_CLAIMS,
            },
        )
    except jwt.InvalidSignatureError:
        raise SecretRefused("signature", "its signature does not verify") from None
    except jwt.PyJWTError:
        raise SecretRefused("malformed", "it is not a token this cluster issued") from None
    expires_at = claims.get("exp")
    if expires_at is not None and now >= float(expires_at):
        raise SecretRefused("expired", f"the peering token expired at {rfc3339(expires_at)}")
    if claims["sub"] != peer_id:
        raise SecretRefused("peer-id", "the token's PeerID was changed after it was generated")
    if claims["digest"] != digest:
        raise SecretRefused(
            "envelope",
            "the token's server addresses, server name or CA were changed after it was generated",
        )
    if dialer is not None and claims["aud"] != dialer:
        raise SecretRefused(
            "peer-name",
            f'the token was generated for peer "{claims["aud"]}", '
            f'but cluster "{dialer}" presented it',
        )
    return SecretClaims(
        peer_name=str(claims["aud"]),
        peer_id=str(claims["sub"]),
        jti=str(claims["jti"]),
        issued_at=float(claims["iat"]),
        expires_at=float(expires_at) if expires_at is not None else None,
        digest=str(claims["digest"]),
    )
