"""The dashboard page over HTTP (sign-in, cookie, public mode, bad input, the commune table and its sorting, a
commune's assessment, the 2026 province, Vietnamese errors, indicator conflicts, chart axes), on both databases."""

from __future__ import annotations

import re

from httpx import ASGITransport, AsyncClient

from app.auth.models import Role
from app.core.config import Settings
from app.main import create_app
from tests.builders import load_demo, put_assessment
from tests.users import PASSWORD, TEST_SECRET, make_user


async def test_sign_in_then_figures(db, anon):
    await load_demo(db)
    await make_user(db, username="officer", role=Role.district, unit_code="084")
    page = await anon.get("/")
    assert page.status_code == 200 and 'name="password"' in page.text and "Đăng nhập" in page.text
    wrong = await anon.post("/login", data={"username": "officer", "password": "nope"})
    assert wrong.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu" in wrong.text
    signed = await anon.post("/login", data={"username": "officer", "password": PASSWORD})
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"]
    assert "ntm_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    home = await anon.get("/")  # the officer's own district, the latest year with data
    assert home.status_code == 200
    assert "Huyện Si Ma Cai — năm 2021" in home.text
    assert re.search(r'id="average">16,1<', home.text) and re.search(r'id="percent">100,1%<', home.text)
    assert "Xã Cán Cấu (02821)" in home.text  # regressed in 2021
    assert re.search(r'id="recognized">2/9<', home.text) and re.search(r'id="recognized-percent">22,2%<', home.text)
    assert 'id="recognized-districts"' not in home.text  # no district below a district
    y2024 = await anon.get("/", params={"unit": "10", "year": 2024})
    assert re.search(r'id="recognized-kieu-mau">1<', y2024.text)
    assert re.search(r'id="recognized-districts">1<', y2024.text)
    district_2024 = await anon.get("/", params={"unit": "084", "year": 2024})
    assert "đã được công nhận: đạt chuẩn NTM." in district_2024.text
    y2020 = await anon.get("/", params={"unit": "084", "year": 2020})
    assert re.search(r'id="average">15,4<', y2020.text) and re.search(r'id="percent">99,6%<', y2020.text)
    assert "Xã Sán Chải (02812)" in y2020.text and re.search(r"<td>10, 11</td>", y2020.text)  # at risk
    # the cookie opens the API's reads (charts, downloads), never its writes
    assert (await anon.get("/api/v1/units/084/bands.svg", params={"year": 2021})).status_code == 200
    write = await anon.put("/api/v1/communes/02812/assessments/2021", json={"criteria": []})
    assert write.status_code == 401
    out = await anon.post("/logout")
    assert out.status_code == 303 and 'ntm_session=""' in out.headers["set-cookie"]


async def test_public_read_shows_figures_without_sign_in(db):
    await load_demo(db)
    app = create_app(db.settings.model_copy(update={"public_read": True}), database=db)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as anon:
        page = await anon.get("/", params={"unit": "084", "year": 2021})
        assert page.status_code == 200 and 'name="password"' not in page.text
        assert re.search(r'id="average">16,1<', page.text)
        assert '<option value="084" selected>' in page.text


async def test_bad_choices_are_explained_not_500(db, client, anon):
    await load_demo(db)
    await make_user(db, username="viewer", role=Role.viewer)
    await anon.post("/login", data={"username": "viewer", "password": PASSWORD})
    unknown = await anon.get("/", params={"unit": "999", "year": 2021})
    assert unknown.status_code == 404 and "999" in unknown.text
    bad_year = await anon.get("/", params={"unit": "084", "year": "<script>"})
    assert bad_year.status_code == 422 and "<script>" not in bad_year.text and "&lt;script&gt;" in bad_year.text
    after_reform = await anon.get("/", params={"unit": "084", "year": 2026})
    assert after_reform.status_code == 422
    forged = AsyncClient(transport=anon._transport, base_url="http://test", cookies={"ntm_session": "forged"})
    async with forged:
        assert 'name="password"' in (await forged.get("/")).text


