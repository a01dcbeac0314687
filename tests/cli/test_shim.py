"""``consul-sim shim DIR``: the ``consul`` it writes runs consul-sim, from PATH too."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from consul_sim.cli.main import main
from consul_sim.version import CONSUL_VERSION


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err, env={})
    return code, out.getvalue(), err.getvalue()


def test_shim_writes_an_executable_consul(tmp_path: Path) -> None:
    code, out, err = run("shim", str(tmp_path))
    target = tmp_path / "consul"
    assert (code, err) == (0, "")
    assert out == f"Wrote {target}: runs consul-sim with {os.path.abspath(sys.executable)}\n"
    assert os.access(target, os.X_OK)
    assert run("shim", str(tmp_path))[0] == 0  # its own shim is replaced


def test_shim_never_overwrites_a_real_consul(tmp_path: Path) -> None:
    (tmp_path / "consul").write_bytes(b"\x7fELF real consul")
    assert run("shim", str(tmp_path)) == (
        1,
        "",
        f"Error! {tmp_path / 'consul'} exists and is not a consul-sim shim\n",
    )
    assert (tmp_path / "consul").read_bytes() == b"\x7fELF real consul"


def test_shim_needs_an_existing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert run("shim", str(missing)) == (1, "", f"Error! {missing} is not a directory\n")


@pytest.mark.slow
def test_consul_from_path_is_the_simulator(tmp_path: Path) -> None:
    assert run("shim", str(tmp_path))[0] == 0
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        ["consul", "version", "-format=json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout)["Version"] == CONSUL_VERSION


@pytest.mark.slow
def test_consul_agent_through_the_shim_serves_and_stops(tmp_path: Path) -> None:
    assert run("shim", str(tmp_path))[0] == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(tmp_path / "consul"), "agent", "-dev", "-http-port", str(port), "-node", "n1"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        while "Synced node info" not in (line := proc.stdout.readline()):
            assert line, proc.communicate()
        r = httpx.get(f"http://127.0.0.1:{port}/v1/catalog/nodes")
        assert [n["Node"] for n in r.json()] == ["n1"]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
        assert proc.returncode == 1  # a server skips the leave on SIGINT and exits 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
