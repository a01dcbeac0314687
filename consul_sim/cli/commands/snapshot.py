"""``consul snapshot save|restore|inspect``: a cluster's state as a file, Consul's way.

The words follow ``command/snapshot/*``: ``save`` writes the archive to ``FILE.unverified``,
reads it back through the archive checks and only then renames it (``Saved and verified
snapshot to index N``, the index from ``X-Consul-Index``); ``restore`` sends the file
(``Restored snapshot``); ``inspect`` reads a file with no agent at all and prints Raft's
metadata and a table of the records per Consul message type (``inspect/formatter.go``), whose
sizes are those of the simulator's own encoding of the state (see :mod:`consul_sim.archive`).
"""

from __future__ import annotations

import json
import os

from consul_sim import archive
from consul_sim.cli.command import CommandError, FlagCommand, group, register
from consul_sim.cli.flags import FlagSet
from consul_sim.cli.goformat import go_os_error, tabwrite
from consul_sim.cli.http import APIClient, APICommand, APIError

group(
    "snapshot",
    "Saves, restores and inspects snapshots of Consul server state",
    """
Usage: consul-sim snapshot <subcommand> [options] [args]

  This command has subcommands for saving, restoring, and inspecting the state
  of the Consul servers for disaster recovery. These are atomic, point-in-time
  snapshots which include key/value entries, service catalog, prepared queries,
  sessions, and ACLs.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  Create a snapshot:

      $ consul-sim snapshot save backup.snap

  Restore a snapshot:

      $ consul-sim snapshot restore backup.snap

  Inspect a snapshot:

      $ consul-sim snapshot inspect backup.snap

  For more examples, ask for subcommand help or view the documentation.
""",
)


def _file_argument(rest: list[str]) -> str:
    if not rest:
        raise CommandError("Missing FILE argument")
    if len(rest) > 1:
        raise CommandError(f"Too many arguments (expected 1, got {len(rest)})")
    return rest[0]


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise CommandError(f"Error opening snapshot file: {go_os_error('open', exc)}") from None


@register("snapshot save")
class SnapshotSave(APICommand[str]):
    synopsis = "Saves snapshot of Consul server state"
    usage_text = """
Usage: consul-sim snapshot save [options] FILE

  Retrieves an atomic, point-in-time snapshot of the state of the Consul servers
  which includes key/value entries, service catalog, prepared queries, sessions,
  and ACLs.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  To create a snapshot from the leader server and save it to "backup.snap":

    $ consul-sim snapshot save backup.snap
"""

    def prepare(self, rest: list[str]) -> str:
        return _file_argument(rest)

    def call(self, client: APIClient, path: str) -> int:
        try:
            response = client.request("GET", "/v1/snapshot", stale=self.http.stale_reads)
            client.require_ok(response)
        except APIError as exc:
            raise CommandError(f"Error saving snapshot: {exc}") from None
        unverified = path + ".unverified"
        try:
            with open(unverified, "wb") as handle:
                handle.write(response.content)
        except OSError as exc:
            raise CommandError(
                f"Error writing unverified snapshot file: {go_os_error('open', exc)}"
            ) from None
        try:
            archive.verify(_read_file(unverified))
            os.replace(unverified, path)
        except archive.ArchiveError as exc:
            raise CommandError(f"Error verifying snapshot file: {exc}") from None
        except OSError as exc:
            raise CommandError(
                f'Error renaming "{unverified}" to "{path}": {go_os_error("rename", exc)}'
            ) from None
        finally:
            if os.path.exists(unverified):
                os.remove(unverified)
        index = response.headers.get("X-Consul-Index", "0")
        self.ui.info(f"Saved and verified snapshot to index {index}")
        return 0


@register("snapshot restore")
class SnapshotRestore(APICommand[bytes]):
    synopsis = "Restores snapshot of Consul server state"
    usage_text = """
Usage: consul-sim snapshot restore [options] FILE

  Restores an atomic, point-in-time snapshot of the state of the Consul servers
  which includes key/value entries, service catalog, prepared queries, sessions,
  and ACLs.

  If ACLs are enabled, a management token must be supplied in order to perform
  snapshot operations.

  To restore a snapshot from the file "backup.snap":

    $ consul-sim snapshot restore backup.snap
"""

    def prepare(self, rest: list[str]) -> bytes:
        return _read_file(_file_argument(rest))

    def call(self, client: APIClient, data: bytes) -> int:
        try:
            client.require_ok(client.request("PUT", "/v1/snapshot", content=data))
        except APIError as exc:
            raise CommandError(f"Error restoring snapshot: {exc}") from None
        self.ui.info("Restored snapshot")
        return 0


@register("snapshot inspect")
class SnapshotInspect(FlagCommand):
    synopsis = "Displays information about a Consul snapshot file"
    usage_text = """
Usage: consul-sim snapshot inspect [options] FILE

  Displays information about a snapshot file on disk.

  To inspect the file "backup.snap":

    $ consul-sim snapshot inspect backup.snap
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.format = fs.string("format", "pretty", "Output format {pretty|json}")

    def execute(self, rest: list[str]) -> int:
        data = _read_file(_file_argument(rest))
        try:
            meta, stats = archive.inspect(data)
        except archive.ArchiveError as exc:
            raise CommandError(f"Error reading snapshot: {exc}") from None
        if self.format.value == "json":
            self.ui.output(_as_json(meta, stats))
        elif self.format.value == "pretty":
            self.ui.output(_as_table(meta, stats))
        else:
            raise CommandError(
                f"Error outputting enhanced snapshot data: Unknown format: {self.format.value}"
            )
        return 0


def _as_table(meta: dict[str, object], stats: list[archive.TypeStat]) -> str:
    """``prettyFormatter.Format``: a tabwriter (min width 8, padding 6) of the metadata, a
    blank line, then the type table with its dashes and total (``pretty.golden``)."""
    total = sum(s.size for s in stats)
    head = (
        f" ID\t{meta.get('ID', '')}\n Size\t{meta.get('Size', 0)}\n Index\t{meta.get('Index', 0)}"
        f"\n Term\t{meta.get('Term', 0)}\n Version\t{meta.get('Version', 0)}\n"
    )
    rows = ["", " Type\tCount\tSize\t", " ----\t----\t----\t"]
    rows += [f" {s.name}\t{s.count}\t{archive.byte_size(s.size)}\t" for s in stats]
    # Go writes the total's tab too, but its tabwriter never pads the last cell of the last
    # line (no newline follows to end it): leaving the tab out gives the same text.
    rows += [" ----\t----\t----\t", f" Total\t\t{archive.byte_size(total)}"]
    return tabwrite(head + "\n".join(rows), minwidth=8, padding=6)


def _as_json(meta: dict[str, object], stats: list[archive.TypeStat]) -> str:
    """``jsonFormatter.Format``: the output struct, indented by three spaces."""
    out = {
        "Meta": {
            "ID": meta.get("ID", ""),
            "Size": meta.get("Size", 0),
            "Index": meta.get("Index", 0),
            "Term": meta.get("Term", 0),
            "Version": meta.get("Version", 0),
        },
        "Stats": [{"Name": s.name, "Sum": s.size, "Count": s.count} for s in stats],
        "StatsKV": None,
        "TotalSize": sum(s.size for s in stats),
        "TotalSizeKV": 0,
    }
    return json.dumps(out, indent=3)
