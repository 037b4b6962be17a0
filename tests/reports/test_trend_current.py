"""trend?basis=current: series over today's territory through lineage (SQLite and PostgreSQL)."""

from __future__ import annotations

from app.reports import rules
from tests.builders import load_demo, put_assessment
from tests.helpers import assert_problem


def test_lineage_terminals_and_members():
    # 1 → 2 → 4 (alive, inside); 3 splits into 4 (inside) and 5 (alive, outside); 6 → 7 (outside)
    successors = {1: {2}, 2: {4}, 3: {4, 5}, 6: {7}}
    alive, territory = {4, 5, 7}, {4}
    assert rules.lineage_terminals(1, successors, alive) == {4}
    assert rules.lineage_terminals(3, successors, alive) == {4, 5}
    members = rules.territory_members([1, 2, 3, 4, 6], successors, alive, territory)
    assert [(m.unit_id, m.approximate) for m in members] == [(1, False), (2, False), (3, True), (4, False)]


async def test_new_lao_cai_2020_counts_si_ma_cai_nine_communes(db, client):
    await load_demo(db)
    response = await client.get("/api/v1/units/15/trend", params={"basis": "current", "from": 2020, "to": 2021})
    assert response.status_code == 200, response.text
    rows = response.json()["items"]
    assert [(r["year"], r["eligible_count"], r["commune_count"], r["total_criteria_met"], r["average"])
            for r in rows] == [(2020, 9, 9, 139, 15.4), (2021, 9, 9, 145, 16.1)]
    assert all(r["basis"] == "current" and r["approximate"] is False and r["approximate_communes"] == []
               for r in rows)
    assert rows[0]["unit_code"] == "15" and rows[0]["criteria_set"] == "2016-2020"
    assert rows[0]["recognized_communes"]["chuan"] == 2 and rows[0]["recognized_districts"] is None
    # never cached: a write to an old commune does not name the new province in its cache scope
    again = await client.get("/api/v1/units/15/trend", params={"basis": "current", "from": 2020, "to": 2021})
    assert again.headers["x-cache"] == "miss" and again.json() == response.json()
    await put_assessment(client, code="02812", year=2020, met=19)
    changed = await client.get("/api/v1/units/15/trend", params={"basis": "current", "from": 2020, "to": 2021})
    assert changed.json()["items"][0]["total_criteria_met"] == 141
    # the historic basis (default) has no 2020 row for a unit created in 2025
    historic = (await client.get("/api/v1/units/15/trend", params={"from": 2020, "to": 2021})).json()
    assert historic["items"] == []
    # and historic rows say so
    old = (await client.get("/api/v1/units/084/trend", params={"from": 2020, "to": 2021})).json()["items"]
    assert [r["basis"] for r in old] == ["historic", "historic"] and old[0]["approximate"] is False


async def test_default_years_and_later_rows(db, client):
    await load_demo(db)
    rows = (await client.get("/api/v1/units/15/trend", params={"basis": "current"})).json()["items"]
    assert [r["year"] for r in rows] == [2020, 2021]
    rows = (await client.get("/api/v1/units/15/trend", params={"basis": "current", "from": 2024, "to": 2026})
            ).json()["items"]
    # 2025: the three new communes (none assessed yet); the old ones ended on 2025-06-30
    assert [(r["year"], r["eligible_count"], r["commune_count"]) for r in rows] == [(2024, 9, 9), (2025, 3, 0),
                                                                                    (2026, 3, 0)]


async def test_a_split_commune_makes_the_row_approximate(client):
    """A commune split between the new Lào Cai and another new province counts, marked approximate."""
    body = {"code": "02999", "name": "Xã Chia Đôi", "level": "commune", "kind": "xa", "parent_code": "084",
            "valid_to": "2025-06-30"}
    assert (await client.post("/api/v1/units", json=body)).status_code == 201
    other = {"code": "16", "name": "Tỉnh Khác", "level": "province", "kind": "tinh", "parent_code": "VN",
             "valid_from": "2025-07-01"}
    assert (await client.post("/api/v1/units", json=other)).status_code == 201
    for code, parent in (("03001", "15"), ("03002", "16")):
        part = {"code": code, "name": f"Xã Phần {code}", "level": "commune", "kind": "xa", "parent_code": parent,
                "valid_from": "2025-07-01", "predecessor_codes": ["02999"]}
        assert (await client.post("/api/v1/units", json=part)).status_code == 201, code
    await put_assessment(client, code="02999", year=2021, met=12)
    await put_assessment(client, code="02812", year=2021, met=19)
    rows = (await client.get("/api/v1/units/15/trend", params={"basis": "current", "from": 2021, "to": 2021})
            ).json()["items"]
    assert rows[0]["eligible_count"] == 10 and rows[0]["total_criteria_met"] == 31
    assert rows[0]["approximate"] is True and rows[0]["approximate_communes"] == ["02999"]
    other_rows = (await client.get("/api/v1/units/16/trend", params={"basis": "current", "from": 2021, "to": 2021})
                  ).json()["items"]
    assert other_rows[0]["eligible_count"] == 1 and other_rows[0]["approximate_communes"] == ["02999"]
    # as of a day before the reform, the territory of Si Ma Cai is its own nine communes plus the new one
    before = (await client.get("/api/v1/units/084/trend", params={"basis": "current", "on": "2025-01-01",
                                                                 "from": 2021, "to": 2021})).json()["items"]
    assert before[0]["eligible_count"] == 10 and before[0]["approximate"] is False


async def test_trend_current_refuses_bad_input(client):
    assert_problem(await client.get("/api/v1/units/15/trend", params={"basis": "today"}), 422, field="basis")
    assert_problem(await client.get("/api/v1/units/15/trend", params={"basis": "current", "from": 2022, "to": 2020}),
                   422, field="to")
    assert_problem(await client.get("/api/v1/units/02809/trend", params={"basis": "current"}), 422, field="code")
