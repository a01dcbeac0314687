"""``consul agent``'s configuration as ``consul-sim agent`` reads it: Consul's merge order, its
unknown-key error, ``-1`` ports, and one warning per key it accepts without simulating."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consul_sim.cli.agentconfig import AgentConfigError, load_agent_config


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_later_files_flags_and_hcl_win_in_consuls_order(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", json.dumps({"datacenter": "one", "node_meta": {"a": "1"}}))
    b = write(tmp_path / "b.hcl", 'datacenter = "two"\nnode_name = "n-b"\nnode_meta { b = "2" }')
    cfg = load_agent_config(
        [a, b], flags={"node_name": "n-flag"}, hcl=['node_name = "n-hcl"'], dev=True
    )
    assert (cfg.datacenter, cfg.node_name, cfg.node_meta) == ("two", "n-hcl", {"a": "1", "b": "2"})


def test_a_config_dir_is_read_in_name_order_and_other_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "20.json", '{"datacenter": "late"}')
    write(tmp_path / "10.hcl", 'datacenter = "early"')
    write(tmp_path / "notes.txt", "not config")
    cfg = load_agent_config([str(tmp_path)], dev=True)
    assert cfg.datacenter == "late"
    assert cfg.warnings == [
        f"skipping file {tmp_path / 'notes.txt'}, extension must be .hcl or .json, or config "
        "format must be set"
    ]


def test_unknown_keys_get_consuls_error_naming_every_one(tmp_path: Path) -> None:
    path = write(tmp_path / "x.json", '{"bogus": 1, "acl": {"tokens": {"nope": "x"}}}')
    with pytest.raises(AgentConfigError) as err:
        load_agent_config([path], dev=True)
    assert str(err.value) == (
        f"failed to parse {path}: 2 errors occurred:\n"
        "\t* invalid config key acl.tokens.nope\n"
        "\t* invalid config key bogus\n\n"
    )


def test_one_unknown_key_in_an_hcl_fragment(tmp_path: Path) -> None:
    with pytest.raises(AgentConfigError) as err:
        load_agent_config([], hcl=["ports { htp = 1 }"], dev=True)
    assert str(err.value) == (
        "failed to parse flags-0.hcl: 1 error occurred:\n\t* invalid config key ports.htp\n\n"
    )


def test_a_value_of_the_wrong_type_gets_mapstructures_sentence(tmp_path: Path) -> None:
    path = write(tmp_path / "x.json", '{"ports": {"http": "abc"}}')
    with pytest.raises(AgentConfigError) as err:
        load_agent_config([path], dev=True)
    assert str(err.value) == (
        f"failed to parse {path}: 1 error(s) decoding:\n\n"
        "* 'ports.http' expected type 'int', got unconvertible type 'string', value: 'abc'"
    )


def test_ports_of_zero_or_below_are_disabled_and_dev_adds_grpc() -> None:
    cfg = load_agent_config([], hcl=["ports { dns = -1 \n https = 0 }"], dev=True)
    assert cfg.ports == {
        "dns": -1,
        "http": 8500,
        "https": -1,
        "grpc": 8502,
        "grpc_tls": 8503,
        "serf_lan": 8301,
        "serf_wan": 8302,
        "server": 8300,
    }


def test_recognised_but_not_simulated_keys_warn_once_each() -> None:
    cfg = load_agent_config(
        [],
        hcl=['performance { raft_multiplier = 1 }\nencrypt = "k"\nserver = true'],
        dev=True,
    )
    assert cfg.warnings == [
        "config key 'encrypt' is accepted but not simulated by consul-sim",
        "config key 'performance' is accepted but not simulated by consul-sim",
    ]


def test_acl_block_with_legacy_token_names() -> None:
    cfg = load_agent_config(
        [],
        hcl=[
            'acl { enabled = true\n default_policy = "deny"\n'
            ' tokens { master = "root"\n agent_master = "rec" } }'
        ],
        dev=True,
    )
    assert (cfg.acl_enabled, cfg.acl_default_policy, cfg.acl_initial_management) == (
        True,
        "deny",
        "root",
    )
    assert cfg.acl_agent_recovery == "rec"


def test_without_dev_a_data_dir_is_required() -> None:
    with pytest.raises(AgentConfigError) as err:
        load_agent_config([])
    assert str(err.value) == "data_dir cannot be empty"


def test_a_missing_config_file_is_reported() -> None:
    with pytest.raises(AgentConfigError) as err:
        load_agent_config(["/nonexistent/x.json"], dev=True)
    assert str(err.value) == (
        "config: Open failed on /nonexistent/x.json. open /nonexistent/x.json: no such file "
        "or directory"
    )


@pytest.mark.parametrize(
    ("hcl", "error"),
    [
        ('datacenter = "DC 1"', 'datacenter cannot be "dc 1". Please use only [a-z0-9-_].'),
        ('datacenter = "a.b"', 'datacenter cannot be "a.b". Please use only [a-z0-9-_].'),
    ],
)
def test_datacenter_names_are_checked_after_lowercasing(hcl: str, error: str) -> None:
    with pytest.raises(AgentConfigError) as err:
        load_agent_config([], hcl=[hcl], dev=True)
    assert str(err.value) == error


def test_data_dir_must_be_a_directory(tmp_path: Path) -> None:
    path = write(tmp_path / "file", "x")
    with pytest.raises(AgentConfigError) as err:
        load_agent_config([], flags={"data_dir": path})
    assert str(err.value) == f'data_dir "{path}" is not a directory'


def test_acl_settings_without_an_effect_yet_are_named() -> None:
    cfg = load_agent_config(
        [],
        hcl=['acl { enabled = true\n down_policy = "deny"\n tokens { agent = "a" } }'],
        dev=True,
    )
    assert cfg.warnings == [
        "config key 'acl.down_policy' is accepted but not simulated by consul-sim",
        "config key 'acl.tokens.agent' is accepted but not simulated by consul-sim",
    ]