def _rows(page: str) -> list[str]:
    """The commune table's codes, in the order shown."""
    table = page.split('id="commune-table"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-code="(\d{5})"', table)


async def _viewer(db, anon) -> None:
    await make_user(db, username="viewer", role=Role.viewer)
    await anon.post("/login", data={"username": "viewer", "password": PASSWORD})


async def test_commune_table_lists_counts_statuses_flags_recognitions(db, anon):
    await load_demo(db)
    await _viewer(db, anon)
    page = (await anon.get("/", params={"unit": "084", "year": 2021})).text
    assert _rows(page) == ["02800", "02803", "02806", "02812", "02818", "02821", "02824", "02827", "02836"]
    san_chai = page.split('<tr data-code="02812"', 1)[1].split("</tr>", 1)[0]
    assert "19/19" in san_chai and "Dự thảo" in san_chai and "Đạt chuẩn" in san_chai
    assert "Kế hoạch đạt chuẩn" in san_chai and "<td>Đạt chuẩn NTM</td>" in san_chai  # flag, and the recognition held
    assert 'data-flags="standard_target standard_reached"' in san_chai
    can_cau = page.split('<tr data-code="02821"', 1)[1].split("</tr>", 1)[0]
    assert "15/19" in can_cau and "Giảm tiêu chí" in can_cau and "<td>—</td>" in can_cau  # no recognition
    # headers are links the server sorts by (the page's script sorts in place; tested in Chromium)
    assert 'href="/?unit=084&amp;year=2021&amp;sort=count&amp;dir=desc#communes"' in page


async def test_commune_table_sorts_by_count_both_ways_stably(db, anon):
    await load_demo(db)
    await _viewer(db, anon)
    sixteen = ["02800", "02803", "02806", "02824", "02827", "02836"]  # equal counts keep the code order
    down = await anon.get("/", params={"unit": "084", "year": 2021, "sort": "count", "dir": "desc"})
    assert _rows(down.text) == ["02812", *sixteen, "02818", "02821"]
    assert re.search(r'aria-sort="descending" data-sort="count"', down.text)
    assert 'sort=count&amp;dir=asc#communes"' in down.text  # the next click turns it round
    up = await anon.get("/", params={"unit": "084", "year": 2021, "sort": "count", "dir": "asc"})
    assert _rows(up.text) == ["02818", "02821", *sixteen, "02812"]
    odd = await anon.get("/", params={"unit": "084", "year": 2021, "sort": "<x>", "dir": "sideways"})
    assert odd.status_code == 200 and _rows(odd.text)[0] == "02800"  # unknown: code order


async def test_choosing_a_commune_opens_its_assessment(db, anon):
    await load_demo(db)
    await _viewer(db, anon)
    chosen = await anon.get("/", params={"unit": "02812", "year": 2021})  # a commune in the unit field
    assert chosen.status_code == 200 and "is a commune" not in chosen.text
    assert "Huyện Si Ma Cai — năm 2021" in chosen.text
    assert "Xã Sán Chải (02812) — kết quả đánh giá năm 2021" in chosen.text
    assert re.search(r'id="assessment-count">19/19<', chosen.text) and "Quốc phòng và An ninh" in chosen.text
    row = await anon.get("/", params={"unit": "084", "year": 2021, "commune": "02821"})  # a row of the table
    criteria = row.text.split('id="assessment-criteria"', 1)[1]
    assert re.search(r'data-number="15" class="">\s*<td>15</td><td>Y tế</td><td class="warn">Chưa đạt', criteria)
    assert 'class="open-commune" href="/?unit=084&amp;year=2021&amp;commune=02821#assessment"' in row.text
    later = await anon.get("/", params={"unit": "084", "year": 2022, "commune": "02821"})  # carried forward
    assert "Chưa có kết quả năm 2022; đang hiển thị kết quả năm 2021" in later.text
    town = await anon.get("/", params={"unit": "02809", "year": 2021})
    assert town.status_code == 200 and "Thị trấn Si Ma Cai (02809) là thị trấn" in town.text
    assert 'id="assessment"' not in town.text
    none = await anon.get("/", params={"unit": "15", "year": 2026, "commune": "02848"})
    assert "Xã chưa có kết quả đánh giá đến năm 2026" in none.text
    # the picker lists the unit's communes; one from elsewhere is explained, not opened
    assert '<option value="02821" selected>Xã Cán Cấu (02821)</option>' in row.text
    elsewhere = await anon.get("/", params={"unit": "15", "year": 2026, "commune": "02812"})
    assert elsewhere.status_code == 200 and 'id="assessment"' not in elsewhere.text
    assert "không có xã mã 02812 trong năm 2026" in elsewhere.text.lower()
    outside = await anon.get("/", params={"unit": "10", "year": 2021, "commune": "02809"})
    assert "là thị trấn, không xét tiêu chí nông thôn mới" in outside.text


