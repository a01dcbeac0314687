"""``consul agent``'s configuration: files, directories, ``-hcl`` and flags, merged as Consul does.

Follows ``agent/config/builder.go`` (``newBuilder``/``build``) and ``agent/config/config.go``:

- Sources merge in this order, later ones winning: the defaults (plus the dev defaults under
  ``-dev``), every ``-config-file``/``-config-dir`` path in the order given (one flag list in
  Consul: a directory contributes its ``.hcl``/``.json`` files sorted by name, not its
  subdirectories; any other file is skipped with a warning), the command-line flags, then each
  ``-hcl`` fragment. Maps overlay key by key, lists concatenate, scalars overwrite (``Merge``).
- A key Consul does not know fails the whole load with ``failed to parse SOURCE: N error(s)
  occurred`` listing ``invalid config key KEY`` (dotted path, as mapstructure's ``Unused``), and
  a value of the wrong type with mapstructure's ``expected type`` sentence.
- Ports of 0 or below become -1, "disabled" (``builder.portVal``).

A key Consul knows but this simulator does not act on is accepted and named once in
``warnings``; the keys that only describe what a simulated dev server already is (``server``,
``bootstrap``, ``data_dir`` …) pass silently. HCL is read by ``consul_sim.config.hcl`` (HCL2, which
accepts Consul's agent files); a block parsed as a list of one object is taken as that object,
as Consul's ``HookWeakDecodeFromSlice`` does.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass, field
from typing import Any

from consul_sim.gostd import quote as go_quote

__all__ = ["AgentConfig", "AgentConfigError", "load_agent_config"]


class AgentConfigError(Exception):
    """The configuration cannot be loaded; ``str()`` is what ``consul agent`` prints."""


# -- what Consul knows ---------------------------------------------------------------------------
STR, INT, BOOL, MAP, LIST, ANY = "string", "int", "bool", "map", "list", "any"
Schema = dict[str, Any]

PORTS: Schema = {
    k: INT
    for k in (
        "dns",
        "http",
        "https",
        "serf_lan",
        "serf_wan",
        "server",
        "grpc",
        "grpc_tls",
        "proxy_min_port",
        "proxy_max_port",
        "sidecar_min_port",
        "sidecar_max_port",
        "expose_min_port",
        "expose_max_port",
    )
}
ACL_TOKENS: Schema = {
    k: STR
    for k in (
        "initial_management",
        "master",
        "replication",
        "agent_recovery",
        "agent_master",
        "default",
        "agent",
        "config_file_service_registration",
        "dns",
        "managed_service_provider",
    )
}
ACL: Schema = {
    "enabled": BOOL,
    "default_policy": STR,
    "down_policy": STR,
    "enable_token_persistence": BOOL,
    "enable_key_list_policy": BOOL,
    "enable_token_replication": BOOL,
    "policy_ttl": STR,
    "role_ttl": STR,
    "token_ttl": STR,
    "disabled_ttl": STR,
    "msp_disable_bootstrap": BOOL,
    "tokens": ACL_TOKENS,
}
CONNECT: Schema = {
    "enabled": BOOL,
    "ca_provider": STR,
    "ca_config": {"cluster_id": STR, "*": ANY},
    "enable_mesh_gateway_wan_federation": BOOL,
    "enable_serverless_plugin": BOOL,
    "test_ca_leaf_root_change_spread": BOOL,
}
SIM: Schema = {"enable_local_checks": BOOL}
"""``consul_sim { enable_local_checks = true }``: this simulator's own key (not Consul's)."""

TOP: Schema = {
    "acl": ACL,
    "addresses": {"dns": STR, "http": STR, "https": STR, "grpc": STR, "grpc_tls": STR},
    "bind_addr": STR,
    "bootstrap": BOOL,
    "client_addr": STR,
    "connect": CONNECT,
    "consul_sim": SIM,
    "data_dir": STR,
    "datacenter": STR,
    "enable_local_script_checks": BOOL,
    "enable_script_checks": BOOL,
    "log_level": STR,
    "node_id": STR,
    "node_meta": MAP,
    "node_name": STR,
    "peering": {"enabled": BOOL, "test_allow_peer_registrations": BOOL},
    "ports": PORTS,
    "primary_datacenter": STR,
    "server": BOOL,
    "skip_leave_on_interrupt": BOOL,
    "leave_on_terminate": BOOL,
    "telemetry": {"prometheus_retention_time": STR, "*": ANY},
    "ui": BOOL,
}
"""The keys the simulator reads, with their types (``"*"``: any other key of the block)."""

KNOWN_ELSEWHERE = frozenset(
    """acl_agent_master_token acl_agent_token acl_datacenter acl_default_policy acl_down_policy
    acl_enable_key_list_policy acl_master_token acl_replication_token acl_ttl acl_token
    acl_disabled_ttl advertise_addr advertise_addr_ipv4 advertise_addr_ipv6 advertise_addr_wan
    advertise_addr_wan_ipv4 advertise_addr_wan_ipv6 advertise_addrs advertise_reconnect_timeout
    ae_interval alt_domain audit auto_config auto_encrypt auto_reload_config autopilot
    bootstrap_expect ca_file ca_path cache cert_file check check_deregister_interval_min
    check_output_max_size check_reap_interval check_update_interval checks cloud config_entries
    consul default_query_time disable_anonymous_signature disable_coordinates
    disable_host_node_id disable_http_unprintable_char_filter disable_keyring_file
    disable_remote_exec disable_update_check discard_check_output discovery_max_stale dns_config
    domain enable_acl_replication enable_agent_tls_for_checks enable_central_service_config
    enable_debug enable_syslog encrypt encrypt_verify_incoming encrypt_verify_outgoing
    experiments gossip_lan gossip_wan http_config key_file leave_on_terminate license_path limits
    locality log_file log_json log_rotate_bytes log_rotate_duration log_rotate_max_files
    max_query_time non_voting_server partition performance pid_file primary_gateways
    primary_gateways_interval protocol raft_logstore raft_protocol raft_snapshot_interval
    raft_snapshot_threshold raft_trailing_logs read_replica reconnect_timeout
    reconnect_timeout_wan recursors rejoin_after_leave reporting retry_interval
    retry_interval_wan retry_join retry_join_wan retry_max retry_max_wan revision rpc segment
    segment_limit segment_name_limit segments serf_lan serf_lan_allowed_cidrs serf_wan
    serf_wan_allowed_cidrs server_name server_rejoin_age_max service services session_ttl_min
    skip_leave_on_interrupt snapshot_agent start_join start_join_wan sync_coordinate_interval_min
    sync_coordinate_rate_target syslog_facility tagged_addresses tls tls_cipher_suites
    tls_min_version tls_prefer_server_cipher_suites translate_wan_addrs ui_config
    ui_content_path ui_dir unix_sockets verify_incoming verify_incoming_https verify_incoming_rpc
    verify_outgoing verify_server_hostname version version_prerelease watches xds""".split()
)
"""Consul's other top-level keys (``agent/config/config.go``'s ``Config``): accepted, not read."""

QUIET = frozenset(
    """bootstrap server ui data_dir log_level disable_update_check skip_leave_on_interrupt
    leave_on_terminate disable_anonymous_signature segments bind_addr client_addr
    primary_datacenter connect.enabled peering.enabled acl.enabled acl.default_policy
    acl.tokens.initial_management acl.tokens.master enable_script_checks
    enable_local_script_checks""".split()
)
"""Keys the simulator acts on, or that only say what a dev server already is: no warning."""


# -- the result ----------------------------------------------------------------------------------
@dataclass
class AgentConfig:
    """The runtime settings ``consul-sim agent`` serves with (``RuntimeConfig``'s slice)."""

    dev: bool = False
    datacenter: str = "dc1"
    primary_datacenter: str = ""
    node_name: str = ""
    node_id: str | None = None
    node_meta: dict[str, str] = field(default_factory=dict)
    bind_addr: str = "0.0.0.0"
    client_addr: str = "127.0.0.1"
    http_addr: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)
    server: bool = False
    bootstrap: bool = False
    ui: bool = False
    log_level: str = "info"
    data_dir: str = ""
    acl_enabled: bool = False
    acl_default_policy: str = "allow"
    acl_down_policy: str = "extend-cache"
    acl_initial_management: str | None = None
    acl_agent_token: str = ""
    acl_agent_recovery: str = ""
    acl_default_token: str = ""
    connect_enabled: bool = True
    ca_cluster_id: str | None = None
    peering_enabled: bool = True
    enable_script_checks: bool = False
    enable_local_script_checks: bool = False
    enable_local_checks: bool = False
    prometheus_retention: str = ""
    skip_leave_on_interrupt: bool = True
    leave_on_terminate: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def http_port(self) -> int:
        return self.ports.get("http", -1)


