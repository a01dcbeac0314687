"""A service's ``Proxy`` block and ``Locality``, in the two JSON shapes Consul answers with.

A registration's ``Proxy`` is kept as a JSON object; its keys match Consul's fields without
regard to case, or are the snake_case aliases of ``ConnectProxyConfig.UnmarshalJSON``, and any
other key is refused when the registration is decoded (``unknown_proxy_field``). Reads render it
in one of two shapes:

- the catalog and health shape, ``structs.ConnectProxyConfig`` (agent/structs/
  connect_proxy_config.go): ``Mode``, ``MeshGateway`` and ``Expose`` always present, the rest
  ``omitempty``; ``TransparentProxy`` and ``AccessLogs`` first and only when set, because its
  ``MarshalJSON`` wraps them as pointers in an outer struct; each upstream in ``structs.Upstream``
  order with ``DestinationType``, ``DestinationName`` and ``Datacenter`` always present;
- the agent shape, ``api.AgentServiceConnectProxyConfig`` (api/agent.go, what
  ``ConnectProxyConfig.ToAPI`` builds for ``/v1/agent/services``): everything ``omitempty``
  except ``MeshGateway``/``Expose`` (structs, so Go never omits them), upstreams in
  ``api.Upstream`` order.
"""

from __future__ import annotations

from typing import Any

from consul_sim.models.base import ConsulModel

# Consul's snake_case spellings (the ``alias`` tags and UnmarshalJSON helpers).
_PROXY_ALIASES = {
    "envoy_extensions": "EnvoyExtensions",
    "destination_service_name": "DestinationServiceName",
    "destination_service_id": "DestinationServiceID",
    "local_service_address": "LocalServiceAddress",
    "local_service_port": "LocalServicePort",
    "local_service_socket_path": "LocalServiceSocketPath",
    "mesh_gateway": "MeshGateway",
    "transparent_proxy": "TransparentProxy",
    "access_logs": "AccessLogs",
}
_UPSTREAM_ALIASES = {
    "destination_type": "DestinationType",
    "destination_namespace": "DestinationNamespace",
    "destination_partition": "DestinationPartition",
    "destination_peer": "DestinationPeer",
    "destination_name": "DestinationName",
    "local_bind_address": "LocalBindAddress",
    "local_bind_port": "LocalBindPort",
    "local_bind_socket_path": "LocalBindSocketPath",
    "local_bind_socket_mode": "LocalBindSocketMode",
    "mesh_gateway": "MeshGateway",
}
_UPSTREAM_STRUCTS_ORDER = (
    ("DestinationType", False),
    ("DestinationNamespace", True),
    ("DestinationPartition", True),
    ("DestinationPeer", True),
    ("DestinationName", False),
    ("Datacenter", False),
    ("LocalBindAddress", True),
    ("LocalBindPort", True),
    ("LocalBindSocketPath", True),
    ("LocalBindSocketMode", True),
    ("Config", True),
    ("MeshGateway", False),
    ("CentrallyConfigured", True),
)
_UPSTREAM_API_ORDER = (
    "DestinationType",
    "DestinationPartition",
    "DestinationNamespace",
    "DestinationPeer",
    "DestinationName",
    "Datacenter",
    "LocalBindAddress",
    "LocalBindPort",
    "LocalBindSocketPath",
    "LocalBindSocketMode",
    "Config",
    "MeshGateway",
    "CentrallyConfigured",
)
_UPSTREAM_API_ALWAYS = frozenset({"DestinationName", "MeshGateway"})
_PROXY_STRUCTS_ORDER = (
    ("EnvoyExtensions", True),
    ("DestinationServiceName", True),
    ("DestinationServiceID", True),
    ("LocalServiceAddress", True),
    ("LocalServicePort", True),
    ("LocalServiceSocketPath", True),
    ("Mode", False),
    ("Config", True),
    ("Upstreams", True),
    ("MeshGateway", False),
    ("Expose", False),
)
_PROXY_API_ORDER = (
    "EnvoyExtensions",
    "DestinationServiceName",
    "DestinationServiceID",
    "LocalServiceAddress",
    "LocalServicePort",
    "LocalServiceSocketPath",
    "Mode",
    "TransparentProxy",
    "Config",
    "Upstreams",
    "MeshGateway",
    "Expose",
    "AccessLogs",
)
_STRUCT_FIELDS = frozenset({"MeshGateway", "Expose"})


def _empty(value: Any) -> bool:
    return value is None or value in ("", 0, False) or value == [] or value == {}


_PROXY_NAMES = {name.lower(): name for name in _PROXY_API_ORDER}
_UPSTREAM_NAMES = {name.lower(): name for name in _UPSTREAM_API_ORDER}
_UPSTREAM_KEYS = frozenset(_UPSTREAM_NAMES) | frozenset(_UPSTREAM_ALIASES)


