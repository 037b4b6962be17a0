"""Criteria sets as managed data: kind, issuer, provincial adaptations, the set that applies
(SQLite and PostgreSQL)."""

from __future__ import annotations

from types import SimpleNamespace

from httpx import ASGITransport, AsyncClient

from app.auth.models import Role
from app.criteria import rules
from tests.builders import criteria as marks
from tests.helpers import assert_problem
from tests.users import bearer, make_user

BANDS = [{"label": "19", "min": 19, "max": 19}, {"label": "15-18", "min": 15, "max": 18},
         {"label": "0-14", "min": 0, "max": 14}]


def new_set(code="LC-2022-2025", *, issuer="10", kind="chuan", first=2022, last=2025, count=19, **extra):
    return {
        "code": code, "name": f"Bộ tiêu chí {code}", "decision": "1234/QĐ-UBND", "kind": kind,
        "applies_to": "commune", "issuer": issuer, "base_set": "2021-2025" if issuer != "national" else None,
        "first_year": first, "last_year": last, "bands": BANDS,
        "criteria": [{"number": n, "code": f"TC{n:02d}", "name": f"Tiêu chí {n}",
                      "indicators": [{"code": f"{n}.1", "name": "Chỉ tiêu", "threshold": "Đạt"}]}
                     for n in range(1, count + 1)],
        **extra,
    }


async def as_user(db, app, username, role, unit=None) -> AsyncClient:
    await make_user(db, username=username, role=role, unit_code=unit)
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://test", headers=bearer(app, username))


def test_the_set_that_applies_prefers_the_province():
    national = SimpleNamespace(kind="chuan", issuer="national", first_year=2022, last_year=2025)
    lao_cai = SimpleNamespace(kind="chuan", issuer="10", first_year=2023, last_year=2025)
    advanced = SimpleNamespace(kind="nang_cao", issuer="national", first_year=2022, last_year=2025)
    sets = [national, lao_cai, advanced]
    assert rules.applies(sets, 2024, kind="chuan", province="10") is lao_cai
    assert rules.applies(sets, 2022, kind="chuan", province="10") is national  # adaptation not yet in force
    assert rules.applies(sets, 2024, kind="chuan", province="11") is national
    assert rules.applies(sets, 2024, kind="chuan", province=None) is national
    assert rules.applies(sets, 2024, kind="nang_cao", province="10") is advanced
    assert rules.applies(sets, 2026, kind="chuan", province="10") is None
    assert rules.may_manage(role="admin", unit_code=None, issuer="national")
    assert rules.may_manage(role="province", unit_code="10", issuer="10")
    assert not rules.may_manage(role="province", unit_code="10", issuer="national")
    assert not rules.may_manage(role="district", unit_code="084", issuer="10")


async def test_builtin_sets_are_national_commune_standards(client):
    items = (await client.get("/api/v1/criteria-sets")).json()["items"]
    assert {(s["kind"], s["applies_to"], s["issuer"], s["base_set"]) for s in items} == {
        ("chuan", "commune", "national", None)}
    one = (await client.get("/api/v1/criteria-sets", params={"year": 2021})).json()
    assert one["total"] == 1 and one["items"][0]["code"] == "2016-2020"


