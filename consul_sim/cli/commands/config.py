"""``consul config write|read|list|delete``: config entries from HCL or JSON files.

As Consul's CLI does (``command/config/*``, ``command/helpers``), ``write`` parses the file on
the client, JSON when it starts with ``{`` and HCL otherwise, decodes it with the config-entry
rules (kind lookup, case-insensitive keys, snake_case aliases, leftover keys refused), and sends
the entry re-encoded as CamelCase JSON, so a malformed file never reaches the server and gets
Consul's decode error with its line and column. Parsing and decoding are the domain's
(:mod:`consul_sim.config.hcl` and :mod:`consul_sim.config.decode`), shared with the HTTP side.
"""

from __future__ import annotations

from typing import Any

from consul_sim.cli.command import CommandError, group, register
from consul_sim.cli.datasource import DataSourceError, load_data_source_no_raw
from consul_sim.cli.flags import FlagSet
from consul_sim.cli.http import CONNECT_ERROR, APIClient, APICommand, APIError, Job
from consul_sim.config.decode import decode_entry
from consul_sim.config.hcl import parse_config
from consul_sim.errors import ConsulError
from consul_sim.gostd import quote as go_quote
from consul_sim.jsonenc import encode_json
from consul_sim.models.config_entries import (
    KNOWN_KINDS,
    ConfigEntryBase,
    MeshConfigEntry,
    ProxyDefaultsConfigEntry,
    ServiceDefaultsConfigEntry,
)

__all__ = ["ConfigDelete", "ConfigList", "ConfigRead", "ConfigWrite", "write_warning"]

group(
    "config",
    "Interact with Consul's Centralized Configurations",
    """
Usage: consul-sim config <subcommand> [options] [args]

  Write, read, list and delete config entries (exported-services,
  service-intentions, mesh, service-defaults, proxy-defaults, service-resolver,
  service-splitter, service-router). For example:

      $ consul-sim config write peering-config.hcl
      $ consul-sim config read -kind exported-services -name default
      $ consul-sim config list -kind service-intentions
      $ consul-sim config delete -kind service-intentions -name web

  Each subcommand documents its own options; add -h to see them.
""",
)

DECODE_FAILED = "Failed to decode config entry input"
MISSING_KIND = "Must specify the -kind parameter"
MISSING_NAME = "Must specify the -name parameter"

WARNING_SERVICE_DEFAULTS_PERMISSIVE = (
    "MutualTLSMode=permissive is insecure. Set to `strict` when your service no longer needs "
    "to accept non-mTLS traffic. Check `tcp.permissive_public_listener` metrics in Envoy for "
    "non-mTLS traffic. Refer to Consul documentation for more information."
)
WARNING_PROXY_DEFAULTS_PERMISSIVE = (
    "MutualTLSMode=permissive is insecure. To keep your services secure, set MutualTLSMode to "
    "`strict` whenever possible and override with service-defaults only if necessary. To check "
    "which service-defaults are currently in permissive mode, run `consul config list -kind "
    "service-defaults -filter 'MutualTLSMode = \"permissive\"'`."
)
WARNING_MESH_PERMISSIVE = (
    "AllowEnablingPermissiveMutualTLS=true allows insecure MutualTLSMode=permissive "
    "configurations in the proxy-defaults and service-defaults config entries. You can set "
    "AllowEnablingPermissiveMutualTLS=false at any time to disallow additional permissive "
    "configurations. To list services in permissive mode, run `consul config list -kind "
    "service-defaults -filter 'MutualTLSMode = \"permissive\"'`."
)


def go_marshal_indent(obj: Any) -> str:
    """encoding/json.MarshalIndent with 4 spaces, HTML-escaped, no trailing newline."""
    return encode_json(obj, pretty=True).decode().removesuffix("\n")


def write_warning(entry: ConfigEntryBase) -> str:
    """Consul's ``KindSpecificWriteWarning``: the settings it warns about after a write."""
    if isinstance(entry, ServiceDefaultsConfigEntry) and entry.mutual_tls_mode == "permissive":
        return WARNING_SERVICE_DEFAULTS_PERMISSIVE
    if isinstance(entry, ProxyDefaultsConfigEntry) and entry.mutual_tls_mode == "permissive":
        return WARNING_PROXY_DEFAULTS_PERMISSIVE
    if isinstance(entry, MeshConfigEntry) and entry.allow_enabling_permissive_mutual_tls:
        return WARNING_MESH_PERMISSIVE
    return ""


