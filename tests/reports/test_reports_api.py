"""Targets, summaries, flags and trend through the HTTP API, on both databases.

The demo data reproduces the Si Ma Cai figures of the source article (2020: 139 criteria
over 9 communes, 99.6% of a 15.5 plan; 2021: target 16.1 with Sán Chải and ≥ 6 more).
"""

from __future__ import annotations

import pytest

from tests.builders import load_demo, put_assessment, put_target
from tests.helpers import assert_problem

SI_MA_CAI_COMMUNES = ["02800", "02803", "02806", "02812", "02818", "02821", "02824", "02827", "02836"]


async def summary(client, code, year, status=200):
    response = await client.get(f"/api/v1/units/{code}/summary", params={"year": year})
    assert response.status_code == status, response.text
    return response.json()


async def test_si_ma_cai_2020_reproduces_the_article(db, client):
    await load_demo(db)
    s = await summary(client, "084", 2020)
    assert s["unit_name"] == "Huyện Si Ma Cai" and s["criteria_set"] == "2016-2020"
    assert (s["eligible_count"], s["commune_count"], s["total_criteria_met"]) == (9, 9, 139)
    assert s["average_exact"] == 15.444444 and s["average"] == 15.4
    assert s["target_average"] == 15.5 and s["target_met"] is False
    assert s["gap"] == 0.1 and s["percent_of_target"] == 99.6
    assert s["additional_criteria_needed"] == 1
    assert s["standard_communes_count"] == 0
    assert s["bands"] == {"19": 0, "15-18": 8, "10-14": 1, "5-9": 0, "0-4": 0}
    assert s["carried_forward"] == [] and s["missing"] == []
    coverage = {c["number"]: c["communes_met"] for c in s["criteria_coverage"]}
    assert list(coverage) == list(range(1, 20))
    assert coverage[10] == 0 and coverage[19] == 9 and coverage[11] == 0 and coverage[17] == 1

    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2020})).json()
    san_chai = next(r for r in flags["items"] if r["commune_code"] == "02812")
    assert san_chai["flags"] == ["standard_target", "at_risk"] and san_chai["missing_criteria"] == [10, 11]
    assert san_chai["met_count"] == 17 and san_chai["band"] == "15-18"


async def test_si_ma_cai_2021_reaches_the_plan(db, client):
    await load_demo(db)
    s = await summary(client, "084", 2021)
    assert (s["commune_count"], s["total_criteria_met"]) == (9, 145)
    assert s["average"] == 16.1 and s["target_average"] == 16.1 and s["target_met"] is True
    assert s["gap"] == 0.0 and s["percent_of_target"] == 100.1 and s["additional_criteria_needed"] == 0
    assert s["additional_criteria_gained"] == 6
    assert s["min_additional_criteria"] == 6 and s["min_additional_criteria_met"] is True
    assert s["standard_communes_count"] == 1 and s["bands"]["19"] == 1

    rows = {r["commune_code"]: r for r in (await client.get("/api/v1/units/084/flags", params={"year": 2021})).json()["items"]}
    assert list(rows) == SI_MA_CAI_COMMUNES  # the town 02809 never appears
    assert rows["02812"]["flags"] == ["standard_target", "standard_reached"] and rows["02812"]["met_count"] == 19
    assert rows["02812"]["target_met_count"] == 19
    assert rows["02821"]["flags"] == ["regressed"] and rows["02821"]["lost_criteria"] == [15]
    assert rows["02818"]["flags"] == [] and rows["02818"]["target_met_count"] == 15


async def test_additional_needed_contract_example_with_carried_forward_statuses(db, client):
    """Contract rule 5: 9 communes, total 139, target 16.1 → 6 (2021 before any 2021 assessment)."""
    await load_demo(db)
    for code in SI_MA_CAI_COMMUNES:  # take the 2021 assessments away again: 2021 carries 2020 forward
        async with db.transaction() as session:
            from sqlalchemy import delete

            from app.assessments.models import Assessment

            await session.execute(delete(Assessment).where(Assessment.commune_code == code, Assessment.year == 2021))
    s = await summary(client, "084", 2021)
    assert s["carried_forward"] == SI_MA_CAI_COMMUNES and s["commune_count"] == 9
    assert s["total_criteria_met"] == 139 and s["average"] == 15.4
    assert s["additional_criteria_needed"] == 6
    assert s["additional_criteria_gained"] == 0 and s["min_additional_criteria_met"] is False
    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2021, "flag": "carried_forward"})).json()
    assert flags["total"] == 9


