"""``consul-sim scenario list`` / ``run``: every shipped scenario runs green, a false
expectation fails naming its step, ``-step`` waits for Enter, output is plain when piped."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from consul_sim.cli.main import main
from consul_sim.scenarios import library_names

SHIPPED = library_names()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*argv: str, stdin: bytes = b"", stdout: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = stdout if stdout is not None else io.StringIO(), io.StringIO()
    code = main(["scenario", *argv], env={}, stdout=out, stderr=err, stdin=io.BytesIO(stdin))
    return code, out.getvalue(), err.getvalue()


def test_at_least_nine_scenarios_ship() -> None:
    assert len(SHIPPED) >= 9, SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_runs_green_in_process(name: str) -> None:
    code, out, err = run("run", "-seed", "7", name)
    assert (code, err) == (0, ""), out
    steps = len(re.findall(r"^\[\d+/\d+\] ", out, re.M))
    assert f"== all {steps} steps went as expected" in out
    assert "FAILED" not in out


def test_list_names_each_scenario_with_its_description() -> None:
    code, out, err = run("list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == SHIPPED
    assert any(
        re.fullmatch(r"peering-page +Peer cluster-01 and cluster-02 with the page's .*", line)
        for line in lines
    )


def test_run_prints_counter_narration_command_result_and_checks() -> None:
    code, out, _ = run("run", "-seed", "7", "peering-page")
    assert code == 0
    assert "[2/9] cluster-02 initiates the peering with that token" in out
    assert (
        '  $ consul-sim peering initiate -peer=cluster-01 -token="$TOKEN"'
        "   # on cluster-02 (127.0.0.1:8501)"
    ) in out
    assert "    Config entry written: exported-services/default\n" in out
    assert '  ok      cluster-02\'s peering "cluster-01" is ACTIVE\n' in out
    assert "$ curl -s http://127.0.0.1:8501/v1/health/service/service-name\n    HTTP 200\n" in out


BAD = """
title = "A wrong claim"
description = "Says the peering fails when nothing cut it."
step {
  say = "make a token"
  http = "POST /v1/peering/token"
  body = { PeerName = "cluster-02" }
  capture {
    TOKEN = "PeeringToken"
  }
}
step {
  say = "establish"
  on = "cluster-02"
  http = "POST /v1/peering/establish"
  body = { PeerName = "cluster-01", PeeringToken = "$TOKEN" }
  wait = "3s"
  expect {
    status = 200
    peering {
      name  = "cluster-01"
      state = "FAILING"
    }
  }
}
step {
  say = "never reached"
  http = "GET /v1/peerings"
}
"""


def test_false_expectation_fails_naming_the_step_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "wrong.hcl"
    path.write_text(BAD)
    code, out, err = run("run", str(path))
    assert code == 1
    assert err == (
        'Scenario wrong failed at step 2/3 (establish): cluster-02\'s peering "cluster-01" '
        'is FAILING; saw "ACTIVE"\n'
    )
    assert '  FAILED  cluster-02\'s peering "cluster-01" is FAILING; saw "ACTIVE"' in out
    assert "never reached" not in out


def test_unknown_scenario_is_refused_with_the_known_names() -> None:
    code, out, err = run("run", "nope")
    assert (code, out) == (1, "")
    assert err.startswith('Error! Unknown scenario "nope": neither a shipped one (')
    assert "peering-page" in err


def test_broken_scenario_file_names_the_step(tmp_path: Path) -> None:
    path = tmp_path / "broken.hcl"
    path.write_text('title = "t"\ndescription = "d"\nstep {\n  say = "x"\n}\n')
    code, _, err = run("run", str(path))
    assert code == 1
    assert err == (
        "Error! broken: step 1: a step has exactly one of cli, http, config, entry, fault, "
        "advance (found 0)\n"
    )


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            'say = "x"\n  http = "GET /v1/peerings"\n  boddy = {}',
            "step 1: unknown keys: boddy",
        ),
        (
            'say = "x"\n  http = "GET /v1/peerings"\n  expect {\n    peering {\n'
            '      name = "cluster-01"\n    }\n  }',
            "step 1: a peering expectation needs name, state and may have on, roots",
        ),
        (
            'say = "x"\n  on = "dc9"\n  http = "GET /v1/peerings"',
            'step 1: on = "dc9" is not one of cluster-01, cluster-02',
        ),
        (
            'say = "x"\n  fault = "explode"',
            'step 1: unknown fault "explode" (known: partition, heal, link, hold, release, '
            "crash, restart)",
        ),
    ],
)
def test_mistakes_in_a_scenario_file_are_one_line_naming_the_step(
    tmp_path: Path, step: str, message: str
) -> None:
    path = tmp_path / "typo.hcl"
    path.write_text(f'title = "t"\ndescription = "d"\nstep {{\n  {step}\n}}\n')
    code, out, err = run("run", str(path))
    assert (code, out, err) == (1, "", f"Error! typo: {message}\n")


def test_step_mode_waits_for_enter_before_each_step() -> None:
    code, out, _ = run("run", "-step", "health-crosses-peering", stdin=b"\n" * 20)
    assert code == 0
    prompts = re.findall(r"-- press Enter for step (\d+) --", out)
    steps = re.findall(r"^\[(\d+)/\d+\]", out, re.M)
    assert prompts == steps and len(steps) >= 6
    assert out.index("-- press Enter for step 2 --") < out.index("[2/")


def test_output_is_plain_when_piped_and_coloured_on_a_terminal() -> None:
    _, piped, _ = run("run", "-seed", "7", "intentions-allow-deny")
    assert "\033[" not in piped
    _, coloured, _ = run("run", "-seed", "7", "intentions-allow-deny", stdout=Terminal())
    assert "\033[32mok\033[0m" in coloured
    assert re.sub(r"\033\[[0-9;]*m", "", coloured) == piped


def test_same_seed_prints_the_same_walk() -> None:
    first = run("run", "-seed", "3", "partition-and-heal")[1]
    assert run("run", "-seed", "3", "partition-and-heal")[1] == first


def test_an_error_answer_nobody_expected_fails_the_step(tmp_path: Path) -> None:
    path = tmp_path / "quiet.hcl"
    path.write_text(
        'title = "t"\ndescription = "d"\n'
        'step {\n  say = "read a peering that is not there"\n'
        '  http = "GET /v1/peering/nobody"\n}\n'
        'step {\n  say = "a command that fails"\n'
        '  cli = "consul-sim peering read -name=nobody"\n}\n'
    )
    code, out, err = run("run", str(path))
    assert code == 1
    assert err == (
        "Scenario quiet failed at step 1/2 (read a peering that is not there): "
        "an answer that is not an error; saw HTTP 404 'Peering not found for \"nobody\"'\n"
    )


def test_mesh_peering_tells_the_mesh_story_with_captured_values_in_its_checks() -> None:
    code, out, err = run("run", "-seed", "7", "mesh-peering")
    assert (code, err) == (0, ""), out
    trust_domain = re.search(r'"TrustDomain": "([^"]+)"', out)
    assert trust_domain is not None
    td = trust_domain.group(1)
    assert '  ok      PeerServerAddresses.0 is "198.51.100.1:8443"\n' in out
    assert '  ok      0.Service.ID is "web-sidecar-proxy-instance-0"\n' in out
    assert (
        f'  ok      0.Service.Connect.PeerMeta.SNI.0 is "web.default.default.cluster-02.external.'
        f'{td}"\n'
    ) in out
    assert '  ok      RootPEMs.0 is "-----BEGIN CERTIFICATE-----\\nMIIC... (' in out
    assert "because 'Matched L4 intention: peer(cluster-02)/frontend => web'" in out


def test_a_captured_value_in_an_expected_answer_is_compared_expanded(tmp_path: Path) -> None:
    path = tmp_path / "captured.hcl"
    path.write_text(
        'title = "t"\ndescription = "d"\n'
        'step {\n  say = "keep the trust domain"\n  http = "GET /v1/connect/ca/roots"\n'
        '  capture {\n    TD = "TrustDomain"\n  }\n}\n'
        'step {\n  say = "the other cluster has another"\n  on = "cluster-02"\n'
        '  http = "GET /v1/connect/ca/roots"\n'
        '  expect {\n    answer = { TrustDomain = "$TD" }\n  }\n}\n'
    )
    code, out, err = run("run", "-seed", "7", str(path))
    assert code == 1
    td = re.search(r'"TrustDomain": "([^"]+)"', out)
    assert td is not None
    assert err.startswith(
        f"Scenario captured failed at step 2/2 (the other cluster has another): "
        f'TrustDomain is "{td.group(1)}"; saw "'
    )
