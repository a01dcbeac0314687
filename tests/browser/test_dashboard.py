"""The dashboard at /ui/ in a real (headless) browser: it follows the world without a reload."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.served import chromium, export, ok, peer, serve

pytestmark = pytest.mark.slow

HEARTBEAT = ["-heartbeat-interval", "1s", "-heartbeat-timeout", "4s"]


def test_dashboard_shows_a_peering_go_active_then_failing_without_a_reload() -> None:
    with serve(["dc1", "dc2"], *HEARTBEAT) as urls, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        loads: list[str] = []
        page.on("load", lambda _: loads.append(page.url))
        page.goto(f"{urls['dc1']}/ui/")
        page.wait_for_selector('[data-cluster="dc1"]', timeout=10_000)
        page.wait_for_selector('[data-cluster="dc2"]', timeout=5_000)
        assert page.locator("[data-peering]").count() == 0

        peer(urls, "dc1", "dc2")
        export(urls["dc1"], {"web": ["dc2"]})

        active = '[data-peering="dc2/dc1"][data-state="ACTIVE"]'
        page.wait_for_selector(active, timeout=10_000)
        page.wait_for_selector('[data-peering="dc1/dc2"][data-state="ACTIVE"]', timeout=10_000)
        page.wait_for_selector('[data-imported="dc2/dc1/web"]', timeout=10_000)
        assert page.locator('[data-imported="dc2/dc1/web"]').inner_text().startswith("⬇ web")
        assert page.locator("[data-event]").count() > 0

        ok(httpx.post(f"{urls['dc2']}/_sim/partition", json={"A": "dc1", "B": "dc2"}))
        page.wait_for_selector('[data-link-settings="dc1|dc2"]', timeout=5_000)
        assert "PARTITIONED" in page.locator('[data-link-settings="dc1|dc2"]').inner_text()
        page.wait_for_selector('[data-peering="dc2/dc1"][data-state="FAILING"]', timeout=12_000)
        assert loads == [f"{urls['dc1']}/ui/"]