async def test_provincial_adaptation_applies_to_its_communes(client):
    created = await client.post("/api/v1/criteria-sets", json=new_set())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["issuer"] == "10" and body["base_set"] == "2021-2025" and body["criteria_count"] == 19
    assert body["criteria"][0]["indicators"][0]["code"] == "1.1"
    listed = (await client.get("/api/v1/criteria-sets", params={"year": 2022})).json()["items"]
    assert [s["code"] for s in listed] == ["2021-2025", "LC-2022-2025"]
    for unit in ("02812", "084", "10"):
        applies = (await client.get("/api/v1/criteria-sets", params={"year": 2022, "unit": unit})).json()["items"]
        assert [s["code"] for s in applies] == ["LC-2022-2025"], unit
    national = (await client.get("/api/v1/criteria-sets", params={"year": 2022, "unit": "VN"})).json()["items"]
    assert [s["code"] for s in national] == ["2021-2025"]
    after_reform = (await client.get("/api/v1/criteria-sets", params={"year": 2026, "unit": "15"})).json()["items"]
    assert [s["code"] for s in after_reform] == ["2026-2030"]
    assert (await client.get("/api/v1/criteria-sets", params={"year": 2022, "kind": "nang_cao"})).json()["total"] == 0
    # the assessment, the target and the summary use the set that applies
    a = await client.put("/api/v1/communes/02812/assessments/2022", json={"criteria": marks(18)})
    assert a.status_code == 201 and a.json()["criteria_set"] == "LC-2022-2025"
    t = await client.put("/api/v1/units/084/targets/2022", json={"average_criteria": 16})
    assert t.status_code == 201 and t.json()["criteria_set"] == "LC-2022-2025"
    s = (await client.get("/api/v1/units/084/summary", params={"year": 2022})).json()
    assert s["criteria_set"] == "LC-2022-2025" and s["bands"] == {"19": 0, "15-18": 1, "0-14": 0}


async def test_overlap_of_same_kind_and_issuer_is_409(client):
    assert (await client.post("/api/v1/criteria-sets", json=new_set())).status_code == 201
    assert_problem(await client.post("/api/v1/criteria-sets", json=new_set("LC-2", first=2025, last=2027)), 409)
    assert_problem(await client.post("/api/v1/criteria-sets", json=new_set("X", issuer="national", first=2030,
                                                                          last=2031)), 409)  # 2026-2030 national
    assert_problem(await client.post("/api/v1/criteria-sets", json=new_set()), 409)  # code taken
    other_kind = await client.post("/api/v1/criteria-sets", json=new_set("LC-NC", kind="nang_cao"))
    assert other_kind.status_code == 201
    assert (await client.post("/api/v1/criteria-sets", json=new_set("LC-2026", first=2026, last=2030, count=10,
                                                                    bands=[{"label": "10", "min": 10, "max": 10}])
                              )).status_code == 201


async def test_create_refuses_bad_sets(client):
    dup = new_set()
    dup["criteria"][1]["number"] = 1
    assert_problem(await client.post("/api/v1/criteria-sets", json=dup), 422, field="criteria[1].number")
    assert_problem(await client.post("/api/v1/criteria-sets", json=new_set(issuer="99")), 422, field="issuer")
    assert_problem(await client.post("/api/v1/criteria-sets", json=new_set(base_set="nope")), 422, field="base_set")
    assert_problem(await client.post("/api/v1/criteria-sets", json=new_set(first=2025, last=2022)), 422,
                   field="last_year")
    wide = new_set(bands=[{"label": "x", "min": 0, "max": 25}])
    assert_problem(await client.post("/api/v1/criteria-sets", json=wide), 422, field="bands[0]")
    assert_problem(await client.post("/api/v1/criteria-sets", json=new_set(kind="vang")), 422, field="kind")
    assert_problem(await client.post("/api/v1/criteria-sets", json=new_set(issuer="Lào Cai")), 422, field="issuer")
    assert (await client.get("/api/v1/criteria-sets")).json()["total"] == 3  # nothing written


async def test_who_may_manage_sets(db, app, client):
    province = await as_user(db, app, "lao-cai", Role.province, "10")
    district = await as_user(db, app, "si-ma-cai", Role.district, "084")
    async with province, district:
        assert (await province.post("/api/v1/criteria-sets", json=new_set())).status_code == 201
        assert_problem(await province.post("/api/v1/criteria-sets", json=new_set("YB", issuer="15")), 403)
        assert_problem(await province.post("/api/v1/criteria-sets", json=new_set("N", issuer="national",
                                                                                 first=2040, last=2041)), 403)
        assert_problem(await district.post("/api/v1/criteria-sets", json=new_set("D", first=2030, last=2031)), 403)
        assert_problem(await province.patch("/api/v1/criteria-sets/2021-2025", json={"name": "x"}), 403)
        assert (await province.patch("/api/v1/criteria-sets/LC-2022-2025", json={"name": "Lào Cai"})).status_code == 200
        assert_problem(await province.patch("/api/v1/criteria-sets/LC-2022-2025", json={"issuer": "15"}), 403)
        assert_problem(await district.patch("/api/v1/criteria-sets/LC-2022-2025", json={"name": "y"}), 403)
    assert_problem(await client.patch("/api/v1/criteria-sets/none", json={"name": "y"}), 404)


