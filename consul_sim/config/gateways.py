"""The ``ingress-gateway`` and ``terminating-gateway`` config entries, with their Normalize and
Validate (agent/structs/config_entry_gateways.go).

The models render as Consul's structs do: slices without ``omitempty`` (``Listeners``,
``Services``, ``Hosts``) read ``null`` when never set, the ingress ``TLS`` block is always
present (Consul notes that making it a pointer would break its API). ``Hash``, which Consul
computes with hashstructure on Normalize, is not simulated, as for every other kind here.
Validation runs in Consul's order and stops at the first problem, with Consul's sentences;
config/validate.py checks ``Meta`` first, as both kinds' ``Validate`` do.

When an ingress entry is applied, each listener's protocol must match the protocol of every
service it names (``check_listener_protocols``). Not simulated: the TLS version and cipher rules
(``validateTLSConfig``), and the same protocol check run when a service-defaults or
proxy-defaults write would change the protocol of a service an ingress listener names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal

from pydantic import Field

from consul_sim.errors import ConsulError
from consul_sim.models.config_entries import ConfigEntryBase, EntryModel

INGRESS_GATEWAY: Final = "ingress-gateway"
TERMINATING_GATEWAY: Final = "terminating-gateway"
WILDCARD = "*"
INGRESS_PROTOCOLS = ("tcp", "http", "http2", "grpc")
HTTP_LIKE = ("http", "http2", "grpc")


class GatewayTLSSDSConfig(EntryModel):
    omitempty = frozenset({"cluster_name", "cert_resource"})
    aliases = {"cluster_name": "cluster_name", "cert_resource": "cert_resource"}

    cluster_name: str = ""
    cert_resource: str = ""


class GatewayTLSConfig(EntryModel):
    omitempty = frozenset({"sds", "tls_min_version", "tls_max_version", "cipher_suites"})
    aliases = {
        "tls_min_version": "tls_min_version",
        "tls_max_version": "tls_max_version",
        "cipher_suites": "cipher_suites",
    }

    enabled: bool = False
    sds: GatewayTLSSDSConfig | None = Field(None, alias="SDS")
    tls_min_version: str = ""
    tls_max_version: str = ""
    cipher_suites: list[str] = Field(default_factory=list)


class GatewayServiceTLSConfig(EntryModel):
    omitempty = frozenset({"sds"})

    sds: GatewayTLSSDSConfig | None = Field(None, alias="SDS")


class IngressService(EntryModel):
    omitempty = frozenset(
        {
            "tls",
            "request_headers",
            "response_headers",
            "max_connections",
            "max_pending_requests",
            "max_concurrent_requests",
            "passive_health_check",
            "meta",
        }
    )
    aliases = {
        a: a
        for a in (
            "request_headers",
            "response_headers",
            "max_connections",
            "max_pending_requests",
            "max_concurrent_requests",
            "passive_health_check",
        )
    }

    name: str = ""
    hosts: list[str] | None = None
    tls: GatewayServiceTLSConfig | None = None
    request_headers: dict[str, Any] | None = None
    response_headers: dict[str, Any] | None = None
    max_connections: int = 0
    max_pending_requests: int = 0
    max_concurrent_requests: int = 0
    passive_health_check: dict[str, Any] | None = None
    meta: dict[str, str] = Field(default_factory=dict)


class IngressListener(EntryModel):
    omitempty = frozenset({"tls"})

    port: int = 0
    protocol: str = ""
    tls: GatewayTLSConfig | None = None
    services: list[IngressService] | None = None


class IngressServiceConfig(EntryModel):
    omitempty = frozenset({"passive_health_check"})
    aliases = {"passive_health_check": "passive_health_check"}

    max_connections: int = 0
    max_pending_requests: int = 0
    max_concurrent_requests: int = 0
    passive_health_check: dict[str, Any] | None = None


class IngressGatewayConfigEntry(ConfigEntryBase):
    omitempty = frozenset({"defaults", "meta"})

    kind: Literal["ingress-gateway"] = Field(INGRESS_GATEWAY, alias="Kind")
    name: str = ""
    tls: GatewayTLSConfig = Field(default_factory=GatewayTLSConfig)
    listeners: list[IngressListener] | None = None
    defaults: IngressServiceConfig | None = None
    meta: dict[str, str] = Field(default_factory=dict)

    def consul_normalize(self) -> None:
        """A listener without a protocol is ``tcp``; protocols are lower-cased."""
        for listener in self.listeners or []:
            listener.protocol = (listener.protocol or "tcp").lower()

    def consul_validate(self) -> None:
        ports: set[int] = set()
        for listener in self.listeners or []:
            port = listener.port
            if port in ports:
                raise ConsulError(f"port {port} declared on two listeners")
            ports.add(port)
            if listener.protocol not in INGRESS_PROTOCOLS:
                raise ConsulError(
                    "protocol must be 'tcp', 'http', 'http2', or 'grpc'. "
                    f"'{listener.protocol}' is an unsupported protocol"
                )
            services = listener.services or []
            if not services:
                raise ConsulError(f"No service declared for listener with port {port}")
            if listener.protocol not in HTTP_LIKE and len(services) > 1:
                raise ConsulError(
                    "Multiple services per listener are only supported for L7 protocols, "
                    f"'http', 'grpc' and 'http2' (listener on port {port})"
                )
            self._validate_services(listener, services)

    def _validate_services(self, listener: IngressListener, services: list[IngressService]) -> None:
        port = listener.port
        hosts_seen: set[str] = set()
        names: set[str] = set()
        for svc in services:
            hosts = svc.hosts or []
            if listener.protocol == "tcp":
                if svc.name == WILDCARD:
                    raise ConsulError(
                        "Wildcard service name is only valid for protocol = 'http' "
                        f"(listener on port {port})"
                    )
                if hosts:
                    raise ConsulError(
                        "Associating hosts to a service is not supported for the "
                        f"{listener.protocol} protocol (listener on port {port})"
                    )
            if svc.name == "":
                raise ConsulError(f"Service name cannot be blank (listener on port {port})")
            if svc.name == WILDCARD and hosts:
                raise ConsulError(
                    "Associating hosts to a wildcard service is not supported "
                    f"(listener on port {port})"
                )
            if svc.name in names:
                raise ConsulError(
                    f"Service {svc.name} cannot be added multiple times (listener on port {port})"
                )
            names.add(svc.name)
            for host in hosts:
                if host in hosts_seen:
                    raise ConsulError(
                        f"Hosts must be unique within a specific listener (listener on port {port})"
                    )
                hosts_seen.add(host)
                _validate_host(self.tls.enabled, host)


def _validate_host(tls_enabled: bool, host: str) -> None:
    """``validateHost``: ``*`` alone (not with TLS), else a DNS name whose only wildcard is the
    leftmost label."""
    if host == WILDCARD:
        if tls_enabled:
            raise ConsulError(
                "Host '*' is not allowed when TLS is enabled, all hosts must be valid DNS "
                "records to add as a DNSSAN"
            )
        return
    labels = host.removesuffix(".").split(".")
    if not host or len(host) > 255 or any(not label or len(label) > 63 for label in labels):
        raise ConsulError(f'Host "{host}" must be a valid DNS hostname')
    if WILDCARD in host.removeprefix("*."):
        raise ConsulError(
            f'Host "{host}" is not valid, a wildcard specifier is only allowed as the '
            "leftmost label"
        )


def check_listener_protocols(
    entry: IngressGatewayConfigEntry, protocol_of: Callable[[str], str]
) -> None:
    """``validateProposedConfigEntryInServiceGraph`` for an ingress entry: a named service must
    speak its listener's protocol, except behind a ``tcp`` listener when its discovery chain
    starts at a resolver, which it always does until routers and splitters exist
    (agent/consul/state/config_entry.go)."""
    for listener in entry.listeners or []:
        for svc in listener.services or []:
            if svc.name == WILDCARD:
                continue
            protocol = protocol_of(svc.name)
            if protocol != listener.protocol and listener.protocol != "tcp":
                raise ConsulError(
                    f'service "{svc.name}" has protocol "{protocol}", which does not match '
                    f'defined listener protocol "{listener.protocol}"'
                )


class LinkedService(EntryModel):
    omitempty = frozenset({"name", "ca_file", "cert_file", "key_file", "sni"})
    aliases = {"ca_file": "ca_file", "cert_file": "cert_file", "key_file": "key_file"}

    name: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    sni: str = Field("", alias="SNI")


class TerminatingGatewayConfigEntry(ConfigEntryBase):
    omitempty = frozenset({"meta"})

    kind: Literal["terminating-gateway"] = Field(TERMINATING_GATEWAY, alias="Kind")
    name: str = ""
    services: list[LinkedService] | None = None
    meta: dict[str, str] = Field(default_factory=dict)

    def consul_normalize(self) -> None:
        """Nothing to fill in CE (Consul's Normalize only merges enterprise metadata)."""

    def consul_validate(self) -> None:
        seen: set[str] = set()
        for svc in self.services or []:
            if svc.name == "":
                raise ConsulError("Service name cannot be blank.")
            if svc.name in seen:
                raise ConsulError(
                    f'Service "{svc.name}" was specified more than once within a namespace'
                )
            seen.add(svc.name)
            if (svc.cert_file or svc.key_file) and not (
                svc.ca_file and svc.cert_file and svc.key_file
            ):
                raise ConsulError(
                    f'Service "{svc.name}" must have a CertFile, CAFile, and KeyFile specified '
                    "for TLS origination"
                )


GatewayEntry = IngressGatewayConfigEntry | TerminatingGatewayConfigEntry
