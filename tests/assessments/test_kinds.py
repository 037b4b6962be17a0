"""Contract v1.1 "Assessments by kind": every assessment path and every report takes `?kind=`
(default `chuan`); a commune has at most one assessment per year and kind, judged against the set
of that kind that applies (SQLite and PostgreSQL)."""

from __future__ import annotations

from httpx import ASGITransport, AsyncClient

from app.auth.models import Role
from tests.builders import criteria, put_assessment, put_target
from tests.helpers import assert_problem
from tests.users import bearer, make_user

A = "/api/v1/communes/{code}/assessments"
BANDS = [{"label": "10", "min": 10, "max": 10}, {"label": "0-9", "min": 0, "max": 9}]


def advanced_set(code="NC-2021-2025", *, kind="nang_cao", first=2021, last=2025, count=10, issuer="national"):
    """A national set of another kind (none is built in): ten criteria, one indicator on the first."""
    return {
        "code": code, "name": f"Bộ tiêu chí xã NTM nâng cao {code}", "decision": "318/QĐ-TTg", "kind": kind,
        "applies_to": "commune", "issuer": issuer, "base_set": None, "first_year": first, "last_year": last,
        "bands": BANDS,
        "criteria": [{"number": n, "code": f"NC{n:02d}", "name": f"Tiêu chí nâng cao {n}",
                      "indicators": ([{"code": "1.1", "name": "Thu nhập bình quân", "threshold": "≥ 50",
                                       "op": ">=", "unit": "triệu đồng/người/năm",
                                       "thresholds": [{"value": 50}]}] if n == 1 else [])}
                     for n in range(1, count + 1)],
    }


async def _with_advanced_set(client: AsyncClient) -> None:
    created = await client.post("/api/v1/criteria-sets", json=advanced_set())
    assert created.status_code == 201, created.text


async def test_two_kinds_of_one_year_are_two_assessments(client):
    await _with_advanced_set(client)
    standard = await put_assessment(client, code="02812", year=2022, met=15, expect=201)
    assert standard["kind"] == "chuan" and standard["criteria_set"] == "2021-2025"
    advanced = await client.put(A.format(code="02812") + "/2022", params={"kind": "nang_cao"},
                                json={"criteria": criteria(7, count=10)})
    assert advanced.status_code == 201, advanced.text
    body = advanced.json()
    assert (body["kind"], body["criteria_set"], body["criteria_count"], body["met_count"]) == (
        "nang_cao", "NC-2021-2025", 10, 7)
    assert body["standard_reached"] is False and body["version"] == 1
    # each read names its own; the default stays the standard
    default = (await client.get(A.format(code="02812") + "/2022")).json()
    assert (default["kind"], default["met_count"], default["criteria_count"]) == ("chuan", 15, 19)
    explicit = (await client.get(A.format(code="02812") + "/2022", params={"kind": "nang_cao"})).json()
    assert (explicit["kind"], explicit["met_count"]) == ("nang_cao", 7)
    # a replace of one kind leaves the other alone
    again = await client.put(A.format(code="02812") + "/2022", params={"kind": "nang_cao"},
                             json={"criteria": criteria(10, count=10)})
    assert again.status_code == 200 and again.json()["version"] == 2 and again.json()["standard_reached"] is True
    assert (await client.get(A.format(code="02812") + "/2022")).json()["version"] == 1
    # history by kind
    history = (await client.get(A.format(code="02812"), params={"kind": "nang_cao"})).json()
    assert history["total"] == 1 and history["items"][0]["kind"] == "nang_cao"
    assert (await client.get(A.format(code="02812"))).json()["items"][0]["kind"] == "chuan"
    assert (await client.get(A.format(code="02812"), params={"kind": "kieu_mau"})).json()["total"] == 0
    # a kind with no assessment: 404 naming the kind
    missing = assert_problem(await client.get(A.format(code="02812") + "/2022", params={"kind": "kieu_mau"}), 404)
    assert "kieu_mau" in missing["detail"]


