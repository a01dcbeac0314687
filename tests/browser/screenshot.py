"""Take the README's picture of the dashboard: ``python -m tests.browser.screenshot PATH``
(``make screenshot``). Three served clusters, services exported both ways, one unhealthy
service, a slow link and a partitioned one, at a fixed 1400x900 viewport."""

from __future__ import annotations

import sys
import time

import httpx

from tests.browser.served import chromium, export, ok, peer, serve


def main(path: str) -> None:
    flags = ["-heartbeat-interval", "1s", "-heartbeat-timeout", "4s", "-seed", "1"]
    with serve(["dc1", "dc2", "dc3"], *flags) as urls, chromium() as browser:
        peer(urls, "dc1", "dc2")
        peer(urls, "dc1", "dc3")
        export(urls["dc1"], {"web": ["dc2", "dc3"], "api": ["dc2"]})
        export(urls["dc2"], {"payments": ["dc1"]})
        check = {"Name": "billing", "Check": {"TTL": "30s"}}
        ok(httpx.put(f"{urls['dc2']}/v1/agent/service/register", json=check))
        ok(httpx.post(f"{urls['dc1']}/_sim/link", json={"A": "dc1", "B": "dc2", "LatencyMs": 150}))
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{urls['dc1']}/ui/")
        page.wait_for_selector('[data-imported="dc3/dc1/web"]', timeout=15_000)
        page.wait_for_selector('[data-imported="dc1/dc2/payments"]', timeout=15_000)
        ok(httpx.post(f"{urls['dc1']}/_sim/partition", json={"A": "dc1", "B": "dc3"}))
        page.wait_for_selector('[data-peering="dc3/dc1"][data-state="FAILING"]', timeout=15_000)
        page.fill("#explain-service", "web")
        page.select_option("#explain-consumer", "dc3")
        page.click("#explain button[type=submit]")
        page.wait_for_function("document.getElementById('explain-result').textContent !== ''")
        time.sleep(0.3)
        page.screenshot(path=path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard.png")
