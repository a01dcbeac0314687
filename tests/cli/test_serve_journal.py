"""consul-sim serve -journal-size: the ring the served world's /_sim/events reads."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys

import httpx
import pytest

from consul_sim.cli.main import main
from tests.cli.test_serve import REPO, free_port, wait_for_leader

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "Error! -journal-size must be at least 1\n"),
        ("-3", "Error! -journal-size must be at least 1\n"),
    ],
)
def test_serve_refuses_a_journal_size_below_one(value: str, message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["serve", "-journal-size", value], stdout=out, stderr=err, env={})
    assert (code, out.getvalue(), err.getvalue()) == (1, "", message)


def test_serve_refuses_a_journal_size_that_is_not_a_number() -> None:
    err = io.StringIO()
    code = main(["serve", "-journal-size=lots"], stdout=io.StringIO(), stderr=err, env={})
    assert code == 1
    assert err.getvalue().startswith('invalid value "lots" for flag -journal-size: parse error\n')


def test_serve_journal_size_bounds_the_events_it_keeps() -> None:
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = ["serve", "-clock", "virtual", "-journal-size", "3"]
    for name, port in zip(("dc1", "dc2"), ports, strict=True):
        args += ["-cluster", f"{name}:{port}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "consul_sim.cli.main", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for url in urls:
            wait_for_leader(url, proc)
        with httpx.Client(base_url=urls[0], timeout=10) as dc1:
            with httpx.Client(base_url=urls[1], timeout=10) as dc2:
                r = dc1.post("/v1/peering/token", json={"PeerName": "dc2"})
                assert r.status_code == 200, r.text
                token = r.json()["PeeringToken"]
                r = dc2.post(
                    "/v1/peering/establish", json={"PeerName": "dc1", "PeeringToken": token}
                )
                assert r.status_code == 200, r.text
                r = dc1.post("/_sim/advance", json={"Seconds": 60})
                assert r.status_code == 200, r.text
                r = dc1.get("/_sim/events")
        assert r.status_code == 200
        gap, *held = r.json()
        assert len(held) == 3
        assert gap["Kind"] == "Dropped"
        assert gap["Dropped"] == int(r.headers["X-Sim-Dropped"]) == held[0]["Seq"] - 1
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
