"""What the schema says, the server does (regressions of issue 13), on SQLite and PostgreSQL:
a schema-valid request is not refused as a validation error, a schema-invalid one is, domain
rules answer /problems/rule-violation, 403s read naturally, and /users/me answers API keys."""

from __future__ import annotations

from httpx import ASGITransport, AsyncClient

from app.auth.models import Role
from tests.builders import criteria, put_assessment
from tests.helpers import assert_problem
from tests.users import bearer, make_user


async def test_patch_unit_refuses_null_name_and_kind_as_the_schema_says(client):
    for field in ("kind", "name"):
        body = assert_problem(await client.patch("/api/v1/units/02812", json={field: None}), 422, field=field)
        assert body["type"] == "/problems/validation-error"
    unchanged = (await client.get("/api/v1/units/02812", params={"on": "2021-12-31"})).json()
    assert unchanged["kind"] == "xa" and unchanged["name"] == "Xã Sán Chải"
    # region and valid_to are nullable, and null is accepted
    assert (await client.patch("/api/v1/units/084", json={"region": None})).status_code == 200


async def test_domain_rules_answer_rule_violation_and_schema_breaks_validation_error(client):
    rule = assert_problem(await client.get("/api/v1/units", params={"on": "2021-01-01", "year": 2021}), 422,
                          field="year")
    assert rule["type"] == "/problems/rule-violation"
    schema = assert_problem(await client.get("/api/v1/units", params={"year": 1800}), 422, field="year")
    assert schema["type"] == "/problems/validation-error"


async def test_whole_number_bounds_are_the_published_ones(client):
    for year, schema_valid in ((1899, False), (1900, True), (2100, True), (2101, False)):
        response = await client.get(f"/api/v1/communes/02812/assessments/{year}")
        assert response.status_code in (404, 422), response.text
        refused_by_schema = response.json()["type"] == "/problems/validation-error"
        assert refused_by_schema is not schema_valid, (year, response.text)
    assert (await client.get("/api/v1/units", params={"limit": 500})).status_code == 200
    assert_problem(await client.get("/api/v1/units", params={"limit": 501}), 422, field="limit")


async def test_forbidden_detail_reads_naturally(db, app, client):
    await make_user(db, username="san-chai", role=Role.commune, unit_code="02812")
    await put_assessment(client, code="02812", year=2021, met=15)
    commune = AsyncClient(transport=ASGITransport(app=app), base_url="http://test", headers=bearer(app, "san-chai"))
    async with commune:
        assert (await commune.post("/api/v1/communes/02812/assessments/2021/submit")).status_code == 200
        body = assert_problem(await commune.post("/api/v1/communes/02812/assessments/2021/approve"), 403)
    assert "may not approve or reopen assessments" in body["detail"], body
    # scoped refusal: a commune user writing another commune
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test",
                           headers=bearer(app, "san-chai")) as commune:
        body = assert_problem(await commune.put("/api/v1/communes/02818/assessments/2021",
                                                json={"criteria": criteria(19)}), 403)
    assert "may not write assessments of" in body["detail"] and "_" not in body["detail"].split("may not")[1], body


async def test_me_answers_users_and_api_keys(client, app):
    me = (await client.get("/api/v1/users/me")).json()
    assert me["kind"] == "user" and me["username"] == "admin" and me["key_id"] is None
    created = (await client.post("/api/v1/api-keys", json={"name": "lao-cai-sync", "role": "province",
                                                           "unit_code": "10"})).json()
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test",
                           headers={"X-API-Key": created["key"]}) as system:
        response = await system.get("/api/v1/users/me")
        assert response.status_code == 200, response.text
        assert response.json() == {**response.json(), "kind": "api_key", "username": "api-key:lao-cai-sync",
                                   "role": "province", "unit_code": "10", "key_id": created["id"],
                                   "disabled": False}
        assert created["key"] not in response.text
        await client.delete(f"/api/v1/api-keys/{created['id']}")
        assert_problem(await system.get("/api/v1/users/me"), 401)


async def test_me_without_credentials_is_401(anon):
    assert_problem(await anon.get("/api/v1/users/me"), 401)


async def test_unit_rules_across_fields_are_rule_violations(client):
    """Found by schemathesis: a schema-valid new unit that breaks a cross-field rule answered
    /problems/validation-error; the schema cannot state these rules, so they are rule violations."""
    base = {"name": "Xã Mới", "level": "commune", "kind": "xa", "code": "02899"}
    for change, field in (({"parent_code": None}, "parent_code"), ({"parent_code": "084", "kind": "phuong_x"}, None),
                          ({"parent_code": "084", "code": "084"}, "code"),
                          ({"parent_code": "084", "valid_from": "2020-01-02", "valid_to": "2020-01-01"}, "valid_to"),
                          ({"parent_code": "084", "kind": "quan"}, "kind")):
        response = await client.post("/api/v1/units", json={**base, **change})
        body = assert_problem(response, 422, field=field)
        expected = "/problems/validation-error" if field is None else "/problems/rule-violation"
        assert body["type"] == expected, body
    assert (await client.get("/api/v1/units/02899")).status_code == 404


async def test_json_integers_are_read_as_json_schema_reads_them(client):
    """Found by schemathesis: `35.0` is an integer to JSON Schema and was refused (strict mode);
    strings and booleans are not integers and stay refused."""
    body = {"criteria": [{"number": float(n), "met": n <= 15} for n in range(1, 20)]}
    written = await client.put("/api/v1/communes/02812/assessments/2021", json=body)
    assert written.status_code == 201 and written.json()["met_count"] == 15, written.text
    for bad in ("3", True, 3.5):
        body["criteria"][2]["number"] = bad
        problem = assert_problem(await client.put("/api/v1/communes/02812/assessments/2021", json=body), 422,
                                 field="criteria[2].number")
        assert problem["type"] == "/problems/validation-error"
    recognized = await client.put("/api/v1/communes/02812/recognitions/nang_cao",
                                  json={"recognition_year": 2022.0})
    assert recognized.status_code in (200, 201), recognized.text
    assert_problem(await client.put("/api/v1/communes/02812/recognitions/nang_cao", json={"recognition_year": "2022"}),
                   422, field="recognition_year")


async def test_target_figures_are_numbers_and_one_decimal_is_a_rule(client):
    url = "/api/v1/units/084/targets/2021"
    for bad in ("", "16.1", True):
        problem = assert_problem(await client.put(url, json={"average_criteria": bad}), 422, field="average_criteria")
        assert problem["type"] == "/problems/validation-error", problem
    problem = assert_problem(await client.put(url, json={"average_criteria": 16.15}), 422, field="average_criteria")
    assert problem["type"] == "/problems/rule-violation"
    assert (await client.get(url)).status_code == 404
    written = await client.put(url, json={"average_criteria": 16.1, "min_additional_criteria": 6.0,
                                          "commune_targets": {"02812": 19.0}})
    assert written.status_code == 201, written.text
    assert written.json()["average_criteria"] == 16.1 and written.json()["min_additional_criteria"] == 6


async def test_an_import_with_bad_rows_is_a_rule_violation(client):
    """Found by schemathesis: a file the schema allows (any bytes) whose rows break the import's
    rules answered `/problems/import-rejected`; it is a rule violation, with every row error."""
    csv = b"commune_code,1\n99999,x\n"
    response = await client.post("/api/v1/imports/assessments", params={"year": 2021, "dry_run": "true"},
                                 files={"file": ("a.csv", csv, "text/csv")})
    body = assert_problem(response, 422)
    assert body["type"] == "/problems/rule-violation" and body["title"] == "Import rejected"
    assert body["errors"] and all({"row", "message"} <= set(error) for error in body["errors"])


async def test_unit_names_refused_by_the_published_pattern(client):
    """Found by schemathesis: control characters in a name were refused without the schema saying
    so; now the pattern says it and the refusal is a validation error."""
    import re

    spec = (await client.get("/openapi.json")).json()
    pattern = spec["components"]["schemas"]["UnitCreate"]["properties"]["name"]["pattern"]
    base = {"code": "02899", "level": "commune", "kind": "xa", "parent_code": "084"}
    for name in ("h\u00dc\u0096\u0018", "a\u0007b", " \u3000 "):
        assert not re.match(pattern, name)
        body = assert_problem(await client.post("/api/v1/units", json={**base, "name": name}), 422, field="name")
        assert body["type"] == "/problems/validation-error"
    assert re.match(pattern, "Xã\tMới")
    created = await client.post("/api/v1/units", json={**base, "name": "Xã\tMới"})
    assert created.status_code == 201 and created.json()["name"] == "Xã Mới"
