"""The dashboard driven in headless Chromium against a real server process, on both databases.

Skipped, with the reason printed, only when Chromium or Playwright is not installed
(.ci/run installs Debian's chromium when it is missing). The screenshot is saved under
``artifacts/``.
"""

from __future__ import annotations

import asyncio
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


def _playwright():
    """Playwright's entry point, or the test skipped, saying what is missing."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); the browser test did not run")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("Playwright is not installed; the browser test did not run")
    return async_playwright


@pytest.fixture
def server(db):
    with running(db.settings.database_url) as base:
        yield base


async def test_dashboard_in_chromium(db, server, backend):
    async_playwright = _playwright()
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
            # recognised figures (illustrative demo recognitions): Sín Chéng and Sán Chải, 2/9 = 22,2 %
            assert await page.text_content("#recognized") == "2/9"
            assert await page.text_content("#recognized-percent") == "22,2%"
            assert await page.text_content("#recognized-below") == "1"
            assert await page.text_content("#recognized-nang-cao") == "0"
            bands = await page.text_content("#bands")
            assert "15-18" in bands and "19" in bands
            # the charts came through the API with the sign-in cookie, and drew
            # (polled from here: the page's Content Security Policy forbids the eval wait_for_function uses)
            drawn = ("['trend-chart', 'bands-chart'].every(id => document.getElementById(id).complete "
                     "&& document.getElementById(id).naturalWidth > 0)")
            for _ in range(150):
                if await page.evaluate(drawn):
                    break
                await asyncio.sleep(0.1)
            assert await page.evaluate(drawn), "the charts did not draw"
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


def _launch_args() -> dict:
    return {"executable_path": CHROMIUM, "args": ["--headless", "--no-sandbox"]}


async def test_docs_pages_work_offline(db, server, backend):
    """Swagger UI and ReDoc with every request to another host refused: both render every operation,
    and Swagger UI's Authorize (OAuth2 password flow) signs in and a "Try it out" call succeeds."""
    async_playwright = _playwright()
    import httpx

    await make_user(db, username="si-ma-cai", role=Role.district, unit_code="084")
    spec = httpx.get(server + "/openapi.json").json()
    operations = sum(1 for ops in spec["paths"].values() for _ in ops)
    own_host = server.split("://", 1)[1]
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**_launch_args())
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            elsewhere: list[str] = []

            async def only_this_server(route):
                url = route.request.url
                if url.split("://", 1)[-1].split("/", 1)[0] == own_host or url.startswith(("data:", "blob:")):
                    await route.continue_()
                else:
                    elsewhere.append(url)
                    await route.abort()

            await context.route("**/*", only_this_server)
            failed: list[tuple[str, str | None]] = []
            context.on("requestfailed", lambda request: failed.append((request.url, request.failure)))
            console_errors: list[str] = []
            context.on("console", lambda message: console_errors.append(message.text)
                       if message.type == "error" and "Content Security Policy" in message.text else None)

            page = await context.new_page()
            await page.goto(server + "/docs")
            await page.wait_for_selector(".opblock", timeout=20000)
            assert await page.locator(".opblock").count() == operations
            assert await page.locator("#operations-Assessments-putAssessment").count() == 1
            await page.screenshot(path=str(ARTIFACTS / f"docs-swagger-{backend}.png"))
            # Authorize: the OAuth2 password flow against POST /api/v1/auth/token
            await page.click("button.authorize")
            await page.fill("#oauth_username", "si-ma-cai")
            await page.fill("#oauth_password", PASSWORD)
            oauth = page.locator(".auth-container").filter(has_text="OAuth2Password")
            await oauth.locator("button.authorize").click()
            try:
                await oauth.locator("button:has-text('Logout')").wait_for(timeout=10000)
            finally:
                await page.screenshot(path=str(ARTIFACTS / f"docs-swagger-authorized-{backend}.png"))
            assert await oauth.locator(".errors").count() == 0
            assert "Authorized" in await oauth.text_content()
            await page.click(".auth-btn-wrapper button.btn-done")
            # the token is used: "Who am I" answers 200 for the signed-in user
            me = page.locator("#operations-Access-getMe")
            await me.locator(".opblock-summary").click()
            await me.locator("button.try-out__btn").click()
            await me.locator("button.execute").click()
            await me.locator(".live-responses-table tr.response .response-col_status").first.wait_for(timeout=10000)
            assert (await me.locator(".live-responses-table tr.response .response-col_status").first.text_content()).strip() == "200"
            assert "si-ma-cai" in await me.locator(".live-responses-table .microlight").first.text_content()
            await me.locator(".live-responses-table").scroll_into_view_if_needed()
            await page.screenshot(path=str(ARTIFACTS / f"docs-swagger-try-{backend}.png"))

            page = await context.new_page()
            await page.goto(server + "/redoc")
            await page.wait_for_selector("[data-section-id^='operation/']", timeout=30000)
            assert await page.locator("[data-section-id^='operation/']").count() == operations
            assert await page.locator("[data-section-id='operation/putAssessment']").count() == 1
            await page.screenshot(path=str(ARTIFACTS / f"docs-redoc-{backend}.png"))
            await page.locator("[data-section-id='operation/putAssessment']").scroll_into_view_if_needed()
            await page.screenshot(path=str(ARTIFACTS / f"docs-redoc-operation-{backend}.png"))
            assert elsewhere == [], f"the docs asked another host for {elsewhere}"
            # the only thing that did not load is ReDoc's attribution logo, which the page's
            # Content-Security-Policy stops inside the browser (never sent; ReDoc then hides it)
            assert all(url == "https://cdn.redoc.ly/redoc/logo-mini.svg" and "csp" in (why or "")
                       for url, why in failed), failed
            assert all("cdn.redoc.ly/redoc/logo-mini.svg" in text for text in console_errors), console_errors
        finally:
            await browser.close()