async def test_province_2026_lists_its_communes_directly(db, client, anon):
    """After the 2025 reform communes lie directly under the province: no district between."""
    await load_demo(db)
    await put_assessment(client, code="02809", year=2026, met=8, count=10)
    await put_assessment(client, code="02824", year=2026, met=6, count=10)
    await make_user(db, username="lao-cai", role=Role.province, unit_code="15")
    await anon.post("/login", data={"username": "lao-cai", "password": PASSWORD})
    page = await anon.get("/", params={"year": 2026})  # the officer's own province
    assert page.status_code == 200 and "Tỉnh Lào Cai — năm 2026" in page.text
    assert re.search(r'id="average">7,0<', page.text) and "Bộ tiêu chí 2026-2030" in page.text
    assert _rows(page.text) == ["02809", "02824", "02848"]
    assert "8/10" in page.text and "6/10" in page.text and "Chưa có đánh giá" in page.text
    assert "NTM hiện đại" in page.text.split('<tr data-code="02809"', 1)[1].split("</tr>", 1)[0]
    assert re.search(r'id="recognized-hien-dai">1<', page.text)
    assert 'id="children"' not in page.text and 'id="recognized-districts"' not in page.text
    down = await anon.get("/", params={"unit": "15", "year": 2026, "sort": "count", "dir": "desc"})
    assert _rows(down.text) == ["02809", "02824", "02848"]  # no count: last either way
    up = await anon.get("/", params={"unit": "15", "year": 2026, "sort": "count", "dir": "asc"})
    assert _rows(up.text) == ["02824", "02809", "02848"]
    opened = await anon.get("/", params={"unit": "15", "year": 2026, "commune": "02809"})
    assert "Xã Si Ma Cai (02809) — kết quả đánh giá năm 2026" in opened.text
    assert re.search(r'id="assessment-count">8/10<', opened.text)
    # 2025: the new province is valid on 31 December, its communes too (none assessed yet)
    y2025 = await anon.get("/", params={"unit": "15", "year": 2025})
    assert y2025.status_code == 200 and _rows(y2025.text) == ["02809", "02824", "02848"]


async def test_a_district_officer_in_2026_sees_the_province_that_took_over(db, anon):
    await load_demo(db)
    await make_user(db, username="officer", role=Role.district, unit_code="084")
    await anon.post("/login", data={"username": "officer", "password": PASSWORD})
    page = await anon.get("/", params={"year": 2026})
    assert page.status_code == 200 and "Tỉnh Lào Cai — năm 2026" in page.text
    assert "Huyện Si Ma Cai (084) không có trong năm 2026" in page.text and "Đang hiển thị Tỉnh Lào Cai (15)" in page.text


