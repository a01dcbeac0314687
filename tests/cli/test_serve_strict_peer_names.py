"""consul-sim serve -strict-peer-names: the seed page's "exact name" rule, off unless asked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from tests.cli.test_serve import REPO, free_port, wait_for_leader

pytestmark = pytest.mark.slow

REFUSAL = (
    "rpc error: code = PermissionDenied desc = a new peering token must be generated: "
    'invalid peering establishment secret: the token was generated for peer "west-peer", '
    'but cluster "dc2" presented it'
)


def serve(*flags: str) -> tuple[subprocess.Popen[str], list[str]]:
    ports = [free_port(), free_port()]
    args = ["serve", "-clock", "virtual", *flags]
    for name, port in zip(("dc1", "dc2"), ports, strict=True):
        args += ["-cluster", f"{name}:{port}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "consul_sim.cli.main", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            wait_for_leader(url, proc)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc, urls


@pytest.mark.parametrize(
    ("flags", "status", "text"),
    [((), 200, "{}"), (("-strict-peer-names",), 500, REFUSAL)],
)
def test_serve_accepts_another_peer_name_unless_strict(
    flags: tuple[str, ...], status: int, text: str
) -> None:
    proc, (url1, url2) = serve(*flags)
    try:
        with httpx.Client(base_url=url1, timeout=10) as dc1:
            with httpx.Client(base_url=url2, timeout=10) as dc2:
                r = dc1.post("/v1/peering/token", json={"PeerName": "west-peer"})
                assert r.status_code == 200, r.text
                r = dc2.post(
                    "/v1/peering/establish",
                    json={"PeerName": "east", "PeeringToken": r.json()["PeeringToken"]},
                )
                assert (r.status_code, r.text) == (status, text)
                kinds = [e["Kind"] for e in dc1.get("/_sim/events").json()]
        assert "PeerNameMismatch" in kinds
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
