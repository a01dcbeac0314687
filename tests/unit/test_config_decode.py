"""Decoding config entries as Consul does: kind lookup, key matching, coercion, HCL."""

from __future__ import annotations

from typing import Any

import pytest

from consul_sim.config.decode import ConfigDecodeError, decode_entry
from consul_sim.config.hcl import DECODE_PREFIX, parse_config
from consul_sim.config.validate import precedence
from consul_sim.models.config_entries import (
    ExportedServicesConfigEntry,
    MeshConfigEntry,
    ServiceDefaultsConfigEntry,
    ServiceIntentionsConfigEntry,
)


def decode_error(raw: Any) -> str:
    with pytest.raises(ConfigDecodeError) as caught:
        decode_entry(raw)
    return caught.value.message


def test_kind_key_is_Kind_or_kind_only() -> None:
    assert isinstance(decode_entry({"kind": "mesh"}), MeshConfigEntry)
    assert isinstance(decode_entry({"Kind": "mesh"}), MeshConfigEntry)
    assert decode_error({"KiNd": "mesh"}) == (
        "Payload does not contain a kind/Kind key at the top level"
    )
    assert decode_error(None) == "Payload does not contain a kind/Kind key at the top level"


def test_kind_value_is_matched_case_sensitively() -> None:
    assert decode_error({"Kind": "MESH"}) == "invalid config entry kind: MESH"


def test_field_names_match_case_insensitively() -> None:
    entry = decode_entry(
        {"kind": "exported-services", "NAME": "default", "SERVICES": [{"nAmE": "web"}]}
    )
    assert isinstance(entry, ExportedServicesConfigEntry)
    assert entry.name == "default"
    assert entry.services[0].name == "web"


def test_snake_case_aliases_reach_their_camel_case_fields() -> None:
    entry = decode_entry(
        {
            "kind": "mesh",
            "transparent_proxy": {"mesh_destinations_only": True},
            "peering": {"peer_through_mesh_gateways": True},
        }
    )
    assert isinstance(entry, MeshConfigEntry)
    assert entry.transparent_proxy.mesh_destinations_only is True
    assert entry.peering is not None and entry.peering.peer_through_mesh_gateways is True


def test_folded_multi_word_key_matches_but_peername_is_not_peer() -> None:
    entry = decode_entry(
        {"Kind": "service-defaults", "Name": "web", "meshgateway": {"mode": "local"}}
    )
    assert isinstance(entry, ServiceDefaultsConfigEntry)
    assert entry.mesh_gateway.mode == "local"
    body = {"Kind": "exported-services", "Services": [{"Consumers": [{"peername": "p"}]}]}
    assert decode_error(body) == (
        '1 error occurred:\n\t* invalid config key "Services[0].Consumers[0].peername"\n\n'
    )


def test_weak_typing_coerces_scalars_and_wraps_a_single_object() -> None:
    entry = decode_entry(
        {
            "Kind": "service-defaults",
            "Name": 7,
            "MaxInboundConnections": "9",
            "TransparentProxy": {"DialedDirectly": "true"},
            "Expose": {"Paths": {"Path": "/health", "ListenerPort": 21500}},
        }
    )
    assert isinstance(entry, ServiceDefaultsConfigEntry)
    assert entry.name == "7"
    assert entry.max_inbound_connections == 9
    assert entry.transparent_proxy.dialed_directly is True
    assert [p.path for p in entry.expose.paths] == ["/health"]


def test_wrong_type_is_a_mapstructure_error() -> None:
    message = decode_error({"Kind": "mesh", "TransparentProxy": {"MeshDestinationsOnly": [1, 2]}})
    assert message.startswith("1 error(s) decoding:\n\n* ")


def test_precedence_and_type_from_a_body_are_recomputed_later() -> None:
    entry = decode_entry(
        {"Kind": "service-intentions", "Name": "db", "Sources": [{"Name": "web", "Precedence": 1}]}
    )
    assert isinstance(entry, ServiceIntentionsConfigEntry)
    assert entry.sources[0].precedence == 1  # decoded; normalize() replaces it


@pytest.mark.parametrize(
    "destination, source, expected",
    [("db", "web", 9), ("db", "*", 8), ("*", "web", 6), ("*", "*", 5)],
)
def test_ce_precedence(destination: str, source: str, expected: int) -> None:
    assert precedence(destination, source) == expected


def test_each_kind_decodes_to_its_own_model() -> None:
    """The model is chosen by ``Kind`` alone (Consul's ``MakeConfigEntry``), not by shape."""
    assert isinstance(
        decode_entry({"Kind": "exported-services", "Name": "default"}),
        ExportedServicesConfigEntry,
    )
    assert isinstance(
        decode_entry({"Kind": "service-defaults", "Name": "web"}), ServiceDefaultsConfigEntry
    )
    assert isinstance(
        decode_entry({"Kind": "service-intentions", "Name": "web"}), ServiceIntentionsConfigEntry
    )


# -- HCL ------------------------------------------------------------------------------------------
def test_hcl_strips_quotes_and_drops_comments() -> None:
    raw = parse_config(
        '# a comment\nKind = "exported-services" // trailing\nName = "default"\n'
        'Meta = { "team-x" = "a \\"b\\"" }\n'
    )
    assert raw == {"Kind": "exported-services", "Name": "default", "Meta": {"team-x": 'a "b"'}}


def test_hcl_blocks_fold_into_single_objects() -> None:
    raw = parse_config('Kind = "mesh"\nPeering {\n  PeerThroughMeshGateways = true\n}\n')
    entry = decode_entry(raw)
    assert isinstance(entry, MeshConfigEntry)
    assert entry.peering is not None and entry.peering.peer_through_mesh_gateways is True


def test_text_starting_with_a_brace_is_json() -> None:
    assert parse_config('  {"Kind": "mesh"}') == {"Kind": "mesh"}
    with pytest.raises(ConfigDecodeError) as caught:
        parse_config("{x")
    assert caught.value.message == (
        f"{DECODE_PREFIX}invalid character 'x' looking for beginning of object key string"
    )


@pytest.mark.parametrize(
    "text, error",
    [
        ("a = [\n", "At 2:1: unexpected token while parsing list: EOF"),
        ("a = {\n  b = 1\n", "At 3:1: object expected closing RBRACE got: EOF"),
        (
            'a = [\n  { b = "}" # }\n',
            "At 2:3: error while trying to parse object within list: "
            "At 3:1: object expected closing RBRACE got: EOF",
        ),
        ('a = {\n  b = [ "x",', "At 2:13: unexpected token while parsing list: EOF"),
    ],
)
def test_unclosed_hcl_gets_hashicorp_hcl_positions(text: str, error: str) -> None:
    with pytest.raises(ConfigDecodeError) as caught:
        parse_config(text)
    assert caught.value.message == DECODE_PREFIX + error


def test_other_hcl_syntax_errors_name_line_and_column() -> None:
    with pytest.raises(ConfigDecodeError) as caught:
        parse_config('Kind = "mesh"\nName = = 1\n')
    assert caught.value.message.startswith(f"{DECODE_PREFIX}At 2:")