async def test_a_kind_without_a_set_that_applies_is_a_rule_violation(client):
    refused = await client.put(A.format(code="02812") + "/2022", params={"kind": "kieu_mau"},
                               json={"criteria": criteria(7, count=10)})
    body = assert_problem(refused, 422)
    assert body["type"].endswith("/problems/rule-violation") and "kieu_mau" in body["detail"]
    # a kind outside the enum does not match the schema
    wrong = assert_problem(await client.get(A.format(code="02812") + "/2022", params={"kind": "huyen"}), 422)
    assert wrong["type"].endswith("/problems/validation-error")
    # a named set of another kind than the assessment's
    await _with_advanced_set(client)
    mixed = await client.put(A.format(code="02812") + "/2022", params={"kind": "nang_cao"},
                             json={"criteria_set": "2021-2025", "criteria": criteria(7)})
    assert assert_problem(mixed, 422, field="criteria_set")["type"].endswith("/problems/rule-violation")
    assert (await client.get(A.format(code="02812"), params={"kind": "nang_cao"})).json()["total"] == 0


async def test_workflow_steps_act_on_their_kind_only(db, app, client):
    await _with_advanced_set(client)
    await put_assessment(client, code="02812", year=2022, met=15)
    await client.put(A.format(code="02812") + "/2022", params={"kind": "nang_cao"},
                     json={"criteria": criteria(7, count=10)})
    submitted = await client.post(A.format(code="02812") + "/2022/submit", params={"kind": "nang_cao"})
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    assert (await client.get(A.format(code="02812") + "/2022")).json()["status"] == "draft"
    # frozen: the advanced one refuses a change, the standard one still takes it
    frozen = await client.patch(A.format(code="02812") + "/2022/criteria/9", params={"kind": "nang_cao"},
                                json={"met": True})
    assert_problem(frozen, 409)
    changed = await client.patch(A.format(code="02812") + "/2022/criteria/19", json={"met": True})
    assert changed.status_code == 200 and changed.json()["met_count"] == 16
    # four eyes per kind: the submitter (admin) may not approve; another person of the district may
    assert_problem(await client.post(A.format(code="02812") + "/2022/approve", params={"kind": "nang_cao"}), 403)
    await make_user(db, username="huyen084", role=Role.district, unit_code="084")
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test",
                           headers=bearer(app, "huyen084")) as district:
        approved = await district.post(A.format(code="02812") + "/2022/approve", params={"kind": "nang_cao"})
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        reopened = await district.post(A.format(code="02812") + "/2022/reopen", params={"kind": "nang_cao"})
        assert reopened.status_code == 200 and reopened.json()["status"] == "draft"
    # the audit trail keys the advanced assessment apart from the standard one
    keys = [r["key"] for r in (await client.get("/api/v1/audit", params={"entity": "assessment"})).json()["items"]]
    assert "02812/2022/nang_cao" in keys and "02812/2022" in keys and "02812/2022#19" in keys
    assert "02812/2022/nang_cao#9" not in keys  # the refused patch wrote nothing


