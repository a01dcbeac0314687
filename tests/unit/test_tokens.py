"""The token envelope codec and the signed establishment secret, without clusters."""

from __future__ import annotations

import base64
import json

import pytest

from consul_sim.errors import RPCError
from consul_sim.models.peering import PeeringToken, TokenRemote
from consul_sim.peering.tokens import (
    SecretRefused,
    decode_token,
    encode_token,
    envelope_digest,
    sign_secret,
    validate_peer_name,
    validate_token,
    verify_secret,
)
from consul_sim.world import World

KEY = b"a" * 64
NOW = 1_767_225_600.0


def envelope(**changes: object) -> PeeringToken:
    token = PeeringToken(
        ca=None,
        server_addresses=["127.0.0.1:8503"],
        server_name="server.dc1.peering.td.consul",
        peer_id="11111111-2222-4333-8444-555555555555",
        remote=TokenRemote(partition="default", datacenter="dc1"),
    )
    return token.model_copy(update=changes)


def secret(token: PeeringToken, *, expires_at: float | None = None, key: bytes = KEY) -> str:
    return sign_secret(
        key,
        peer_name="dc2",
        peer_id=token.peer_id,
        jti="jti-1",
        issued_at=NOW,
        expires_at=expires_at,
        digest=envelope_digest(token),
    )


def test_encode_is_padded_standard_base64_of_go_ordered_json() -> None:
    token = envelope(establishment_secret="s")
    raw = base64.b64decode(encode_token(token), validate=True)
    assert raw == (
        b'{"CA":null,"ManualServerAddresses":null,"ServerAddresses":["127.0.0.1:8503"],'
        b'"ServerName":"server.dc1.peering.td.consul",'
        b'"PeerID":"11111111-2222-4333-8444-555555555555","EstablishmentSecret":"s",'
        b'"Remote":{"Partition":"default","Datacenter":"dc1","Locality":null}}'
    )


def test_decode_round_trips() -> None:
    token = envelope(establishment_secret="s", manual_server_addresses=["10.0.0.1:8503"])
    assert decode_token(encode_token(token)) == token


@pytest.mark.parametrize(
    ("text", "byte"),
    [("+++/+++", 4), ("abc", 0), ("ab!d", 2), ("a===", 1), ("ab=c", 2), ("abcd=", 4)],
)
def test_decode_reports_gos_illegal_base64_offset(text: str, byte: int) -> None:
    with pytest.raises(RPCError) as caught:
        decode_token(text)
    assert str(caught.value) == (
        "rpc error: code = Unknown desc = failed to decode token: "
        f"illegal base64 data at input byte {byte}"
    )


@pytest.mark.parametrize("text", ["e30K", "e30="])
def test_decode_accepts_valid_padding(text: str) -> None:
    """``{}`` with and without a newline, padded: base64 and JSON both accept it."""
    token = decode_token(text)
    assert (token.peer_id, token.server_addresses, token.remote.datacenter) == ("", None, "")


@pytest.mark.parametrize("text", ["YWJjZA==", "YWI="])
def test_decode_of_valid_padding_around_non_json_fails_in_json_not_base64(text: str) -> None:
    """``abcd`` and ``ab`` pass base64; Go's JSON decoder is the one to refuse them."""
    with pytest.raises(RPCError) as caught:
        decode_token(text)
    assert str(caught.value) == (
        "rpc error: code = Unknown desc = invalid character 'a' looking for beginning of value"
    )


def test_decode_of_json_of_the_wrong_shape_is_gos_error() -> None:
    with pytest.raises(RPCError) as caught:
        decode_token(base64.b64encode(b"[]").decode())
    assert str(caught.value) == (
        "rpc error: code = Unknown desc = "
        "json: cannot unmarshal array into Go value of type structs.PeeringToken"
    )


