"""Criteria sets through the HTTP API."""

from __future__ import annotations

import pytest

from tests.helpers import assert_problem


async def test_year_2021_answers_the_2016_2020_set(client):
    body = (await client.get("/api/v1/criteria-sets", params={"year": 2021})).json()
    assert body["total"] == 1
    [cset] = body["items"]
    assert cset["decision"] == "1980/QĐ-TTg"
    assert cset["criteria_count"] == 19
    assert (cset["first_year"], cset["last_year"]) == (2016, 2021)


@pytest.mark.parametrize(("year", "decision", "count"), [
    (2016, "1980/QĐ-TTg", 19), (2022, "318/QĐ-TTg", 19), (2025, "318/QĐ-TTg", 19), (2026, "51/2025/QĐ-TTg", 10),
    (2030, "51/2025/QĐ-TTg", 10),
])
async def test_each_year_has_the_set_in_force(client, year, decision, count):
    [cset] = (await client.get("/api/v1/criteria-sets", params={"year": year})).json()["items"]
    assert (cset["decision"], cset["criteria_count"]) == (decision, count)


async def test_year_outside_every_set_lists_nothing(client):
    body = (await client.get("/api/v1/criteria-sets", params={"year": 2015})).json()
    assert body == {"items": [], "total": 0, "limit": 0, "offset": 0}


async def test_all_sets_listed_oldest_first(client):
    body = (await client.get("/api/v1/criteria-sets")).json()
    assert [s["code"] for s in body["items"]] == ["2016-2020", "2021-2025", "2026-2030"]


async def test_set_detail_has_numbered_named_grouped_criteria(client):
    body = (await client.get("/api/v1/criteria-sets/2016-2020")).json()
    criteria = body["criteria"]
    assert [c["number"] for c in criteria] == list(range(1, 20))
    assert criteria[0] == {**criteria[0], "code": "TC01", "name": "Quy hoạch", "group": "I", "group_name": "Quy hoạch"}
    assert criteria[9]["name"] == "Thu nhập" and criteria[9]["group"] == "III"
    assert criteria[18]["name"] == "Quốc phòng và An ninh" and criteria[18]["group"] == "V"
    income = criteria[9]["indicators"]
    assert income[0]["threshold"] == "≥ 36" and income[0]["region"] == "trung_du_mien_nui_phia_bac"
    assert body["bands"][0] == {"label": "19", "min": 19, "max": 19}
    assert [b["label"] for b in body["bands"]] == ["19", "15-18", "10-14", "5-9", "0-4"]


async def test_2021_2025_set_renames_four_criteria(client):
    criteria = (await client.get("/api/v1/criteria-sets/2021-2025")).json()["criteria"]
    names = {c["number"]: c["name"] for c in criteria}
    assert names[3] == "Thủy lợi và phòng, chống thiên tai"
    assert names[11] == "Nghèo đa chiều" and names[12] == "Lao động"
    assert names[13] == "Tổ chức sản xuất và phát triển kinh tế nông thôn"
    assert names[2] == "Giao thông"


async def test_2026_set_has_ten_criteria_and_own_bands(client):
    body = (await client.get("/api/v1/criteria-sets/2026-2030")).json()
    assert len(body["criteria"]) == 10 and body["criteria_count"] == 10
    assert body["criteria"][6]["name"] == "Khoa học công nghệ và chuyển đổi số"
    assert body["bands"][0]["min"] == 10 and body["bands"][-1]["min"] == 0
    covered = sorted(n for band in body["bands"] for n in range(band["min"], band["max"] + 1))
    assert covered == list(range(0, 11))  # every count falls in exactly one band


async def test_unknown_set_is_404(client):
    assert_problem(await client.get("/api/v1/criteria-sets/1999-2000"), 404)


async def test_year_not_a_number_is_422(client):
    assert_problem(await client.get("/api/v1/criteria-sets", params={"year": "twenty"}), 422, field="year")


async def test_reference_load_is_idempotent(db):
    from sqlalchemy import func, select

    from app.criteria.models import Criterion
    from app.reference import load_reference
    from app.units.models import AdminUnit, UnitLineage

    async def counts():
        async with db.transaction() as session:
            return [
                (await session.execute(select(func.count()).select_from(model))).scalar_one()
                for model in (AdminUnit, UnitLineage, Criterion)
            ]

    before = await counts()
    async with db.transaction() as session:
        await load_reference(session)
    assert await counts() == before == [17, 11, 48]
