"""/v1/snapshot: a cluster's state as Consul's archive, restored so every read answers as before.

Driven over HTTP as a user would (``consul snapshot save`` is a GET, ``restore`` a PUT); the
archive is opened with the standard library as any tool would (gzip, tar, sha256).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import pickle
import tarfile
from collections.abc import Iterator

import pytest

from consul_sim import __version__
from consul_sim.acl.resolver import ACLTables
from consul_sim.snapshot import FORMAT, MAGIC
from consul_sim.testing import export, peer
from consul_sim.world import Cluster, World

READS = [
    "/v1/kv/?recurse",
    "/v1/catalog/services",
    "/v1/catalog/nodes",
    "/v1/catalog/service/web",
    "/v1/health/service/web",
    "/v1/health/state/any",
    "/v1/session/list",
    "/v1/config/service-defaults",
    "/v1/config/exported-services",
    "/v1/peerings",
    "/v1/peering/dc2",
    "/v1/connect/ca/roots",
    "/v1/agent/services",
]


@pytest.fixture
def world() -> Iterator[World]:
    w = World(clock="virtual", seed=5)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def pair(world: World) -> tuple[Cluster, Cluster]:
    """dc1 with a catalog, KV, a session, a config entry, and a peering to dc2 exporting web."""
    dc1, dc2 = world.add_cluster("dc1"), world.add_cluster("dc2")
    client = dc1.client
    client.put("/v1/kv/app/config", content=b"v1")
    client.put("/v1/kv/app/flag", content=b"on")
    web = {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "web", "Port": 80}}
    assert client.put("/v1/catalog/register", json=web).status_code == 200
    client.put("/v1/session/create", json={"TTL": "15s", "Name": "lock"})
    client.put("/v1/config", json={"Kind": "service-defaults", "Name": "web", "Protocol": "http"})
    peer(dc1, dc2)
    export(dc1, {"web": ["dc2"]})
    world.settle()
    return dc1, dc2


def reads(cluster: Cluster) -> dict[str, tuple[int, str, str | None]]:
    out = {}
    for path in READS:
        r = cluster.client.get(path)
        out[path] = (r.status_code, r.text, r.headers.get("X-Consul-Index"))
    return out


def imported_web(dc2: Cluster) -> list[tuple[str, str, int]]:
    body = dc2.client.get("/v1/health/service/web?peer=dc1").json()
    return [(e["Node"]["Node"], e["Service"]["ID"], e["Service"]["Port"]) for e in body]


def members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]


def archived(files: dict[str, bytes], sums: bytes | None = None) -> bytes:
    """An archive of ``files`` in order, with a SHA256SUMS of them unless ``sums`` is given."""
    if sums is None:
        sums = "".join(
            f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in ("meta.json", "state.bin")
        ).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, body in [*files.items(), ("SHA256SUMS", sums)]:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return gzip.compress(out.getvalue())


def test_save_change_everything_then_restore_answers_every_read_as_before(
    world: World, pair: tuple[Cluster, Cluster]
) -> None:
    dc1, dc2 = pair
    before, imported = reads(dc1), imported_web(dc2)
    saved = dc1.client.get("/v1/snapshot")
    assert saved.status_code == 200
    assert saved.headers["Content-Type"] == "application/octet-stream"
    assert saved.headers["X-Consul-Index"] == str(dc1.store.index)

    client = dc1.client
    client.put("/v1/kv/app/config", content=b"v2")
    client.delete("/v1/kv/app/flag")
    client.put("/v1/kv/new", content=b"x")
    api = {"Node": "n2", "Address": "10.0.0.2", "Service": {"Service": "api"}}
    client.put("/v1/catalog/register", json=api)
    client.put("/v1/catalog/deregister", json={"Node": "n1"})
    client.delete("/v1/config/service-defaults/web")
    client.put("/v1/config", json={"Kind": "service-defaults", "Name": "api"})
    client.post("/v1/peering/token", json={"PeerName": "dc3"})
    for session in client.get("/v1/session/list").json():
        client.put(f"/v1/session/destroy/{session['ID']}")
    world.settle()
    assert reads(dc1) != before

    restored = client.put("/v1/snapshot", content=saved.content)
    assert (restored.status_code, restored.text) == (200, "")
    world.settle()
    assert reads(dc1) == before
    assert imported_web(dc2) == imported  # re-sent to the importer, under new indexes there
    assert dc2.peering.read("dc1")["State"] == "ACTIVE"
    again = dc1.client.get("/v1/snapshot")
    assert again.headers["X-Consul-Index"] == saved.headers["X-Consul-Index"]


def test_the_archive_is_consuls_gzipped_tar_with_checked_sums(
    pair: tuple[Cluster, Cluster],
) -> None:
    dc1, _ = pair
    saved = dc1.client.get("/v1/snapshot")
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(saved.content))) as tar:
        assert [(m.name, m.mode) for m in tar] == [
            ("meta.json", 0o600),
            ("state.bin", 0o600),
            ("SHA256SUMS", 0o600),
        ]
    files = members(saved.content)
    assert files["SHA256SUMS"].decode() == "".join(
        f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in ("meta.json", "state.bin")
    )
    meta = json.loads(files["meta.json"])
    index = int(saved.headers["X-Consul-Index"])
    assert files["meta.json"].endswith(b"}\n")
    assert list(meta) == [
        "Version",
        "ID",
        "Index",
        "Term",
        "Peers",
        "Configuration",
        "ConfigurationIndex",
        "Size",
    ]
    assert (meta["Version"], meta["Index"], meta["Term"]) == (1, index, 2)
    assert meta["ID"].startswith(f"2-{index}-")
    assert meta["Size"] == len(files["state.bin"])
    assert meta["Configuration"]["Servers"] == [
        {"Suffrage": 0, "ID": dc1.node_id, "Address": "127.0.0.1:8300"}
    ]


def tampered_state(data: bytes) -> bytes:
    files = members(data)
    sums = files.pop("SHA256SUMS")
    state = bytearray(files["state.bin"])
    state[-3] ^= 0xFF
    files["state.bin"] = bytes(state)
    return archived(files, sums)


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda data: b"", "failed to decompress snapshot: EOF"),
        (lambda data: b"PK\x03\x04 a zip", "failed to decompress snapshot: gzip: invalid header"),
        (
            lambda data: data[: len(data) // 2],
            "failed to read snapshot file: failed reading snapshot: unexpected EOF",
        ),
        (
            tampered_state,
            "failed to read snapshot file: failed checking integrity of snapshot: "
            'hash check failed for "state.bin"',
        ),
        (
            lambda data: archived({**members(data), "extra.txt": b"hi"}),
            'failed to read snapshot file: unexpected file "extra.txt" in snapshot',
        ),
    ],
    ids=["empty", "not-gzip", "truncated", "tampered", "extra-file"],
)
def test_a_damaged_archive_is_refused_in_consuls_words_and_changes_nothing(
    pair: tuple[Cluster, Cluster], damage: object, said: str
) -> None:
    dc1, _ = pair
    saved = dc1.client.get("/v1/snapshot").content
    dc1.client.put("/v1/kv/after", content=b"kept")
    before = reads(dc1)
    assert callable(damage)
    r = dc1.client.put("/v1/snapshot", content=damage(saved))
    assert (r.status_code, r.text) == (500, said)
    assert r.headers["Content-Type"].startswith("text/plain")
    assert reads(dc1) == before


def test_a_state_that_names_anything_but_the_domains_data_is_refused(
    pair: tuple[Cluster, Cluster],
) -> None:
    """A crafted state.bin with correct sums cannot make the server call a function."""
    dc1, _ = pair
    files = members(dc1.client.get("/v1/snapshot").content)
    fields = {"Clusters": ["dc1"], "Format": FORMAT, "Package": __version__, "Part": True}
    header = MAGIC + json.dumps(fields, sort_keys=True).encode() + b"\n"

    class Boom:
        def __reduce__(self) -> tuple[object, ...]:
            return (print, ("boom",))

    files["state.bin"] = header + pickle.dumps([]) + pickle.dumps({"store": Boom()})
    files.pop("SHA256SUMS")
    before = reads(dc1)
    r = dc1.client.put("/v1/snapshot", content=archived(files))
    assert (r.status_code, r.text) == (
        500,
        "Raft error when restoring snapshot: damaged consul-sim snapshot: "
        "a cluster snapshot may not hold builtins.print",
    )
    assert reads(dc1) == before


def test_a_state_of_the_wrong_shape_is_refused_before_anything_changes(
    pair: tuple[Cluster, Cluster],
) -> None:
    dc1, _ = pair
    files = members(dc1.client.get("/v1/snapshot").content)
    fields = {"Clusters": ["dc1"], "Format": FORMAT, "Package": __version__, "Part": True}
    header = MAGIC + json.dumps(fields, sort_keys=True).encode() + b"\n"
    state = {"store": {"index": "seven"}, "peering-table": {}, "ca": {}, "acl-tables": ACLTables()}
    files["state.bin"] = header + pickle.dumps([]) + pickle.dumps(state)
    files.pop("SHA256SUMS")
    before = reads(dc1)
    r = dc1.client.put("/v1/snapshot", content=archived(files))
    assert (r.status_code, r.text) == (
        500,
        "Raft error when restoring snapshot: damaged consul-sim snapshot: "
        "its store has a wrong index",
    )
    assert reads(dc1) == before


def test_a_world_snapshot_is_no_cluster_state(pair: tuple[Cluster, Cluster], world: World) -> None:
    dc1, _ = pair
    files = members(dc1.client.get("/v1/snapshot").content)
    files["state.bin"] = world.snapshot()
    files.pop("SHA256SUMS")
    r = dc1.client.put("/v1/snapshot", content=archived(files))
    assert (r.status_code, r.text) == (
        500,
        "Raft error when restoring snapshot: "
        "not a consul-sim snapshot of a cluster (it holds a whole world)",
    )


def test_restored_sessions_get_fresh_ttl_timers(
    world: World, pair: tuple[Cluster, Cluster]
) -> None:
    dc1, _ = pair
    saved = dc1.client.get("/v1/snapshot").content
    world.advance(20)
    assert dc1.client.put("/v1/snapshot", content=saved).status_code == 200
    world.advance(20)  # 40 s since the session was made, 20 s since the restore
    assert [s["Name"] for s in dc1.client.get("/v1/session/list").json()] == ["lock"]
    world.advance(11)  # past 2 x TTL since the restore
    assert dc1.client.get("/v1/session/list").json() == []


def test_with_acls_a_snapshot_needs_acl_write(world: World) -> None:
    dc1 = world.add_cluster("dc1", acl_default_policy="deny")
    r = dc1.client.get("/v1/snapshot")
    assert (r.status_code, r.text) == (
        403,
        "Permission denied: anonymous token lacks permission 'acl:write'. "
        "The anonymous token is used implicitly when a request does not specify a token.",
    )
    accessor, secret = dc1.acl.create_token({"key:": "write"})
    r = dc1.client.put("/v1/snapshot", content=b"", headers={"X-Consul-Token": secret})
    assert (r.status_code, r.text) == (
        403,
        f"Permission denied: token with AccessorID '{accessor}' lacks permission 'acl:write'",
    )
    management = {"X-Consul-Token": dc1.acl.management_token}
    saved = dc1.client.get("/v1/snapshot", headers=management)
    assert saved.status_code == 200
    r = dc1.client.put("/v1/snapshot", content=saved.content, headers=management)
    assert (r.status_code, r.text) == (200, "")
