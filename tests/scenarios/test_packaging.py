"""The scenario files and example configs ship inside the package: found through
importlib.resources from a built copy of the package and from any working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from consul_sim.scenarios import example, example_names, library_names

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_examples_are_read_from_the_package() -> None:
    assert example_names() == [
        "peering-config.hcl",
        "peering-intentions.hcl",
        "service-name.hcl",
    ]
    assert 'Kind = "exported-services"' in example("peering-config.hcl")
    with pytest.raises(FileNotFoundError, match='No example named "nope.hcl"'):
        example("nope.hcl")


def test_top_level_scenarios_folder_holds_the_same_example_files() -> None:
    for name in example_names():
        assert (REPO / "scenarios" / name).read_text(encoding="utf-8") == example(name)


def test_a_built_package_carries_its_scenarios_and_examples(tmp_path: Path) -> None:
    """Build the package as an installer would (setuptools ``build_py``, which honours
    ``package-data``), then import that copy from an unrelated folder."""
    built = tmp_path / "built"
    subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-c",
            "import sys; from setuptools import setup; "
            f"sys.argv = ['setup.py', '-q', 'build_py', '-d', {str(built)!r}]; setup()",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import consul_sim, consul_sim.scenarios as s\n"
        "print(consul_sim.__file__)\n"
        "print(len(s.library_names()))\n"
        "print(s.example('peering-config.hcl').count('Consumers'))\n"
        "from consul_sim.cli.main import main\n"
        "raise SystemExit(main(['scenario', 'run', 'peering-page'], env={}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(built), "PYTHONSAFEPATH": "1"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    where, count, consumers, *walk = done.stdout.splitlines()
    assert where.startswith(str(built)), where
    assert int(count) == len(library_names()) >= 9
    assert consumers == "1"
    assert walk[-1] == "== all 9 steps went as expected"


def test_the_cli_runs_a_scenario_from_another_folder(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "consul_sim.cli.main", "scenario", "run", "ca-rotation"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "\033[" not in done.stdout
    assert done.stdout.rstrip().endswith("steps went as expected")


@pytest.mark.parametrize(
    ("args", "env", "ports"),
    [
        ([], {}, "8500 8501"),
        (["PORTS=9500 9501"], {}, "9500 9501"),
        ([], {"PORTS": "9600 9601"}, "9600 9601"),
    ],
)
def test_make_demo_serves_the_page_on_the_chosen_ports(
    args: list[str], env: dict[str, str], ports: str
) -> None:
    # Under `make test` the suite runs inside make: a nested make would print its
    # Entering/Leaving directory lines, so the test runs it as a top-level make.
    outer = ("PORTS", "DEMO", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    environment = {k: v for k, v in os.environ.items() if k not in outer}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "demo", *args],
        cwd=REPO,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        f'.venv/bin/consul-sim scenario run -serve -ports "{ports}" peering-page'
    )
