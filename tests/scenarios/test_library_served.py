"""Every shipped scenario also runs green over real HTTP: against clusters someone else serves
(``-http-addr``), and on clusters ``scenario run -serve`` serves and keeps serving."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from consul_sim.cli.main import main
from consul_sim.scenarios import library_names
from consul_sim.scenarios.load import load_scenario, new_world
from consul_sim.server import ServedWorld

pytestmark = pytest.mark.slow


@pytest.fixture(params=library_names())
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, ServedWorld]]:
    """The scenario's clusters served on free ports, on the clock its steps need."""
    spec = load_scenario(request.param)
    clock = "virtual" if spec.needs_virtual_clock else "wall"
    world = new_world(spec, seed=5, clock=clock)
    try:
        for name in spec.clusters:
            world.add_cluster(name)
        served = ServedWorld(world, dict.fromkeys(spec.clusters, 0)).start()
        try:
            yield request.param, served
        finally:
            served.stop()
    finally:
        world.close()


def test_shipped_scenario_runs_green_against_served_clusters(
    served: tuple[str, ServedWorld],
) -> None:
    name, world = served
    address = world.url("cluster-01").removeprefix("http://")
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["scenario", "run", "-http-addr", address, name],
        env={},
        stdout=out,
        stderr=err,
        stdin=io.BytesIO(),
    )
    assert (code, err.getvalue()) == (0, ""), out.getvalue()
    assert address in out.getvalue()
    assert "steps went as expected" in out.getvalue()


def test_http_addr_with_nothing_there_is_one_line() -> None:
    err = io.StringIO()
    code = main(
        ["scenario", "run", "-http-addr", "127.0.0.1:1", "peering-page"],
        env={},
        stdout=io.StringIO(),
        stderr=err,
        stdin=io.BytesIO(),
    )
    assert code == 1
    assert err.getvalue().startswith("Error! Cannot reach the clusters at 127.0.0.1:1: ")
    assert len(err.getvalue().splitlines()) == 1


def test_serve_runs_the_scenario_then_keeps_serving_until_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "consul_sim.cli.main", "scenario", "run", "-serve", "-port", "0"]
        + ["health-crosses-peering"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while not lines or lines[-1] != "The clusters keep serving; press Ctrl-C to stop.\n":
            assert time.monotonic() < deadline, "".join(lines)
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
        text = "".join(lines)
        assert "steps went as expected" in text
        [dashboard] = [line for line in lines if line.startswith("Dashboard: ")]
        base = dashboard.removeprefix("Dashboard: ").strip().removesuffix("/ui/")
        assert base.startswith("http://127.0.0.1:")
        peering = httpx.get(f"{base}/v1/peering/cluster-02", timeout=5).json()
        assert peering["State"] == "ACTIVE"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0
        assert err == "==> Caught signal: interrupt; stopped serving.\n"
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
