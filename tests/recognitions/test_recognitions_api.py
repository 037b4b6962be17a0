"""Recognitions at every level through the HTTP API (SQLite and PostgreSQL)."""

from __future__ import annotations

from httpx import ASGITransport, AsyncClient

from app.auth.models import Role
from tests.helpers import assert_problem
from tests.users import bearer, make_user

BODY = {"recognition_year": 2021, "decision_no": "123/QĐ-UBND", "decision_date": "2022-01-05"}


async def as_user(db, app, username, role, unit=None) -> AsyncClient:
    await make_user(db, username=username, role=role, unit_code=unit)
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://test", headers=bearer(app, username))


async def audit_of(client, key):
    rows = (await client.get("/api/v1/audit", params={"entity": "recognition"})).json()["items"]
    return [r for r in rows if r["key"] == key]


async def test_v1_commune_put_and_get_still_work(client):
    url = "/api/v1/communes/02812/recognitions/chuan"
    created = await client.put(url, json=BODY)
    assert created.status_code == 201, created.text
    r = created.json()
    assert r["commune_code"] == "02812" and r["unit_code"] == "02812" and r["level"] == "chuan"
    assert r["recognition_year"] == 2021 and r["decision_date"] == "2022-01-05"
    assert r["revoked_on"] is None and r["version"] == 1
    again = await client.put(url, json=BODY)
    assert again.status_code == 200 and again.json()["version"] == 1  # unchanged: no new version
    listed = (await client.get("/api/v1/communes/02812/recognitions")).json()
    assert [(x["level"], x["decision_no"]) for x in listed["items"]] == [("chuan", "123/QĐ-UBND")]
    for level in ("nang_cao", "kieu_mau", "hien_dai"):
        response = await client.put(f"/api/v1/communes/02812/recognitions/{level}", json=BODY)
        assert response.status_code == 201, response.text
    assert_problem(await client.put("/api/v1/communes/02812/recognitions/hoan_thanh", json=BODY), 422, field="level")
    assert_problem(await client.put("/api/v1/communes/02809/recognitions/chuan", json=BODY), 422, field="code")
    assert_problem(await client.put("/api/v1/communes/99999/recognitions/chuan", json=BODY), 404)


async def test_replace_is_audited_with_before_and_after(client):
    url = "/api/v1/communes/02812/recognitions/chuan"
    await client.put(url, json=BODY)
    replaced = await client.put(url, json={**BODY, "decision_no": "124/QĐ-UBND"})
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    records = await audit_of(client, "02812/chuan")
    assert [r["action"] for r in records] == ["replace", "create"]
    replace = records[0]
    assert replace["before"]["decision_no"] == "123/QĐ-UBND" and replace["before"]["version"] == 1
    assert replace["after"]["decision_no"] == "124/QĐ-UBND" and replace["after"]["version"] == 2
    assert records[1]["before"] is None and records[1]["after"]["decision_no"] == "123/QĐ-UBND"


async def test_district_and_province_levels(client):
    for code, level in (("084", "chuan"), ("084", "nang_cao"), ("084", "hoan_thanh"), ("10", "hoan_thanh")):
        response = await client.put(f"/api/v1/units/{code}/recognitions/{level}", json=BODY)
        assert response.status_code == 201, response.text
        assert response.json()["unit_code"] == code and response.json()["commune_code"] is None
    for code, level in (("10", "chuan"), ("084", "kieu_mau"), ("VN", "hoan_thanh"), ("084", "hien_dai")):
        assert_problem(await client.put(f"/api/v1/units/{code}/recognitions/{level}", json=BODY), 422, field="level")
    assert_problem(await client.put("/api/v1/units/084/recognitions/vang", json=BODY), 422, field="level")
    # the province 15 did not exist in 2021
    assert_problem(await client.put("/api/v1/units/15/recognitions/hoan_thanh", json=BODY), 422, field="code")
    listed = (await client.get("/api/v1/units/084/recognitions")).json()
    assert sorted(r["level"] for r in listed["items"]) == ["chuan", "hoan_thanh", "nang_cao"]
    # a commune code on the units path takes the commune levels
    assert (await client.put("/api/v1/units/02812/recognitions/kieu_mau", json=BODY)).status_code == 201


