"""The dashboard page over HTTP (sign-in, cookie, public mode, bad input), on both databases."""

from __future__ import annotations

import re

from httpx import ASGITransport, AsyncClient

from app.auth.models import Role
from app.main import create_app
from tests.builders import load_demo
from tests.users import PASSWORD, make_user


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
