"""Callers of consul_sim.gostd keep Go's exact text, also where their old local copies did not
(each row below is what Go's own formatting gives)."""

from __future__ import annotations

import pytest

from consul_sim.acl import permission_denied
from consul_sim.config.decode import ConfigDecodeError, decode_entry
from consul_sim.models.base import DecodeError, parse_json
from consul_sim.models.config_entries import ServiceDefaultsConfigEntry


def test_permission_denied_quotes_the_segment_with_full_go_quote() -> None:
    message = permission_denied("a1b2", "key", "read", "x\ty\x01é")

    assert message == (
        "Permission denied: token with AccessorID 'a1b2' lacks permission 'key:read' "
        'on "x\\ty\\x01é"'
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"\x01", "invalid character '\\x01' looking for beginning of value"),
        ("é".encode(), "invalid character 'Ã' looking for beginning of value"),
        ("[1 日]".encode(), "invalid character 'æ' after array element"),
        (b"tru\x7f", "invalid character '\\x7f' in literal true (expecting 'e')"),
        (b"'", "invalid character '\\'' looking for beginning of value"),
    ],
)
def test_json_syntax_errors_name_the_byte_as_encoding_json_does(body: bytes, error: str) -> None:
    with pytest.raises(DecodeError) as info:
        parse_json(body)
    assert str(info.value) == error


def _decode_message(raw: dict[str, object]) -> str:
    with pytest.raises(ConfigDecodeError) as info:
        decode_entry(raw)
    return info.value.message


def test_decode_bool_error_quotes_the_input_like_strconv() -> None:
    message = _decode_message(
        {"Kind": "service-defaults", "Name": "web", "TransparentProxy": {"DialedDirectly": 'y"'}}
    )
    assert 'strconv.ParseBool: parsing "y\\"": invalid syntax' in message


def test_decode_int_follows_go_parseint_base_zero() -> None:
    entry = decode_entry(
        {"Kind": "service-defaults", "Name": "web", "MaxInboundConnections": "0x10"}
    )
    assert isinstance(entry, ServiceDefaultsConfigEntry)
    assert entry.max_inbound_connections == 16
    octal = decode_entry(
        {"Kind": "service-defaults", "Name": "web", "MaxInboundConnections": "017"}
    )
    assert isinstance(octal, ServiceDefaultsConfigEntry)
    assert octal.max_inbound_connections == 15
    message = _decode_message(
        {"Kind": "service-defaults", "Name": "web", "MaxInboundConnections": " 5"}
    )
    assert 'strconv.ParseInt: parsing " 5": invalid syntax' in message
