"""The dashboard's plan-indicator table (misses first), over HTTP on both databases."""

from __future__ import annotations

import re

from app.auth.models import Role
from tests.builders import load_demo
from tests.users import PASSWORD, make_user


async def test_dashboard_lists_the_plan_indicators_misses_first(db, anon):
    await load_demo(db)
    await make_user(db, username="officer", role=Role.district, unit_code="084")
    await anon.post("/login", data={"username": "officer", "password": PASSWORD})
    page = await anon.get("/", params={"unit": "084", "year": 2020})
    assert page.status_code == 200
    assert 'id="plan-indicators"' in page.text
    verdicts = re.findall(r'data-achieved="(\w+)"', page.text)
    assert len(verdicts) == 112 and verdicts[:6] == ["false"] * 6 and set(verdicts[6:]) == {"true"}
    assert re.search(r'data-source="hdnd">hdnd: 61/65 đạt<', page.text)
    assert re.search(r'data-source="tinh">tinh: 45/47 đạt<', page.text)
    first = page.text.index('data-achieved="false"')
    assert "Số xã đạt chuẩn nông thôn mới (xã Sán Chải)" in page.text[first:first + 400]
    assert "99,6%" in page.text
    # a year without a list shows no table
    assert 'id="plan-indicators"' not in (await anon.get("/", params={"unit": "084", "year": 2021})).text
