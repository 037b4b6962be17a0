"""Assessments through the HTTP API (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.builders import criteria, put_assessment
from tests.helpers import assert_problem

URL = "/api/v1/communes/02812/assessments/2021"


async def test_put_creates_then_replaces_with_version_and_etag(client):
    body = {"criteria": criteria(set(range(1, 20)) - {4, 17})}
    body["criteria"][0]["note"] = "Quy hoạch chung được phê duyệt"
    body["criteria"][9]["indicators"] = {"10.1": 36.5}
    created = await client.put(URL, json=body)
    assert created.status_code == 201, created.text
    a = created.json()
    assert a["commune_code"] == "02812" and a["commune_name"] == "Xã Sán Chải" and a["year"] == 2021
    assert a["criteria_set"] == "2016-2020" and a["criteria_count"] == 19
    assert a["met_count"] == 17 and a["not_met"] == [4, 17] and a["met"] == [n for n in range(1, 20) if n not in (4, 17)]
    assert a["standard_reached"] is False and a["status"] == "draft" and a["version"] == 1
    assert a["criteria"][0]["note"] == "Quy hoạch chung được phê duyệt"
    assert a["criteria"][9]["indicators"] == {"10.1": 36.5}
    assert created.headers["etag"] == '"1"'
    assert a["submitted_by"] is None and a["approved_at"] is None

    replaced = await client.put(URL, json={"criteria": criteria(19)})
    assert replaced.status_code == 200
    r = replaced.json()
    assert r["version"] == 2 and r["met_count"] == 19 and r["standard_reached"] is True and r["not_met"] == []
    assert replaced.headers["etag"] == '"2"'

    fetched = await client.get(URL)
    assert fetched.status_code == 200 and fetched.json() == r and fetched.headers["etag"] == '"2"'


async def test_put_same_content_keeps_version(client):
    await put_assessment(client, code="02812", year=2021, met=15)
    again = await put_assessment(client, code="02812", year=2021, met=15, expect=200)
    assert again["version"] == 1


async def test_criteria_order_does_not_matter_and_is_returned_sorted(client):
    shuffled = list(reversed(criteria(10)))
    response = await client.put(URL, json={"criteria": shuffled})
    assert [c["number"] for c in response.json()["criteria"]] == list(range(1, 20))


async def test_patch_one_criterion_updates_counts_and_version(client):
    await put_assessment(client, code="02812", year=2021, met=17)
    response = await client.patch(f"{URL}/criteria/19", json={"met": True, "note": "Đạt sau kiểm tra"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["met_count"] == 18 and body["version"] == 2 and 19 in body["met"] and body["not_met"] == [18]
    assert body["criteria"][18] == {"number": 19, "met": True, "note": "Đạt sau kiểm tra", "indicators": None,
                                  "evaluation": [], "met_by_indicators": None}
    assert response.headers["etag"] == '"2"'
    unchanged = await client.patch(f"{URL}/criteria/19", json={"met": True})
    assert unchanged.json()["version"] == 2  # note kept when omitted, nothing changed


async def test_history_newest_first(client):
    for year, met in ((2019, 12), (2020, 15), (2021, 17)):
        await put_assessment(client, code="02812", year=year, met=met)
    body = (await client.get("/api/v1/communes/02812/assessments")).json()
    assert [(a["year"], a["met_count"]) for a in body["items"]] == [(2021, 17), (2020, 15), (2019, 12)]
    assert body["total"] == 3
    page = (await client.get("/api/v1/communes/02812/assessments", params={"limit": 1, "offset": 1})).json()
    assert [a["year"] for a in page["items"]] == [2020] and page["total"] == 3


async def test_named_criteria_set_must_be_in_force(client):
    bad = await client.put(URL, json={"criteria_set": "2021-2025", "criteria": criteria(19)})
    body = assert_problem(bad, 422, field="criteria_set")
    assert "2022" in body["detail"]
    assert_problem(await client.put(URL, json={"criteria_set": "nope", "criteria": criteria(19)}), 422,
                   field="criteria_set")
    ok = await client.put(URL, json={"criteria_set": "2016-2020", "criteria": criteria(19)})
    assert ok.status_code == 201


async def test_2026_uses_ten_criteria_set_on_new_commune(client):
    a = await put_assessment(client, code="02809", year=2026, met=8, count=10, expect=201)
    assert a["criteria_set"] == "2026-2030" and a["criteria_count"] == 10 and a["commune_name"] == "Xã Si Ma Cai"
    assert_problem(
        await client.put("/api/v1/communes/02809/assessments/2026", json={"criteria": criteria(19)}),
        422, field="criteria[10].number",
    )


async def test_reused_code_is_the_town_in_2020(client):
    body = assert_problem(
        await client.put("/api/v1/communes/02809/assessments/2020", json={"criteria": criteria(19)}), 422, field="code"
    )
    assert "Thị trấn Si Ma Cai" in body["detail"]


@pytest.mark.parametrize(("code", "year", "status", "needle"), [
    ("02848", 2021, 422, "did not exist in 2021"),   # the new commune did not exist yet
    ("02812", 2026, 422, "did not exist in 2026"),   # Sán Chải was merged in 2025
    ("99999", 2021, 404, "99999"),
])
async def test_commune_not_valid_that_year(client, code, year, status, needle):
    response = await client.put(f"/api/v1/communes/{code}/assessments/{year}", json={"criteria": criteria(19)})
    assert needle in assert_problem(response, status)["detail"]


async def test_district_code_on_commune_path_is_refused(client):
    assert_problem(await client.get("/api/v1/communes/084/assessments/2021"), 422, field="code")


@pytest.mark.parametrize(("payload", "field", "phrase"), [
    (criteria(19) + [{"number": 20, "met": True}], "criteria[19].number", "not in set"),
    (criteria(19)[:-1] + [{"number": 3, "met": True}], "criteria[18].number", "appears twice"),
    (criteria(19)[:-2], "criteria", "18, 19"),
    ([{"number": 0, "met": True}], "criteria[0].number", "greater than or equal to 1"),
    ([{"number": 1, "met": "perhaps"}], "criteria[0].met", "boolean"),
    ([], "criteria", "at least 1"),
])
async def test_put_rejects_bad_criteria_and_writes_nothing(client, payload, field, phrase):
    body = assert_problem(await client.put(URL, json={"criteria": payload}), 422, field=field)
    assert any(phrase in e["message"] for e in body["errors"]), body
    assert_problem(await client.get(URL), 404)


async def test_all_criterion_errors_reported_together(client):
    payload = criteria(19)[:17] + [{"number": 2, "met": True}, {"number": 25, "met": True}]
    body = assert_problem(await client.put(URL, json={"criteria": payload}), 422)
    types = sorted(e["type"] for e in body["errors"])
    assert types == ["criterion_duplicate", "criterion_missing", "criterion_out_of_set"]


async def test_year_without_criteria_set_is_422(client):
    response = await client.put("/api/v1/communes/02812/assessments/2015", json={"criteria": criteria(19)})
    assert "No criteria set is in force in 2015" in assert_problem(response, 422, field="year")["detail"]


async def test_patch_number_outside_set_is_422(client):
    await put_assessment(client, code="02812", year=2021, met=10)
    assert_problem(await client.patch(f"{URL}/criteria/20", json={"met": True}), 422, field="number")
    assert (await client.get(URL)).json()["version"] == 1


async def test_patch_missing_assessment_is_404(client):
    assert_problem(await client.patch(f"{URL}/criteria/2", json={"met": True}), 404)


async def test_get_missing_assessment_is_404(client):
    assert "no assessment for 2021" in assert_problem(await client.get(URL), 404)["detail"]


async def test_history_of_unknown_commune_is_404(client):
    assert_problem(await client.get("/api/v1/communes/99999/assessments"), 404)


async def test_recognition_is_recorded_apart_from_counts(client):
    url = "/api/v1/communes/02812/recognitions/chuan"
    body = {"recognition_year": 2021, "decision_no": "123/QĐ-UBND", "decision_date": "2022-01-05"}
    created = await client.put(url, json=body)
    assert created.status_code == 201, created.text
    assert created.json()["level"] == "chuan" and created.json()["decision_date"] == "2022-01-05"
    updated = await client.put(url, json={**body, "decision_no": "124/QĐ-UBND"})
    assert updated.status_code == 200
    listed = (await client.get("/api/v1/communes/02812/recognitions")).json()
    assert [(r["level"], r["decision_no"]) for r in listed["items"]] == [("chuan", "124/QĐ-UBND")]
    assert_problem(await client.put("/api/v1/communes/02812/recognitions/vang", json=body), 422, field="level")
    assert_problem(await client.put("/api/v1/communes/02809/recognitions/chuan", json=body), 422, field="code")
