"""consul-sim serve: real loopback ports, stopped by a signal."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from consul_sim.cli.main import main

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_leader(url: str, proc: subprocess.Popen[str], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if httpx.get(f"{url}/v1/status/leader", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} never answered /v1/status/leader")


def test_serve_answers_on_its_port_and_exits_0_on_sigint() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "consul_sim.cli.main", "serve", "--cluster", f"dc1:{port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_leader(url, proc)
        out, err = io.StringIO(), io.StringIO()
        code = main(["kv", "put", f"-http-addr={url}", "app/cfg", "hello"], stdout=out, stderr=err)
        assert (code, out.getvalue(), err.getvalue()) == (
            0,
            "Success! Data written to: app/cfg\n",
            "",
        )
        assert httpx.get(f"{url}/v1/kv/app/cfg?raw").content == b"hello"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=10)
        assert proc.returncode == 0, stderr
        assert stdout == f"dc1 serving on {url}\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_serve_on_a_port_in_use_fails_before_starting() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out, err = io.StringIO(), io.StringIO()
        code = main(["serve", "-cluster", f"dc1:{port}"], stdout=out, stderr=err, env={})
    assert (code, out.getvalue()) == (1, "")
    assert err.getvalue() == (
        f"Error! Cannot serve dc1 on 127.0.0.1:{port}: address already in use\n"
    )


def test_serve_rejects_a_malformed_cluster_spec() -> None:
    err = io.StringIO()
    code = main(["serve", "-cluster", "dc1"], stdout=io.StringIO(), stderr=err, env={})
    assert (code, err.getvalue()) == (
        1,
        'Error! Invalid -cluster value "dc1": expected NAME:PORT\n',
    )
