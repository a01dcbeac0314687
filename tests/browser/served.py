"""What the browser tests and the README screenshot share: a ``consul-sim serve`` process on
free loopback ports, and headless Chromium (Debian's, installed by ``make install``) driven by
Playwright. ``playwright install`` (its own browser download) is never used."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.cli.test_serve import REPO, free_port, wait_for_leader

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@contextmanager
def serve(names: list[str], *flags: str) -> Iterator[dict[str, str]]:
    """``consul-sim serve`` with one cluster per name; yields {name: base URL}, then stops it."""
    ports = {name: free_port() for name in names}
    args = [*flags]
    for name, port in ports.items():
        args += ["-cluster", f"{name}:{port}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "consul_sim.cli.main", "serve", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for url in urls.values():
            wait_for_leader(url, proc)
        yield urls
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (``playwright.sync_api.Browser``), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def ok(response: httpx.Response) -> httpx.Response:
    assert response.is_success, f"{response.request.url}: {response.status_code} {response.text}"
    return response


def peer(urls: dict[str, str], acceptor: str, dialer: str) -> None:
    """Peer two served clusters through the API, each naming its peering after the other."""
    token = ok(httpx.post(f"{urls[acceptor]}/v1/peering/token", json={"PeerName": dialer})).json()[
        "PeeringToken"
    ]
    ok(
        httpx.post(
            f"{urls[dialer]}/v1/peering/establish",
            json={"PeerName": acceptor, "PeeringToken": token},
        )
    )


def export(url: str, services: dict[str, list[str]]) -> None:
    """Register each service on the cluster at ``url`` and export it to the named peers."""
    for name in services:
        ok(httpx.put(f"{url}/v1/agent/service/register", json={"Name": name, "Port": 8080}))
    entry = {
        "Kind": "exported-services",
        "Name": "default",
        "Services": [
            {"Name": name, "Consumers": [{"Peer": p} for p in peers]}
            for name, peers in services.items()
        ],
    }
    ok(httpx.put(f"{url}/v1/config", json=entry))