NAME_RULE = (
    "a valid peering name must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)


@pytest.mark.parametrize("name", ["a", "peer-a", "0abc9", "a" * 63])
def test_valid_peer_names(name: str) -> None:
    """A valid name passes the check and gets a token and a PENDING peering under that name."""
    validate_peer_name(name)
    with World(clock="virtual", seed=5) as world:
        client = world.add_cluster("dc1").client
        r = client.post("/v1/peering/token", json={"PeerName": name})
        assert r.status_code == 200, r.text
        assert list(r.json()) == ["PeeringToken"]
        assert decode_token(r.json()["PeeringToken"]).remote.datacenter == "dc1"
        shown = client.get(f"/v1/peering/{name}").json()
        assert (shown["Name"], shown["State"]) == (name, "PENDING")


@pytest.mark.parametrize("name", ["", "-a", "a-", "A", "a_b", "a.b", "a" * 64])
def test_invalid_peer_names(name: str) -> None:
    with pytest.raises(RPCError) as caught:
        validate_peer_name(name)
    assert str(caught.value) == (
        f"rpc error: code = Unknown desc = {name} is not a valid peer name: {NAME_RULE}"
    )


def test_verify_returns_the_claims() -> None:
    token = envelope()
    claims = verify_secret(
        KEY,
        secret(token),
        now=NOW,
        peer_id=token.peer_id,
        digest=envelope_digest(token),
        dialer="dc2",
    )
    assert (claims.peer_name, claims.peer_id, claims.jti) == ("dc2", token.peer_id, "jti-1")
    assert claims.expires_at is None


def test_verify_refuses_another_key() -> None:
    token = envelope()
    with pytest.raises(SecretRefused) as caught:
        verify_secret(
            KEY,
            secret(token, key=b"b" * 64),
            now=NOW,
            peer_id=token.peer_id,
            digest=envelope_digest(token),
            dialer=None,
        )
    assert caught.value.reason == "signature"


def test_verify_uses_the_given_clock_not_the_wall_clock() -> None:
    token = envelope()
    signed = secret(token, expires_at=NOW + 60)
    digest = envelope_digest(token)
    verify_secret(KEY, signed, now=NOW + 59, peer_id=token.peer_id, digest=digest, dialer=None)
    with pytest.raises(SecretRefused) as caught:
        verify_secret(KEY, signed, now=NOW + 60, peer_id=token.peer_id, digest=digest, dialer=None)
    assert caught.value.reason == "expired"


def test_digest_covers_addresses_server_name_and_ca() -> None:
    base = envelope_digest(envelope())
    assert envelope_digest(envelope(server_addresses=["127.0.0.1:8504"])) != base
    assert envelope_digest(envelope(manual_server_addresses=["127.0.0.1:8503"])) != base
    assert envelope_digest(envelope(server_name="server.x")) != base
    assert envelope_digest(envelope(ca=["pem"])) != base
    assert envelope_digest(envelope(establishment_secret="other")) == base


def test_verify_checks_the_dialer_only_when_asked() -> None:
    token = envelope()
    signed = secret(token)
    digest = envelope_digest(token)
    verify_secret(KEY, signed, now=NOW, peer_id=token.peer_id, digest=digest, dialer=None)
    with pytest.raises(SecretRefused) as caught:
        verify_secret(KEY, signed, now=NOW, peer_id=token.peer_id, digest=digest, dialer="dc3")
    assert caught.value.reason == "peer-name"


def test_refusal_as_seen_by_the_dialer_keeps_permission_denied() -> None:
    wrapped = SecretRefused("used").as_seen_by_dialer()
    assert wrapped.status_code == 500
    assert str(wrapped) == (
        "rpc error: code = PermissionDenied desc = a new peering token must be generated: "
        "invalid peering establishment secret"
    )


def test_connect_ca_roots_pass_the_dialers_ca_check_and_round_trip() -> None:
    """The acceptor's Connect CA roots are what a token's CA carries (reference §3)."""
    with World(clock="virtual", seed=3) as world:
        pems = world.add_cluster("dc1").ca.root_pems()
    token = envelope(ca=pems, establishment_secret="s")
    validate_token(token)
    raw = json.loads(base64.b64decode(encode_token(token)))
    assert raw["CA"] == pems and all(p.endswith("\n") for p in pems)
    assert decode_token(encode_token(token)).ca == pems


def test_a_ca_entry_that_is_not_a_certificate_is_refused_first() -> None:
    token = envelope(ca=["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
    token.server_addresses = None
    with pytest.raises(RPCError) as caught:
        validate_token(token)
    assert str(caught.value) == (
        "rpc error: code = Unknown desc = peering token invalid CA: x509: malformed certificate"
    )