async def test_revoke_answers_the_recognition_and_is_audited(client):
    await client.put("/api/v1/communes/02812/recognitions/chuan", json=BODY)
    url = "/api/v1/communes/02812/recognitions/chuan/revoke"
    revoked = await client.post(url, json={"revoked_on": "2023-05-01", "decision_no": "45/QĐ-UBND"})
    assert revoked.status_code == 200, revoked.text
    r = revoked.json()
    assert r["revoked_on"] == "2023-05-01" and r["revocation_decision_no"] == "45/QĐ-UBND" and r["version"] == 2
    assert r["decision_no"] == "123/QĐ-UBND"
    listed = (await client.get("/api/v1/communes/02812/recognitions")).json()["items"]
    assert listed[0]["revoked_on"] == "2023-05-01"
    record = (await audit_of(client, "02812/chuan"))[0]
    assert record["action"] == "revoke"
    assert record["before"]["revoked_on"] is None and record["after"]["revoked_on"] == "2023-05-01"
    # a new PUT is a new recognition: the revocation is cleared (and audited)
    again = await client.put("/api/v1/communes/02812/recognitions/chuan", json={**BODY, "recognition_year": 2024})
    assert again.status_code == 200 and again.json()["revoked_on"] is None
    assert (await audit_of(client, "02812/chuan"))[0]["before"]["revoked_on"] == "2023-05-01"


async def test_revoke_errors(client):
    body = {"revoked_on": "2023-05-01", "decision_no": "45/QĐ-UBND"}
    assert_problem(await client.post("/api/v1/communes/02812/recognitions/chuan/revoke", json=body), 404)
    await client.put("/api/v1/units/084/recognitions/chuan", json=BODY)
    assert_problem(await client.post("/api/v1/units/084/recognitions/chuan/revoke",
                                     json={**body, "revoked_on": "2020-12-31"}), 422, field="revoked_on")
    assert_problem(await client.post("/api/v1/units/084/recognitions/chuan/revoke", json={"decision_no": "x"}),
                   422, field="revoked_on")
    assert_problem(await client.post("/api/v1/units/084/recognitions/chuan/revoke",
                                     json={**body, "revoked_on": "01/05/2023"}), 422)
    ok = await client.post("/api/v1/units/084/recognitions/chuan/revoke", json=body)
    assert ok.status_code == 200 and ok.json()["unit_code"] == "084" and ok.json()["revoked_on"] == "2023-05-01"


async def test_recognitions_belong_to_the_unit_not_the_code(client):
    """Old Sín Chéng (02824, until 2025-06-30) recognised; the new Xã Sín Chéng (02824) starts with none."""
    assert (await client.put("/api/v1/communes/02824/recognitions/chuan", json=BODY)).status_code == 201
    today = (await client.get("/api/v1/communes/02824/recognitions")).json()
    assert today["items"] == []
    then = (await client.get("/api/v1/communes/02824/recognitions", params={"year": 2021})).json()
    assert [r["unit_code"] for r in then["items"]] == ["02824"]
    # recognising the new commune is a different recognition
    new = await client.put("/api/v1/communes/02824/recognitions/chuan", json={**BODY, "recognition_year": 2026})
    assert new.status_code == 201 and new.json()["unit_valid_from"] == "2025-07-01"


async def test_who_may_recognise(db, app, client):
    district = await as_user(db, app, "si-ma-cai", Role.district, "084")
    new_province = await as_user(db, app, "lao-cai-moi", Role.province, "15")
    commune = await as_user(db, app, "san-chai", Role.commune, "02812")
    viewer = await as_user(db, app, "viewer", Role.viewer, "084")
    async with district, new_province, commune, viewer:
        assert (await district.put("/api/v1/communes/02812/recognitions/chuan", json=BODY)).status_code == 201
        assert (await district.put("/api/v1/units/084/recognitions/chuan", json=BODY)).status_code == 201
        assert_problem(await district.put("/api/v1/units/10/recognitions/hoan_thanh", json=BODY), 403)
        assert_problem(await new_province.put("/api/v1/units/084/recognitions/nang_cao", json=BODY), 403)
        assert_problem(await new_province.post("/api/v1/units/084/recognitions/chuan/revoke",
                                               json={"revoked_on": "2023-01-01"}), 403)
        assert_problem(await commune.put("/api/v1/communes/02812/recognitions/nang_cao", json=BODY), 403)
        assert_problem(await viewer.post("/api/v1/communes/02812/recognitions/chuan/revoke",
                                         json={"revoked_on": "2023-01-01"}), 403)
    # nothing was written by the refused requests
    listed = (await client.get("/api/v1/units/084/recognitions")).json()["items"]
    assert [(r["level"], r["revoked_on"]) for r in listed] == [("chuan", None)]
