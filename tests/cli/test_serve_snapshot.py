"""consul-sim serve -save-on-exit and -snapshot: a demo's state survives a restart."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from consul_sim.cli.main import main
from consul_sim.world import World
from tests.cli.test_serve import REPO, free_port, wait_for_leader


def serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "consul_sim.cli.main", "serve", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def settled_peerings(*urls: str) -> dict[str, str]:
    """Every cluster's /v1/peerings once both ends are ACTIVE and two reads agree."""
    last: dict[str, str] = {}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = {u: httpx.get(f"{u}/v1/peerings").text for u in urls}
        if now == last and all('"State":"ACTIVE"' in text for text in now.values()):
            return now
        last = now
        time.sleep(0.3)
    raise AssertionError(f"peerings never settled: {last}")


def interrupt(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=15)
        assert proc.returncode == 0, stderr
        return stdout, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.slow
def test_state_saved_on_exit_is_served_again_on_the_same_ports(tmp_path: Path) -> None:
    saved = tmp_path / "demo.snapshot"
    port1, port2 = free_port(), free_port()
    url1, url2 = f"http://127.0.0.1:{port1}", f"http://127.0.0.1:{port2}"
    first = serve(
        "-cluster", f"dc1:{port1}", "-cluster", f"dc2:{port2}",
        "-clock", "virtual", "-seed", "5", "-save-on-exit", str(saved),
    )  # fmt: skip
    try:
        wait_for_leader(url1, first)
        wait_for_leader(url2, first)
        token = httpx.post(f"{url1}/v1/peering/token", json={"PeerName": "dc2"}).json()
        r = httpx.post(
            f"{url2}/v1/peering/establish",
            json={"PeerName": "dc1", "PeeringToken": token["PeeringToken"]},
        )
        assert r.status_code == 200, r.text
        assert httpx.put(f"{url1}/v1/kv/demo", content=b"kept").text == "true"
        before = settled_peerings(url1, url2)
    finally:
        _, stderr = interrupt(first)
    assert stderr.endswith(f"==> Saved the world to {saved}\n")
    assert World.restore(saved.read_bytes()).seed == 5

    second = serve("-snapshot", str(saved))
    try:
        wait_for_leader(url1, second)
        wait_for_leader(url2, second)
        assert httpx.get(f"{url1}/v1/kv/demo?raw").text == "kept"
        assert {u: httpx.get(f"{u}/v1/peerings").text for u in (url1, url2)} == before
        r = httpx.post(f"{url2}/_sim/reset")  # back to the snapshot it started from
        assert r.status_code == 200, r.text
        assert httpx.get(f"{url1}/v1/kv/demo?raw").text == "kept"
    finally:
        stdout, _ = interrupt(second)
    assert stdout == f"dc1 serving on {url1}\ndc2 serving on {url2}\n"


def run(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    code = main(["serve", *args], stdout=io.StringIO(), stderr=err, env={})
    return code, err.getvalue()


def test_serve_refuses_a_snapshot_it_cannot_use(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    assert run("-snapshot", str(missing)) == (
        1,
        f"Error! Cannot read snapshot {missing}: No such file or directory\n",
    )
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a snapshot")
    assert run("-snapshot", str(junk)) == (
        1,
        f"Error! Cannot restore {junk}: not a consul-sim snapshot (it does not start with "
        "the snapshot header)\n",
    )
    good = tmp_path / "good"
    with World(clock="virtual", seed=1) as world:
        world.add_cluster("dc1")
        good.write_bytes(world.snapshot())
    assert run("-snapshot", str(good), "-seed", "3") == (
        1,
        "Error! -seed cannot be combined with -snapshot: the snapshot holds the world's "
        "clock, seed, heartbeats and journal\n",
    )
    assert run("-snapshot", str(good), "-cluster", "dc7:0") == (
        1,
        f'Error! Snapshot {good} has no cluster "dc7"\n',
    )
    nowhere = tmp_path / "no" / "such" / "dir" / "out"
    assert run("-save-on-exit", str(nowhere), "-cluster", "dc1:0") == (
        1,
        f"Error! Cannot save a snapshot to {nowhere}: no such directory\n",
    )