async def test_errors_are_in_vietnamese_with_the_english_detail_in_small_print(db, anon):
    await load_demo(db)
    await _viewer(db, anon)
    unknown = await anon.get("/", params={"unit": "999", "year": 2021})
    alert = unknown.text.split('role="alert"', 1)[1].split("</p>", 1)[0]
    assert unknown.status_code == 404 and "Không tìm thấy đơn vị hành chính có mã «999»" in alert
    assert '<small class="detail" lang="en" title="No administrative unit has the code &#39;999&#39;.">' in alert
    gone = await anon.get("/", params={"unit": "084", "year": 2026})
    alert = gone.text.split('role="alert"', 1)[1].split("</p>", 1)[0]
    assert gone.status_code == 422
    assert "Huyện Si Ma Cai (084) không có trong năm 2026 (chỉ tồn tại đến hết ngày 30/06/2025, trước khi sắp xếp" \
           in alert and "did not exist in 2026 (a unit is valid in a year when valid on 31 December)" in alert
    assert 'id="suggestions">Đơn vị kế thừa năm 2026: <a href="/?unit=15&amp;year=2026">Tỉnh Lào Cai (15)</a>' in gone.text
    before = await anon.get("/", params={"unit": "15", "year": 2020})
    assert before.status_code == 422 and "Tỉnh Lào Cai (15) không có trong năm 2020 (thành lập từ ngày 01/07/2025)" \
        in before.text
    early = await anon.get("/", params={"unit": "10", "year": 2012})
    assert early.status_code == 422
    assert "Không có bộ tiêu chí nông thôn mới nào áp dụng cho năm 2012 (các bộ tiêu chí hiện có áp dụng cho các " \
           "năm 2016–2030)" in early.text
    anon.cookies.clear()
    for _ in range(11):  # too many failed sign-ins: 429, said in Vietnamese
        locked = await anon.post("/login", data={"username": "viewer", "password": "wrong"})
    assert locked.status_code == 429 and "Đăng nhập sai quá nhiều lần" in locked.text
    assert 'lang="en"' in locked.text


