"""Consul's snapshot archive of one cluster: ``/v1/snapshot`` and ``consul-sim snapshot``.

A Consul snapshot is a gzip'd tar of three files (``snapshot/archive.go``): ``meta.json``, Raft's
snapshot metadata as Go's JSON encoder writes it (one line); ``state.bin``, the state; and
``SHA256SUMS``, ``sha256sum``-style lines for the other two. Restoring checks the sums before
anything is applied, and every failure is one error sentence whose wording follows
``snapshot/snapshot.go`` and ``archive.go`` (``failed to read snapshot file: ...``).

What the archive holds is what Consul's holds, the cluster's Raft state: the catalog, KV with its
tombstones, sessions, config entries, prepared queries, the peerings and their secrets, the
Connect CA and the ACL tokens, with the Raft indexes. ``state.bin`` is in the simulator's own
encoding (a part, :func:`consul_sim.snapshot.dump_part`), not Consul's msgpack FSM stream, so a
real Consul cannot restore it, nor this one a real Consul's. Left out, as Consul leaves them out:
the local agent's own services and checks (agent state, synced to the catalog by anti-entropy),
the peering stream tracker, and every timer. After a restore the cluster does what Consul's leader
does when ``snapshot_endpoint.go`` has it re-assert leadership: session TTL timers start afresh
(``initializeSessionTimers``), peering streams are dropped and dialers redial (the peering leader
routine restarts), and blocked readers wake.

Loading a part names only the domain's data classes (the unpickler refuses anything else), since
an archive is something an operator may hand in over HTTP.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from consul_sim import snapshot
from consul_sim.acl.resolver import ACLTables
from consul_sim.sessions import rearm_timers

if TYPE_CHECKING:
    from consul_sim.world import Cluster

META = "meta.json"
STATE = "state.bin"
SUMS = "SHA256SUMS"
TERM = 2
"""Raft's term in the metadata: a dev server elects itself once, in term 2, and the simulator
never holds another election."""
META_VERSION = 1
"""``raft.SnapshotVersion`` of the snapshots Consul takes."""

_KEPT = {
    "store": ("lock", "watches"),
    "peering-table": ("store",),
    "ca": ("store", "clock", "rand"),
}
"""Per part of the cluster, the attributes that belong to the live process and stay."""


class ArchiveError(ValueError):
    """An archive that cannot be read or restored; ``str()`` is Consul's sentence."""


@dataclass(frozen=True)
class Meta:
    """``raft.SnapshotMeta``: what ``consul snapshot inspect`` prints above its table."""

    id: str
    index: int
    term: int
    version: int
    size: int
    node_id: str
    address: str

    def encode(self) -> bytes:
        """As Go's ``json.Encoder`` writes the struct: field order, no spaces, a newline.
        ``Peers`` (the pre-configuration peer list, opaque bytes) is left null."""
        fields = {
            "Version": self.version,
            "ID": self.id,
            "Index": self.index,
            "Term": self.term,
            "Peers": None,
            "Configuration": {
                "Servers": [{"Suffrage": 0, "ID": self.node_id, "Address": self.address}]
            },
            "ConfigurationIndex": 1,
            "Size": self.size,
        }
        return json.dumps(fields, separators=(",", ":")).encode() + b"\n"


def _parts(cluster: Cluster) -> dict[str, Any]:
    return {
        "store": cluster.store,
        "peering-table": cluster.peering.table,
        "ca": cluster.ca,
    }


def _refs(cluster: Cluster) -> dict[str, object]:
    """The live objects a part refers to by name: bound again to the restoring cluster's."""
    world = cluster.world
    refs: dict[str, object] = {
        "scheduler": world.scheduler,
        "clock": world.clock,
        "network": world.network,
        "heartbeats": world.heartbeats,
        "cluster": cluster,
        "agent": cluster.agent,
        "peering": cluster.peering,
        "acl": cluster.acl,
        "ca-rand": cluster.ca.rand,
        "cluster-rand": cluster.rand,
        **_parts(cluster),
    }
    return refs


def _state(cluster: Cluster) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for name, part in _parts(cluster).items():
        kept = _KEPT[name]
        state[name] = {k: v for k, v in part.__dict__.items() if k not in kept}
    state["acl-tables"] = cluster.acl.tables
    return state


