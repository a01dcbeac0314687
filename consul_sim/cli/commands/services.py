"""``consul services register|deregister``: agent-local service registration from flags or files.

Outputs are Consul's (``command/services/*``): ``Registered service: NAME`` /
``Deregistered service: ID`` on stdout, and on stderr the argument errors
(``Service registration requires at least one argument or flags.``), file errors prefixed
``Error: ``, and API failures as ``Error registering service "NAME": <Go client error>``. When a
file and flags are both given, flags fill what the file leaves empty, meta is merged and tags
appended (``CombineArgs``); ``-name`` with a file is refused.
"""

from __future__ import annotations

import re
from typing import Any

from consul_sim.cli.command import CommandError, group, register
from consul_sim.cli.flags import AppendSlice, FlagSet, MapValue
from consul_sim.cli.http import APIClient, APICommand, APIError
from consul_sim.cli.servicefile import ServiceFileError, load_service_files
from consul_sim.gostd import quote as go_quote

group(
    "services",
    "Interact with services",
    """
Usage: consul-sim services <subcommand> [options] [args]

  Register and deregister services with the local agent, from flags or from
  service definition files (HCL or JSON). For example:

      $ consul-sim services register -name=web -port=8080
      $ consul-sim services register web.hcl
      $ consul-sim services deregister -id=web

  Each subcommand documents its own options; add -h to see them.
""",
)


