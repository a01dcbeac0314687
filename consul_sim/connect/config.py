"""The Connect CA configuration: what ``/v1/connect/ca/configuration`` stores, and how the
built-in provider reads its ``Config`` map.

Consul keeps the configuration as the caller sent it (``structs.CAConfiguration``: ``Provider``,
``Config`` as a free map, ``State``, ``ForceWithoutCrossSigning``, the Raft indexes) and only
*parses* the map when a provider is configured from it. The built-in provider's parse follows
``agent/connect/ca/provider_consul_config.go`` (``ParseConsulCAConfig``): defaults first
(``defaultCommonConfig``: LeafCertTTL 72h, IntermediateCertTTL 8760h, RootCertTTL 87600h,
PrivateKeyType ``ec``, PrivateKeyBits 256), then a weakly typed ``mapstructure`` decode whose
keys match field names case-insensitively and whose durations go through Go's
``time.ParseDuration`` (``structs.ParseDurationFunc``), then ``CommonCAProviderConfig.Validate``
(``agent/structs/connect_ca.go``) in its order. Every failure here is a :class:`ConfigError`
whose text is Consul's; the caller wraps it as Consul's leader does (``error configuring
provider: ...``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from consul_sim.durations import DurationError, format_duration, parse_duration
from consul_sim.gostd import NumError, parse_bool, parse_int

HOUR = 3600.0
DEFAULT_LEAF_CERT_TTL = 72 * HOUR
DEFAULT_INTERMEDIATE_CERT_TTL = 8760 * HOUR
DEFAULT_ROOT_CERT_TTL = 87600 * HOUR
MIN_LEAF_CERT_TTL = HOUR
MAX_LEAF_CERT_TTL = 365 * 24 * HOUR
INTERMEDIATE_CERT_RENEW_INTERVAL = HOUR
EC_BITS = (224, 256, 384, 521)
RSA_BITS = (2048, 4096)

DEFAULT_CONFIG: dict[str, Any] = {
    "IntermediateCertTTL": "8760h",
    "LeafCertTTL": "72h",
    "RootCertTTL": "87600h",
}
"""The ``Config`` a fresh dev agent stores (``agent/consul/config.go`` ``DefaultConfig``)."""


class ConfigError(ValueError):
    """A provider configuration Consul refuses; ``str()`` is Consul's sentence."""


@dataclass(frozen=True)
class ProviderSettings:
    """``structs.ConsulCAProviderConfig`` after the parse: durations in seconds."""

    leaf_cert_ttl: float = DEFAULT_LEAF_CERT_TTL
    intermediate_cert_ttl: float = DEFAULT_INTERMEDIATE_CERT_TTL
    root_cert_ttl: float = DEFAULT_ROOT_CERT_TTL
    private_key_type: str = "ec"
    private_key_bits: int = 256
    private_key: str = ""
    root_cert: str = ""
    disable_cross_signing: bool = False
    skip_validate: bool = False

    @property
    def key_settings(self) -> tuple[str, str, str, int]:
        """What names the provider's state (``ConsulProvider.Configure`` hashes PrivateKey,
        RootCert, PrivateKeyType and PrivateKeyBits into its ID): the same four values find the
        same root; any change makes a new one."""
        return (self.private_key, self.root_cert, self.private_key_type, self.private_key_bits)


# -- a weakly typed mapstructure decode ---------------------------------------------------------
def _go_value(value: Any) -> str:
    """How ``%v`` prints a JSON-decoded value in mapstructure's type errors."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_value(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _go_type(value: Any) -> str:
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    return "string"


def _unconvertible(name: str, want: str, value: Any) -> ConfigError:
    return ConfigError(
        f"'{name}' expected type '{want}', got unconvertible type '{_go_type(value)}', "
        f"value: '{_go_value(value)}'"
    )


def _duration(name: str, value: Any) -> float:
    """``ParseDurationFunc`` for strings; otherwise mapstructure's weak int64 (nanoseconds)."""
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except DurationError as exc:
            raise ConfigError(f"error decoding '{name}': {exc}") from None
    return _integer(name, value, "time.Duration") / 1e9


def _integer(name: str, value: Any, want: str = "int") -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return parse_int(value, 0, 64)
        except NumError as exc:
            raise ConfigError(f"cannot parse '{name}' as int: {exc}") from None
    raise _unconvertible(name, want, value)