# -- writing ----------------------------------------------------------------------------------
def _tar_member(name: str, data: bytes, mtime: int) -> bytes:
    """One ustar member as Go's ``tar.Writer`` writes it: header, data, zero padding to 512."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, mtime
    info.uname = info.gname = ""
    padding = -len(data) % tarfile.BLOCKSIZE
    return info.tobuf(tarfile.USTAR_FORMAT) + data + tarfile.NUL * padding


def save(cluster: Cluster) -> tuple[int, bytes]:
    """The cluster's archive and its Raft index (``X-Consul-Index``, and what
    ``snapshot save`` reports). The caller holds the world lock."""
    world = cluster.world
    index = max(cluster.store.index, 1)
    refs = {id(obj): name for name, obj in _refs(cluster).items()}
    state_bin = snapshot.dump_part(world, cluster.name, _state(cluster), refs)
    now = world.clock.now()
    meta = Meta(
        id=f"{TERM}-{index}-{int(now * 1000)}",
        index=index,
        term=TERM,
        version=META_VERSION,
        size=len(state_bin),
        node_id=cluster.node_id,
        address=cluster.leader_address,
    ).encode()
    sums = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in ((META, meta), (STATE, state_bin))
    ).encode()
    mtime = int(now)
    tar = b"".join(
        [
            _tar_member(META, meta, mtime),
            _tar_member(STATE, state_bin, mtime),
            _tar_member(SUMS, sums, mtime),
            tarfile.NUL * (2 * tarfile.BLOCKSIZE),
        ]
    )
    return index, gzip.compress(tar, mtime=mtime)


# -- reading ----------------------------------------------------------------------------------
def _decompress(data: bytes) -> bytes:
    """gzip's stream as Go's ``gzip.Reader`` reads it, with its error words."""
    if not data:
        raise ArchiveError("failed to decompress snapshot: EOF")
    if not data.startswith(b"\x1f\x8b\x08"):
        raise ArchiveError("failed to decompress snapshot: gzip: invalid header")
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data)
    except zlib.error as exc:
        if "incorrect data check" in str(exc) or "incorrect length check" in str(exc):
            raise ArchiveError("gzip: invalid checksum") from None
        raise ArchiveError(
            f"failed to read snapshot file: failed reading snapshot: flate: {exc}"
        ) from None
    if not inflater.eof:
        raise ArchiveError("failed to read snapshot file: failed reading snapshot: unexpected EOF")
    return out


def _members(tar: bytes) -> Iterator[tuple[str, bytes]]:
    try:
        with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
            for member in archive:
                handle = archive.extractfile(member) if member.isfile() else None
                yield member.name, handle.read() if handle is not None else b""
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveError(
            f"failed to read snapshot file: failed reading snapshot: {_tar_words(exc)}"
        ) from None


def _tar_words(exc: Exception) -> str:
    text = str(exc)
    if "unexpected end" in text or isinstance(exc, EOFError | tarfile.ReadError):
        return "unexpected EOF"
    return text


def read(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The archive's metadata and ``state.bin``, both checked against ``SHA256SUMS``
    (``snapshot.Read`` with ``archive.go``'s ``read``); ArchiveError in Consul's words."""
    meta: dict[str, Any] | None = None
    state = b""
    sums = b""
    hashes: dict[str, bytes] = {}
    for name, body in _members(_decompress(bytes(data))):
        if name == META:
            hashes[META] = hashlib.sha256(body).digest()
            try:
                decoded = json.loads(body)
            except ValueError as exc:
                raise ArchiveError(
                    f"failed to read snapshot file: failed to decode snapshot metadata: {exc}"
                ) from None
            meta = decoded if isinstance(decoded, dict) else {}
        elif name == STATE:
            hashes[STATE] = hashlib.sha256(body).digest()
            state = body
        elif name == SUMS:
            sums = body
        else:
            raise ArchiveError(
                f'failed to read snapshot file: unexpected file "{name}" in snapshot'
            )
    _verify(sums, hashes)
    return meta or {}, state


def _verify(sums: bytes, hashes: dict[str, bytes]) -> None:
    """``hashList.DecodeAndVerify``: every listed file matches, and every file is listed."""
    expected = {META: hashes.get(META), STATE: hashes.get(STATE)}
    prefix = "failed to read snapshot file: failed checking integrity of snapshot: "
    seen = set()
    for line in sums.decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        name = name.split(" ")[0]
        try:
            sha = bytes.fromhex(digest)
        except ValueError:
            raise ArchiveError(prefix + "unexpected EOF") from None
        if name not in expected:
            raise ArchiveError(prefix + f'list missing hash for "{name}"')
        if expected[name] is None or sha != expected[name]:
            raise ArchiveError(prefix + f'hash check failed for "{name}"')
        seen.add(name)
    for name in (META, STATE):
        if name not in seen:
            raise ArchiveError(prefix + f'file missing for "{name}"')


def verify(data: bytes) -> dict[str, Any]:
    """``snapshot.Verify``: the metadata of a sound archive (what ``snapshot save`` checks
    before it keeps the file)."""
    return read(data)[0]


