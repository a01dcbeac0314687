"""``consul catalog services|nodes``: the catalog's listings, as ``command/catalog/list/`` prints.

``services`` (``list/services/catalog_list_services.go``) prints service names sorted, one a
line, or with ``-tags`` a tabwriter table of name and sorted comma-joined tags; ``-node`` lists
one node's services (from ``/v1/catalog/node/:node``). ``nodes`` (``list/nodes/...``) prints a
columnized table, ``Node ID Address DC`` with the ID shortened to its first group, or with
``-detailed`` the full ID, tagged addresses and meta as sorted ``k=v`` lists
(``command/catalog/helpers*.go``); ``-service`` lists the nodes of one service. An empty answer
prints ``No services|nodes match the given query - try expanding your search.`` on stderr and
exits 0, as Consul does.
"""

from __future__ import annotations

from typing import Any

from consul_sim.cli.command import CommandError, group, register
from consul_sim.cli.commands.peering import columnize
from consul_sim.cli.datasource import DataSourceError, load_data_source
from consul_sim.cli.flags import FlagSet, MapValue
from consul_sim.cli.goformat import tabwrite
from consul_sim.cli.http import APIClient, APICommand, APIError

group(
    "catalog",
    "Interact with the catalog",
    """
Usage: consul-sim catalog <subcommand> [options] [args]

  This command has subcommands for interacting with Consul's catalog. The
  catalog should not be confused with the agent, although the APIs and
  responses may be similar.

  List all nodes:

      $ consul-sim catalog nodes

  List all services:

      $ consul-sim catalog services

  For more examples, ask for subcommand help or view the documentation.
""",
)

NODE_META_USAGE = (
    "Metadata to filter nodes with the given `key=value` pairs. This flag may be specified "
    "multiple times to filter on multiple sources of metadata."
)


def _meta_params(meta: dict[str, str]) -> list[tuple[str, str]]:
    """Go's api client sends ``QueryOptions.NodeMeta`` as ``node-meta=key:value`` each."""
    return [("node-meta", f"{k}:{v}") for k, v in sorted(meta.items())]


def _get(client: APIClient, path: str, params: list[tuple[str, str]]) -> Any:
    """GET with repeatable parameters (``node-meta``); the JSON body or APIError."""
    response = client.request("GET", path, params=params)
    client.require_ok(response)
    return response.json()


def _kv(m: dict[str, str] | None, joiner: str = ", ") -> str:
    """``mapToKV``: ``k=v`` pairs sorted by key."""
    return joiner.join(f"{k}={v}" for k, v in sorted((m or {}).items()))


@register("catalog services")
class CatalogServices(APICommand[None]):
    synopsis = "Lists all registered services in a datacenter"
    usage_text = """
Usage: consul-sim catalog services [options]

  Retrieves the list services registered in a given datacenter. By default, the
  datacenter of the local agent is queried.

  To retrieve the list of services:

      $ consul-sim catalog services

  To include the services' tags in the output:

      $ consul-sim catalog services -tags

  To list services which run on a particular node:

      $ consul-sim catalog services -node=web

  To filter services on node metadata:

      $ consul-sim catalog services -node-meta="foo=bar"
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.node = fs.string("node", "", "Node `id or name` for which to list services.")
        self.node_meta = fs.var(
            MapValue(),
            "node-meta",
            "Metadata to filter nodes with the given `key=value` pairs. If specified, only "
            "services running on nodes matching the given metadata will be returned. This "
            "flag may be specified multiple times to filter on multiple sources of metadata.",
        )
        self.tags = fs.boolean(
            "tags",
            False,
            "Display each service's tags as a comma-separated list beside each service entry.",
        )

    def register_http_flags(self, fs: FlagSet) -> None:
        self.http.client_flags(fs)
        self.http.server_flags(fs)

    def prepare(self, rest: list[str]) -> None:
        if rest:
            raise CommandError(f"Too many arguments (expected 0, got {len(rest)})")

    def call(self, client: APIClient, job: None) -> int:
        params = _meta_params(self.node_meta.value)
        services: dict[str, list[str]] = {}
        if self.node.value:
            try:
                found = _get(client, f"/v1/catalog/node/{self.node.value}", params)
            except APIError as exc:
                raise CommandError(f"Error listing services for node: {exc}") from None
            for svc in ((found or {}).get("Services") or {}).values():
                services.setdefault(svc["Service"], []).extend(svc.get("Tags") or [])
        else:
            try:
                services = _get(client, "/v1/catalog/services", params) or {}
            except APIError as exc:
                raise CommandError(f"Error listing services: {exc}") from None
        if not services:
            self.ui.error("No services match the given query - try expanding your search.")
            return 0
        order = sorted(services)
        if self.tags.value:
            table = "".join(f"{name}\t{','.join(sorted(services[name] or []))}\n" for name in order)
            self.ui.output(tabwrite(table, minwidth=0, padding=6).strip())
        else:
            for name in order:
                self.ui.output(name)
        return 0


@register("catalog nodes")
class CatalogNodes(APICommand[str]):
    synopsis = "Lists all nodes in the given datacenter"
    usage_text = """