async def test_reports_by_kind_count_only_that_kind(client):
    await _with_advanced_set(client)
    await put_target(client, code="084", year=2022, average_criteria=16.1, min_additional_criteria=6)
    for code, standard, advanced in (("02812", 19, 10), ("02818", 15, 6), ("02800", 12, None)):
        await put_assessment(client, code=code, year=2022, met=standard)
        if advanced is not None:
            r = await client.put(A.format(code=code) + "/2022", params={"kind": "nang_cao"},
                                 json={"criteria": criteria(advanced, count=10)})
            assert r.status_code == 201, r.text
    standard = (await client.get("/api/v1/units/084/summary", params={"year": 2022})).json()
    assert standard["criteria_set"] == "2021-2025" and standard["commune_count"] == 3
    assert standard["target_average"] == 16.1
    advanced = (await client.get("/api/v1/units/084/summary", params={"year": 2022, "kind": "nang_cao"})).json()
    assert advanced["criteria_set"] == "NC-2021-2025"
    assert advanced["commune_count"] == 2 and advanced["total_criteria_met"] == 16 and advanced["average"] == 8.0
    assert advanced["standard_communes_count"] == 1  # 10/10
    assert advanced["target_average"] is None  # targets are set for the commune standard
    assert "02800" in advanced["missing"] and "02800" not in standard["missing"]
    assert len(advanced["criteria_coverage"]) == 10 and advanced["criteria_coverage"][0]["communes_met"] == 2
    # the province sums the same way through its child rows
    province = (await client.get("/api/v1/units/10/summary", params={"year": 2022, "kind": "nang_cao"})).json()
    assert province["total_criteria_met"] == 16 and [c["total_criteria_met"] for c in province["children"]] == [16]
    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2022, "kind": "nang_cao"})).json()
    by_code = {f["commune_code"]: f for f in flags["items"]}
    assert by_code["02812"]["met_count"] == 10 and by_code["02818"]["met_count"] == 6
    assert by_code["02800"]["met_count"] is None and "missing" in by_code["02800"]["flags"]
    trend = (await client.get("/api/v1/units/084/trend", params={"kind": "nang_cao"})).json()
    assert [(r["year"], r["total_criteria_met"], r["criteria_set"]) for r in trend["items"]] == [(2022, 16, "NC-2021-2025")]
    assert [r["year"] for r in (await client.get("/api/v1/units/084/trend")).json()["items"]] == [2022]
    # a kind with no set that year
    assert_problem(await client.get("/api/v1/units/084/summary", params={"year": 2022, "kind": "hien_dai"}), 422)


async def test_indicator_aggregate_by_kind(client):
    await _with_advanced_set(client)
    for code, income in (("02812", 62.5), ("02818", 41)):
        c = criteria(3, count=10)
        c[0] = {"number": 1, "indicators": {"1.1": income}}  # met derived from the indicator
        r = await client.put(A.format(code=code) + "/2022", params={"kind": "nang_cao"}, json={"criteria": c})
        assert r.status_code == 201, r.text
        assert r.json()["criteria"][0]["met"] is (income >= 50)
    found = await client.get("/api/v1/units/084/indicators", params={"year": 2022, "code": "1.1", "kind": "nang_cao"})
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["communes_with_value"], body["communes_meeting"], body["min"], body["max"], body["mean"]) == (
        2, 1, 41, 62.5, 51.75)
    # the standard set that applies has no indicator 1.1: a rule violation naming the code
    standard = await client.get("/api/v1/units/084/indicators", params={"year": 2022, "code": "1.1"})
    assert assert_problem(standard, 422, field="code")["type"].endswith("/problems/rule-violation")


async def test_a_recognition_attests_only_the_standard_of_its_level(client):
    """`recognized_below_standard` under a kind compares the commune's status of that kind with the
    recognitions that attest it: a plain `chuan` recognition says nothing of nâng cao."""
    await _with_advanced_set(client)
    rec = await client.put("/api/v1/communes/02812/recognitions/chuan",
                           json={"recognition_year": 2021, "decision_no": "1/QĐ-UBND", "decision_date": "2021-12-01"})
    assert rec.status_code in (200, 201), rec.text
    await put_assessment(client, code="02812", year=2022, met=19)
    await client.put(A.format(code="02812") + "/2022", params={"kind": "nang_cao"}, json={"criteria": criteria(7, count=10)})
    advanced = (await client.get("/api/v1/units/084/summary", params={"year": 2022, "kind": "nang_cao"})).json()
    assert advanced["recognized_below_standard_count"] == 0
    assert advanced["recognized_communes"]["chuan"] == 1  # the recognitions themselves are the same figures
    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2022, "kind": "nang_cao"})).json()
    assert "recognized_below_standard" not in {f for row in flags["items"] for f in row["flags"]}
    rec = await client.put("/api/v1/communes/02812/recognitions/nang_cao",
                           json={"recognition_year": 2022, "decision_no": "2/QĐ-UBND", "decision_date": "2022-06-01"})
    assert rec.status_code in (200, 201), rec.text
    advanced = (await client.get("/api/v1/units/084/summary", params={"year": 2022, "kind": "nang_cao"})).json()
    assert advanced["recognized_below_standard_count"] == 1  # nâng cao recognised, 7/10 of its criteria
    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2022, "kind": "nang_cao"})).json()
    assert "recognized_below_standard" in {f for row in flags["items"] for f in row["flags"]}
    standard = (await client.get("/api/v1/units/084/summary", params={"year": 2022})).json()
    assert standard["recognized_below_standard_count"] == 0  # 19/19