class _ConfigCommand(APICommand[Job]):
    """Config commands merge every HTTP flag group; their connection error says ``connect to``."""

    connect_error = CONNECT_ERROR

    def load_entry(self, source: str) -> ConfigEntryBase:
        """The entry ``source`` (a file path or ``-``) holds, by ``helpers.ParseConfigEntry``."""
        try:
            text = load_data_source_no_raw(source, self.ctx).decode("utf-8", errors="replace")
        except DataSourceError as exc:
            raise CommandError(f"Failed to load data: {exc}") from None
        try:
            return decode_entry(parse_config(text))
        except ConsulError as exc:
            raise CommandError(f"{DECODE_FAILED}: {exc.message}") from None
        except Exception as exc:  # noqa: BLE001 - a parser surprise is still a decode error
            raise CommandError(f"{DECODE_FAILED}: {exc}") from None


_CAS_USAGE = (
    "Perform a Check-And-Set operation. Specifying this value also requires the "
    "-modify-index flag to be set. The default value is false."
)
_MODIFY_INDEX_USAGE = (
    "Unsigned integer representing the ModifyIndex of the config entry. This is used in "
    "combination with the -cas flag."
)


@register("config write")
class ConfigWrite(_ConfigCommand[ConfigEntryBase]):
    synopsis = "Create or update a centralized config entry"
    usage_text = """
Usage: consul-sim config write [options] <configuration>

  Create or update a config entry. The argument is a file path, or '-' to
  read the entry from standard input; it holds the entry in HCL or JSON.

      $ consul-sim config write peering-config.hcl
      $ consul-sim config write - < peering-intentions.hcl

  A check-and-set write succeeds only if the entry's ModifyIndex still
  equals -modify-index (0: only if the entry does not exist yet):

      $ consul-sim config write -cas -modify-index=42 peering-config.hcl
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.cas = fs.boolean("cas", False, _CAS_USAGE)
        self.modify_index = fs.uint("modify-index", 0, _MODIFY_INDEX_USAGE)

    def prepare(self, rest: list[str]) -> ConfigEntryBase:
        if len(rest) != 1:
            raise CommandError(
                "Must provide exactly one positional argument to specify the config entry to write"
            )
        return self.load_entry(rest[0])

    def call(self, client: APIClient, entry: ConfigEntryBase) -> int:
        label = f"{entry.kind}/{entry.entry_name}"
        params = {"cas": str(self.modify_index.value)} if self.cas.value else None
        try:
            response = client.request("PUT", "/v1/config", params=params, json_body=entry.content())
            client.require_ok(response)
        except APIError as exc:
            raise CommandError(f"Error writing config entry {label}: {exc}") from None
        if "true" not in response.text:
            raise CommandError(f"Config entry not updated: {label}")
        self.ui.info(f"Config entry written: {label}")
        warning = write_warning(entry)
        if warning:
            self.ui.warn(f"WARNING: {warning}")
        return 0


@register("config read")
class ConfigRead(_ConfigCommand[tuple[str, str]]):
    synopsis = "Read a centralized config entry"
    usage_text = """
Usage: consul-sim config read [options] -kind <config kind> -name <config name>

  Print the config entry of the given kind and name as indented JSON.

      $ consul-sim config read -kind exported-services -name default
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.kind = fs.string("kind", "", "The kind of configuration to read.")
        self.name = fs.string("name", "", "The name of configuration to read.")

    def prepare(self, rest: list[str]) -> tuple[str, str]:
        kind, name = self.kind.value, self.name.value
        if not kind:
            raise CommandError(MISSING_KIND)
        if not name:
            raise CommandError(MISSING_NAME)
        return kind, name

    def call(self, client: APIClient, job: tuple[str, str]) -> int:
        kind, name = job
        try:
            if kind not in KNOWN_KINDS:
                # The Go client refuses the kind before sending anything.
                raise APIError(f"invalid config entry kind: {kind}")
            response = client.request(
                "GET", f"/v1/config/{kind}/{name}", stale=self.http.stale_reads
            )
            client.require_ok(response)
        except APIError as exc:
            raise CommandError(f"Error reading config entry {kind}/{name}: {exc}") from None
        self.ui.info(go_marshal_indent(response.json()))
        return 0