async def test_indicator_conflicts_are_listed(db, client, anon):
    """Issue 16: communes whose declared `met` disagrees with their indicators, with the criteria."""
    await load_demo(db)
    body = {"criteria": [{"number": n, "met": True} for n in range(1, 20)]}
    body["criteria"][9]["indicators"] = {"10.1": 30}  # income 30 million < 36: not met by indicators
    body["criteria"][14]["indicators"] = {"15.1": 80}  # health insurance 80 % < 85
    written = await client.put("/api/v1/communes/02812/assessments/2021", json=body)
    assert written.status_code == 200 and written.json()["indicator_conflicts"] == [10, 15]
    await _viewer(db, anon)
    page = (await anon.get("/", params={"unit": "084", "year": 2021})).text
    conflicts = page.split('id="conflicts"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r'<tr data-code="(\d{5})">', conflicts) == ["02812"]
    assert "Xã Sán Chải (02812)</a></td><td>10, 15</td><td>2021</td>" in conflicts
    assert "Mâu thuẫn với chỉ tiêu" in page.split('<tr data-code="02812"', 1)[1].split("</tr>", 1)[0]
    opened = (await anon.get("/", params={"unit": "084", "year": 2021, "commune": "02812"})).text
    assert re.search(r'id="assessment-conflicts">Tiêu chí mâu thuẫn với chỉ tiêu: 10, 15<', opened)
    assert "10.1: 30 (chưa đạt)" in opened
    quiet = (await anon.get("/", params={"unit": "084", "year": 2020})).text
    assert '<p id="conflicts" class="muted">Không có.</p>' in quiet


async def test_trend_chart_starts_at_zero_with_decimal_commas(db, anon):
    await load_demo(db)
    await _viewer(db, anon)
    svg = (await anon.get("/api/v1/units/084/trend.svg", params={"to": 2021})).text
    texts = re.findall(r">([^<>]+)</text>", svg)
    assert "0" in texts and "15,4" in texts and "16,1" in texts and "15,5" in texts
    assert not any(re.fullmatch(r"\d+\.\d", t) for t in texts)  # no decimal point anywhere


def test_the_script_says_errors_as_the_server_does():
    """dashboard.js reads the server's Vietnamese messages from the page (one source, no copy)."""
    from pathlib import Path

    from app.web import messages

    script = (Path(messages.__file__).parent / "static" / "dashboard.js").read_text()
    assert "ntm-messages" in script
    assert not any(text in script for text in messages.for_script()["by_status"].values())  # type: ignore[union-attr]
    assert messages.for_problem(404, "/problems/not-found", "x").text == "Không tìm thấy dữ liệu yêu cầu."
    assert messages.for_problem(422, "/problems/rule-violation").text.startswith("Yêu cầu không phù hợp")
    assert messages.for_problem(599).text == "Lỗi máy chủ; vui lòng thử lại sau."
    assert messages.plain_number(41.5) == "41,5" and messages.plain_number(36) == "36"
    assert messages.plain_number(True) == "có"
    assert messages.commune_level(["chuan", "hien_dai", "nang_cao"]) == "NTM nâng cao, NTM hiện đại"


async def test_errors_met_by_the_pages_are_pages_in_vietnamese(db, anon):
    """What the API refuses everywhere (U+0000 in a parameter), a sign-in field over its length or
    missing: a person gets the page back, in Vietnamese, with the status, never a problem+json
    document in English; and nothing of what was sent is shown back. The API keeps answering
    problem+json for the same input."""
    await load_demo(db)
    for params in ({"unit": "\x00"}, {"year": "20\x0021"}, {"commune": "0\x00"}, {"sort": "\x00", "dir": "desc"}):
        page = await anon.get("/", params=params)
        assert page.status_code == 422, params
        assert page.headers["content-type"].startswith("text/html")
        assert 'lang="vi"' in page.text and "Yêu cầu không phù hợp với quy định nghiệp vụ." in page.text
        assert "Chi tiết kỹ thuật (tiếng Anh): must not contain the NUL character" in page.text
        assert "\x00" not in page.text and 'href="/"' in page.text
    for form, field in (({"username": "u" * 65, "password": "x"}, "username"), ({"username": "officer"}, "password")):
        page = await anon.post("/login", data=form)
        assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
        assert "Yêu cầu không hợp lệ: có giá trị không đúng định dạng." in page.text
        assert f"Chi tiết kỹ thuật (tiếng Anh): 1 field is invalid: {field}:" in page.text
        assert 'name="password"' in page.text and "u" * 65 not in page.text  # the form again, empty
    nul_login = await anon.post("/login", data={"username": "a\x00b", "password": "x"})
    assert nul_login.status_code == 422 and 'name="password"' in nul_login.text and "a\x00b" not in nul_login.text
    api = await anon.get("/api/v1/units", params={"q": "\x00"})
    assert api.status_code == 422 and api.headers["content-type"].startswith("application/problem+json")


async def test_the_dashboard_with_its_database_away_is_a_503_page():
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none", env="test", secret_key=TEST_SECRET,
                        public_read=True, _env_file=None)
    app = create_app(settings)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
        page = await http.get("/")
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert page.headers["retry-after"] == "5"
        assert "Máy chủ tạm thời không phục vụ được (cơ sở dữ liệu không truy cập được)" in page.text
        api = await http.get("/api/v1/units/084")
        assert api.status_code == 503 and api.headers["content-type"].startswith("application/problem+json")


async def test_a_failure_inside_a_page_is_a_500_page_and_a_broken_error_page_falls_back(db, monkeypatch):
    """An unexpected error while drawing the dashboard: a 500 page in Vietnamese; and were the
    error page itself to fail, the problem+json answer, never nothing."""
    import app.web.router as web

    async def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(web, "_options", broken)
    app = create_app(db.settings.model_copy(update={"public_read": True}), database=db)
    anon = AsyncClient(transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")
    page = await anon.get("/")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Lỗi máy chủ; vui lòng thử lại sau." in page.text and "boom" not in page.text

    def unrenderable(*_args, **_kwargs):
        raise RuntimeError("template gone")

    monkeypatch.setattr(app.state, "error_page", unrenderable)
    fallback = await anon.get("/")
    assert fallback.status_code == 500 and fallback.headers["content-type"].startswith("application/problem+json")