async def test_a_repeated_kind_is_two_cache_entries(client):
    """The last value of a repeated parameter decides the answer: `kind=chuan&kind=nang_cao` and the
    reverse are two reports, never one cache entry."""
    await _with_advanced_set(client)
    await put_assessment(client, code="02812", year=2022, met=15)
    s = "/api/v1/units/084/summary?year=2022"
    first = await client.get(s + "&kind=chuan&kind=nang_cao")
    second = await client.get(s + "&kind=nang_cao&kind=chuan")
    assert first.json()["criteria_set"] == "NC-2021-2025" and second.json()["criteria_set"] == "2021-2025"
    assert second.headers["x-cache"] == "miss"


async def test_a_frozen_assessment_of_a_kind_says_its_kind(client):
    await _with_advanced_set(client)
    await client.put(A.format(code="02812") + "/2022", params={"kind": "nang_cao"}, json={"criteria": criteria(7, count=10)})
    await client.post(A.format(code="02812") + "/2022/submit", params={"kind": "nang_cao"})
    refused = assert_problem(await client.put(A.format(code="02812") + "/2022", params={"kind": "nang_cao"},
                                              json={"criteria": criteria(8, count=10)}), 409)
    assert "of kind nang_cao" in refused["detail"] and "?kind=nang_cao" in refused["detail"]


async def test_a_district_set_of_a_kind_never_judges_a_commune(client):
    body = advanced_set("NC-HUYEN")
    body["applies_to"] = "district"
    assert (await client.post("/api/v1/criteria-sets", json=body)).status_code == 201
    refused = await client.put(A.format(code="02812") + "/2022", params={"kind": "nang_cao"},
                               json={"criteria": criteria(7, count=10)})
    assert assert_problem(refused, 422)["type"].endswith("/problems/rule-violation")
    listed = (await client.get("/api/v1/criteria-sets", params={"year": 2022, "kind": "nang_cao", "unit": "084"})).json()
    assert [s["code"] for s in listed["items"]] == ["NC-HUYEN"]  # what applies to the district itself


async def test_the_aggregate_judges_an_indicator_split_over_rows_as_the_assessment_does(client):
    body = advanced_set()
    body["criteria"][0]["indicators"] = [
        {"code": "1.1", "name": "Thu nhập", "op": ">=", "thresholds": []},
        {"code": "1.1", "name": "Thu nhập", "region": "trung_du_mien_nui_phia_bac", "op": ">=",
         "thresholds": [{"value": 50}]},
    ]
    assert (await client.post("/api/v1/criteria-sets", json=body)).status_code == 201
    c = criteria(3, count=10)
    c[0] = {"number": 1, "indicators": {"1.1": 60}}
    written = await client.put(A.format(code="02812") + "/2022", params={"kind": "nang_cao"}, json={"criteria": c})
    assert written.json()["criteria"][0]["evaluation"][0]["threshold"] == 50
    found = (await client.get("/api/v1/units/084/indicators",
                              params={"year": 2022, "code": "1.1", "kind": "nang_cao"})).json()
    assert (found["communes_judged"], found["communes_meeting"]) == (1, 1)


