"""The scenario runner's own promises: variables flow between steps, polling is bounded, config
files are decoded as the CLI decodes them, and every unmet expectation fails the walk."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from consul_sim.scenarios.base import Expect, Scenario, Step
from consul_sim.world import Cluster, World

URLS = {"dc1": "http://127.0.0.1:8500"}


@pytest.fixture
def dc1() -> Iterator[Cluster]:
    world = World(clock="virtual", seed=5)
    try:
        yield world.add_cluster("dc1")
    finally:
        world.close()


def _walk(dc1: Cluster, *steps: Step) -> tuple[Scenario, bool, str]:
    scenario = Scenario("t", "a test walk", ("dc1",), list(steps))
    out = io.StringIO()
    ok = scenario.walk(URLS, out, client=dc1.client)
    return scenario, ok, out.getvalue()


def test_captured_field_is_substituted_whole_into_later_steps(dc1: Cluster) -> None:
    dc1.world.add_cluster("dc2")
    scenario, ok, text = _walk(
        dc1,
        Step(
            "token",
            "dc1",
            "POST",
            "/v1/peering/token",
            {"PeerName": "dc2"},
            capture={"TOKEN": "PeeringToken"},
        ),
        Step("keep it", "dc1", "PUT", "/v1/kv/kept", {"Token": "$TOKEN"}),
        Step("read it", "dc1", "GET", "/v1/kv/kept?raw"),
    )
    assert ok, text
    token = scenario.variables["TOKEN"]
    last = scenario.results[-1].answer
    assert last is not None and last.data == {"Token": token}
    assert "# kept the PeeringToken as $TOKEN" in text
    assert '-d @- <<EOF\n{"Token": "$TOKEN"}\nEOF' in text
    assert "$ curl -s 'http://127.0.0.1:8500/v1/kv/kept?raw'" in text


def test_step_using_an_unset_variable_fails_and_the_walk_goes_on(dc1: Cluster) -> None:
    scenario, ok, text = _walk(
        dc1,
        Step("uses nothing", "dc1", "PUT", "/v1/kv/x", {"V": "$NOPE"}),
        Step("still runs", "dc1", "GET", "/v1/status/leader"),
    )
    assert not ok
    assert [r.ok for r in scenario.results] == [False, True]
    assert "! $NOPE is not set (an earlier step was to capture it)" in text
    assert dc1.client.get("/v1/kv/x").status_code == 404
    assert text.rstrip().endswith("== done, with unexpected answers (see above)")


def test_missing_capture_field_fails_the_step(dc1: Cluster) -> None:
    scenario, ok, text = _walk(
        dc1, Step("no such field", "dc1", "GET", "/v1/agent/self", capture={"X": "Nope.Field"})
    )
    assert not ok
    assert "! no Nope.Field field in the answer to keep as $X" in text
    assert "X" not in scenario.variables


@pytest.mark.slow
def test_until_gives_up_after_its_timeout(dc1: Cluster) -> None:
    started = time.monotonic()
    scenario, ok, text = _walk(
        dc1,
        Step(
            "never there",
            "dc1",
            "GET",
            "/v1/kv/never",
            until=Expect("the key", lambda a: a.status == 200),
            timeout=0.3,
        ),
    )
    elapsed = time.monotonic() - started
    assert not ok
    assert 0.3 <= elapsed < 2.0
    assert re.search(r"! gave up after \d+\.\ds: never saw the key", text), text
    assert "! expected HTTP 200, got 404" in text


def test_until_stops_as_soon_as_the_fact_holds(dc1: Cluster) -> None:
    dc1.client.put("/v1/kv/here", content=b"x")
    _, ok, text = _walk(
        dc1,
        Step(
            "already there",
            "dc1",
            "GET",
            "/v1/kv/here?raw",
            until=Expect("the key", lambda a: a.text == "x"),
        ),
    )
    assert ok, text
    assert "(1 try) until the key" in text


def test_unmet_expectation_fails_the_walk(dc1: Cluster) -> None:
    _, ok, text = _walk(
        dc1,
        Step(
            "leader",
            "dc1",
            "GET",
            "/v1/status/leader",
            expect=(Expect("no leader", lambda a: a.data == ""),),
        ),
    )
    assert not ok
    assert "!   expected no leader" in text


def test_config_file_is_sent_as_the_cli_decodes_it(dc1: Cluster) -> None:
    scenario, ok, text = _walk(
        dc1,
        Step("export", "dc1", "PUT", "/v1/config", config_file="scenarios/peering-config.hcl"),
    )
    assert ok, text
    assert "consul-sim config write scenarios/peering-config.hcl decodes the file" in text
    entry = dc1.client.get("/v1/config/exported-services/default").json()
    assert entry["Services"][0]["Consumers"] == [{"Peer": "cluster-02"}]


def test_undecodable_config_file_fails_without_sending(dc1: Cluster, tmp_path: Path) -> None:
    broken = tmp_path / "broken.hcl"
    broken.write_text('Kind = "exported-services"\nName = "default"\nServices = [\n  {\n')
    _, ok, text = _walk(dc1, Step("export", "dc1", "PUT", "/v1/config", config_file=str(broken)))
    assert not ok
    assert "! Failed to decode config entry input:" in text
    assert dc1.client.get("/v1/config/exported-services").json() == []


def test_long_strings_are_shortened_in_the_printout(dc1: Cluster) -> None:
    dc1.world.add_cluster("dc2")
    scenario, ok, text = _walk(
        dc1, Step("token", "dc1", "POST", "/v1/peering/token", {"PeerName": "dc2"})
    )
    assert ok, text
    answer = scenario.results[0].answer
    assert answer is not None
    token = answer.data["PeeringToken"]
    assert token not in text
    assert f'"{token[:32]}... ({len(token)} characters)"' in text