def _string(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return _go_value(value) if float(value).is_integer() else json.dumps(value)
    raise _unconvertible(name, "string", value)


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        if value == "":
            return False
        try:
            return parse_bool(value)
        except NumError as exc:
            raise ConfigError(f"cannot parse '{name}' as bool: {exc}") from None
    raise _unconvertible(name, "bool", value)


_FIELDS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "LeafCertTTL": ("leaf_cert_ttl", _duration),
    "IntermediateCertTTL": ("intermediate_cert_ttl", _duration),
    "RootCertTTL": ("root_cert_ttl", _duration),
    "PrivateKeyType": ("private_key_type", _string),
    "PrivateKeyBits": ("private_key_bits", _integer),
    "PrivateKey": ("private_key", _string),
    "RootCert": ("root_cert", _string),
    "DisableCrossSigning": ("disable_cross_signing", _boolean),
    "SkipValidate": ("skip_validate", _boolean),
    "CSRMaxPerSecond": ("", lambda n, v: _integer(n, v, "float32")),
    "CSRMaxConcurrent": ("", _integer),
}
"""The decoded fields, by Go field name; mapstructure matches keys case-insensitively and
ignores the rest. The CSR rate limits are decoded (a bad value fails) but not simulated."""


def parse_consul_config(raw: Mapping[str, Any]) -> ProviderSettings:
    """``ParseConsulCAConfig``: defaults, decode, the root-cert rule, then ``Validate``."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    by_lower = {field.lower(): field for field in _FIELDS}
    for key, value in raw.items():
        field = by_lower.get(str(key).lower())
        if field is None:
            continue
        attr, decode = _FIELDS[field]
        try:
            decoded = decode(field, value)
        except ConfigError as exc:
            errors.append(f"* {exc}")
            continue
        if attr:
            values[attr] = decoded
    if errors:
        # mapstructure.Error: the count, a blank line, then the sorted bullet points.
        body = "\n".join(sorted(errors))
        raise ConfigError(f"error decoding config: {len(errors)} error(s) decoding:\n\n{body}")
    settings = ProviderSettings(**values)
    if settings.private_key == "" and settings.root_cert != "":
        raise ConfigError("must provide a private key when providing a root cert")
    validate(settings)
    return settings


def validate(c: ProviderSettings) -> None:
    """``CommonCAProviderConfig.Validate``, check for check and sentence for sentence."""
    if c.skip_validate:
        return
    d = format_duration
    if c.root_cert_ttl < c.intermediate_cert_ttl:
        raise ConfigError(
            "root cert TTL is set and is not greater than intermediate cert ttl. "
            f"root cert ttl: {d(c.root_cert_ttl)}, "
            f"intermediate cert ttl: {d(c.intermediate_cert_ttl)}"
        )
    if c.leaf_cert_ttl < MIN_LEAF_CERT_TTL:
        raise ConfigError(f"leaf cert TTL must be greater or equal than {d(MIN_LEAF_CERT_TTL)}")
    if c.leaf_cert_ttl > MAX_LEAF_CERT_TTL:
        raise ConfigError(f"leaf cert TTL must be less than {d(MAX_LEAF_CERT_TTL)}")
    if c.intermediate_cert_ttl < 3 * INTERMEDIATE_CERT_RENEW_INTERVAL:
        raise ConfigError("Intermediate Cert TTL must be greater or equal than 3h")
    if c.intermediate_cert_ttl < 3 * c.leaf_cert_ttl:
        raise ConfigError(
            "Intermediate Cert TTL must be greater or equal than 3 * LeafCertTTL "
            f"(>={d(3 * c.leaf_cert_ttl)})."
        )
    if c.private_key_type == "ec":
        if c.private_key_bits not in EC_BITS:
            raise ConfigError("EC key length must be one of (224, 256, 384, 521) bits")
    elif c.private_key_type == "rsa":
        if c.private_key_bits not in RSA_BITS:
            raise ConfigError("RSA key length must be 2048 or 4096 bits")
    else:
        raise ConfigError("private key type must be either 'ec' or 'rsa'")


@dataclass
class CAConfiguration:
    """The stored ``structs.CAConfiguration``; ``ClusterID`` is ``json:"-"`` in Consul."""

    provider: str
    config: dict[str, Any]
    state: dict[str, str] | None
    force_without_cross_signing: bool
    create_index: int
    modify_index: int

    def to_json(self) -> dict[str, Any]:
        return {
            "Provider": self.provider,
            "Config": json.loads(json.dumps(self.config)),
            "State": dict(self.state) if self.state is not None else None,
            "ForceWithoutCrossSigning": self.force_without_cross_signing,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }
