"""``consul peering generate-token|establish|list|read|delete|exported-services``, plus the seed
page's technical-preview spellings.

Outputs, stderr sentences and exit codes are Consul's (``command/peering/*``): the pretty
``read`` layout with its quirks (no newline between server addresses, ``<nil>`` for an unset
heartbeat), ``list`` through columnize, ``-format json`` re-marshalled from Go's
``api.Peering`` (so keys the Go struct lacks, such as the page's ``status``/``connected``,
are not printed). People follow the seed page word for word, so ``generate-token`` also takes
``-peer`` (an alias of ``-name``) and ``initiate -peer -token`` is ``establish -name
-peering-token`` under the page's name, silent on success as the page says; there ``-token``
is the peering token, not the ACL token (which comes from ``CONSUL_HTTP_TOKEN`` instead).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from consul_sim.cli.command import CommandError, group, register
from consul_sim.cli.flags import FlagSet, MapValue, String
from consul_sim.cli.http import CONNECT_ERROR, CONNECTING_ERROR, APIClient, APICommand, APIError
from consul_sim.jsonenc import encode_json

__all__ = [
    "PeeringDelete",
    "PeeringEstablish",
    "PeeringExportedServices",
    "PeeringGenerateToken",
    "PeeringInitiate",
    "PeeringList",
    "PeeringRead",
    "columnize",
    "format_peering",
    "go_time_string",
]

FORMAT_PRETTY = "pretty"
FORMAT_JSON = "json"
FORMATS = (FORMAT_JSON, FORMAT_PRETTY)
INVALID_FORMAT = "Invalid format, valid formats are {json|pretty}"

group(
    "peering",
    "Create and manage peering connections between Consul clusters",
    """
Usage: consul-sim peering <subcommand> [options] [args]

  Create, inspect and remove cluster peering connections. For example:

  Generate a peering token in the accepting cluster:

      $ consul-sim peering generate-token -name west-dc

  Establish the connection from the other cluster with that token:

      $ consul-sim peering establish -name east-dc -peering-token <token>

  List the local peering connections, or show one of them:

      $ consul-sim peering list
      $ consul-sim peering read -name west-dc

  Delete a peering connection:

      $ consul-sim peering delete -name west-dc

  The technical-preview spellings of the seed page work too:

      $ consul-sim peering generate-token -peer=cluster-02
      $ consul-sim peering initiate -peer=cluster-01 -token=<token>

  Each subcommand documents its own options; add -h to see them.
""",
)


# -- Go's formatting of what the commands print --------------------------------------------------
def go_marshal(obj: Any) -> str:
    """encoding/json.Marshal: compact and HTML-escaped."""
    return encode_json(obj).decode()


def columnize(rows: Sequence[Sequence[str]], glue: str = "  ") -> str:
    """ryanuber/columnize with Consul's settings: every column but the last is padded to its
    widest cell plus the glue, even when the last cell is empty (so such rows keep trailing
    spaces); cells are trimmed; no newline after the last row."""
    cells = [[c.strip() for c in row] for row in rows]
    widths: list[int] = []
    for row in cells:
        for i, cell in enumerate(row):
            if i >= len(widths):
                widths.append(len(cell))
            else:
                widths[i] = max(widths[i], len(cell))
    lines = []
    for row in cells:
        parts = [cell.ljust(widths[i]) + glue for i, cell in enumerate(row[:-1])]
        parts.append(row[-1] if row else "")
        lines.append("".join(parts))
    return "\n".join(lines)


_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$", re.ASCII
)


def go_time_string(value: str | None) -> str:
    """``fmt`` ``%v`` of a ``*time.Time`` decoded from JSON: ``<nil>`` when unset, else
    ``time.Time.String()`` (``2024-05-01 12:00:15.1 +0000 UTC``)."""
    if value is None:
        return "<nil>"
    match = _RFC3339.match(value)
    if match is None:
        return value
    day, clock, fraction, zone = match.groups()
    fraction = (fraction or "").rstrip("0")
    text = f"{day} {clock}" + (f".{fraction}" if fraction else "")
    if zone == "Z":
        return f"{text} +0000 UTC"
    offset = zone.replace(":", "")
    return f"{text} {offset} {offset}"


def go_time_rfc3339(value: str) -> str:
    """``Time.Format(time.RFC3339)``: whole seconds, ``Z`` for UTC."""
    match = _RFC3339.match(value)
    if match is None:
        return value
    day, clock, _, zone = match.groups()
    return f"{day}T{clock}{zone}"


_OMITEMPTY_KEYS = (
    "Partition",
    "DeletedAt",
    "Meta",
    "PeerID",
    "PeerCAPems",
    "PeerServerName",
    "PeerServerAddresses",
)
_PEERING_KEYS = (
    "ID",
    "Name",
    "Partition",
    "DeletedAt",
    "Meta",
    "State",
    "PeerID",
    "PeerCAPems",
    "PeerServerName",
    "PeerServerAddresses",
    "StreamStatus",
    "CreateIndex",
    "ModifyIndex",
    "Remote",
)
_STREAM_KEYS = ("ImportedServices", "ExportedServices", "LastHeartbeat", "LastReceive", "LastSend")


def as_api_peering(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What Go's ``json.Marshal`` of an ``api.Peering`` decoded from ``raw`` gives: the struct's
    keys in its order, omitempty applied, anything the struct lacks dropped."""
    out: dict[str, Any] = {}
    for key in _PEERING_KEYS:
        value = raw.get(key)
        if key in _OMITEMPTY_KEYS and not value:
            continue
        if key == "StreamStatus":
            stream = value if isinstance(value, Mapping) else {}
            value = {k: stream.get(k) for k in _STREAM_KEYS}
        elif key == "Remote":
            remote = value if isinstance(value, Mapping) else {}
            value = {
                "Partition": remote.get("Partition", ""),
                "Datacenter": remote.get("Datacenter", ""),
            }
            if remote.get("Locality"):
                value["Locality"] = remote["Locality"]
        elif key in ("ID", "Name", "State"):
            value = value or ""
        elif key in ("CreateIndex", "ModifyIndex"):
            value = value or 0
        out[key] = value
    return out


def format_peering(peering: Mapping[str, Any]) -> str:
    """``consul peering read``'s pretty layout (current Consul, with the ``Last …`` lines)."""
    stream = peering.get("StreamStatus") or {}
    lines = [
        f"Name:         {peering.get('Name', '')}\n",
        f"ID:           {peering.get('ID', '')}\n",
    ]
    if peering.get("Partition"):
        lines.append(f"Partition:    {peering['Partition']}\n")
    if peering.get("DeletedAt"):
        lines.append(f"DeletedAt:    {go_time_rfc3339(peering['DeletedAt'])}\n")
    lines.append(f"State:        {peering.get('State', '')}\n")
    meta = peering.get("Meta") or {}
    if meta:
        lines.append("Meta:\n")
        lines.extend(f"    {k}={meta[k]}\n" for k in sorted(meta))
    lines.append("\n")
    lines.append(f"Peer ID:               {peering.get('PeerID', '')}\n")
    lines.append(f"Peer Server Name:      {peering.get('PeerServerName', '')}\n")
    lines.append(f"Peer CA Pems:          {len(peering.get('PeerCAPems') or [])}\n")
    addresses = peering.get("PeerServerAddresses") or []
    if addresses:
        # Consul writes the addresses with no newline between them, nor after the last one:
        # the blank line that follows in the code ends the address line instead.
        lines.append("Peer Server Addresses:\n")
        lines.extend(f"    {address}" for address in addresses)
    lines.append("\n")
    lines.append(f"Imported Services: {len(stream.get('ImportedServices') or [])}\n")
    lines.append(f"Exported Services: {len(stream.get('ExportedServices') or [])}\n")
    lines.append("\n")
    lines.append(f"Last Heartbeat:    {go_time_string(stream.get('LastHeartbeat'))}\n")
    lines.append(f"Last Send:         {go_time_string(stream.get('LastSend'))}\n")
    lines.append(f"Last Receive:      {go_time_string(stream.get('LastReceive'))}\n")
    lines.append("\n")
    lines.append(f"Create Index: {peering.get('CreateIndex', 0)}\n")
    lines.append(f"Modify Index: {peering.get('ModifyIndex', 0)}\n")
    return "".join(lines)


# -- Go api.Peerings -------------------------------------------------------------------------------
def _generate_token(
    client: APIClient,
    name: str,
    *,
    meta: Mapping[str, str],
    addresses: list[str] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"PeerName": name}
    if client.partition:
        body["Partition"] = client.partition
    if meta:
        body["Meta"] = dict(meta)
    if addresses:
        body["ServerExternalAddresses"] = addresses
    response = client.request("POST", "/v1/peering/token", json_body=body)
    client.require_ok(response)
    result: dict[str, Any] = response.json()
    return result


def _establish(client: APIClient, name: str, token: str, meta: Mapping[str, str]) -> None:
    body: dict[str, Any] = {"PeerName": name, "PeeringToken": token}
    if client.partition:
        body["Partition"] = client.partition
    if meta:
        body["Meta"] = dict(meta)
    response = client.request("POST", "/v1/peering/establish", json_body=body)
    client.require_ok(response)


def _read(client: APIClient, name: str) -> dict[str, Any] | None:
    """``Peerings.Read``: a 404 is no peering and no error."""
    if not name:
        raise APIError("peering name cannot be empty")
    response = client.request("GET", "/v1/peering/" + name)
    client.require_ok(response, 200, 404)
    if response.status_code == 404:
        return None
    found: dict[str, Any] = response.json()
    return found


def _list(client: APIClient) -> list[dict[str, Any]]:
    response = client.request("GET", "/v1/peerings")
    client.require_ok(response)
    found: list[dict[str, Any]] = response.json() or []
    return found


def _delete(client: APIClient, name: str) -> None:
    if not name:
        raise APIError("peering name cannot be empty")
    response = client.request("DELETE", "/v1/peering/" + name)
    client.require_ok(response)


# -- the commands ---------------------------------------------------------------------------------
class _PeeringCommand(APICommand[None]):
    """Peering commands merge only the client flags and ``-partition``, as Consul's do; what they
    check beyond their required flags is ``-format``, where they have it."""

    connect_error = CONNECT_ERROR

    def register_http_flags(self, fs: FlagSet) -> None:
        self.http.client_flags(fs)
        self.http.partition_flag(fs)

    _format: String | None = None
    """The ``-format`` flag when the command has one (``define_format`` sets it)."""

    def define_format(self, fs: FlagSet) -> String:
        self._format = fs.string(
            "format", FORMAT_PRETTY, "Output format {json|pretty} (default: pretty)"
        )
        return self._format

    def prepare(self, rest: list[str]) -> None:
        if self._format is not None and self._format.value not in FORMATS:
            raise CommandError(INVALID_FORMAT)


_NAME_USAGE = "(Required) The local name assigned to the peer cluster."
_META_USAGE = (
    "Metadata to associate with the peering, formatted as key=value. This flag may be "
    "specified multiple times to set multiple metadata fields."
)


@register("peering generate-token")
class PeeringGenerateToken(_PeeringCommand):
    synopsis = "Generate a peering token"
    required_flags = ("name",)
    usage_text = """
Usage: consul-sim peering generate-token [options] -name <peer name>

  Generate a peering token. The name is how this cluster will refer to the
  peering connection. Generating a token again for the same name does not
  interrupt an active connection, but invalidates any unused token for it.

      $ consul-sim peering generate-token -name west-dc

  The seed page's spelling, -peer, is accepted as another name for -name:

      $ consul-sim peering generate-token -peer=cluster-02

  Behind a load balancer, put its address into the token:

      $ consul-sim peering generate-token -name west-dc -server-external-addresses lb.example:8502
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.name = fs.string("name", "", _NAME_USAGE)
        fs.var(self.name, "peer", "Alias of -name, the seed page's technical-preview spelling.")
        self.meta = fs.var(MapValue(), "meta", _META_USAGE)
        self.addresses = fs.string(
            "server-external-addresses",
            "",
            "A comma-separated list of host:port addresses to put into the token instead of "
            "the servers' own, for example load balancers in front of the servers.",
        )
        self.format = self.define_format(fs)

    def call(self, client: APIClient, job: None) -> int:
        name = self.name.value
        addresses = self.addresses.value.split(",") if self.addresses.value else None
        try:
            result = _generate_token(client, name, meta=self.meta.value, addresses=addresses)
        except APIError as exc:
            raise CommandError(f"Error generating peering token for {name}: {exc}") from None
        if self.format.value == FORMAT_JSON:
            self.ui.output(go_marshal({"PeeringToken": result.get("PeeringToken", "")}))
        else:
            self.ui.info(str(result.get("PeeringToken", "")))
        return 0


@register("peering establish")
class PeeringEstablish(_PeeringCommand):
    synopsis = "Establish a peering connection"
    connect_error = CONNECTING_ERROR
    usage_text = """
Usage: consul-sim peering establish [options] -name <peer name> -peering-token <token>

  Establish a peering connection with the cluster that generated the token.
  The name is how this cluster will refer to the connection. A token can be
  used only once.

      $ consul-sim peering establish -name west-dc -peering-token <token>
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.name = fs.string("name", "", _NAME_USAGE)
        self.token = fs.string(
            "peering-token", "", "(Required) The peering token from the accepting cluster."
        )
        self.meta = fs.var(MapValue(), "meta", _META_USAGE)

    required_flags = ("name", "peering-token")

    def call(self, client: APIClient, job: None) -> int:
        name = self.name.value
        try:
            _establish(client, name, self.token.value, self.meta.value)
        except APIError as exc:
            raise CommandError(f"Error establishing peering for {name}: {exc}") from None
        self.succeeded(name)
        return 0

    def succeeded(self, name: str) -> None:
        self.ui.info(f"Successfully established peering connection with {name}")


@register("peering initiate")
class PeeringInitiate(PeeringEstablish):
    synopsis = "Establish a peering connection (the seed page's spelling of establish)"
    usage_text = """
Usage: consul-sim peering initiate [options] -peer <peer name> -token <token>

  The technical-preview spelling of "peering establish" that the seed page
  uses: -peer names the cluster that generated the token (alias -name) and
  -token is the whole peering token (alias -peering-token). As the page
  says, it prints nothing when it succeeds.

      $ consul-sim peering initiate -peer=cluster-01 -token=<token>

  Here -token is the peering token, so the ACL token, if any, comes from
  CONSUL_HTTP_TOKEN or -token-file.
"""

    required_flags = ("peer", "token")

    def register_http_flags(self, fs: FlagSet) -> None:
        # Every client flag but -token, which this spelling gives to the peering token.
        client_flags = FlagSet()
        self.http.client_flags(client_flags)
        for flag in client_flags.formal.values():
            if flag.name != "token":
                fs.var(flag.value, flag.name, flag.usage)
        self.http.partition_flag(fs)

    def define_flags(self, fs: FlagSet) -> None:
        super().define_flags(fs)
        fs.var(self.name, "peer", "(Required) The exact name of the cluster that made the token.")
        fs.var(self.token, "token", "(Required) The whole peering token from that cluster.")

    def succeeded(self, name: str) -> None:
        """Silent, as the page says ("This command does not generate an output")."""


@register("peering list")
class PeeringList(_PeeringCommand):
    synopsis = "List peering connections"
    usage_text = """
Usage: consul-sim peering list [options]

  List every peering connection of the cluster, sorted by name.

      $ consul-sim peering list
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.format = self.define_format(fs)

    def call(self, client: APIClient, job: None) -> int:
        try:
            found = _list(client)
        except APIError as exc:
            raise CommandError(f"Error listing peerings: {exc}") from None
        peerings = sorted(found, key=lambda p: str(p.get("Name", "")))
        if self.format.value == FORMAT_JSON:
            self.ui.output(go_marshal([as_api_peering(p) for p in peerings]))
            return 0
        if not peerings:
            self.ui.info("There are no peering connections.")
            return 0
        rows = [["Name", "State", "Imported Svcs", "Exported Svcs", "Meta"]]
        for peering in peerings:
            stream = peering.get("StreamStatus") or {}
            meta = peering.get("Meta") or {}
            rows.append(
                [
                    str(peering.get("Name", "")),
                    str(peering.get("State", "")),
                    str(len(stream.get("ImportedServices") or [])),
                    str(len(stream.get("ExportedServices") or [])),
                    ",".join(f"{k}={meta[k]}" for k in sorted(meta)),
                ]
            )
        self.ui.output(columnize(rows))
        return 0


class _ReadsOnePeering(_PeeringCommand):
    """``read`` and ``exported-services``: both show a part of the peering named by -name."""

    required_flags = ("name",)

    def define_flags(self, fs: FlagSet) -> None:
        self.name = fs.string("name", "", _NAME_USAGE)
        self.format = self.define_format(fs)

    def call(self, client: APIClient, job: None) -> int:
        name = self.name.value
        try:
            found = _read(client, name)
        except APIError as exc:
            raise CommandError(f"Error reading peering: {exc}") from None
        if found is None:
            raise CommandError(f"No peering with name {name} found.")
        return self.show(found)

    @abstractmethod
    def show(self, peering: dict[str, Any]) -> int:
        """Print what the command shows of the peering."""


@register("peering read")
class PeeringRead(_ReadsOnePeering):
    synopsis = "Read a peering connection"
    usage_text = """
Usage: consul-sim peering read [options] -name <peer name>

  Show the peering connection with the given name: its state, the peer's
  identity and addresses, what the stream imported and exported, and when it
  last heard from the peer. A name that does not exist is an error.

      $ consul-sim peering read -name west-dc
"""

    def show(self, peering: dict[str, Any]) -> int:
        if self.format.value == FORMAT_JSON:
            self.ui.output(go_marshal(as_api_peering(peering)))
        else:
            self.ui.output(format_peering(peering))
        return 0


@register("peering exported-services")
class PeeringExportedServices(_ReadsOnePeering):
    synopsis = "Lists exported services to a peer"
    usage_text = """
Usage: consul-sim peering exported-services [options] -name <peer name>

  List the services this cluster exports to the peer with the given name, as
  the peering's stream reports them. A name that does not exist is an error.

      $ consul-sim peering exported-services -name west-dc
"""

    def show(self, peering: dict[str, Any]) -> int:
        stream = peering.get("StreamStatus") or {}
        services = [str(s) for s in stream.get("ExportedServices") or []]
        if self.format.value == FORMAT_JSON:
            # structs.ServiceID in CE: the ID alone (the enterprise meta is empty).
            self.ui.output(go_marshal([{"ID": s} for s in services]))
        else:
            self.ui.output(columnize([[s] for s in services]) if services else "")
        return 0


@register("peering delete")
class PeeringDelete(_PeeringCommand):
    synopsis = "Delete a peering connection"
    required_flags = ("name",)
    connect_error = CONNECTING_ERROR
    usage_text = """
Usage: consul-sim peering delete [options] -name <peer name>

  Delete a peering connection. The data imported from the peer is removed in
  the background; until then the connection can still be read, with its
  DeletedAt time set. Deleting a name that does not exist succeeds.

      $ consul-sim peering delete -name west-dc
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.name = fs.string("name", "", _NAME_USAGE)

    def call(self, client: APIClient, job: None) -> int:
        name = self.name.value
        try:
            _delete(client, name)
        except APIError as exc:
            raise CommandError(f"Error deleting peering for {name}: {exc}") from None
        self.ui.info(f"Successfully submitted peering connection, {name}, for deletion")
        return 0