def _canonical_keys(
    raw: dict[str, Any], names: dict[str, str], aliases: dict[str, str]
) -> dict[str, Any]:
    """CamelCase keys, matched without regard to case as encoding/json matches them; a
    snake_case alias only fills a field the CamelCase key left empty. Unknown keys are kept."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key.lower() not in aliases:
            out[names.get(key.lower(), key)] = value
    for key, value in raw.items():
        name = aliases.get(key.lower())
        if name is not None and _empty(out.get(name)):
            out[name] = value
    return out


def proxy_fields(raw: dict[str, Any] | None) -> dict[str, Any]:
    """A Proxy object with CamelCase keys and CamelCase upstreams."""
    fields = _canonical_keys(dict(raw or {}), _PROXY_NAMES, _PROXY_ALIASES)
    ups = fields.get("Upstreams")
    if isinstance(ups, list):
        fields["Upstreams"] = [
            _canonical_keys(u, _UPSTREAM_NAMES, _UPSTREAM_ALIASES) if isinstance(u, dict) else u
            for u in ups
        ]
    return fields


def unknown_proxy_field(raw: dict[str, Any] | None) -> str | None:
    """The first key, in document order, that neither ``ConnectProxyConfig`` nor an
    ``Upstream`` has: Consul decodes them with ``lib.UnmarshalJSON``, which refuses those."""
    for key, value in (raw or {}).items():
        lowered = key.lower()
        if lowered not in _PROXY_NAMES and lowered not in _PROXY_ALIASES:
            return key
        if _PROXY_NAMES.get(lowered) == "Upstreams" and isinstance(value, list):
            for up in value:
                for up_key in up if isinstance(up, dict) else ():
                    if str(up_key).lower() not in _UPSTREAM_KEYS:
                        return str(up_key)
    return None


def upstreams(proxy: dict[str, Any]) -> list[dict[str, Any]]:
    ups = proxy_fields(proxy).get("Upstreams")
    return [u for u in ups if isinstance(u, dict)] if isinstance(ups, list) else []


def _struct_json(value: Any) -> dict[str, Any]:
    """A Go struct field (MeshGateway, Expose): its set members, ``{}`` when empty."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if not _empty(v)}


def _upstream_structs(up: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, omit in _UPSTREAM_STRUCTS_ORDER:
        value = up.get(key)
        if key in _STRUCT_FIELDS:
            out[key] = _struct_json(value)
        elif not (omit and _empty(value)):
            out[key] = value if value is not None else ""
    return out


def _upstream_api(up: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _UPSTREAM_API_ORDER:
        value = up.get(key)
        if key in _STRUCT_FIELDS:
            out[key] = _struct_json(value)
        elif key in _UPSTREAM_API_ALWAYS or not _empty(value):
            out[key] = value if value is not None else ""
    return out


def proxy_structs_json(raw: dict[str, Any] | None) -> dict[str, Any]:
    """``structs.ConnectProxyConfig`` as the catalog, health and node reads render it."""
    fields = proxy_fields(raw)
    out: dict[str, Any] = {}
    for key in ("TransparentProxy", "AccessLogs"):
        pointer = _struct_json(fields.get(key))
        if pointer:
            out[key] = pointer
    for key, omit in _PROXY_STRUCTS_ORDER:
        value = fields.get(key)
        if key in _STRUCT_FIELDS:
            out[key] = _struct_json(value)
        elif key == "Upstreams":
            if value:
                out[key] = [_upstream_structs(u) for u in value if isinstance(u, dict)]
        elif not (omit and _empty(value)):
            out[key] = value if value is not None else ""
    return out


def proxy_api_json(raw: dict[str, Any] | None) -> dict[str, Any]:
    """``api.AgentServiceConnectProxyConfig``, the Proxy of ``/v1/agent/service(s)``."""
    fields = proxy_fields(raw)
    out: dict[str, Any] = {}
    for key in _PROXY_API_ORDER:
        value = fields.get(key)
        if key in _STRUCT_FIELDS:
            out[key] = _struct_json(value)
        elif key == "Upstreams":
            if value:
                out[key] = [_upstream_api(u) for u in value if isinstance(u, dict)]
        elif key in ("TransparentProxy", "AccessLogs"):
            if _struct_json(value):
                out[key] = _struct_json(value)
        elif not _empty(value):
            out[key] = value
    return out


class Locality(ConsulModel):
    """``structs.Locality``: where an instance runs; both fields ``omitempty``."""

    region: str = ""
    zone: str = ""

    def render(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.region:
            out["Region"] = self.region
        if self.zone:
            out["Zone"] = self.zone
        return out