@register("config list")
class ConfigList(_ConfigCommand[str]):
    synopsis = "List centralized config entries of a given kind"
    usage_text = """
Usage: consul-sim config list [options] -kind <config kind>

  Print the name of every config entry of the given kind, one per line.

      $ consul-sim config list -kind service-intentions
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.kind = fs.string("kind", "", "The kind of configurations to list.")
        self.filter = fs.string("filter", "", "Filter to use with the request.")

    def prepare(self, rest: list[str]) -> str:
        if not self.kind.value:
            raise CommandError(MISSING_KIND)
        return self.kind.value

    def call(self, client: APIClient, kind: str) -> int:
        params = {"filter": self.filter.value} if self.filter.value else None
        try:
            response = client.request(
                "GET", f"/v1/config/{kind}", params=params, stale=self.http.stale_reads
            )
            client.require_ok(response)
        except APIError as exc:
            raise CommandError(
                f"Error listing config entries for kind {go_quote(kind)}: {exc}"
            ) from None
        for entry in response.json() or []:
            name = "mesh" if entry.get("Kind") == "mesh" else entry.get("Name", "")
            self.ui.info(str(name))
        return 0


@register("config delete")
class ConfigDelete(_ConfigCommand[tuple[str, str]]):
    synopsis = "Delete a centralized config entry"
    usage_text = """
Usage: consul-sim config delete [options] ([-kind <kind> -name <name>] | [-filename FILE])

  Delete the config entry of the given kind and name, or the one a file
  describes. Deleting an entry that does not exist succeeds.

      $ consul-sim config delete -kind service-intentions -name web
      $ consul-sim config delete -filename peering-intentions.hcl

  A check-and-set delete succeeds only if the entry's ModifyIndex still
  equals -modify-index:

      $ consul-sim config delete -kind service-intentions -name web -cas -modify-index=42
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.filename = fs.string("filename", "", "The filename of the config entry to delete")
        self.kind = fs.string("kind", "", "The kind of configuration to delete.")
        self.name = fs.string("name", "", "The name of configuration to delete.")
        self.cas = fs.boolean("cas", False, _CAS_USAGE)
        self.modify_index = fs.uint("modify-index", 0, _MODIFY_INDEX_USAGE)

    def _argument_error(self) -> str:
        """``validateArgs``, in Consul's order."""
        filename, kind, name = self.filename.value, self.kind.value, self.name.value
        count = sum(1 for v in (filename, kind, name) if v)
        if count >= 3:
            return "filename can't be used with kind or name"
        if count == 0:
            return "Must specify the -kind or -filename parameter"
        if filename:
            if count == 2:
                return "filename can't be used with kind or name"
        elif not kind:
            return MISSING_KIND
        elif not name:
            return MISSING_NAME
        if self.cas.value and self.modify_index.value == 0:
            return "Must specify a -modify-index greater than 0 with -cas"
        if self.modify_index.value != 0 and not self.cas.value:
            return "Cannot specify -modify-index without -cas"
        return ""

    def prepare(self, rest: list[str]) -> tuple[str, str]:
        problem = self._argument_error()
        if problem:
            raise CommandError(problem)
        if self.filename.value:
            entry = self.load_entry(self.filename.value)
            return entry.kind, entry.entry_name
        return self.kind.value, self.name.value

    def call(self, client: APIClient, job: tuple[str, str]) -> int:
        kind, name = job
        cas = self.cas.value
        params = {"cas": str(self.modify_index.value)} if cas else None
        try:
            if not kind or not name:
                raise APIError("Both kind and name parameters must not be empty")
            response = client.request("DELETE", f"/v1/config/{kind}/{name}", params=params)
            client.require_ok(response)
        except APIError as exc:
            raise CommandError(f"Error deleting config entry {kind}/{name}: {exc}") from None
        if cas and "true" not in response.text:
            raise CommandError(f"Config entry not deleted: {kind}/{name}")
        self.ui.info(f"Config entry deleted: {kind}/{name}")
        return 0