async def test_patch_before_and_after_use(client):
    assert (await client.post("/api/v1/criteria-sets", json=new_set())).status_code == 201
    url = "/api/v1/criteria-sets/LC-2022-2025"
    # unused: anything may change, criteria included
    fewer = new_set(count=18)["criteria"]
    changed = await client.patch(url, json={"criteria": fewer, "first_year": 2023,
                                            "bands": [{"label": "18", "min": 18, "max": 18}]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["criteria_count"] == 18 and changed.json()["first_year"] == 2023
    assert (await client.put("/api/v1/communes/02812/assessments/2023",
                             json={"criteria": marks(18, count=18)})).json()["criteria_set"] == "LC-2022-2025"
    # used: only name, decision, last_year and bands
    for body in ({"kind": "nang_cao"}, {"first_year": 2022}, {"criteria": fewer[:17]}, {"issuer": "national"}):
        assert_problem(await client.patch(url, json=body), 409)
    ok = await client.patch(url, json={"name": "Lào Cai 2023–2026", "decision": "99/QĐ-UBND", "last_year": 2024,
                                       "bands": [{"label": "18", "min": 18, "max": 18}, {"label": "0-17", "min": 0, "max": 17}]})
    assert ok.status_code == 200, ok.text
    assert ok.json()["last_year"] == 2024 and ok.json()["decision"] == "99/QĐ-UBND"
    assert_problem(await client.patch(url, json={"last_year": 2022}), 409)  # the 2023 assessment uses it
    records = (await client.get("/api/v1/audit", params={"entity": "criteria_set"})).json()["items"]
    assert records[0]["action"] == "update" and records[0]["before"]["last_year"] == 2025
    assert records[0]["after"]["last_year"] == 2024


async def test_another_provinces_set_is_refused(client):
    other = {"code": "17", "name": "Tỉnh Bên", "level": "province", "kind": "tinh", "parent_code": "VN"}
    assert (await client.post("/api/v1/units", json=other)).status_code == 201
    assert (await client.post("/api/v1/criteria-sets", json=new_set("BEN", issuer="17"))).status_code == 201
    body = {"criteria_set": "BEN", "criteria": marks(18)}
    assert_problem(await client.put("/api/v1/communes/02812/assessments/2022", json=body), 422, field="criteria_set")
    national = await client.put("/api/v1/communes/02812/assessments/2022",
                                json={**body, "criteria_set": "2021-2025"})
    assert national.status_code == 201 and national.json()["criteria_set"] == "2021-2025"


async def test_years_are_read_as_json_schema_reads_integers(client):
    """`2026.0` is an integer to JSON Schema (`type: integer`) and is accepted; `"2026"` is not
    (found by schemathesis: PATCH refused `last_year: 1996.0`)."""
    assert (await client.post("/api/v1/criteria-sets", json=new_set())).status_code == 201
    url = "/api/v1/criteria-sets/LC-2022-2025"
    changed = await client.patch(url, json={"last_year": 2025.0})
    assert changed.status_code == 200, changed.text
    assert changed.json()["last_year"] == 2025
    body = assert_problem(await client.patch(url, json={"last_year": "2025"}), 422, field="last_year")
    assert body["type"] == "/problems/validation-error"


async def test_a_managed_set_carries_judged_indicators(client):
    """Contract v1.2: a POSTed set's indicators take `op`, `unit` and `thresholds`; they judge the
    assessments against it; thresholds that cannot be judged are refused naming the place."""
    body = new_set("LC-TN", first=2022, last=2025)
    body["criteria"][9]["indicators"] = [{
        "code": "10.1", "name": "Thu nhập bình quân đầu người", "unit": "triệu đồng/người/năm", "op": ">=",
        "thresholds": [{"value": 46, "first_year": 2022, "last_year": 2023},
                       {"value": 50, "first_year": 2024, "source": "1234/QĐ-UBND"},
                       {"value": 41, "commune_group": 3}]}]
    created = await client.post("/api/v1/criteria-sets", json=body)
    assert created.status_code == 201, created.text
    indicator = created.json()["criteria"][9]["indicators"][0]
    assert indicator["op"] == ">=" and [t["value"] for t in indicator["thresholds"]] == [46, 50, 41]
    c = marks(15)
    c[9] = {"number": 10, "indicators": {"10.1": 47.5}}
    judged = await client.put("/api/v1/communes/02812/assessments/2023", json={"criteria": c})
    assert judged.status_code == 201, judged.text
    assert judged.json()["criteria"][9]["met"] is True
    assert judged.json()["criteria"][9]["evaluation"] == [
        {"code": "10.1", "value": 47.5, "op": ">=", "threshold": 46, "met": True}]
    c[9] = {"number": 10, "indicators": {"10.1": 47.5}}
    later = await client.put("/api/v1/communes/02812/assessments/2024", json={"criteria": c})
    assert later.json()["criteria"][9]["met"] is False  # 50 from 2024
    bad = new_set("LC-BAD", first=2030, last=2031)
    bad["criteria"][0]["indicators"] = [
        {"code": "1.1", "name": "x", "op": "bool", "thresholds": [{"value": 5}]},
        {"code": "1.2", "name": "y", "thresholds": [{"value": 5}]},
        {"code": "1.3", "name": "z", "op": "<=", "thresholds": [{"value": 2}, {"value": 3}]},
    ]
    refused = assert_problem(await client.post("/api/v1/criteria-sets", json=bad), 422)
    assert {e["field"] for e in refused["errors"]} == {
        "criteria[0].indicators[0].thresholds[0]", "criteria[0].indicators[1].op",
        "criteria[0].indicators[2].thresholds[1]"}
    assert (await client.get("/api/v1/criteria-sets/LC-BAD")).status_code == 404


async def test_an_indicator_region_is_a_known_region(client):
    body = new_set("LC-REG", first=2030, last=2031)
    body["criteria"][0]["indicators"] = [{"code": "1.1", "name": "x", "region": "mien_trang"}]
    assert_problem(await client.post("/api/v1/criteria-sets", json=body), 422,
                   field="criteria[0].indicators[0].region")


async def test_an_assessment_waits_for_a_change_of_its_sets_criteria(db, client, backend):
    """PostgreSQL: a PATCH of an unused set's criteria locks the set's row for update; a PUT judged
    by that set holds the row (shared lock) and so waits, then is judged by the criteria as they
    end up — never by ones being replaced."""
    import asyncio

    from sqlalchemy import text

    if backend != "postgresql":
        return  # SQLite writers queue one at a time: no interleaving to test
    body = new_set("LC-RACE", first=2022, last=2025)
    body["criteria"][9]["indicators"] = [{"code": "10.1", "name": "Thu nhập", "op": ">=", "thresholds": [{"value": 50}]}]
    assert (await client.post("/api/v1/criteria-sets", json=body)).status_code == 201
    c = marks(12)
    c[9] = {"number": 10, "indicators": {"10.1": 40}}  # met decided by the threshold
    async with db.transaction() as patcher:
        await patcher.execute(text("SELECT code FROM criteria_set WHERE code = 'LC-RACE' FOR UPDATE"))
        put = asyncio.create_task(client.put("/api/v1/communes/02812/assessments/2022", json={"criteria": c}))
        await asyncio.sleep(0.3)
        assert not put.done()  # held back by the lock (it cannot finish before the patcher commits)
        await patcher.execute(text(
            "UPDATE indicator SET thresholds = '[{\"value\": 30}]' WHERE code = '10.1' AND criterion_id IN "
            "(SELECT id FROM criterion WHERE set_code = 'LC-RACE')"))
    written = await put
    assert written.status_code == 201, written.text
    assert written.json()["criteria"][9]["met"] is True  # judged by 30, as the set now stands, not by 50
