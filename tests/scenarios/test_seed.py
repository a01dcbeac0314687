"""The seed walk-through runs the whole peering page against served clusters, step by step."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest

from consul_sim.scenarios import SCENARIOS
from consul_sim.scenarios.base import Scenario
from consul_sim.server import ServedWorld
from consul_sim.world import World


@pytest.fixture(scope="module")
def served() -> Iterator[ServedWorld]:
    world = World(seed=3)
    try:
        for name in ("cluster-01", "cluster-02"):
            world.add_cluster(name)
        served = ServedWorld(world, {"cluster-01": 0, "cluster-02": 0}).start()
        try:
            yield served
        finally:
            served.stop()
    finally:
        world.close()


Walked = tuple[Scenario, bool, str]


@pytest.fixture(scope="module")
def walked(served: ServedWorld) -> Walked:
    """One walk shared by the tests that read it: the steps are not repeatable on one world
    (a token is used once, the peering is deleted at the end)."""
    scenario = SCENARIOS["seed"]()
    out = io.StringIO()
    ok = scenario.walk({name: served.url(name) for name in scenario.clusters}, out)
    return scenario, ok, out.getvalue()


@pytest.mark.slow
def test_seed_scenario_walks_every_step_of_the_page_over_real_http(walked: Walked) -> None:
    scenario, ok, text = walked
    assert ok, text
    assert [r.ok for r in scenario.results] == [True] * len(scenario.steps), text
    assert "! " not in text
    assert text.rstrip().endswith("== done")
    for section in (
        "## Create a peering token",
        "## Establish a connection between clusters",
        "## Connect service endpoints",
        "## Check peering connection status",
        "## Authorize connections from peers",
        "## Remove peering connections",
    ):
        assert section in text


@pytest.mark.slow
def test_seed_scenario_shows_the_facts_the_page_promises(walked: Walked) -> None:
    scenario, ok, text = walked
    assert ok, text
    by_title = {r.step.title: r.answer for r in scenario.results}
    token = by_title["create a peering token for cluster-02"]
    assert token is not None and token.data["PeeringToken"] == scenario.variables["TOKEN"]
    imported = by_title["cluster-02 sees the service, with its health"]
    assert imported is not None
    [entry] = imported.data
    assert entry["Service"]["Service"] == "service-name"
    assert entry["Service"]["PeerName"] == "cluster-01"
    assert [c["Status"] for c in entry["Checks"]] == ["passing"]
    for title in ("status on cluster-01", "status on cluster-02"):
        status = by_title[title]
        assert status is not None
        assert (status.data["State"], status.data["status"], status.data["connected"]) == (
            "ACTIVE",
            "active",
            True,
        )
    decision = by_title["cluster-01 decides a call from cluster-02's frontend"]
    assert decision is not None and decision.data["Authorized"] is True
    call = by_title["would frontend in cluster-02 get through? (the simulator explains)"]
    assert call is not None and call.data["Allowed"] is True
    after = by_title["and frontend's call no longer gets through"]
    assert after is not None and after.data["Allowed"] is False
    terminated = by_title["cluster-02 is told: TERMINATED"]
    assert terminated is not None and terminated.data["State"] == "TERMINATED"
    assert '"status": "active"' in text and '"connected": true' in text
    assert '"State": "TERMINATED"' in text
    assert "Matched L4 intention: peer(cluster-02)/frontend => service-name" in text
    assert 'consul peering generate-token -peer="cluster-02"' in text
    assert "-d @- <<EOF\n" in text and '"PeeringToken": "$TOKEN"' in text
    assert scenario.variables["TOKEN"] not in text  # 884 characters are not for a projector


@pytest.mark.slow
def test_after_the_seed_scenario_nothing_of_the_peering_remains(
    served: ServedWorld, walked: Walked
) -> None:
    _, ok, text = walked
    assert ok, text
    with httpx.Client(timeout=5) as http:
        one, two = served.url("cluster-01"), served.url("cluster-02")
        assert http.get(f"{one}/v1/peerings").json() == []
        assert http.get(f"{two}/v1/peerings").json() == []
        for kind in ("health", "catalog"):
            url = f"{two}/v1/{kind}/service/service-name?peer=cluster-01"
            assert http.get(url).json() == []
        local = http.get(f"{one}/v1/health/service/service-name").json()
        assert [e["Service"]["ID"] for e in local] == ["service-name-1"]


@pytest.mark.slow
def test_scenario_command_walks_seed_and_exits_zero() -> None:
    from consul_sim.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["scenario", "-port", "0", "seed"], stdout=out, stderr=err)
    assert code == 0, out.getvalue() + err.getvalue()
    assert "cluster-01 serving on http://127.0.0.1:" in out.getvalue()
    assert out.getvalue().rstrip().endswith("== done")


def test_scenario_command_refuses_unknown_names() -> None:
    from consul_sim.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["scenario", "nope"], stdout=out, stderr=err) == 1
    assert err.getvalue() == 'Error! Unknown scenario "nope" (known: seed)\n'
