"""Plan indicators through the HTTP API (contract v1.2, "Plan indicators"), on both databases."""

from __future__ import annotations

import pytest

from app.auth.models import Role
from tests.builders import put_assessment, put_target
from tests.helpers import assert_problem
from tests.plan_indicators.helpers import load_demo_figures as load_demo
from tests.users import bearer, make_user

URL = "/api/v1/units/084/plan-indicators/2020"


def item(code: str, **fields) -> dict:
    return {"code": code, "name": f"Chỉ tiêu {code}", "unit": "%", "source": "hdnd", "direction": "higher",
            "plan": 10, **fields}


async def test_put_creates_then_replaces_with_etag_and_get(client):
    body = {"indicators": [item("A", actual=12), item("B", direction="lower", plan=3.5, actual=3.6, source="tinh")]}
    r = await client.put(URL, json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert r.headers["etag"] == '"1"' and out["version"] == 1
    assert out["unit_code"] == "084" and out["year"] == 2020
    assert [(i["code"], i["plan"], i["actual"], i["achieved"]) for i in out["indicators"]] == [
        ("A", 10, 12, True), ("B", 3.5, 3.6, False)]
    got = await client.get(URL)
    assert got.status_code == 200 and got.headers["etag"] == '"1"'
    assert {k: got.json()[k] for k in ("unit_code", "year", "version")} == {"unit_code": "084", "year": 2020, "version": 1}
    assert got.json()["indicators"] == out["indicators"]
    assert (await client.get(URL, headers={"If-None-Match": '"1"'})).status_code == 304

    same = await client.put(URL, json=body)
    assert same.status_code == 200 and same.json()["version"] == 1  # nothing changed
    replaced = await client.put(URL, json={"indicators": [item("C", plan=0, actual=5)]}, headers={"If-Match": '"1"'})
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    assert [i["code"] for i in replaced.json()["indicators"]] == ["C"]
    assert replaced.json()["indicators"][0]["percent_of_plan"] is None  # plan 0
    stale = await client.put(URL, json=body, headers={"If-Match": '"1"'})
    assert_problem(stale, 412)
    assert (await client.get(URL)).json()["version"] == 2


async def test_patch_actual_and_note(client):
    await client.put(URL, json={"indicators": [item("A"), item("B")]})
    r = await client.patch(f"{URL}/B", json={"actual": 9.95, "note": "ước thực hiện"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"2"'
    b = next(i for i in r.json()["indicators"] if i["code"] == "B")
    assert b["actual"] == 9.95 and b["note"] == "ước thực hiện" and b["achieved"] is False
    assert b["percent_of_plan"] == 99.5  # 99.5 exactly, half up
    r = await client.patch(f"{URL}/B", json={"note": None})
    b = next(i for i in r.json()["indicators"] if i["code"] == "B")
    assert b["actual"] == 9.95 and b["note"] is None and r.json()["version"] == 3
    assert (await client.patch(f"{URL}/B", json={})).json()["version"] == 3  # nothing sent, nothing changed
    assert_problem(await client.patch(f"{URL}/Z", json={"actual": 1}), 404)
    assert_problem(await client.patch(f"{URL}/B", json={"actual": 1}, headers={"If-Match": '"1"'}), 412)
    assert_problem(await client.patch("/api/v1/units/084/plan-indicators/2019/B", json={"actual": 1}), 404)


async def test_summary_counts_by_source_and_misses(client):
    await client.put(URL, json={"indicators": [
        item("H1", actual=10), item("H2", actual=9), item("H3"),
        item("T1", source="tinh", direction="lower", plan=5, actual=4),
        item("T2", source="tinh", direction="equal", plan=2, actual=1),
    ]})
    r = await client.get(f"{URL}/summary")
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["total"], s["achieved"], s["not_achieved"], s["pending"]) == (5, 2, 2, 1)
    assert s["by_source"] == {"hdnd": {"total": 3, "achieved": 1}, "tinh": {"total": 2, "achieved": 1}}
    assert [(m["code"], m["name"], m["plan"], m["actual"], m["percent_of_plan"]) for m in s["not_achieved_items"]] == [
        ("H2", "Chỉ tiêu H2", 10, 9, 90.0), ("T2", "Chỉ tiêu T2", 2, 1, 50.0)]
    assert_problem(await client.get("/api/v1/units/084/plan-indicators/2019/summary"), 404)


async def test_ntm_links_take_the_live_figures(client, db):
    await load_demo(db)  # 2020: 139/9 = 15.4 against 15.5, Sán Chải named and not reached; recognised in 2021
    links = [item("N1", ntm="average", plan=15.5), item("N2", ntm="standard_communes", plan=1),
             item("N3", ntm="recognized_communes", plan=1)]
    r = await client.put(URL, json={"indicators": links})
    assert r.status_code == 201, r.text
    got = {i["code"]: i for i in r.json()["indicators"]}
    assert (got["N1"]["actual"], got["N1"]["achieved"], got["N1"]["percent_of_plan"]) == (15.4, False, 99.6)
    assert (got["N2"]["actual"], got["N2"]["achieved"]) == (0, False)
    # the demo's recognitions valid in 2020: Nàn Sán (2019, revoked 2021) and Sín Chéng (2020)
    assert (got["N3"]["actual"], got["N3"]["achieved"]) == (2, True)
    r21 = await client.put("/api/v1/units/084/plan-indicators/2021", json={"indicators": links})
    got = {i["code"]: i for i in r21.json()["indicators"]}
    assert (got["N1"]["actual"], got["N1"]["achieved"], got["N1"]["percent_of_plan"]) == (16.1, True, 103.9)  # 145/9 against 15.5
    assert (got["N2"]["actual"], got["N2"]["achieved"]) == (1, True)
    assert (got["N3"]["actual"], got["N3"]["achieved"]) == (2, True)  # Sín Chéng and Sán Chải (2021); Nàn Sán revoked
    # live: a later assessment moves the figure without touching the list
    await put_assessment(client, code="02812", year=2020, met=19)
    got = {i["code"]: i for i in (await client.get(URL)).json()["indicators"]}
    assert got["N2"]["actual"] == 1 and got["N1"]["actual"] == 15.7 and got["N1"]["achieved"] is True
    assert (await client.get(URL)).json()["version"] == 1


async def test_ntm_item_refuses_an_actual(client):
    await put_target(client, code="084", year=2020, average_criteria=15.5)
    r = await client.put(URL, json={"indicators": [item("N1", ntm="average", plan=15.5, actual=15.4)]})
    assert_problem(r, 422, field="indicators[0].actual")
    assert_problem(await client.get(URL), 404)
    await client.put(URL, json={"indicators": [item("N1", ntm="average", plan=15.5)]})
    assert_problem(await client.patch(f"{URL}/N1", json={"actual": 15.4}), 422, field="actual")
    assert (await client.patch(f"{URL}/N1", json={"note": "tự tính"})).status_code == 200


async def test_ntm_item_without_figures_is_pending(client):
    r = await client.put(URL, json={"indicators": [item("N1", ntm="average", plan=15.5),
                                                   item("N2", ntm="standard_communes", plan=1)]})
    assert [(i["actual"], i["achieved"]) for i in r.json()["indicators"]] == [(None, None), (None, None)]
    s = (await client.get(f"{URL}/summary")).json()
    assert (s["total"], s["pending"]) == (2, 2)


@pytest.mark.parametrize(("body", "field"), [
    ({"indicators": [item("A"), item("A")]}, "indicators[1].code"),
    ({"indicators": [item("A"), item("a")]}, "indicators[1].code"),
    ({"indicators": [item("A", plan="10")]}, "indicators[0].plan"),
    ({"indicators": [item("A", plan=True)]}, "indicators[0].plan"),
    ({"indicators": [item("A", plan=1e16)]}, "indicators[0].plan"),
    ({"indicators": [item("A", direction="up")]}, "indicators[0].direction"),
    ({"indicators": [item("A", ntm="income")]}, "indicators[0].ntm"),
    ({"indicators": [item("A", name="x" * 301)]}, "indicators[0].name"),
    ({"indicators": [item("A", source="")]}, "indicators[0].source"),
    ({"indicators": [item("A", name="tab\there")]}, "indicators[0].name"),
    ({"indicators": [item("A/B")]}, "indicators[0].code"),
    ({"indicators": [item("summary")]}, "indicators[0].code"),
    ({"indicators": [item(f"C{i}") for i in range(501)]}, "indicators"),
    ({"indicators": [{"code": "A", "name": "n", "source": "hdnd", "direction": "higher"}]}, "indicators[0].plan"),
])
async def test_bad_lists_are_refused_and_nothing_written(client, body, field):
    assert_problem(await client.put(URL, json=body), 422, field=field)
    assert_problem(await client.get(URL), 404)


ITEM = '"code": "A", "name": "n", "source": "s", "direction": "higher"'


@pytest.mark.parametrize("raw", ['{"indicators": [{' + ITEM + ', "plan": NaN}]}',
                                 '{"indicators": [{' + ITEM + ', "plan": 1, "actual": Infinity}]}'])
async def test_non_finite_numbers_are_422(client, raw):
    r = await client.put(URL, content=raw, headers={"Content-Type": "application/json"})
    assert_problem(r, 422)
    assert_problem(await client.get(URL), 404)


async def test_decimals_are_kept_exactly(client):
    r = await client.put(URL, json={"indicators": [item("A", plan=0.1, actual=0.3), item("B", plan=1234567890123.5)]})
    csv_text = (await client.get(f"{URL}.csv")).content.decode("utf-8-sig")
    assert ",0.1,0.3," in csv_text and ",1234567890123.5," in csv_text
    got = r.json()["indicators"]
    assert got[0]["plan"] == 0.1 and got[0]["actual"] == 0.3 and got[0]["percent_of_plan"] == 300.0
    assert got[1]["plan"] == 1234567890123.5


async def test_units_paths_and_scope(client, app, db):
    assert_problem(await client.put("/api/v1/units/02812/plan-indicators/2020", json={"indicators": []}), 422)
    assert_problem(await client.put("/api/v1/units/999/plan-indicators/2020", json={"indicators": []}), 404)
    await make_user(db, username="other", role=Role.district, unit_code="085")
    await make_user(db, username="si-ma-cai", role=Role.district, unit_code="084")
    await make_user(db, username="watcher", role=Role.viewer, unit_code="084")
    await make_user(db, username="commune", role=Role.commune, unit_code="02812")
    body = {"indicators": [item("A")]}
    for username in ("other", "watcher", "commune"):
        assert_problem(await client.put(URL, json=body, headers=bearer(app, username)), 403)
    ok = await client.put(URL, json=body, headers=bearer(app, "si-ma-cai"))
    assert ok.status_code == 201
    assert_problem(await client.patch(f"{URL}/A", json={"actual": 1}, headers=bearer(app, "other")), 403)
    assert (await client.get(URL, headers=bearer(app, "watcher"))).status_code == 200
    # the province above may write too; the new Lào Cai (15) after the reform may not touch 2020's district
    await make_user(db, username="province", role=Role.province, unit_code="10")
    assert (await client.patch(f"{URL}/A", json={"actual": 1}, headers=bearer(app, "province"))).status_code == 200


async def test_anonymous_writes_are_401(anon):
    assert_problem(await anon.put(URL, json={"indicators": []}), 401)


async def test_writes_are_audited_with_before_and_after(client):
    await client.put(URL, json={"indicators": [item("A")]})
    await client.put(URL, json={"indicators": [item("A", plan=11)]})
    await client.patch(f"{URL}/A", json={"actual": 12})
    rows = (await client.get("/api/v1/audit", params={"entity": "plan_indicators", "unit": "084"})).json()["items"]
    assert [r["action"] for r in rows] == ["update", "replace", "create"]
    update, replace, create = rows
    assert create["before"] is None and create["after"]["indicators"][0]["plan"] == 10
    assert replace["before"]["indicators"][0]["plan"] == 10 and replace["after"]["indicators"][0]["plan"] == 11
    assert replace["key"] == "084/2020"
    assert update["before"]["actual"] is None and update["after"]["actual"] == 12
    assert update["key"] == "084/2020/A"


async def test_a_province_has_plan_indicators_after_the_reform(client):
    r = await client.put("/api/v1/units/15/plan-indicators/2026", json={"indicators": [item("A")]})
    assert r.status_code == 201, r.text
    assert_problem(await client.put("/api/v1/units/084/plan-indicators/2026", json={"indicators": []}), 422)  # no district in 2026


async def test_limits_are_in_the_openapi_document(client):
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    put = schemas["PlanIndicatorsPut"]["properties"]["indicators"]
    assert put["maxItems"] == 500
    props = schemas["PlanIndicatorIn"]["properties"]
    assert props["code"]["maxLength"] == 32 and "pattern" in props["code"]
    assert props["name"]["maxLength"] == 300 and props["source"]["maxLength"] == 32
    assert props["plan"]["type"] == "number" and props["plan"]["maximum"] == 1e15
    assert set(props["direction"].get("enum", [])) or "$ref" in props["direction"]
    paths = spec["paths"]
    assert {"put", "get"} <= set(paths["/api/v1/units/{code}/plan-indicators/{year}"])
    assert "patch" in paths["/api/v1/units/{code}/plan-indicators/{year}/{indicator_code}"]
    assert "get" in paths["/api/v1/units/{code}/plan-indicators/{year}/summary"]


async def test_parallel_patches_of_different_items_lose_nothing(client):
    import asyncio

    codes = [f"C{i}" for i in range(8)]
    await client.put(URL, json={"indicators": [item(c) for c in codes]})
    answers = await asyncio.gather(*(client.patch(f"{URL}/{c}", json={"actual": i}) for i, c in enumerate(codes)))
    assert [a.status_code for a in answers] == [200] * len(codes)
    got = (await client.get(URL)).json()
    assert got["version"] == 1 + len(codes)
    assert [i["actual"] for i in got["indicators"]] == list(range(len(codes)))
    assert sorted(a.json()["version"] for a in answers) == list(range(2, 2 + len(codes)))


async def test_sibling_paths_do_not_swallow_each_other(client):
    await client.put(URL, json={"indicators": [item("A")]})
    # the export path allows GET only: a PUT there is 405, not a bad year
    for method in ("put", "delete"):
        r = await client.request(method.upper(), f"{URL}.xlsx", json={"indicators": []})
        assert_problem(r, 405)
        assert r.headers["allow"] == "GET"
    r = await client.patch(f"{URL}/summary", json={"actual": 1})
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET"
    r = await client.delete(f"{URL}/A")
    assert_problem(r, 405)
    assert r.headers["allow"] == "PATCH"
    r = await client.delete(URL)
    assert r.status_code == 405 and r.headers["allow"] == "GET, PUT"
    assert_problem(await client.put("/api/v1/units/084/plan-indicators/abc", json={"indicators": []}), 422, field="year")