async def test_province_and_national_summaries_roll_up_with_children(db, client):
    await load_demo(db)
    province = await summary(client, "10", 2021)
    assert province["total_criteria_met"] == 145 and province["average"] == 16.1
    assert province["target_average"] is None and province["target_met"] is None
    assert [c["unit_code"] for c in province["children"]] == ["084"]
    child = province["children"][0]
    assert child["target_average"] == 16.1 and child["target_met"] is True and child["total_criteria_met"] == 145
    nation = await summary(client, "VN", 2021)
    assert nation["total_criteria_met"] == 145 and [c["unit_code"] for c in nation["children"]] == ["10"]


async def test_missing_commune_is_left_out_of_figures(client):
    for code in SI_MA_CAI_COMMUNES[:-1]:
        await put_assessment(client, code=code, year=2021, met=16)
    s = await summary(client, "084", 2021)
    assert s["eligible_count"] == 9 and s["commune_count"] == 8 and s["missing"] == ["02836"]
    assert s["total_criteria_met"] == 128 and s["average"] == 16.0
    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2021, "flag": "missing"})).json()
    assert [r["commune_code"] for r in flags["items"]] == ["02836"] and flags["items"][0]["met_count"] is None


async def test_average_rounds_half_up_through_the_api(client):
    for code, met in zip(SI_MA_CAI_COMMUNES[:4], (15, 15, 15, 16), strict=True):  # 61/4 = 15.25
        await put_assessment(client, code=code, year=2021, met=met)
    s = await summary(client, "084", 2021)
    assert s["total_criteria_met"] == 61 and s["average_exact"] == 15.25 and s["average"] == 15.3


async def test_average_309_over_20_is_15_5(client):
    extra = [f"029{n:02d}" for n in range(11)]
    for code in extra:
        created = await client.post("/api/v1/units", json={
            "code": code, "name": f"Xã Thử {code}", "level": "commune", "kind": "xa", "parent_code": "084",
            "valid_to": "2025-06-30"})
        assert created.status_code == 201, created.text
    counts = [16] * 9 + [15] * 11  # 144 + 165 = 309
    for code, met in zip(SI_MA_CAI_COMMUNES + extra, counts, strict=True):
        await put_assessment(client, code=code, year=2021, met=met)
    s = await summary(client, "084", 2021)
    assert (s["commune_count"], s["total_criteria_met"]) == (20, 309)
    assert s["average_exact"] == 15.45 and s["average"] == 15.5


async def test_no_assessments_gives_null_figures(client):
    await put_target(client, code="084", year=2021, average_criteria=16.1)
    s = await summary(client, "084", 2021)
    assert s["commune_count"] == 0 and s["average"] is None and s["average_exact"] is None
    assert s["target_average"] == 16.1 and s["target_met"] is False
    assert s["additional_criteria_needed"] is None and s["percent_of_target"] is None
    assert s["missing"] == SI_MA_CAI_COMMUNES


async def test_history_is_never_rewritten_by_the_reform(db, client):
    await load_demo(db)
    assert (await summary(client, "084", 2021))["total_criteria_met"] == 145
    body = await summary(client, "084", 2026, status=422)
    assert "did not exist in 2026" in body["detail"]
    await put_assessment(client, code="02809", year=2026, met=9, count=10)
    await put_assessment(client, code="02824", year=2026, met=7, count=10)
    new = await summary(client, "15", 2026)
    assert new["criteria_set"] == "2026-2030" and new["eligible_count"] == 3
    assert (new["commune_count"], new["total_criteria_met"], new["average"]) == (2, 16, 8.0)
    assert new["missing"] == ["02848"]
    assert new["bands"] == {"10": 0, "8-9": 1, "5-7": 1, "0-4": 0}
    assert [c["number"] for c in new["criteria_coverage"]] == list(range(1, 11))
    assert (await summary(client, "084", 2021))["total_criteria_met"] == 145


async def test_trend_has_one_row_per_year(db, client):
    await load_demo(db)
    body = (await client.get("/api/v1/units/084/trend")).json()
    assert [(r["year"], r["average"], r["target_average"]) for r in body["items"]] == [(2020, 15.4, 15.5), (2021, 16.1, 16.1)]
    assert "children" not in body["items"][0]
    ranged = (await client.get("/api/v1/units/084/trend", params={"from": 2019, "to": 2030})).json()
    assert [r["year"] for r in ranged["items"]] == [2019, 2020, 2021, 2022, 2023, 2024]  # the district ends in 2025
    assert ranged["items"][0]["commune_count"] == 0 and ranged["items"][3]["carried_forward"] == SI_MA_CAI_COMMUNES
    assert_problem(await client.get("/api/v1/units/084/trend", params={"from": 2022, "to": 2020}), 422, field="to")


async def test_flags_filter_and_paging(db, client):
    await load_demo(db)
    at_risk = (await client.get("/api/v1/units/084/flags", params={"year": 2020, "flag": "at_risk"})).json()
    assert [r["commune_code"] for r in at_risk["items"]] == ["02812"] and at_risk["total"] == 1
    page = (await client.get("/api/v1/units/084/flags", params={"year": 2021, "limit": 2, "offset": 2})).json()
    assert [r["commune_code"] for r in page["items"]] == ["02806", "02812"] and page["total"] == 9
    assert_problem(await client.get("/api/v1/units/084/flags", params={"year": 2021, "flag": "late"}), 422, field="flag")


async def test_recognized_commune_below_standard_is_flagged(db, client):
    await load_demo(db)
    await put_assessment(client, code="02812", year=2022, met=18)
    rows = (await client.get("/api/v1/units/084/flags", params={"year": 2022})).json()["items"]
    san_chai = next(r for r in rows if r["commune_code"] == "02812")
    assert "recognized_below_standard" in san_chai["flags"] and san_chai["band"] == "15-18"
    assert "regressed" not in san_chai["flags"]  # re-assessed against the 2021–2025 set: not a regression


# ---- targets --------------------------------------------------------------------------------


async def test_put_and_get_target(client):
    url = "/api/v1/units/084/targets/2021"
    body = {"average_criteria": 16.1, "standard_communes": ["02812"], "min_additional_criteria": 6,
            "commune_targets": {"02812": 19}}
    created = await client.put(url, json=body)
    assert created.status_code == 201, created.text
    t = created.json()
    assert t["average_criteria"] == 16.1 and t["criteria_set"] == "2016-2020" and t["version"] == 1
    assert created.headers["etag"] == '"1"'
    assert (await client.get(url)).json() == t
    replaced = await client.put(url, json={**body, "average_criteria": 16.2})
    assert replaced.status_code == 200 and replaced.json()["version"] == 2


@pytest.mark.parametrize(("body", "field"), [
    ({"average_criteria": -0.1}, "average_criteria"),
    ({"average_criteria": 19.1}, "average_criteria"),
    ({"average_criteria": 16.15}, "average_criteria"),
    ({}, "average_criteria"),
    ({"average_criteria": 16, "standard_communes": ["02848"]}, "standard_communes[0]"),
    ({"average_criteria": 16, "standard_communes": ["02809"]}, "standard_communes[0]"),
    ({"average_criteria": 16, "standard_communes": ["2812"]}, "standard_communes[0]"),  # the pattern names the item
    ({"average_criteria": 16, "commune_targets": {"02812": 20}}, "commune_targets.02812"),
    ({"average_criteria": 16, "commune_targets": {"02848": 10}}, "commune_targets.02848"),
    ({"average_criteria": 16, "min_additional_criteria": -1}, "min_additional_criteria"),
])
async def test_bad_targets_are_refused_and_nothing_written(client, body, field):
    assert_problem(await client.put("/api/v1/units/084/targets/2021", json=body), 422, field=field)
    assert_problem(await client.get("/api/v1/units/084/targets/2021"), 404)


async def test_target_on_a_commune_is_422(client):
    assert_problem(await client.put("/api/v1/units/02812/targets/2021", json={"average_criteria": 16}), 422,
                   field="code")


async def test_summary_of_a_commune_or_unknown_unit(client):
    assert_problem(await client.get("/api/v1/units/02812/summary", params={"year": 2021}), 422, field="code")
    assert_problem(await client.get("/api/v1/units/999/summary", params={"year": 2021}), 404)
    assert_problem(await client.get("/api/v1/units/084/summary"), 422, field="year")
    assert_problem(await client.get("/api/v1/units/084/summary", params={"year": 2015}), 422, field="year")


async def test_demo_load_is_idempotent(db, client):
    await load_demo(db)
    first = await summary(client, "084", 2021)
    await load_demo(db)
    assert await summary(client, "084", 2021) == first
    history = (await client.get("/api/v1/communes/02812/assessments")).json()
    assert [a["version"] for a in history["items"]] == [1, 1]
