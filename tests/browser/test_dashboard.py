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


def test_dashboard_controls_crash_restart_advance_and_explain() -> None:
    with serve(["dc1", "dc2"], "-clock", "virtual") as urls, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{urls['dc2']}/ui/")
        page.wait_for_selector('[data-cluster="dc2"]', timeout=10_000)
        assert page.locator("#clock").inner_text() == "virtual clock 2026-01-01 00:00:00Z"

        page.fill("#seconds", "90")
        page.click("button[data-action=advance]")
        page.wait_for_selector("text=virtual clock 2026-01-01 00:01:30Z", timeout=5_000)
        assert page.locator("#control-result").inner_text() == "advance: done"

        page.select_option("#crash-cluster", "dc1")
        page.click("button[data-action=crash]")
        page.wait_for_selector('[data-cluster="dc1"].crashed', timeout=5_000)
        assert httpx.get(f"{urls['dc1']}/_sim/world").json()["Clusters"][0]["Crashed"] is True
        page.click("button[data-action=restart]")
        page.wait_for_selector('[data-cluster="dc1"]:not(.crashed)', timeout=5_000)

        page.select_option("#link-a", "dc1")
        page.select_option("#link-b", "dc1")
        page.click("button[data-action=partition]")
        page.wait_for_selector("#control-result.error", timeout=5_000)
        assert page.locator("#control-result").inner_text() == (
            "400 Bad Request\nA and B must be two different clusters"
        )

        page.fill("#explain-service", "web")
        page.click("#explain button[type=submit]")
        page.wait_for_function("document.getElementById('explain-result').textContent !== ''")
        result = httpx.get(
            f"{urls['dc2']}/_sim/explain",
            params={"service": "web", "source": "dc1", "consumer": "dc2"},
        )
        shown = page.locator("#explain-result").inner_text()
        answer = result.json()
        verdict = "is visible" if answer["Visible"] else "is NOT visible"
        assert shown.splitlines() == [
            f"web from dc1 {verdict} on dc2",
            *(("✓ " if r["Holds"] else "✗ ") + r["Text"] for r in answer["Reasons"]),
        ]
