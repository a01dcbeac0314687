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

from consul_sim.cli.command import CommandError, group, register
from consul_sim.cli.datasource import DataSourceError, load_data_source
from consul_sim.cli.flags import FlagSet
from consul_sim.cli.goformat import go_b64decode, tabwrite
from consul_sim.cli.http import APIClient, APICommand, APIError, KVPair

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


def _key_argument(rest: list[str]) -> str:
    """``kv get`` and ``kv delete`` take at most one KEY and drop one leading ``/`` (``kv put``
    refuses it instead)."""
    if len(rest) > 1:
        raise CommandError(f"Too many arguments (expected 1, got {len(rest)})")
    key = rest[0] if rest else ""
    return key[1:] if key.startswith("/") else key


@register("kv get")
class KVGet(APICommand[str]):
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

    def prepare(self, rest: list[str]) -> str:
        key = _key_argument(rest)
        if not key and not (self.recurse.value or self.keys.value):
            raise CommandError("Error! Missing KEY argument")
        return key

    def call(self, client: APIClient, key: str) -> int:
        recurse, keys = self.recurse.value, self.keys.value
        stale = self.http.stale_reads
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
            raise CommandError(f"Error querying Consul agent: {exc}") from None
        if pair is None:
            raise CommandError(f"Error! No key exists at: {key}")
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
class KVPut(APICommand[tuple[str, bytes]]):
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

    def _data_from_args(self, rest: list[str]) -> tuple[str, bytes]:
        """The key and data (``Error! ``-prefixed sentences when the arguments are refused)."""
        if not rest:
            raise CommandError("Error! Missing KEY argument")
        if len(rest) > 2:
            raise CommandError(f"Error! Too many arguments (expected 1 or 2, got {len(rest)})")
        try:
            return rest[0], load_data_source(rest[1] if len(rest) == 2 else "", self.ctx)
        except DataSourceError as exc:
            raise CommandError(f"Error! {exc}") from None

    def prepare(self, rest: list[str]) -> tuple[str, bytes]:
        key, data = self._data_from_args(rest)
        if self.base64.value:
            data, err = go_b64decode(data)
            if err is not None:
                # Consul reports the bad encoding but goes on to write what decoded.
                self.ui.error(f"Error! Cannot base 64 decode data: {err}")
        if (self.release.value or self.acquire.value) and not self.session.value:
            raise CommandError("Error! Missing -session (required with -acquire and -release)")
        return key, data

    def call(self, client: APIClient, job: tuple[str, bytes]) -> int:
        key, data = job
        session = self.session.value
        params: dict[str, str] = {}
        if self.kv_flags.value:
            params["flags"] = str(self.kv_flags.value)
        if self.cas.value:
            index = self.modify_index.value
            try:
                ok = client.kv_put(key, data, {**params, "cas": str(index)})
            except APIError as exc:
                raise CommandError(f"Error! Did not write to {key}: {exc}") from None
            if not ok and index == 0:
                raise CommandError(
                    f"Error! Did not write to {key}: CAS performed with index=0 and key "
                    "already exists."
                )
            if not ok:
                raise CommandError(f"Error! Did not write to {key}: CAS failed")
            self.ui.info(f"Success! Data written to: {key}")
            return 0
        if self.acquire.value:
            try:
                ok = client.kv_put(key, data, {**params, "acquire": session})
            except APIError as exc:
                raise CommandError(f"Error! Failed writing data: {exc}") from None
            if not ok:
                raise CommandError("Error! Did not acquire lock")
            self.ui.info(f"Success! Lock acquired on: {key}")
            return 0
        if self.release.value:
            try:
                ok = client.kv_put(key, data, {**params, "release": session})
            except APIError:
                # Consul prints the key here, not the error.
                raise CommandError(f"Error! Failed writing data: {key}") from None
            if not ok:
                raise CommandError("Error! Did not release lock")
            self.ui.info(f"Success! Lock released on: {key}")
            return 0
        try:
            client.kv_put(key, data, params)
        except APIError as exc:
            raise CommandError(f"Error! Failed writing data: {exc}") from None
        self.ui.info(f"Success! Data written to: {key}")
        return 0


@register("kv delete")
class KVDelete(APICommand[str]):
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

    def prepare(self, rest: list[str]) -> str:
        """The checks of ``command/kv/del``, in its order."""
        key = _key_argument(rest)
        cas, recurse, index = self.cas.value, self.recurse.value, self.modify_index.value
        if not key and not recurse:
            raise CommandError("Error! Missing KEY argument")
        if cas and index == 0:
            raise CommandError(
                "Cannot delete a key that does not exist. Provide a -modify-index greater "
                "than than 0."
            )
        if index != 0 and not cas:
            raise CommandError("Cannot specify -modify-index without -cas!")
        if recurse and cas:
            raise CommandError("Cannot specify both -cas and -recurse!")
        return key

    def call(self, client: APIClient, key: str) -> int:
        if self.recurse.value:
            try:
                client.kv_delete(key, {"recurse": ""})
            except APIError as exc:
                raise CommandError(f"Error! Did not delete prefix {key}: {exc}") from None
            self.ui.info(f"Success! Deleted keys with prefix: {key}")
            return 0
        if self.cas.value:
            try:
                ok = client.kv_delete(key, {"cas": str(self.modify_index.value)})
            except APIError as exc:
                raise CommandError(f"Error! Did not delete key {key}: {exc}") from None
            if not ok:
                raise CommandError(f"Error! Did not delete key {key}: CAS failed")
            self.ui.info(f"Success! Deleted key: {key}")
            return 0
        try:
            client.kv_delete(key)
        except APIError as exc:
            raise CommandError(f"Error deleting key {key}: {exc}") from None
        self.ui.info(f"Success! Deleted key: {key}")
        return 0
