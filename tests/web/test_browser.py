"""The dashboard driven in headless Chromium against a real server process, on both databases.

Skipped, with the reason printed, only when Chromium or Playwright is not installed
(.ci/run installs Debian's chromium when it is missing). The screenshot is saved under
``artifacts/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from app.auth.models import Role
from tests.builders import load_demo
from tests.servers import running
from tests.users import PASSWORD, make_user

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = os.environ.get("NTM_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def server(db):
    with running(db.settings.database_url) as base:
        yield base


async def test_dashboard_in_chromium(db, server, backend):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); the browser test did not run")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("Playwright is not installed; the browser test did not run")
    await load_demo(db)
    await make_user(db, username="si-ma-cai", role=Role.district, unit_code="084")
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            await page.goto(server + "/")
            await page.fill("input[name=username]", "si-ma-cai")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_selector("#pick")
            await page.select_option("#unit", "084")
            await page.fill("#year", "2021")
            await page.click("#pick button[type=submit]")
            await page.wait_for_selector("#summary")
            assert await page.text_content("#average") == "16,1"
            assert await page.text_content("#target") == "16,1"
            assert await page.text_content("#percent") == "100,1%"
            assert await page.text_content("#needed") == "0"
            assert await page.text_content("#total") == "145"
            assert await page.text_content("#standard") == "1"
            assert "Đạt kế hoạch" == (await page.text_content("#verdict")).strip()
            assert "Xã Cán Cấu (02821)" in await page.text_content("#regressed")
            bands = await page.text_content("#bands")
            assert "15-18" in bands and "19" in bands
            # the charts came through the API with the sign-in cookie, and drew
            await page.wait_for_function(
                "['trend-chart', 'bands-chart'].every(id => document.getElementById(id).complete "
                "&& document.getElementById(id).naturalWidth > 0)", timeout=15000)
            # fits a phone: nothing wider than the screen
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            shot = ARTIFACTS / f"dashboard-{backend}.png"
            await page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            print(f"screenshot saved: {shot}")
            href = await page.get_attribute("#report-xlsx", "href")
            async with page.expect_download() as download:
                await page.click("#report-xlsx")
            assert (await download.value).suggested_filename == "ntm-bao-cao-084-2021.xlsx"
            assert href == "/api/v1/units/084/report.xlsx?year=2021"
            # 2020: the plan indicators, the ones not achieved first (the article's four, then the province's two)
            await page.fill("#year", "2020")
            await page.click("#pick button[type=submit]")
            await page.wait_for_selector("#plan-indicators")
            verdicts = await page.eval_on_selector_all("#plan-indicators tbody tr", "rows => rows.map(r => r.dataset.achieved)")
            assert len(verdicts) == 112 and verdicts[:6] == ["false"] * 6 and set(verdicts[6:]) == {"true"}
            assert "61/65" in await page.text_content("#plan-summary")
            first = await page.text_content("#plan-indicators tbody tr:first-child")
            assert "Sán Chải" in first and "Không đạt" in first
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        finally:
            await browser.close()