# -- restoring --------------------------------------------------------------------------------
def restore(cluster: Cluster, data: bytes) -> None:
    """Replace the cluster's Raft state with the archive's; nothing changes when the archive
    is refused (ArchiveError). The caller holds the world lock."""
    _, state_bin = read(data)
    try:
        state = snapshot.load_part(state_bin, cluster.world, _refs(cluster))
        parts = {name: state[name] for name in (*_KEPT, "acl-tables")}
        for name, part in _parts(cluster).items():
            _check_shape(name, parts[name], part.__dict__)
        if not isinstance(parts["acl-tables"], ACLTables):
            raise ValueError("damaged consul-sim snapshot: no ACL tables in it")
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveError(f"Raft error when restoring snapshot: {exc}") from None
    store = cluster.store
    for timer in store.sessions.timers.values():
        timer.cancel()
    watching = store.sessions.watching
    for name, part in _parts(cluster).items():
        live = part.__dict__
        kept = {k: live[k] for k in _KEPT[name] if k in live}
        live.clear()
        live.update(parts[name])
        live.update(kept)
    cluster.acl.restore_tables(parts["acl-tables"])
    store.sessions.watching = watching
    store.sessions.clock = cluster.world.clock
    store.kv.graveyard.hint = None  # the tombstone GC is the leader's: a new one on next delete
    rearm_timers(store, cluster.world.scheduler)
    cluster.peering.streams.restored()
    store.watches.notify()


def _check_shape(name: str, loaded: object, live: dict[str, Any]) -> None:
    """Refuse, before anything is replaced, a part whose attributes are not of the live
    object's kinds (nothing this version wrote, so a hand-made state.bin)."""
    if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
        raise ValueError(f"damaged consul-sim snapshot: its {name} is not a state")
    for key, value in loaded.items():
        current = live.get(key)
        if current is not None and value is not None and type(value) is not type(current):
            raise ValueError(f"damaged consul-sim snapshot: its {name} has a wrong {key}")


# -- inspecting -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TypeStat:
    name: str
    count: int
    size: int


class _Anything:
    """What a part's references point at when it is only inspected, never restored."""


def inspect(data: bytes) -> tuple[dict[str, Any], list[TypeStat]]:
    """The metadata and, per Consul message type, how many records the state holds and their
    size in the simulator's encoding, largest first (ties by name), as ``snapshot inspect``
    sorts them."""
    meta, state_bin = read(data)
    try:
        state = snapshot.load_part(state_bin, None, _Placeholders())
    except ValueError as exc:
        raise ArchiveError(f"Error extracting snapshot data: {exc}") from None
    sizes: dict[str, list[int]] = {}

    def add(kind: str, record: object) -> None:
        sizes.setdefault(kind, []).append(snapshot.encoded_size(record))

    store = state.get("store", {})
    catalog = store.get("catalog")
    for row in getattr(catalog, "nodes", {}).values():
        add("Register", row.node)
        for service in row.services.values():
            add("Register", service)
        for check in row.checks.values():
            add("Register", check)
    kv = store.get("kv")
    for entry in getattr(kv, "entries", {}).values():
        add("KVS", entry)
    for key, index in getattr(getattr(kv, "graveyard", None), "stones", {}).items():
        add("Tombstone", (key, index))
    for session in getattr(store.get("sessions"), "sessions", {}).values():
        add("Session", session)
    for entry in getattr(store.get("config"), "entries", {}).values():
        add("ConfigEntry", entry)
    for query in getattr(store.get("_prepared_queries"), "queries", {}).values():
        add("PreparedQuery", query)
    for table, index in store.get("table_index", {}).items():
        add("Index", (table, index))
    table = state.get("peering-table", {})
    for record in table.get("by_name", {}).values():
        add("Peering", record)
    for secrets in table.get("secrets", {}).values():
        add("PeeringSecrets", secrets)
    for root in state.get("ca", {}).get("_roots", []):
        add("ConnectCA", root)
    acl = state.get("acl-tables")
    for kind, rows in (("ACLToken", "tokens"), ("ACLPolicy", "policies"), ("ACLRole", "roles")):
        for row in getattr(acl, rows, {}).values():
            add(kind, row)
    stats = [TypeStat(kind, len(found), sum(found)) for kind, found in sizes.items()]
    stats.sort(key=lambda s: (-s.size, s.name))
    return meta, stats


class _Placeholders(dict[str, object]):
    def __missing__(self, key: str) -> object:
        return _Anything()


def byte_size(size: int) -> str:
    """``inspect/formatter.go``'s ``ByteSize``: one decimal, ``.0`` dropped, B/KB/MB/GB/TB."""
    units = ((1 << 40, "TB"), (1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB"), (1, "B"))
    if size == 0:
        return "0"
    for scale, unit in units:
        if size >= scale:
            text = f"{size / scale:.1f}".removesuffix(".0")
            return text + unit
    return str(size)
