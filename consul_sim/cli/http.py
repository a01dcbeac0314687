"""The HTTP side of a command: Consul's common HTTP flags and a small Go-``api``-style client.

``HTTPFlags`` registers the flags every API command carries (``-http-addr``, ``-token``,
``-datacenter`` …) and resolves them over the environment exactly as ``api.DefaultConfig`` and
``HTTPFlags.MergeOntoConfig`` do: ``CONSUL_HTTP_ADDR`` unless ``-http-addr`` is given, ``http://``
or ``https://`` accepted in front of ``host:port``, any other scheme refused with Consul's
sentence. ``APIClient`` speaks to the agent through an ``httpx.Client`` - a real one, or one the
caller injects (``cluster.client`` runs the app in-process, no socket) - and turns failures into
the strings Go's client would print: ``Unexpected response code: 400 (Missing service name)`` or
``Put "http://127.0.0.1:8500/v1/kv/a": dial tcp 127.0.0.1:8500: connect: connection refused``.

An address Go could not dial (``host:xx``, ``[::1``, port 99999, no host at all) is not an error
when the client is opened, as in Go; every call then fails with Go's dial error
(``consul_sim.cli.godial``), which each command words as it words any failed call - one line,
exit 1.
"""

from __future__ import annotations

import base64
import errno
import json
import socket
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import quote, urlencode

import httpx

from consul_sim.cli.command import Context, FlagCommand
from consul_sim.cli.flags import FlagSet, OptBool, OptString
from consul_sim.cli.godial import DialError, dial_target, shown_host
from consul_sim.cli.goformat import go_os_error
from consul_sim.gostd import parse_bool

__all__ = [
    "APICommand",
    "APIClient",
    "APIError",
    "CONNECTING_ERROR",
    "CONNECT_ERROR",
    "ClientConfigError",
    "HTTPFlags",
    "Job",
    "KVPair",
    "StatusError",
    "escape_path",
]

DEFAULT_ADDRESS = "127.0.0.1:8500"

CONNECTING_ERROR = "Error connecting to Consul agent"
"""How ``command/kv/*``, ``command/services/*`` and peering establish/delete word a client
configuration error."""
CONNECT_ERROR = "Error connect to Consul agent"
"""The same error as ``command/config/*`` and the other peering commands word it."""
_REDIRECTS = (301, 302, 303, 307, 308)

Job = TypeVar("Job")


class APIError(Exception):
    """A failed call; ``str()`` is what Go's ``api`` package would have returned as the error."""


class StatusError(APIError):
    """The agent answered with a status the call does not accept."""

    def __init__(self, code: int, body: str) -> None:
        super().__init__(f"Unexpected response code: {code} ({body})")
        self.code = code
        self.body = body


class ClientConfigError(APIError):
    """The flags or environment do not describe a usable agent address."""


def escape_path(path: str) -> str:
    """Go's url.URL path escaping: unreserved characters and ``$&+,/:;=@`` stay as they are."""
    return quote(path, safe="/$&+,:;=@")


@dataclass
class KVPair:
    key: str
    value: bytes
    flags: int
    create_index: int
    modify_index: int
    lock_index: int
    session: str
    namespace: str = ""
    partition: str = ""

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> KVPair:
        value = raw.get("Value")
        return cls(
            key=str(raw.get("Key", "")),
            value=base64.b64decode(value) if value else b"",
            flags=int(raw.get("Flags") or 0),
            create_index=int(raw.get("CreateIndex") or 0),
            modify_index=int(raw.get("ModifyIndex") or 0),
            lock_index=int(raw.get("LockIndex") or 0),
            session=str(raw.get("Session") or ""),
            namespace=str(raw.get("Namespace") or ""),
            partition=str(raw.get("Partition") or ""),
        )


class HTTPFlags:
    """Consul's ``command/flags.HTTPFlags``: register them on a command's flag set."""

    def __init__(self) -> None:
        self.address = OptString()
        self.token = OptString()
        self.token_file = OptString()
        self.ca_file = OptString()
        self.ca_path = OptString()
        self.cert_file = OptString()
        self.key_file = OptString()
        self.tls_server_name = OptString()
        self.datacenter = OptString()
        self.stale = OptBool()
        self.namespace = OptString()
        self.partition = OptString()

    def client_flags(self, fs: FlagSet) -> None:
        fs.var(
            self.address,
            "http-addr",
            "The `address` of the agent's HTTP API, as host:port, optionally prefixed "
            "with http:// or https://. Read from CONSUL_HTTP_ADDR when not given; "
            "127.0.0.1:8500 otherwise. CONSUL_HTTP_SSL=true switches the scheme to HTTPS.",
        )
        fs.var(
            self.token,
            "token",
            "ACL token sent with each request (header X-Consul-Token). Read from "
            "CONSUL_HTTP_TOKEN when not given; without one the agent's default token applies.",
        )
        fs.var(
            self.token_file,
            "token-file",
            "Path of a file holding the ACL token; when the file is not empty its token "
            "wins over -token. Read from CONSUL_HTTP_TOKEN_FILE when not given.",
        )
        fs.var(
            self.ca_file,
            "ca-file",
            "CA certificate file for verifying the agent over TLS (CONSUL_CACERT). "
            "Accepted for compatibility; the simulator serves plain HTTP.",
        )
        fs.var(
            self.ca_path,
            "ca-path",
            "Directory of CA certificates for verifying the agent over TLS (CONSUL_CAPATH). "
            "Accepted for compatibility; the simulator serves plain HTTP.",
        )
        fs.var(
            self.cert_file,
            "client-cert",
            "Client certificate for agents that verify incoming TLS (CONSUL_CLIENT_CERT). "
            "Accepted for compatibility; the simulator serves plain HTTP.",
        )
        fs.var(
            self.key_file,
            "client-key",
            "Key of the client certificate (CONSUL_CLIENT_KEY). Accepted for "
            "compatibility; the simulator serves plain HTTP.",
        )
        fs.var(
            self.tls_server_name,
            "tls-server-name",
            "SNI host name to present over TLS (CONSUL_TLS_SERVER_NAME). Accepted for "
            "compatibility; the simulator serves plain HTTP.",
        )

    def server_flags(self, fs: FlagSet) -> None:
        fs.var(
            self.datacenter,
            "datacenter",
            "Datacenter to send the request to (?dc=). Without it the queried agent's "
            "own datacenter answers.",
        )
        fs.var(
            self.stale,
            "stale",
            "Let any server answer a read, not only the leader (?stale): faster, possibly "
            "out of date. Writes ignore it. Off by default.",
        )

    def multi_tenancy_flags(self, fs: FlagSet) -> None:
        fs.var(
            self.namespace,
            "namespace",
            "Namespace of the request (?ns=, CONSUL_NAMESPACE). When absent the token's "
            "namespace is used, falling back to the `default` namespace. An Enterprise feature.",
        )
        self.partition_flag(fs)

    def partition_flag(self, fs: FlagSet) -> None:
        """Only ``-partition`` (what the peering commands merge instead of multi-tenancy)."""
        fs.var(
            self.partition,
            "partition",
            "Admin partition of the request (?partition=, CONSUL_PARTITION). When absent the "
            "token's partition is used, falling back to the `default` partition. An Enterprise "
            "feature.",
        )

    def register_all(self, fs: FlagSet) -> None:
        """Client, server and multi-tenancy flags: what most API commands merge in."""
        self.client_flags(fs)
        self.server_flags(fs)
        self.multi_tenancy_flags(fs)

    @property
    def stale_reads(self) -> bool:
        return bool(self.stale.value)

    def api_client(self, ctx: Context) -> APIClient:
        """``HTTPFlags.APIClient()``: environment defaults, then flags, then ``api.NewClient``."""
        env = ctx.env
        address = env.get("CONSUL_HTTP_ADDR") or DEFAULT_ADDRESS
        scheme = "http"
        ssl = env.get("CONSUL_HTTP_SSL", "")
        if ssl:
            try:
                scheme = "https" if parse_bool(ssl) else "http"
            except ValueError:
                pass
        token = env.get("CONSUL_HTTP_TOKEN", "")
        token_file = env.get("CONSUL_HTTP_TOKEN_FILE", "")
        namespace = env.get("CONSUL_NAMESPACE", "")
        partition = env.get("CONSUL_PARTITION", "")
        if self.address.value:
            address = self.address.value
        if self.token.value is not None:
            token = self.token.value
        if self.token_file.value is not None:
            token_file = self.token_file.value
        if self.namespace.value is not None:
            namespace = self.namespace.value
        if self.partition.value is not None:
            partition = self.partition.value
        uds = ""
        prefix = ""
        proto, sep, rest = address.partition("://")
        if sep:
            if proto == "https":
                scheme = "https"
            elif proto == "unix":
                uds = rest
                rest = "localhost"
            elif proto != "http":
                raise ClientConfigError(f"Unknown protocol scheme: {proto}")
            address = rest
            if not uds:
                # NewClient: what follows the host is a reverse proxy's path prefix.
                address, slash, path = address.partition("/")
                prefix = slash + path
        if token_file:
            try:
                with open(token_file, encoding="utf-8", errors="replace") as fh:
                    from_file = fh.read().strip()
            except OSError as exc:
                raise ClientConfigError(
                    f"Error loading token file {token_file} : {go_os_error('open', exc)}"
                ) from None
            if from_file:
                token = from_file
        undialable: str | None = None
        base_url = f"{scheme}://{address}{prefix}"
        if not uds:
            try:
                target = dial_target(scheme, address)
                base_url = f"{scheme}://{target.base_url_host}{prefix}"
            except DialError as exc:
                undialable = str(exc)
        try:
            if undialable is not None:
                http, owns = httpx.Client(timeout=None), True
            elif ctx.client_factory is not None:
                http, owns = ctx.client_factory(base_url), False
            elif uds:
                transport = httpx.HTTPTransport(uds=uds)
                http = httpx.Client(transport=transport, base_url=base_url, timeout=None)
                owns = True
            else:
                http, owns = httpx.Client(base_url=base_url, timeout=None), True
        except httpx.InvalidURL as exc:
            http, owns, undialable = httpx.Client(timeout=None), True, str(exc)
        return APIClient(
            http,
            base_url=base_url,
            token=token,
            datacenter=self.datacenter.value or "",
            namespace=namespace,
            partition=partition,
            owns=owns,
            shown_origin=None if uds else f"{scheme}://{shown_host(address)}",
            path_prefix=prefix,
            undialable=undialable,
        )


class APIClient:
    """The calls the commands need, with Go's ``api`` package semantics and error strings."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        base_url: str,
        token: str = "",
        datacenter: str = "",
        namespace: str = "",
        partition: str = "",
        owns: bool = True,
        shown_origin: str | None = None,
        path_prefix: str = "",
        undialable: str | None = None,
    ) -> None:
        """``shown_origin`` is ``scheme://host`` as Go would print it in an error (the address
        as given, not where httpx connects) and ``path_prefix`` the reverse proxy's prefix;
        ``undialable`` is Go's error for an address it could not dial at all, which every
        call then fails with."""
        self.http = http
        self.base_url = base_url
        self.shown_origin = shown_origin
        self.path_prefix = path_prefix
        self.undialable = undialable
        self.token = token
        self.datacenter = datacenter
        self.namespace = namespace
        self.partition = partition
        self._owns = owns

    def close(self) -> None:
        if self._owns:
            self.http.close()

    def __enter__(self) -> APIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        content: bytes | None = None,
        json_body: Any = None,
        stale: bool = False,
    ) -> httpx.Response:
        """Send one request with the query/write options Go's client adds (dc, ns, token …);
        ``params`` as a list may repeat a name (``node-meta``)."""
        query: dict[str, str] = {}
        if self.datacenter:
            query["dc"] = self.datacenter
        if self.namespace:
            query["ns"] = self.namespace
        if self.partition:
            query["partition"] = self.partition
        if stale:
            query["stale"] = ""
        repeated: list[tuple[str, str]] = []
        if isinstance(params, list):
            repeated = params
        else:
            query.update(params or {})
        headers = {}
        if self.token:
            headers["X-Consul-Token"] = self.token
        if json_body is not None:
            content = (json.dumps(json_body, separators=(",", ":")) + "\n").encode()
            headers["Content-Type"] = "application/json"
        url = escape_path(path)
        sent: list[tuple[str, str]] = sorted([*query.items(), *repeated])
        if self.undialable is not None:
            origin = self.shown_origin or self.base_url
            query_text = "?" + urlencode(sent) if sent else ""
            shown = f"{origin}{self.path_prefix}{url}{query_text}"
            raise APIError(f'{method.title()} "{shown}": {self.undialable}')
        try:
            response = self.http.request(
                method, url, params=tuple(sent), content=content, headers=headers
            )
            # Go's http.Client follows redirects itself: 301/302/303 become a bodiless GET,
            # 307/308 repeat the request; it gives up after ten.
            for _ in range(10):
                location = response.headers.get("Location")
                if response.status_code not in _REDIRECTS or location is None:
                    return response
                if response.status_code in (301, 302, 303) and method not in ("GET", "HEAD"):
                    method, content = "GET", None
                target = response.url.join(location)
                url, sent = str(target), []
                response = self.http.request(method, target, content=content, headers=headers)
            raise APIError(f'{method.title()} "{url}": stopped after 10 redirects')
        except httpx.TransportError as exc:
            raise APIError(self._transport_error(method, url, sent, exc)) from None
        except httpx.InvalidURL as exc:
            raise APIError(f'{method.title()} "{self.base_url}{url}": {exc}') from None

    def _transport_error(
        self, method: str, path: str, query: list[tuple[str, str]], exc: httpx.TransportError
    ) -> str:
        try:
            target = str(exc.request.url)
        except RuntimeError:
            target = str(httpx.URL(self.base_url + path, params=query))
        url = httpx.URL(target)
        port = url.port or (443 if url.scheme == "https" else 80)
        host = f"[{url.host}]:{port}" if ":" in url.host else f"{url.host}:{port}"
        if self.shown_origin is not None:
            target = self.shown_origin + url.raw_path.decode("ascii")
        if _refused(exc):
            reason = f"dial tcp {host}: connect: connection refused"
        elif isinstance(exc, httpx.TimeoutException):
            reason = f"dial tcp {host}: i/o timeout"
        elif _unresolved(exc):
            reason = f"dial tcp: lookup {url.host}: no such host"
        else:
            reason = str(exc) or type(exc).__name__
        return f'{method.title()} "{target}": {reason}'

    @staticmethod
    def require_ok(response: httpx.Response, *codes: int) -> None:
        if response.status_code not in (codes or (200,)):
            raise StatusError(response.status_code, response.text.strip())

    # -- KV (api/kv.go)
    def kv_get(self, key: str, *, stale: bool = False) -> KVPair | None:
        response = self.request("GET", "/v1/kv/" + key, stale=stale)
        self.require_ok(response, 200, 404)
        if response.status_code == 404:
            return None
        entries = response.json() or []
        return KVPair.from_json(entries[0]) if entries else None

    def kv_list(self, prefix: str, *, stale: bool = False) -> list[KVPair]:
        response = self.request("GET", "/v1/kv/" + prefix, params={"recurse": ""}, stale=stale)
        self.require_ok(response, 200, 404)
        if response.status_code == 404:
            return []
        return [KVPair.from_json(e) for e in response.json() or []]

    def kv_keys(self, prefix: str, separator: str, *, stale: bool = False) -> list[str]:
        params = {"keys": ""}
        if separator:
            params["separator"] = separator
        response = self.request("GET", "/v1/kv/" + prefix, params=params, stale=stale)
        self.require_ok(response, 200, 404)
        if response.status_code == 404:
            return []
        return [str(k) for k in response.json() or []]

    def kv_put(self, key: str, value: bytes, params: Mapping[str, str]) -> bool:
        """``KV.put``: ``params`` carries flags/cas/acquire/release; the answer is true/false."""
        if key.startswith("/"):
            raise APIError(f"Invalid key. Key must not begin with a '/': {key}")
        response = self.request("PUT", "/v1/kv/" + key, params=params, content=value)
        self.require_ok(response)
        return "true" in response.text

    def kv_delete(self, key: str, params: Mapping[str, str] | None = None) -> bool:
        response = self.request("DELETE", "/v1/kv/" + key.removeprefix("/"), params=params)
        self.require_ok(response)
        return "true" in response.text

    # -- agent (api/agent.go)
    def agent_service_register(self, registration: Mapping[str, Any]) -> None:
        response = self.request("PUT", "/v1/agent/service/register", json_body=registration)
        self.require_ok(response)

    def agent_service_deregister(self, service_id: str) -> None:
        response = self.request("PUT", "/v1/agent/service/deregister/" + service_id)
        self.require_ok(response)


def _unresolved(exc: BaseException) -> bool:
    """The resolver had no address for the host (Go: ``lookup HOST: no such host``)."""
    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return False
        if isinstance(current, socket.gaierror):
            return True
        current = current.__cause__ or current.__context__
    return False


def _refused(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        if isinstance(current, OSError) and current.errno == errno.ECONNREFUSED:
            return True
        if "Connection refused" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


class APICommand(FlagCommand, Generic[Job]):
    """A command that talks to an agent: its own flags plus Consul's HTTP flags.

    ``execute`` keeps Consul's order - ``prepare`` checks the arguments and loads what the call
    needs (files, stdin) before any client exists, then ``call`` talks to the agent - so a
    command defines only those two. ``Job`` is what ``prepare`` hands to ``call``.
    """

    connect_error: ClassVar[str] = CONNECTING_ERROR
    """What the command prints before a client configuration error (``CONNECT_ERROR`` in the
    commands Consul words that way)."""

    def __init__(self, ctx: Context) -> None:
        self.http = HTTPFlags()
        super().__init__(ctx)
        self.register_http_flags(self.flags)

    def register_http_flags(self, fs: FlagSet) -> None:
        """Which HTTP flag groups the command merges (Consul varies this per command)."""
        self.http.register_all(fs)

    def execute(self, rest: list[str]) -> int:
        job = self.prepare(rest)
        try:
            client = self.http.api_client(self.ctx)
        except ClientConfigError as exc:
            self.ui.error(f"{self.connect_error}: {exc}")
            return 1
        with client:
            return self.call(client, job)

    @abstractmethod
    def prepare(self, rest: list[str]) -> Job:
        """Check the positional arguments and flag values, load what the call sends; raise
        ``CommandError`` with Consul's sentence to refuse."""

    @abstractmethod
    def call(self, client: APIClient, job: Job) -> int:
        """Talk to the agent and print the outcome; raise ``CommandError`` on failure."""
