"""consul-sim snapshot save|restore|inspect: Consul's outputs, errors and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from consul_sim.world import Cluster
from tests.cli.conftest import Run

READS = [
    "/v1/kv/?recurse",
    "/v1/catalog/services",
    "/v1/catalog/nodes",
    "/v1/config/proxy-defaults",
]


def reads(dc1: Cluster) -> list[tuple[int, str, str | None]]:
    out = []
    for path in READS:
        r = dc1.client.get(path)
        out.append((r.status_code, r.text, r.headers.get("X-Consul-Index")))
    return out


def populate(dc1: Cluster) -> None:
    dc1.client.put("/v1/kv/app/config", content=b"v1")
    web = {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "web"}}
    dc1.client.put("/v1/catalog/register", json=web)
    dc1.client.put("/v1/config", json={"Kind": "proxy-defaults", "Name": "global"})


def test_save_then_restore_brings_every_read_back(run: Run, dc1: Cluster, tmp_path: Path) -> None:
    populate(dc1)
    before = reads(dc1)
    file = tmp_path / "backup.snap"
    saved = run("snapshot", "save", str(file))
    assert (saved.code, saved.stdout, saved.stderr) == (
        0,
        f"Saved and verified snapshot to index {dc1.store.index}\n",
        "",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.snap"]

    dc1.client.put("/v1/kv/app/config", content=b"v2")
    dc1.client.put("/v1/catalog/deregister", json={"Node": "n1"})
    dc1.client.delete("/v1/config/proxy-defaults/global")
    assert reads(dc1) != before

    restored = run("snapshot", "restore", str(file))
    assert (restored.code, restored.stdout, restored.stderr) == (0, "Restored snapshot\n", "")
    assert reads(dc1) == before


def test_inspect_prints_the_metadata_and_a_table_of_record_types(
    run: Run, dc1: Cluster, tmp_path: Path
) -> None:
    populate(dc1)
    file = tmp_path / "backup.snap"
    assert run("snapshot", "save", str(file)).code == 0
    result = run("snapshot", "inspect", str(file))
    assert (result.code, result.stderr) == (0, "")
    lines = result.stdout.split("\n")
    index = dc1.store.index
    assert re.fullmatch(rf" ID {{11}}2-{index}-\d+", lines[0]), lines[0]
    assert re.fullmatch(r" Size {9}\d+", lines[1]), lines[1]
    assert lines[2:6] == [f" Index        {index}", " Term         2", " Version      1", ""]
    assert lines[6].split() == ["Type", "Count", "Size"]
    assert lines[7].split() == lines[-3].split() == ["----", "----", "----"]
    rows = {line.split()[0]: line.split()[1] for line in lines[8:-3]}
    # The server's node, service and check, then n1 and web; one key; one entry.
    assert (rows["Register"], rows["KVS"], rows["ConfigEntry"]) == ("5", "1", "1")
    assert re.fullmatch(r" Total {10,}\d+(\.\d)?(B|KB)", lines[-2]), lines[-2]  # no padding
    assert lines[-1] == ""

    as_json = run("snapshot", "inspect", "-format=json", str(file))
    body = json.loads(as_json.stdout)
    assert body["Meta"]["Index"] == index
    stats = {s["Name"]: s["Count"] for s in body["Stats"]}
    assert (stats["Register"], stats["KVS"]) == (5, 1)
    assert body["TotalSize"] == sum(s["Sum"] for s in body["Stats"])


def test_arguments_are_checked_as_consul_checks_them(run: Run, tmp_path: Path) -> None:
    for command in ("save", "restore", "inspect"):
        missing = run("snapshot", command)
        assert (missing.code, missing.stdout, missing.stderr) == (
            1,
            "",
            "Missing FILE argument\n",
        )
        many = run("snapshot", command, "a", "b")
        assert (many.code, many.stderr) == (1, "Too many arguments (expected 1, got 2)\n")
    absent = tmp_path / "absent.snap"
    for command in ("restore", "inspect"):
        result = run("snapshot", command, str(absent))
        assert (result.code, result.stderr) == (
            1,
            f"Error opening snapshot file: open {absent}: no such file or directory\n",
        )


def test_a_damaged_file_is_refused_and_nothing_changes(
    run: Run, dc1: Cluster, tmp_path: Path
) -> None:
    populate(dc1)
    before = reads(dc1)
    junk = tmp_path / "junk.snap"
    junk.write_bytes(b"not a snapshot")
    restored = run("snapshot", "restore", str(junk))
    assert (restored.code, restored.stdout, restored.stderr) == (
        1,
        "",
        "Error restoring snapshot: Unexpected response code: 500 "
        "(failed to decompress snapshot: gzip: invalid header)\n",
    )
    assert reads(dc1) == before
    inspected = run("snapshot", "inspect", str(junk))
    assert (inspected.code, inspected.stderr) == (
        1,
        "Error reading snapshot: failed to decompress snapshot: gzip: invalid header\n",
    )