async def test_indicator_rules_are_checked_across_rows_and_criteria(client):
    def with_indicators(code, first, *by_criterion):
        body = advanced_set(code, first=first, last=first)
        for number, indicators in by_criterion:
            body["criteria"][number - 1]["indicators"] = indicators
        return body

    cases = {
        "op": with_indicators("X1", 2030, (2, [{"code": "2.1", "name": "a", "op": ">=", "thresholds": [{"value": 1}]},
                                               {"code": "2.1", "name": "a", "region": "tay_nguyen", "op": "bool",
                                                "thresholds": [{"value": True}]}])),
        "tie": with_indicators("X2", 2031, (2, [{"code": "2.1", "name": "a", "op": ">=", "thresholds": [{"value": 50}]},
                                                {"code": "2.1", "name": "a", "region": "tay_nguyen",
                                                 "thresholds": [{"value": 70}]}])),
        "two criteria": with_indicators("X3", 2032, (2, [{"code": "9.9", "name": "a"}]),
                                        (3, [{"code": "9.9", "name": "b"}])),
        "misspelt key": with_indicators("X4", 2033, (2, [{"code": "2.1", "name": "a", "op": ">=",
                                                         "thresholds": [{"value": 5, "comune_group": 3}]}])),
        "text value": with_indicators("X5", 2034, (2, [{"code": "2.1", "name": "a", "op": ">=",
                                                       "thresholds": [{"value": "50"}]}])),
        "group as text": with_indicators("X6", 2035, (2, [{"code": "2.1", "name": "a", "op": ">=",
                                                          "thresholds": [{"value": 5, "commune_group": "3"}]}])),
    }
    for case, body in cases.items():
        refused = await client.post("/api/v1/criteria-sets", json=body)
        assert refused.status_code == 422, (case, refused.text)
    sixty_four = advanced_set("X7", count=63, first=2036, last=2036)
    sixty_four["criteria"].append({**sixty_four["criteria"][0], "number": 64, "code": "NC64", "indicators": []})
    assert_problem(await client.post("/api/v1/criteria-sets", json=sixty_four), 422)
    assert (await client.post("/api/v1/criteria-sets", json=advanced_set("X8", count=63, first=2037,
                                                                          last=2037))).status_code == 201
    assert (await client.get("/api/v1/criteria-sets", params={"year": 2030, "kind": "nang_cao"})).json()["total"] == 0
    full = await client.put(A.format(code="02848") + "/2037", params={"kind": "nang_cao"},
                            json={"criteria": criteria(63, count=63)})
    assert full.status_code == 201, full.text
    assert full.json()["met_count"] == 63 and full.json()["standard_reached"] is True


async def test_an_api_key_may_submit_another_kind_but_never_approve_it(client, app):
    """Four eyes per kind holds for every credential: a district key submits the nâng cao assessment,
    and neither approves nor reopens it (403); a district person then approves it."""
    from tests.assessments.test_integrity import as_key

    await _with_advanced_set(client)
    await client.put(A.format(code="02812") + "/2022", params={"kind": "nang_cao"},
                     json={"criteria": criteria(7, count=10)})
    async with await as_key(client, app, "huyen-sync", "district", "084") as key:
        submitted = await key.post(A.format(code="02812") + "/2022/submit", params={"kind": "nang_cao"})
        assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
        assert_problem(await key.post(A.format(code="02812") + "/2022/approve", params={"kind": "nang_cao"}), 403)
        assert_problem(await key.post(A.format(code="02812") + "/2022/reopen", params={"kind": "nang_cao"}), 403)
    approved = await client.post(A.format(code="02812") + "/2022/approve", params={"kind": "nang_cao"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