def split_host_port(hostport: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, with its ``address X: ...`` errors."""

    def fail(why: str) -> ValueError:
        return ValueError(f"address {hostport}: {why}" if hostport else why)

    i = hostport.rfind(":")
    if i < 0:
        raise fail("missing port in address")
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        if end + 1 == len(hostport):
            raise fail("missing port in address")
        if end + 1 != i:
            if hostport[end + 1] == ":":
                raise fail("too many colons in address")
            raise fail("missing port in address")
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in hostport[j:]:
        raise fail("unexpected '[' in address")
    if "]" in hostport[k:]:
        raise fail("unexpected ']' in address")
    return host, hostport[i + 1 :]


def parse_service_addr(text: str) -> dict[str, Any]:
    """``api.ParseServiceAddr``: ``host:port`` into ``{"Address", "Port"}``."""
    host, port = split_host_port(text)
    if not re.fullmatch(r"[+-]?[0-9]+", port):
        raise ValueError(f'strconv.Atoi: parsing "{port}": invalid syntax')
    value = int(port)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f'strconv.Atoi: parsing "{port}": value out of range')
    return {"Address": host, "Port": value}


def _omit_empty(reg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reg.items() if v not in ("", 0, None) and v != [] and v != {}}


def combine_args(from_file: dict[str, Any], from_flags: dict[str, Any]) -> dict[str, Any]:
    """``CombineArgs``: flag values fill what the file leaves empty; meta merged, tags appended."""
    out = dict(from_file)
    for key in ("ID", "Name", "Address", "Port", "Kind", "SocketPath"):
        if from_flags.get(key) and not out.get(key):
            out[key] = from_flags[key]
    out["Meta"] = {**out.get("Meta", {}), **from_flags.get("Meta", {})}
    out["TaggedAddresses"] = {
        **out.get("TaggedAddresses", {}),
        **from_flags.get("TaggedAddresses", {}),
    }
    out["Tags"] = [*out.get("Tags", []), *from_flags.get("Tags", [])]
    return _omit_empty(out)


class _ServicesCommand(APICommand[list[dict[str, Any]]]):
    """``register`` and ``deregister`` both act on the services that flags or files describe."""

    def load(self, paths: list[str]) -> list[dict[str, Any]]:
        """The services the files define, by the agent's config loader; its warnings go to
        stderr, its error is ``Error: ...``."""
        try:
            loaded = load_service_files(paths)
        except ServiceFileError as exc:
            raise CommandError(f"Error: {exc}") from None
        for warning in loaded.warnings:
            self.ui.warn(warning)
        return loaded.services


@register("services register")
class ServicesRegister(_ServicesCommand):
    synopsis = "Register services with the local agent"
    usage_text = """
Usage: consul-sim services register [options] [FILE...]

  Register services with the agent, either one service described by flags or
  every service defined in the given HCL or JSON files. The command returns
  once the agent has accepted them; deregister them when they go away.

      $ consul-sim services register -name=web -port=8080 -tag=v1
      $ consul-sim services register web.json
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.id = fs.string(
            "id", "", "Service ID for a flag-based registration; defaults to -name."
        )
        self.name = fs.string("name", "", "Service name for a flag-based registration.")
        self.address = fs.string("address", "", "Service address for a flag-based registration.")
        self.port = fs.integer("port", 0, "Service port for a flag-based registration.")
        self.socket = fs.string(
            "socket",
            "",
            "Unix domain socket path for a flag-based registration (instead of address and port).",
        )
        self.meta = fs.var(
            MapValue(),
            "meta",
            "Service metadata as key=value. Repeat the flag to set several keys.",
        )
        self.tags = fs.var(
            AppendSlice(), "tag", "A tag for the service. Repeat the flag to add several tags."
        )
        self.tagged_addresses = fs.var(
            MapValue(),
            "tagged-address",
            "A tagged address as name=host:port. Repeat the flag to add several.",
        )
        self.kind = fs.string("kind", "", "The service kind (for example connect-proxy).")

    def prepare(self, rest: list[str]) -> list[dict[str, Any]]:
        tagged: dict[str, Any] = {}
        for name in sorted(self.tagged_addresses.value):
            try:
                tagged[name] = parse_service_addr(self.tagged_addresses.value[name])
            except ValueError as exc:
                raise CommandError(f"Invalid Tagged Address: {exc}") from None
        from_flags = _omit_empty(
            {
                "Kind": self.kind.value,
                "ID": self.id.value,
                "Name": self.name.value,
                "Address": self.address.value,
                "Port": self.port.value,
                "SocketPath": self.socket.value,
                "Tags": list(self.tags.value),
                "Meta": dict(self.meta.value),
                "TaggedAddresses": tagged,
            }
        )
        if not rest and not self.name.value:
            raise CommandError("Service registration requires at least one argument or flags.")
        if rest and self.name.value:
            raise CommandError("Service registration requires arguments or -id, not both.")
        if not rest:
            return [from_flags]
        return [combine_args(svc, from_flags) for svc in self.load(rest)]

    def call(self, client: APIClient, services: list[dict[str, Any]]) -> int:
        for svc in services:
            name = str(svc.get("Name", ""))
            try:
                client.agent_service_register(svc)
            except APIError as exc:
                raise CommandError(f"Error registering service {go_quote(name)}: {exc}") from None
            self.ui.output(f"Registered service: {name}")
        return 0


@register("services deregister")
class ServicesDeregister(_ServicesCommand):
    synopsis = "Deregister services with the local agent"
    usage_text = """
Usage: consul-sim services deregister [options] [FILE...]

  Deregister services from the agent they were registered with: every service
  defined in the given files (by ID, or by name when a service has no ID), or
  the single service named by -id.

      $ consul-sim services deregister web.json db.hcl
      $ consul-sim services deregister -id=web
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.id = fs.string(
            "id", "", "ID of the service to deregister. Not allowed together with files."
        )

    def prepare(self, rest: list[str]) -> list[dict[str, Any]]:
        if not rest and not self.id.value:
            raise CommandError("Service deregistration requires at least one argument or -id.")
        if rest and self.id.value:
            raise CommandError("Service deregistration requires arguments or -id, not both.")
        return self.load(rest) if rest else [{"ID": self.id.value}]

    def call(self, client: APIClient, services: list[dict[str, Any]]) -> int:
        for svc in services:
            service_id = str(svc.get("ID") or svc.get("Name") or "")
            if not service_id:
                continue
            try:
                client.agent_service_deregister(service_id)
            except APIError as exc:
                name = str(svc.get("Name", ""))
                raise CommandError(f"Error deregistering service {go_quote(name)}: {exc}") from None
            self.ui.output(f"Deregistered service: {service_id}")
        return 0
