"""``consul kv get|put|delete``: Consul's KV commands, outputs and exit codes.

The messages are Consul's own (``command/kv/*``): success lines on stdout (``Success! Data
written to: KEY``), failures on stderr with exit 1 (``Error! No key exists at: KEY``), argument
checks in Consul's order, and the Go client's quirks kept - ``get``/``delete`` drop one leading
``/`` from the key while ``put`` refuses it, and a bad ``-base64`` value is reported yet still
written, as Go's partial decode is.
"""

from __future__ import annotations

import base64
import os

from consul_sim.cli.command import group, register
from consul_sim.cli.flags import FlagSet
from consul_sim.cli.goformat import go_b64decode, go_os_error, tabwrite
from consul_sim.cli.http import APICommand, APIError, KVPair

group(
    "kv",
    "Interact with the key-value store",
    """
Usage: consul-sim kv <subcommand> [options] [args]

  Read, write and delete entries of the key-value store. For example:

      $ consul-sim kv put app/config/connections 5
      $ consul-sim kv get app/config/connections
      $ consul-sim kv get -detailed app/config/connections
      $ consul-sim kv delete app/config/connections

  Each subcommand documents its own options; add -h to see them.
""",
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _detailed(pair: KVPair, *, base64_value: bool, keys_only: bool) -> bytes:
    """``prettyKVPair``: a tabwriter table of the entry (no trailing newline on Value)."""
    rows = [
        f"CreateIndex\t{pair.create_index}\n",
        f"Flags\t{pair.flags}\n",
        f"Key\t{pair.key}\n",
        f"LockIndex\t{pair.lock_index}\n",
        f"ModifyIndex\t{pair.modify_index}\n",
        f"Session\t{pair.session or '-'}\n",
    ]
    if pair.partition:
        rows.append(f"Partition\t{pair.partition}\n")
    if pair.namespace:
        rows.append(f"Namespace\t{pair.namespace}\n")
    if not keys_only:
        value = _b64(pair.value) if base64_value else os.fsdecode(pair.value)
        rows.append(f"Value\t{value}")
    return os.fsencode(tabwrite("".join(rows)))


def _key_argument(command: APICommand, args: list[str]) -> str | None:
    """``kv get`` and ``kv delete`` take at most one KEY and drop one leading ``/`` (``kv put``
    refuses it instead). None when the arguments were refused (already reported on stderr)."""
    rest = command.parse(args)
    if rest is None:
        return None
    if len(rest) > 1:
        command.ui.error(f"Too many arguments (expected 1, got {len(rest)})")
        return None
    key = rest[0] if rest else ""
    return key[1:] if key.startswith("/") else key


@register("kv get")
class KVGet(APICommand):
    synopsis = "Retrieves or lists data from the KV store"
    usage_text = """
Usage: consul-sim kv get [options] [KEY_OR_PREFIX]

  Print the value stored at KEY. A missing key is an error; a key holding no
  data prints an empty line. Without KEY the root of the store ("") is used,
  which only makes sense with -recurse or -keys.

      $ consul-sim kv get app/config

  -detailed adds the entry's metadata (indexes, flags, session):

      $ consul-sim kv get -detailed app/config

  -recurse prints every KEY:VALUE under the prefix, -keys only the key names:

      $ consul-sim kv get -recurse app/
      $ consul-sim kv get -keys app/
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.base64 = fs.boolean("base64", False, "Print values base64-encoded. Off by default.")
        self.detailed = fs.boolean(
            "detailed",
            False,
            "Print the entry's metadata (CreateIndex, ModifyIndex, Flags, LockIndex, "
            "Session) along with its value. Off by default.",
        )
        self.keys = fs.boolean(
            "keys",
            False,
            "Print the names of the keys under the prefix instead of their values; "
            "usually combined with -separator. Off by default.",
        )
        self.recurse = fs.boolean(
            "recurse",
            False,
            "Treat KEY as a prefix and print every entry beneath it. Off by default.",
        )
        self.separator = fs.string(
            "separator",
            "/",
            "With -keys, list names only up to the next occurrence of this string "
            "after the prefix.",
        )

    def run(self, args: list[str]) -> int:
        key = _key_argument(self, args)
        if key is None:
            return 1
        recurse, keys = self.recurse.value, self.keys.value
        if not key and not (recurse or keys):
            self.ui.error("Error! Missing KEY argument")
            return 1
        client = self.api_client()
        if client is None:
            return 1
        stale = self.http.stale_reads
        with client:
            try:
                if keys and recurse:
                    return self._list(client.kv_list(key, stale=stale), keys_only=True)
                if keys:
                    for name in client.kv_keys(key, self.separator.value, stale=stale):
                        self.ui.info(name)
                    return 0
                if recurse:
                    return self._list(client.kv_list(key, stale=stale), keys_only=False)
                pair = client.kv_get(key, stale=stale)
            except APIError as exc:
                self.ui.error(f"Error querying Consul agent: {exc}")
                return 1
        if pair is None:
            self.ui.error(f"Error! No key exists at: {key}")
            return 1
        if self.detailed.value:
            self.ui.info(_detailed(pair, base64_value=self.base64.value, keys_only=False))
        elif self.base64.value:
            self.ui.info(_b64(pair.value))
        else:
            self.ui.info(pair.value)
        return 0

    def _list(self, pairs: list[KVPair], *, keys_only: bool) -> int:
        for i, pair in enumerate(pairs):
            if self.detailed.value:
                self.ui.info(_detailed(pair, base64_value=self.base64.value, keys_only=keys_only))
                if i < len(pairs) - 1:
                    self.ui.info("")
            elif keys_only:
                self.ui.info(pair.key)
            elif self.base64.value:
                self.ui.info(f"{pair.key}:{_b64(pair.value)}")
            else:
                self.ui.info(os.fsencode(pair.key) + b":" + pair.value)
        return 0


@register("kv put")
class KVPut(APICommand):
    synopsis = "Sets or updates data in the KV store"
    usage_text = """
Usage: consul-sim kv put [options] KEY [DATA]

  Store DATA at KEY, creating or replacing the entry.

      $ consul-sim kv put app/config/connections 5

  DATA may name a file with a leading "@", or be "-" to read standard input:

      $ consul-sim kv put app/license @license.lic
      $ echo "abcd1234" | consul-sim kv put app/license -

  Without DATA the key is stored with an empty value. -base64 decodes DATA
  before storing it. A check-and-set write needs -cas and the -modify-index
  the entry must still have:

      $ consul-sim kv put -cas -modify-index=844 app/config/connections 5
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.cas = fs.boolean(
            "cas",
            False,
            "Write only if the entry's ModifyIndex still equals -modify-index "
            "(check-and-set). Off by default.",
        )
        self.kv_flags = fs.uint(
            "flags",
            0,
            "Opaque unsigned integer stored with the entry for the application's own use. "
            "Defaults to 0.",
        )
        self.base64 = fs.boolean(
            "base64", False, "DATA is base64-encoded; store the decoded bytes. Off by default."
        )
        self.modify_index = fs.uint(
            "modify-index",
            0,
            "The ModifyIndex the entry must have for a -cas write to succeed.",
        )
        self.session = fs.string(
            "session",
            "",
            "Session ID used by -acquire and -release to take or give up the key's lock.",
        )
        self.acquire = fs.boolean(
            "acquire",
            False,
            "Take the key's lock for -session, creating the key when it does not exist. "
            "Off by default.",
        )
        self.release = fs.boolean(
            "release",
            False,
            "Give up the key's lock held by -session. Off by default.",
        )

    def _data_from_args(self, rest: list[str]) -> tuple[str, bytes] | str:
        """The key and data, or the error sentence (without its ``Error! `` prefix)."""
        if not rest:
            return "Missing KEY argument"
        if len(rest) > 2:
            return f"Too many arguments (expected 1 or 2, got {len(rest)})"
        key = rest[0]
        if len(rest) == 1 or rest[1] == "":
            return key, b""
        source = rest[1]
        if source.startswith("@"):
            try:
                with open(source[1:], "rb") as fh:
                    return key, fh.read()
            except OSError as exc:
                return f"Failed to read file: {go_os_error('open', exc)}"
        if source == "-":
            try:
                return key, self.ctx.read_stdin()
            except OSError as exc:
                return f"Failed to read stdin: {exc}"
        return key, os.fsencode(source)

    def run(self, args: list[str]) -> int:
        rest = self.parse(args)
        if rest is None:
            return 1
        loaded = self._data_from_args(rest)
        if isinstance(loaded, str):
            self.ui.error(f"Error! {loaded}")
            return 1
        key, data = loaded
        if self.base64.value:
            data, err = go_b64decode(data)
            if err is not None:
                # Consul reports the bad encoding but goes on to write what decoded.
                self.ui.error(f"Error! Cannot base 64 decode data: {err}")
        session = self.session.value
        if (self.release.value or self.acquire.value) and not session:
            self.ui.error("Error! Missing -session (required with -acquire and -release)")
            return 1
        client = self.api_client()
        if client is None:
            return 1
        params: dict[str, str] = {}
        if self.kv_flags.value:
            params["flags"] = str(self.kv_flags.value)
        with client:
            if self.cas.value:
                index = self.modify_index.value
                try:
                    ok = client.kv_put(key, data, {**params, "cas": str(index)})
                except APIError as exc:
                    self.ui.error(f"Error! Did not write to {key}: {exc}")
                    return 1
                if not ok and index == 0:
                    self.ui.error(
                        f"Error! Did not write to {key}: CAS performed with index=0 and key "
                        "already exists."
                    )
                    return 1
                if not ok:
                    self.ui.error(f"Error! Did not write to {key}: CAS failed")
                    return 1
                self.ui.info(f"Success! Data written to: {key}")
                return 0
            if self.acquire.value:
                try:
                    ok = client.kv_put(key, data, {**params, "acquire": session})
                except APIError as exc:
                    self.ui.error(f"Error! Failed writing data: {exc}")
                    return 1
                if not ok:
                    self.ui.error("Error! Did not acquire lock")
                    return 1
                self.ui.info(f"Success! Lock acquired on: {key}")
                return 0
            if self.release.value:
                try:
                    ok = client.kv_put(key, data, {**params, "release": session})
                except APIError:
                    # Consul prints the key here, not the error.
                    self.ui.error(f"Error! Failed writing data: {key}")
                    return 1
                if not ok:
                    self.ui.error("Error! Did not release lock")
                    return 1
                self.ui.info(f"Success! Lock released on: {key}")
                return 0
            try:
                client.kv_put(key, data, params)
            except APIError as exc:
                self.ui.error(f"Error! Failed writing data: {exc}")
                return 1
        self.ui.info(f"Success! Data written to: {key}")
        return 0


@register("kv delete")
class KVDelete(APICommand):
    synopsis = "Removes data from the KV store"
    usage_text = """
Usage: consul-sim kv delete [options] KEY_OR_PREFIX

  Delete the entry at KEY. Deleting a key that does not exist succeeds and
  changes nothing.

      $ consul-sim kv delete app/config

  -recurse deletes every entry whose key starts with the prefix, so
  "app/config" also removes "app/configuration" and "app/config/a/b":

      $ consul-sim kv delete -recurse app/config
"""

    def define_flags(self, fs: FlagSet) -> None:
        self.cas = fs.boolean(
            "cas",
            False,
            "Delete only if the entry's ModifyIndex still equals -modify-index "
            "(check-and-set). Off by default.",
        )
        self.modify_index = fs.uint(
            "modify-index",
            0,
            "The ModifyIndex the entry must have for a -cas delete to succeed.",
        )
        self.recurse = fs.boolean(
            "recurse", False, "Delete every key under the given prefix. Off by default."
        )

    def run(self, args: list[str]) -> int:
        key = _key_argument(self, args)
        if key is None:
            return 1
        cas, recurse, index = self.cas.value, self.recurse.value, self.modify_index.value
        if not key and not recurse:
            self.ui.error("Error! Missing KEY argument")
            return 1
        if cas and index == 0:
            self.ui.error(
                "Cannot delete a key that does not exist. Provide a -modify-index greater "
                "than than 0."
            )
            return 1
        if index != 0 and not cas:
            self.ui.error("Cannot specify -modify-index without -cas!")
            return 1
        if recurse and cas:
            self.ui.error("Cannot specify both -cas and -recurse!")
            return 1
        client = self.api_client()
        if client is None:
            return 1
        with client:
            if recurse:
                try:
                    client.kv_delete(key, {"recurse": ""})
                except APIError as exc:
                    self.ui.error(f"Error! Did not delete prefix {key}: {exc}")
                    return 1
                self.ui.info(f"Success! Deleted keys with prefix: {key}")
                return 0
            if cas:
                try:
                    ok = client.kv_delete(key, {"cas": str(index)})
                except APIError as exc:
                    self.ui.error(f"Error! Did not delete key {key}: {exc}")
                    return 1
                if not ok:
                    self.ui.error(f"Error! Did not delete key {key}: CAS failed")
                    return 1
                self.ui.info(f"Success! Deleted key: {key}")
                return 0
            try:
                client.kv_delete(key)
            except APIError as exc:
                self.ui.error(f"Error deleting key {key}: {exc}")
                return 1
        self.ui.info(f"Success! Deleted key: {key}")
        return 0
