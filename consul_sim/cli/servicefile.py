"""Service definition files (``service {...}`` or ``services [...]``, HCL or JSON), as Consul.

``consul services register web.hcl`` loads its arguments with the agent's own config loader:
a file needs a ``.json`` or ``.hcl`` extension, a directory contributes its ``.json``/``.hcl``
files in name order (others are skipped with a warning), each file's ``services`` come before its
single ``service``, HCL blocks that may appear once are folded from lists into objects, unknown
keys are errors, and durations are normalised the way Go prints them (``90s`` -> ``1m30s``). The
result is the JSON body ``PUT /v1/agent/service/register`` takes (``api.AgentServiceRegistration``).

Keys are matched case-insensitively and with or without underscores, so the agent-config spelling
(``enable_tag_override``) and the API spelling (``EnableTagOverride``) both work.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from consul_sim.cli.goformat import go_os_error
from consul_sim.config.hcl import HCLError, load_hcl
from consul_sim.durations import DurationError, format_duration, parse_duration
from consul_sim.models.base import DecodeError, parse_json

__all__ = ["LoadedServices", "ServiceFileError", "load_service_files"]


class ServiceFileError(ValueError):
    """A file could not be read or understood; ``str()`` is the agent config loader's error."""


@dataclass
class LoadedServices:
    services: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _norm(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


# -- field tables: normalised config key -> (API field, converter) ---------------------------------

Converter = Callable[[Any, str], Any]


class _Invalid(ValueError):
    """A value of the wrong type, worded as mapstructure words it."""


_GO_TYPES = {
    bool: "bool",
    int: "int",
    float: "float64",
    str: "string",
    list: "[]interface {}",
    dict: "map[string]interface {}",
}


def _unconvertible(path: str, want: str, value: Any) -> _Invalid:
    got = _GO_TYPES.get(type(value), type(value).__name__)
    shown = str(value).lower() if isinstance(value, bool) else value
    return _Invalid(
        f"'{path}' expected type '{want}', got unconvertible type '{got}', value: '{shown}'"
    )


def _str(value: Any, path: str) -> str:
    if isinstance(value, str):
        return value
    raise _unconvertible(path, "string", value)


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise _unconvertible(path, "int", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _unconvertible(path, "int", value)


def _bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    raise _unconvertible(path, "bool", value)


def _str_list(value: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise _unconvertible(path, "[]string", value)
    return [_str(v, f"{path}[{i}]") for i, v in enumerate(value)]


def _str_map(value: Any, path: str) -> dict[str, str]:
    value = _single(value, path)
    if not isinstance(value, dict):
        raise _unconvertible(path, "map[string]string", value)
    return {str(k): _str(v, f"{path}[{k}]") for k, v in value.items()}


def _duration(value: Any, path: str) -> str:
    text = _str(value, path)
    try:
        seconds = parse_duration(text)
    except DurationError as exc:
        raise _Invalid(f"{path}: invalid duration: {exc}") from None
    return format_duration(seconds) if seconds else ""


def _header(value: Any, path: str) -> dict[str, list[str]]:
    value = _single(value, path)
    if not isinstance(value, dict):
        raise _unconvertible(path, "map[string][]string", value)
    return {str(k): _str_list(v, f"{path}[{k}]") for k, v in value.items()}


def _single(value: Any, path: str) -> Any:
    """HCL gives a block as a list of objects; where Consul expects one, fold a list of one."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        if len(value) > 1:
            raise _Invalid(f"'{path}' expected a map, got 'slice'")
        return value[0]
    return value


def _tagged_addresses(value: Any, path: str) -> dict[str, dict[str, Any]]:
    value = _single(value, path)
    if not isinstance(value, dict):
        raise _unconvertible(path, "map[string]config.ServiceAddress", value)
    out: dict[str, dict[str, Any]] = {}
    for name, raw in value.items():
        addr = _object(raw, f"{path}[{name}]", _ADDRESS_FIELDS)
        out[str(name)] = addr
    return out


def _weights(value: Any, path: str) -> dict[str, Any]:
    return _object(value, path, _WEIGHT_FIELDS)


def _ports(value: Any, path: str) -> list[dict[str, Any]]:
    """``ports`` of a service definition: a list of ``{name, port, default}`` objects, the
    config-file form of ``ServicePorts`` (api/agent.go); a single object counts as a list of one,
    as HCL blocks do."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise _unconvertible(path, "[]config.ServicePort", value)
    return [_object(v, f"{path}[{i}]", _PORT_FIELDS) for i, v in enumerate(value)]


def _passthrough(value: Any, path: str) -> Any:
    """Proxy/Connect blocks: forwarded with snake_case keys turned into the API's PascalCase."""
    value = _single(value, path)
    if isinstance(value, dict):
        return {_pascal(str(k)): _passthrough(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_passthrough(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


_ACRONYMS = {"id": "ID", "http": "HTTP", "tcp": "TCP", "grpc": "GRPC", "tls": "TLS", "ttl": "TTL"}


def _pascal(key: str) -> str:
    if "_" not in key and key[:1].isupper():
        return key
    return "".join(_ACRONYMS.get(part, part[:1].upper() + part[1:]) for part in key.split("_"))


def _object(value: Any, path: str, fields: dict[str, tuple[str, Converter]]) -> dict[str, Any]:
    value = _single(value, path)
    if not isinstance(value, dict):
        raise _unconvertible(path, "map[string]interface {}", value)
    out: dict[str, Any] = {}
    unknown: list[str] = []
    for key, raw in value.items():
        spec = fields.get(_norm(str(key)))
        if spec is None:
            unknown.append(f"{path}.{key}")
            continue
        api_name, convert = spec
        out[api_name] = convert(raw, f"{path}.{key}")
    if unknown:
        raise _UnknownKeys(unknown)
    return out


class _UnknownKeys(ValueError):
    def __init__(self, keys: list[str]) -> None:
        super().__init__(", ".join(keys))
        self.keys = keys


_ADDRESS_FIELDS: dict[str, tuple[str, Converter]] = {
    "address": ("Address", _str),
    "port": ("Port", _int),
}
_PORT_FIELDS: dict[str, tuple[str, Converter]] = {
    "name": ("Name", _str),
    "port": ("Port", _int),
    "default": ("Default", _bool),
}
_WEIGHT_FIELDS: dict[str, tuple[str, Converter]] = {
    "passing": ("Passing", _int),
    "warning": ("Warning", _int),
}
_CHECK_FIELDS: dict[str, tuple[str, Converter]] = {
    "id": ("CheckID", _str),
    "checkid": ("CheckID", _str),
    "name": ("Name", _str),
    "notes": ("Notes", _str),
    "status": ("Status", _str),
    "serviceid": ("", _str),
    "token": ("", _str),
    "args": ("ScriptArgs", _str_list),
    "scriptargs": ("ScriptArgs", _str_list),
    "http": ("HTTP", _str),
    "header": ("Header", _header),
    "method": ("Method", _str),
    "body": ("Body", _str),
    "disableredirects": ("DisableRedirects", _bool),
    "outputmaxsize": ("", _int),
    "tcp": ("TCP", _str),
    "tcpusetls": ("TCPUseTLS", _bool),
    "udp": ("UDP", _str),
    "osservice": ("OSService", _str),
    "interval": ("Interval", _duration),
    "dockercontainerid": ("DockerContainerID", _str),
    "shell": ("Shell", _str),
    "grpc": ("GRPC", _str),
    "grpcusetls": ("GRPCUseTLS", _bool),
    "h2ping": ("H2PING", _str),
    "h2pingusetls": ("H2PingUseTLS", _bool),
    "tlsservername": ("TLSServerName", _str),
    "tlsskipverify": ("TLSSkipVerify", _bool),
    "aliasnode": ("AliasNode", _str),
    "aliasservice": ("AliasService", _str),
    "timeout": ("Timeout", _duration),
    "ttl": ("TTL", _duration),
    "successbeforepassing": ("SuccessBeforePassing", _int),
    "failuresbeforewarning": ("FailuresBeforeWarning", _int),
    "failuresbeforecritical": ("FailuresBeforeCritical", _int),
    "deregistercriticalserviceafter": ("DeregisterCriticalServiceAfter", _duration),
}


def _check(value: Any, path: str) -> dict[str, Any]:
    out = _object(value, path, _CHECK_FIELDS)
    out.pop("", None)  # keys Consul reads but never sends to the agent endpoint
    return {k: v for k, v in out.items() if not _empty(v)}


def _checks(value: Any, path: str) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise _unconvertible(path, "[]config.CheckDefinition", value)
    return [_check(v, f"{path}[{i}]") for i, v in enumerate(value)]


_SERVICE_FIELDS: dict[str, tuple[str, Converter]] = {
    "kind": ("Kind", _str),
    "id": ("ID", _str),
    "name": ("Name", _str),
    "tags": ("Tags", _str_list),
    "address": ("Address", _str),
    "taggedaddresses": ("TaggedAddresses", _tagged_addresses),
    "meta": ("Meta", _str_map),
    "port": ("Port", _int),
    "ports": ("Ports", _ports),
    "socketpath": ("SocketPath", _str),
    "check": ("Check", _check),
    "checks": ("Checks", _checks),
    "token": ("", _str),
    "weights": ("Weights", _weights),
    "enabletagoverride": ("EnableTagOverride", _bool),
    "proxy": ("Proxy", _passthrough),
    "connect": ("Connect", _passthrough),
    "locality": ("Locality", _passthrough),
    "namespace": ("Namespace", _str),
    "partition": ("Partition", _str),
}


def _service(value: Any, path: str) -> dict[str, Any]:
    out = _object(value, path, _SERVICE_FIELDS)
    out.pop("", None)
    # The agent config folds ``check`` into ``checks``; the registration carries them all there.
    checks: list[dict[str, Any]] = []
    single = out.pop("Check", None)
    if single:
        checks.append(single)
    checks.extend(out.pop("Checks", []))
    if checks:
        out["Checks"] = checks
    return {k: v for k, v in out.items() if not _empty(v)}


def _empty(value: Any) -> bool:
    """Go's ``omitempty``: false, 0, "", nil and empty collections are left out."""
    if value is None or value is False:
        return True
    if isinstance(value, (str, list, dict)):
        return not value
    return isinstance(value, int) and value == 0


# -- files ----------------------------------------------------------------------------------------


def _format_of(path: str) -> str:
    if path.endswith(".json"):
        return "json"
    if path.endswith(".hcl"):
        return "hcl"
    return ""


def _sources(path: str, warnings: list[str]) -> list[tuple[str, bytes]]:
    """``sourcesFromPath`` (``agent/config/builder.go``): a file, or a directory's .json/.hcl
    files in name order, each with its bytes. Like Consul, a path that cannot be opened is
    ``Open failed``, the extension is checked before reading, and each file is read once."""
    if os.path.isdir(path):
        found = []
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            if os.path.isdir(full):
                continue
            if not _format_of(full):
                warnings.append(
                    f"skipping file {full}, extension must be .hcl or .json, "
                    "or config format must be set"
                )
                continue
            try:
                with open(full, "rb") as fh:
                    found.append((full, _read(fh, full)))
            except OSError as exc:
                raise _read_failed(full, go_os_error("open", exc)) from None
        return found
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise ServiceFileError(
            f"config: Open failed on {path}. {go_os_error('open', exc)}"
        ) from None
    with fh:
        if not _format_of(path):
            raise ServiceFileError(
                f"file {path} has unknown extension; must be .hcl or .json, "
                "or config format must be set"
            )
        return [(path, _read(fh, path))]


def _read(fh: BinaryIO, path: str) -> bytes:
    try:
        return fh.read()
    except OSError as exc:
        raise _read_failed(path, go_os_error("read", exc)) from None


def _read_failed(path: str, why: str) -> ServiceFileError:
    """``newSourceFromFile``'s error: ``os.ReadFile`` failed."""
    return ServiceFileError(f"config: failed to read {path}: {why}")


def _parse(path: str, raw: bytes) -> dict[str, Any]:
    try:
        if _format_of(path) == "json":
            data = parse_json(raw) if raw.strip() else {}
        else:
            data = load_hcl(raw.decode("utf-8", errors="replace"))
    except (DecodeError, HCLError) as exc:
        raise ServiceFileError(f"failed to parse {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ServiceFileError(
            f"failed to parse {path}: json: cannot unmarshal {_GO_TYPES.get(type(data), 'value')} "
            "into Go value of type map[string]interface {}"
        )
    return data


def _multierror(errors: list[str]) -> str:
    if len(errors) == 1:
        return f"1 error occurred:\n\t* {errors[0]}\n\n"
    points = "\n\t".join(f"* {e}" for e in errors)
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"


def _services_of(path: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    many: list[dict[str, Any]] = []
    single: dict[str, Any] | None = None
    try:
        for key, value in data.items():
            norm = _norm(str(key))
            if norm == "services":
                items = value if isinstance(value, list) else [value]
                many.extend(_service(v, f"services[{i}]") for i, v in enumerate(items))
            elif norm == "service":
                single = _service(value, "service")
    except _UnknownKeys as exc:
        reasons = [f"invalid config key {k}" for k in exc.keys]
        raise ServiceFileError(f"failed to parse {path}: {_multierror(reasons)}") from None
    except _Invalid as exc:
        raise ServiceFileError(f"failed to parse {path}: 1 error(s) decoding:\n\n* {exc}") from None
    if single is not None:
        many.append(single)
    return many


def load_service_files(paths: list[str]) -> LoadedServices:
    """Every service the files define, as agent register bodies, in Consul's order."""
    loaded = LoadedServices()
    sources: list[tuple[str, bytes]] = []
    for path in paths:
        sources.extend(_sources(path, loaded.warnings))
    for source, raw in sources:
        loaded.services.extend(_services_of(source, _parse(source, raw)))
    return loaded