DEFAULT_PORTS = {
    "dns": 8600,
    "http": 8500,
    "https": -1,
    "grpc": -1,
    "grpc_tls": -1,
    "serf_lan": 8301,
    "serf_wan": 8302,
    "server": 8300,
}
"""``DefaultSource``; ``DevSource`` adds gRPC on 8502 and gRPC-TLS on 8503."""

DEV_DEFAULTS: dict[str, Any] = {
    "bind_addr": "127.0.0.1",
    "client_addr": "127.0.0.1",
    "server": True,
    "bootstrap": True,
    "ui": True,
    "connect": {"enabled": True},
    "ports": {"grpc": 8502, "grpc_tls": 8503},
}
"""``agent/config/default.go`` ``DevSource``: a dev agent is a bootstrapped server on loopback."""


# -- loading -------------------------------------------------------------------------------------
def load_agent_config(
    paths: list[str],
    *,
    hcl: list[str] | None = None,
    flags: dict[str, Any] | None = None,
    dev: bool = False,
) -> AgentConfig:
    """Read, check and merge every source; raises AgentConfigError with Consul's sentence."""
    warnings: list[str] = []
    sources: list[tuple[str, str, str]] = []  # (name, format, text)
    for path in paths:
        sources.extend(_sources_from_path(path, warnings))
    merged: dict[str, Any] = {"ports": dict(DEFAULT_PORTS)}
    if dev:
        merged = merge(merged, DEV_DEFAULTS)
    for name, fmt, text in sources:
        merged = merge(merged, _parse_source(name, fmt, text))
    if flags:
        _check(flags, TOP, "", "flags.values")
        merged = merge(merged, flags)
    for i, text in enumerate(hcl or []):
        merged = merge(merged, _parse_source(f"flags-{i}.hcl", "hcl", text))
    return _build(merged, dev, warnings, user=_user_keys(sources, flags, hcl))


