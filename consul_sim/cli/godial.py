"""Where Go's ``net/http`` would dial for an agent address, or the error it would give instead.

Consul's ``api.NewClient`` never checks ``-http-addr``/``CONSUL_HTTP_ADDR``: ``newRequest`` puts
it in ``url.URL{Host: ...}`` and ``http.Client.Do`` finds the problem when it dials, so every
command reports a bad address the way it reports any failed call (``Error querying Consul
agent: Get "http://host:xx/v1/kv/k": dial tcp: lookup host:xx: no such host``). httpx would
refuse such an address with an exception of its own before sending anything; this module
answers the question first, following ``net/url`` (``splitHostPort``, ``validOptionalPort``),
``net/http`` (``canonicalAddr``) and ``net`` (``SplitHostPort``, the port check of
``LookupPort``). Checked against Go 1.26's ``http.Client``. Host names that could resolve are
left to the resolver; one that cannot (a space, a ``%``, a ``:`` outside brackets) fails as
Go's lookup would, without asking DNS.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["DialError", "DialTarget", "dial_target", "shown_host"]

_HOST_NAME = re.compile(r"[A-Za-z0-9._-]+")
_PORT = re.compile(r":[0-9]*")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


class DialError(Exception):
    """``str()`` is what Go's client says after ``Get "URL": ``."""


@dataclass(frozen=True)
class DialTarget:
    host: str
    """Where to connect, without brackets; empty is the local system, as in Go."""
    port: int

    @property
    def base_url_host(self) -> str:
        host = self.host or "127.0.0.1"
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


def shown_host(hostport: str) -> str:
    """The host part of a URL as Go's ``URL.String()`` writes it (``%`` becomes ``%25``)."""
    return quote(hostport, safe="!$&'()*+,;=:[]<>\"")


def _valid_optional_port(port: str) -> bool:
    """Empty, or a colon and ASCII digits (none at all is fine too)."""
    return port == "" or _PORT.fullmatch(port) is not None


def _url_host_port(hostport: str) -> tuple[str, str]:
    """``url.URL.Hostname()`` and ``Port()``: a port only when the text after the last colon
    is digits; brackets around an IPv6 host come off."""
    host, port = hostport, ""
    colon = host.rfind(":")
    if colon != -1 and _valid_optional_port(host[colon:]):
        host, port = host[:colon], host[colon + 1 :]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def _join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _split_host_port(address: str) -> tuple[str, str]:
    """``net.SplitHostPort``; raises with Go's ``AddrError`` text."""

    def fail(why: str) -> DialError:
        return DialError(f"dial tcp: address {address}: {why}")

    last = address.rfind(":")
    if last < 0:
        raise fail("missing port in address")
    start, after = 0, 0
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        if end + 1 == len(address):
            raise fail("missing port in address")
        if end + 1 != last:
            if address[end + 1] == ":":
                raise fail("too many colons in address")
            raise fail("missing port in address")
        host = address[1:end]
        start, after = 1, end + 1
    else:
        host = address[:last]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in address[start:]:
        raise fail("unexpected '[' in address")
    if "]" in address[after:]:
        raise fail("unexpected ']' in address")
    return host, address[last + 1 :]


def dial_target(scheme: str, hostport: str) -> DialTarget:
    """Where Go would connect for ``scheme://hostport``; DialError with Go's words if it could
    not even try."""
    if not hostport:
        raise DialError("http: no Host in request URL")
    host, port = _url_host_port(hostport)
    address = _join_host_port(host, port or _DEFAULT_PORTS.get(scheme, "80"))
    host, port = _split_host_port(address)
    if int(port) > 65535:
        raise DialError(f"dial tcp: address {port}: invalid port")
    if host and not _HOST_NAME.fullmatch(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise DialError(f"dial tcp: lookup {host}: no such host") from None
    return DialTarget(host, int(port))