async def _token(server: str, username: str) -> dict[str, str]:
    import httpx

    async with httpx.AsyncClient(base_url=server) as http:
        answer = await http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def _codes(page) -> list[str]:
    return await page.eval_on_selector_all("#commune-table tbody tr", "rows => rows.map(r => r.dataset.code)")


async def test_communes_sorting_opening_conflicts_and_2026_in_chromium(db, server, backend):
    """The commune table sorted in place by its count header (both ways, ties in code order), a
    commune opened from it, the conflict list, a chart error and an unknown unit said in Vietnamese,
    and the 2026 province with its communes directly below it."""
    async_playwright = _playwright()
    import httpx

    await load_demo(db)
    await make_user(db, username="si-ma-cai", role=Role.district, unit_code="084")
    await make_user(db, username="lao-cai", role=Role.province, unit_code="15")
    async with httpx.AsyncClient(base_url=server) as http:
        body = {"criteria": [{"number": n, "met": True} for n in range(1, 20)]}
        body["criteria"][9]["indicators"] = {"10.1": 30}  # declared met, income below the 36 million threshold
        answer = await http.put("/api/v1/communes/02812/assessments/2021", json=body,
                                headers=await _token(server, "si-ma-cai"))
        assert answer.status_code == 200 and answer.json()["indicator_conflicts"] == [10]
        province = await _token(server, "lao-cai")
        for code, met in (("02809", 8), ("02824", 6)):
            answer = await http.put(f"/api/v1/communes/{code}/assessments/2026", headers=province,
                                    json={"criteria": [{"number": n, "met": n <= met} for n in range(1, 11)]})
            assert answer.status_code == 201, answer.text
    sixteen = ["02800", "02803", "02806", "02824", "02827", "02836"]
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**_launch_args())
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.goto(server + "/")
            await page.fill("input[name=username]", "si-ma-cai")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_selector("#commune-table")
            await page.goto(server + "/?unit=084&year=2021")
            assert await _codes(page) == ["02800", "02803", "02806", "02812", "02818", "02821", *sixteen[3:]]
            await page.evaluate("window.stayed = 'here'")  # gone if the click reloaded the page
            header = page.locator("#commune-table th[data-sort=count] a")
            await header.click()
            assert await _codes(page) == ["02812", *sixteen, "02818", "02821"]
            assert await page.get_attribute("#commune-table th[data-sort=count]", "aria-sort") == "descending"
            await header.click()
            assert await _codes(page) == ["02818", "02821", *sixteen, "02812"]
            assert await page.get_attribute("#commune-table th[data-sort=count]", "aria-sort") == "ascending"
            assert await page.evaluate("window.stayed") == "here"  # sorted in place
            assert "sort=count&dir=asc" in page.url  # and the address says so (a reload keeps the order)
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            await page.screenshot(path=str(ARTIFACTS / f"dashboard-communes-{backend}.png"), full_page=True)
            # the conflict list (issue 16), then the commune opened from it
            conflicts = await page.text_content("#conflicts")
            assert "Xã Sán Chải (02812)" in conflicts and "10" in conflicts
            await page.click("#commune-table tr[data-code='02821'] a.open-commune")
            await page.wait_for_selector("#assessment")
            assert await page.text_content("#assessment-count") == "15/19"
            assert "Xã Cán Cấu (02821) — kết quả đánh giá năm 2021" in await page.text_content("#assessment h3")
            assert "Chưa đạt" in await page.text_content("#assessment-criteria tr[data-number='15']")
            # an unknown unit: Vietnamese first, the API's English in small print
            await page.goto(server + "/?unit=999&year=2021")
            assert "Không tìm thấy đơn vị hành chính có mã «999»" in await page.text_content("#error")
            assert "No administrative unit" in await page.text_content("#error small.detail")
            # a chart the API refuses: the script says why in Vietnamese
            problem = ('{"type": "/problems/not-ready", "title": "Service Unavailable", "status": 503, '
                       '"detail": "The database is not reachable."}')

            async def refuse(route):
                await route.fulfill(status=503, content_type="application/problem+json", body=problem)

            await page.route("**/bands.svg*", refuse)
            await page.goto(server + "/?unit=084&year=2021")
            error = page.locator("#bands-chart-error")
            await error.locator("small.detail").wait_for()
            assert "Không tải được biểu đồ: Máy chủ tạm thời không phục vụ được" in await error.text_content()
            assert "The database is not reachable." in await error.locator("small.detail").text_content()
            await page.unroute("**/bands.svg*")
            # 2026: the district is gone; its successor is offered, and the province lists its communes
            await page.fill("#year", "2026")
            await page.click("#pick button[type=submit]")
            assert "không có trong năm 2026" in await page.text_content("#error")
            await page.click("#suggestions a")
            await page.wait_for_selector("#commune-table")
            assert "Tỉnh Lào Cai — năm 2026" in await page.text_content("#summary h2")
            assert await page.text_content("#average") == "7,0"
            assert await _codes(page) == ["02809", "02824", "02848"]
            await page.locator("#commune-table th[data-sort=count] a").click()
            assert await _codes(page) == ["02809", "02824", "02848"]
            await page.locator("#commune-table th[data-sort=count] a").click()
            assert await _codes(page) == ["02824", "02809", "02848"]  # the commune without a count stays last
            async with page.expect_navigation():  # the picker opens the commune chosen
                await page.select_option("#commune", "02809")
            await page.wait_for_selector("#assessment")
            assert await page.text_content("#assessment-count") == "8/10"
            assert await page.get_attribute("#commune-table tr[data-code='02809']", "aria-current") == "true"
            await page.screenshot(path=str(ARTIFACTS / f"dashboard-2026-{backend}.png"), full_page=True)
        finally:
            await browser.close()