def _sources_from_path(path: str, warnings: list[str]) -> list[tuple[str, str, str]]:
    """``builder.sourcesFromPath``: one file, or a directory's files in name order."""
    if not os.path.exists(path):
        raise AgentConfigError(
            f"config: Open failed on {path}. open {path}: no such file or directory"
        )
    if not os.path.isdir(path):
        fmt = _format_of(path)
        if not fmt:
            warnings.append(
                f"skipping file {path}, extension must be .hcl or .json, or config format "
                "must be set"
            )
            return []
        return [(path, fmt, _read(path))]
    found: list[tuple[str, str, str]] = []
    for entry in sorted(os.listdir(path)):
        full = os.path.realpath(os.path.join(path, entry))
        if os.path.isdir(full):
            continue
        fmt = _format_of(full)
        if not fmt:
            warnings.append(
                f"skipping file {os.path.join(path, entry)}, extension must be .hcl or .json, "
                "or config format must be set"
            )
            continue
        found.append((os.path.join(path, entry), fmt, _read(full)))
    return found


def _format_of(path: str) -> str:
    if path.endswith(".json"):
        return "json"
    if path.endswith(".hcl"):
        return "hcl"
    return ""


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise AgentConfigError(f"config: failed to read {path}: {exc.strerror or exc}") from None


def _parse_source(name: str, fmt: str, text: str) -> dict[str, Any]:
    """One source as a map, its keys checked against what Consul knows."""
    data: Any
    if fmt == "json":
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise AgentConfigError(f"failed to parse {name}: {exc.msg}") from None
    else:
        # Imported here: the HCL reader pulls in pydantic, and `consul-sim agent` reads its
        # configuration before it listens (sdk/testutil allows two seconds until it does).
        from consul_sim.config.hcl import HCLError, load_hcl

        try:
            data = load_hcl(text) if text.strip() else {}
        except HCLError as exc:
            raise AgentConfigError(f"failed to parse {name}: {exc}") from None
    if not isinstance(data, dict):
        raise AgentConfigError(
            f"failed to parse {name}: json: cannot unmarshal {_go_type(data)} into Go value "
            "of type map[string]interface {}"
        )
    checked = _unwrap_blocks(data, TOP)
    _check(checked, TOP, "", name)
    return checked