Usage: consul-sim catalog nodes [options]

  Retrieves the list nodes registered in a given datacenter. By default, the
  datacenter of the local agent is queried.

  To retrieve the list of nodes:

      $ consul-sim catalog nodes

  To print detailed information including full node IDs, tagged addresses, and
  metadata information:

      $ consul-sim catalog nodes -detailed

  To list nodes which are running a particular service:

      $ consul-sim catalog nodes -service=web

  To filter by node metadata:

      $ consul-sim catalog nodes -node-meta="foo=bar"
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.filter = fs.string("filter", "", "Filter to use with the request")
        self.detailed = fs.boolean(
            "detailed",
            False,
            "Output detailed information about the nodes including their addresses and metadata.",
        )
        self.near = fs.string(
            "near",
            "",
            "Node name to sort the node list in ascending order based on estimated round-trip "
            'time from that node. Passing "_agent" will use this agent\'s node for sorting.',
        )
        self.node_meta = fs.var(MapValue(), "node-meta", NODE_META_USAGE)
        self.service = fs.string(
            "service",
            "",
            "Service `id or name` to filter nodes. Only nodes which are providing the given "
            "service will be returned.",
        )

    def register_http_flags(self, fs: FlagSet) -> None:
        self.http.client_flags(fs)
        self.http.server_flags(fs)
        self.http.partition_flag(fs)

    def prepare(self, rest: list[str]) -> str:
        if rest:
            raise CommandError(f"Too many arguments (expected 0, got {len(rest)})")
        if not self.filter.value:
            return ""
        try:
            return load_data_source(self.filter.value, self.ctx).decode("utf-8", "replace")
        except DataSourceError as exc:
            raise CommandError(f"Could not process filter argument: {exc}") from None

    def call(self, client: APIClient, job: str) -> int:
        params = _meta_params(self.node_meta.value)
        if self.near.value:
            params.append(("near", self.near.value))
        if job:
            params.append(("filter", job))
        nodes: list[dict[str, Any]]
        if self.service.value:
            try:
                found = _get(client, f"/v1/catalog/service/{self.service.value}", params)
            except APIError as exc:
                raise CommandError(f"Error listing nodes for service: {exc}") from None
            nodes = [
                {
                    "Node": s.get("Node", ""),
                    "ID": s.get("ID", ""),
                    "Address": s.get("Address", ""),
                    "Datacenter": s.get("Datacenter", ""),
                    "TaggedAddresses": s.get("TaggedAddresses"),
                    "Meta": s.get("NodeMeta"),
                }
                for s in found or []
            ]
        else:
            try:
                nodes = _get(client, "/v1/catalog/nodes", params) or []
            except APIError as exc:
                raise CommandError(f"Error listing nodes: {exc}") from None
        if not nodes:
            self.ui.error("No nodes match the given query - try expanding your search.")
            return 0
        rows = [
            ["Node", "ID", "Address", "DC", "TaggedAddresses", "Meta"]
            if self.detailed.value
            else ["Node", "ID", "Address", "DC"]
        ]
        for node in nodes:
            node_id = str(node.get("ID") or "")
            if self.detailed.value:
                rows.append(
                    [
                        str(node.get("Node", "")),
                        node_id,
                        str(node.get("Address", "")),
                        str(node.get("Datacenter", "")),
                        _kv(node.get("TaggedAddresses")),
                        _kv(node.get("Meta")),
                    ]
                )
            else:
                dash = node_id.find("-")
                rows.append(
                    [
                        str(node.get("Node", "")),
                        node_id[:dash] if dash > 0 else node_id,
                        str(node.get("Address", "")),
                        str(node.get("Datacenter", "")),
                    ]
                )
        self.ui.info(columnize(rows))
        return 0
