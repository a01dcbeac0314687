"""The seed walk-through runs against served clusters and every step answers as expected."""

from __future__ import annotations

import io

from consul_sim.scenarios import SCENARIOS
from consul_sim.server import ServedWorld
from consul_sim.world import World


def test_seed_scenario_walks_over_real_http() -> None:
    scenario = SCENARIOS["seed"]()
    world = World(seed=3)
    for name in scenario.clusters:
        world.add_cluster(name)
    served = ServedWorld(world, dict.fromkeys(scenario.clusters, 0)).start()
    try:
        out = io.StringIO()
        ok = scenario.walk({name: served.url(name) for name in scenario.clusters}, out)
        text = out.getvalue()
        assert ok, text
        assert '"127.0.0.1:8300"' in text
        assert "hello from cluster-01" in text
        assert "! expected" not in text
    finally:
        served.stop()
        world.close()


def test_scenario_command_walks_seed_and_exits_zero() -> None:
    from consul_sim.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["scenario", "-port", "0", "seed"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert "cluster-01 serving on http://127.0.0.1:" in out.getvalue()
    assert "== done" in out.getvalue()


def test_scenario_command_refuses_unknown_names() -> None:
    from consul_sim.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["scenario", "nope"], stdout=out, stderr=err) == 1
    assert err.getvalue() == 'Error! Unknown scenario "nope" (known: seed)\n'