def _unwrap_blocks(data: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """HCL blocks come as lists of objects; a block Consul decodes into a struct or map takes
    them merged (``decode.HookWeakDecodeFromSlice``)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        kind = _schema_for(schema, key)
        if (kind == MAP or isinstance(kind, dict)) and isinstance(value, list):
            if value and all(isinstance(v, dict) for v in value):
                combined: dict[str, Any] = {}
                for part in value:
                    combined = merge(combined, part)
                value = combined
        if isinstance(kind, dict) and isinstance(value, dict):
            value = _unwrap_blocks(value, kind)
        out[key] = value
    return out


def _schema_for(schema: Schema, key: str) -> Any:
    for name, kind in schema.items():
        if name.lower() == key.lower():
            return kind
    if schema is TOP and key.lower() in KNOWN_ELSEWHERE:
        return ANY
    return schema.get("*")


def _check(data: dict[str, Any], schema: Schema, prefix: str, source: str) -> None:
    """mapstructure's checks: unknown keys (all at once, sorted) first, then types."""
    unknown: list[str] = []
    type_errors: list[str] = []
    _walk(data, schema, prefix, unknown, type_errors)
    if unknown:
        problems = [f"invalid config key {key}" for key in sorted(unknown)]
        from consul_sim.catalog.agent import multierror

        raise AgentConfigError(f"failed to parse {source}: {multierror(problems)}")
    if type_errors:
        listed = "\n".join(f"* {e}" for e in type_errors)
        raise AgentConfigError(
            f"failed to parse {source}: {len(type_errors)} error(s) decoding:\n\n{listed}"
        )


def _walk(
    data: dict[str, Any], schema: Schema, prefix: str, unknown: list[str], type_errors: list[str]
) -> None:
    for key, value in data.items():
        path = f"{prefix}{key}"
        kind = _schema_for(schema, key)
        if kind is None:
            unknown.append(path)
        elif isinstance(kind, dict):
            if isinstance(value, dict):
                _walk(value, kind, f"{path}.", unknown, type_errors)
            elif value is not None:
                type_errors.append(f"'{path}' expected a map, got '{_go_kind(value)}'")
        else:
            problem = _type_problem(path, kind, value)
            if problem:
                type_errors.append(problem)


def _type_problem(path: str, kind: str, value: Any) -> str | None:
    """mapstructure's ``'KEY' expected type 'T', got unconvertible type 'G', value: 'V'``."""
    if value is None or kind == ANY:
        return None
    ok = {
        STR: isinstance(value, str),
        INT: isinstance(value, int | float) and not isinstance(value, bool),
        BOOL: isinstance(value, bool),
        MAP: isinstance(value, dict) and all(isinstance(v, str) for v in value.values()),
        LIST: isinstance(value, list),
    }.get(kind, True)
    if ok:
        return None
    want = {MAP: "map[string]string", LIST: "[]string"}.get(kind, kind)
    return (
        f"'{path}' expected type '{want}', got unconvertible type '{_go_type(value)}', "
        f"value: '{_go_value(value)}'"
    )


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return "interface {}"


def _go_kind(value: Any) -> str:
    return {"float64": "float64", "[]interface {}": "slice"}.get(_go_type(value), _go_type(value))


def _go_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Consul's ``Merge``: maps overlay, lists concatenate, anything else is replaced."""
    out = dict(a)
    for key, value in b.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            out[key] = merge(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = old + value
        else:
            out[key] = value
    return out


def _user_keys(
    sources: list[tuple[str, str, str]], flags: dict[str, Any] | None, hcl: list[str] | None
) -> set[str]:
    """Every dotted key a user wrote (for the not-simulated warnings)."""
    keys: set[str] = set()
    maps: list[dict[str, Any]] = [_parse_source(n, f, t) for n, f, t in sources]
    maps += [_parse_source(f"flags-{i}.hcl", "hcl", t) for i, t in enumerate(hcl or [])]
    if flags:
        maps.append(flags)
    for data in maps:
        keys |= _dotted(data, TOP, "")
    return keys


def _dotted(data: dict[str, Any], schema: Schema, prefix: str) -> set[str]:
    out: set[str] = set()
    for key, value in data.items():
        kind = _schema_for(schema, key)
        path = f"{prefix}{key.lower()}"
        if isinstance(kind, dict) and isinstance(value, dict):
            out |= _dotted(value, kind, f"{path}.")
        else:
            out.add(path)
    return out


SIMULATED = frozenset(
    """datacenter node_name node_id node_meta addresses.http ports.http service services
    connect.ca_config.cluster_id consul_sim.enable_local_checks
    telemetry.prometheus_retention_time""".split()
)
"""Acted on. ``acl.down_policy`` and the agent, recovery and default tokens are read (and
shown by ``/v1/agent/self``) but change nothing yet, so they get the warning."""


def _build(m: dict[str, Any], dev: bool, warnings: list[str], *, user: set[str]) -> AgentConfig:
    acl = m.get("acl") or {}
    tokens = acl.get("tokens") or {}
    connect = m.get("connect") or {}
    ca_config = connect.get("ca_config") or {}
    ports = {k: _port(v) for k, v in (m.get("ports") or {}).items()}
    client_addr = str(m.get("client_addr") or "127.0.0.1")
    addresses = m.get("addresses") or {}
    server = bool(m.get("server", False))
    cfg = AgentConfig(
        dev=dev,
        datacenter=str(m.get("datacenter") or "dc1").lower(),
        primary_datacenter=str(m.get("primary_datacenter") or ""),
        node_name=str(m.get("node_name") or socket.gethostname()),
        node_id=(str(m["node_id"]).lower() if m.get("node_id") else None),
        node_meta={str(k): str(v) for k, v in (m.get("node_meta") or {}).items()},
        bind_addr=str(m.get("bind_addr") or "0.0.0.0"),
        client_addr=client_addr,
        http_addr=str(addresses.get("http") or client_addr),
        ports=ports,
        server=server,
        bootstrap=bool(m.get("bootstrap", False)),
        ui=bool(m.get("ui", False)),
        log_level=str(m.get("log_level") or "info"),
        data_dir=str(m.get("data_dir") or ""),
        acl_enabled=bool(acl.get("enabled", False)),
        acl_default_policy=str(acl.get("default_policy") or "allow"),
        acl_down_policy=str(acl.get("down_policy") or "extend-cache"),
        acl_initial_management=(tokens.get("initial_management") or tokens.get("master") or None),
        acl_agent_token=str(tokens.get("agent") or ""),
        acl_agent_recovery=str(tokens.get("agent_recovery") or tokens.get("agent_master") or ""),
        acl_default_token=str(tokens.get("default") or ""),
        connect_enabled=bool(connect.get("enabled", True)),
        ca_cluster_id=(str(ca_config["cluster_id"]) if ca_config.get("cluster_id") else None),
        peering_enabled=bool((m.get("peering") or {}).get("enabled", True)),
        enable_script_checks=bool(m.get("enable_script_checks", False)),
        enable_local_script_checks=bool(
            m.get("enable_local_script_checks", False) or m.get("enable_script_checks", False)
        ),
        enable_local_checks=bool((m.get("consul_sim") or {}).get("enable_local_checks", False)),
        prometheus_retention=str((m.get("telemetry") or {}).get("prometheus_retention_time") or ""),
        # builder.go: both default to what a server wants, no leave on a signal.
        skip_leave_on_interrupt=bool(m.get("skip_leave_on_interrupt", server)),
        leave_on_terminate=bool(m.get("leave_on_terminate", not server)),
        warnings=warnings,
    )
    _validate(cfg)
    cfg.warnings.extend(_not_simulated(user))
    return cfg


def _port(value: Any) -> int:
    """``builder.portVal``: 0 and below mean disabled, shown as -1."""
    port = int(value) if value is not None else -1
    return port if port > 0 else -1


def _validate(cfg: AgentConfig) -> None:
    """The ``builder.validate`` checks a simulated agent can fail, in its order."""
    if not cfg.datacenter:
        raise AgentConfigError("datacenter cannot be empty")
    if not re.fullmatch(r"[a-z0-9_-]+", cfg.datacenter):
        raise AgentConfigError(
            f"datacenter cannot be {go_quote(cfg.datacenter)}. Please use only [a-z0-9-_]."
        )
    if not cfg.dev and not cfg.data_dir:
        raise AgentConfigError("data_dir cannot be empty")
    if not cfg.dev and os.path.exists(cfg.data_dir) and not os.path.isdir(cfg.data_dir):
        raise AgentConfigError(f"data_dir {go_quote(cfg.data_dir)} is not a directory")
    if cfg.acl_default_policy not in ("allow", "deny"):
        raise AgentConfigError(f"Invalid acl.default_policy: {cfg.acl_default_policy!r}")
    if cfg.http_port > 65535:
        raise AgentConfigError(f"ports.http: invalid port: {cfg.http_port}")


def _not_simulated(user: set[str]) -> list[str]:
    """One line per key Consul acts on and the simulator does not."""
    out: list[str] = []
    for key in sorted(user):
        if key in QUIET or key in SIMULATED:
            continue
        if key.startswith("ports.") and key != "ports.http":
            continue  # said once, with the ports, at startup
        if key.startswith("addresses.") and key != "addresses.http":
            continue
        out.append(f"config key {key!r} is accepted but not simulated by consul-sim")
    return out
