"""Contract v1.3 "Four eyes", "Scope follows the unit", "Audit" and "Problem types", through the
HTTP API on both databases: the bypasses found by review are refused, and the API and the
spreadsheet import reach the same outcome and the same audit records."""

from __future__ import annotations

from httpx import ASGITransport, AsyncClient

from app.auth.models import Role
from tests.builders import criteria, put_assessment
from tests.conftest import reset_database
from tests.exchange.files import HEADER_19, marks, upload, xlsx
from tests.helpers import assert_problem
from tests.users import bearer, make_user

A2021 = "/api/v1/communes/{code}/assessments/2021"


async def as_user(db, app, username, role, unit=None) -> AsyncClient:
    await make_user(db, username=username, role=role, unit_code=unit)
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://test", headers=bearer(app, username))


async def as_key(client, app, name, role, unit) -> AsyncClient:
    created = await client.post("/api/v1/api-keys", json={"name": name, "role": role, "unit_code": unit})
    assert created.status_code == 201, created.text
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://test",
                       headers={"X-API-Key": created.json()["key"]})


# ---- four eyes --------------------------------------------------------------------------------

async def test_a_submitted_assessment_is_frozen_until_reopened(db, app, client):
    """Bypass (a): a district user changed a submitted assessment, then approved what it had changed."""
    district = await as_user(db, app, "si-ma-cai", Role.district, "084")
    province = await as_user(db, app, "lao-cai", Role.province, "10")
    async with district, province:
        await put_assessment(district, code="02812", year=2021, met=15)
        submitted = (await province.post(A2021.format(code="02812") + "/submit")).json()
        assert submitted["status"] == "submitted" and submitted["version"] == 2
        body = assert_problem(await district.patch(A2021.format(code="02812") + "/criteria/16", json={"met": True}), 409)
        assert "submitted; reopen it first" in body["detail"]
        assert_problem(await district.put(A2021.format(code="02812"), json={"criteria": criteria(19)}), 409)
        # sending what is already there changes nothing, and is not refused
        same = await district.put(A2021.format(code="02812"), json={"criteria": criteria(15)})
        assert same.status_code == 200 and same.json()["version"] == 2
        # an import row that would change it is a row error; an unchanged one stays unchanged
        rejected = await upload(district, xlsx([HEADER_19, ["02812", None, *marks(19)]]))
        errors = assert_problem(rejected, 422)["errors"]
        assert [(e["row"], e["column"]) for e in errors] == [(2, "A")] and "reopen it first" in errors[0]["message"]
        kept = await upload(district, xlsx([HEADER_19, ["02812", None, *marks(15)]]))
        assert kept.status_code == 200 and kept.json()["unchanged"] == 1
        # what the district approves is exactly what was submitted
        approved = (await district.post(A2021.format(code="02812") + "/approve")).json()
        assert approved["status"] == "approved" and approved["met_count"] == 15
        assert (approved["submitted_by"], approved["approved_by"]) == ("lao-cai", "si-ma-cai")
        reopened = await province.post(A2021.format(code="02812") + "/reopen")
        assert reopened.json()["status"] == "draft"
        assert (await district.patch(A2021.format(code="02812") + "/criteria/16", json={"met": True})).status_code == 200


async def test_api_keys_submit_but_never_approve_or_reopen(db, app, client):
    """Bypass (b): a user submitted and an API key of the same district approved."""
    key = await as_key(client, app, "si-ma-cai-sync", "district", "084")
    district = await as_user(db, app, "si-ma-cai", Role.district, "084")
    async with key, district:
        await put_assessment(key, code="02812", year=2021, met=19)
        assert (await district.post(A2021.format(code="02812") + "/submit")).status_code == 200
        body = assert_problem(await key.post(A2021.format(code="02812") + "/approve"), 403)
        assert "only a person may approve or reopen assessments" in body["detail"]
        assert_problem(await key.post(A2021.format(code="02812") + "/reopen"), 403)
        assert (await client.get(A2021.format(code="02812"))).json()["status"] == "submitted"
        # the key may submit; the person who did not submit approves
        await client.post(A2021.format(code="02812") + "/reopen")
        submitted = (await key.post(A2021.format(code="02812") + "/submit")).json()
        assert submitted["submitted_by"] == "api-key:si-ma-cai-sync"
        approved = await district.post(A2021.format(code="02812") + "/approve")
        assert approved.status_code == 200 and approved.json()["approved_by"] == "si-ma-cai"


async def test_no_api_key_manages_users_or_keys_so_none_can_mint_its_approver(db, app, client):
    """A key of role admin created a user (or another key) and that credential approved the key's
    submission: one holder steered both steps. Keys never manage users or keys, whatever their role;
    they may still administer units."""
    key = await as_key(client, app, "tw-sync", "admin", None)
    async with key:
        await put_assessment(key, code="02812", year=2021, met=19)
        assert (await key.post(A2021.format(code="02812") + "/submit")).status_code == 200
        minted = await key.post("/api/v1/users", json={"username": "puppet", "password": "long enough pw",
                                                       "role": "district", "unit_code": "084"})
        body = assert_problem(minted, 403)
        assert body["detail"] == "api-key:tw-sync is an API key: only a person may manage users and API keys " \
                                 "(four-eyes rule)."
        assert_problem(await key.post("/api/v1/api-keys", json={"name": "puppet-key", "role": "admin"}), 403)
        assert_problem(await key.patch("/api/v1/users/admin", json={"password": "a new long password"}), 403)
        assert_problem(await key.get("/api/v1/users"), 403)
        assert_problem(await key.get("/api/v1/api-keys"), 403)
        assert_problem(await key.delete("/api/v1/api-keys/1"), 403)
        unit = await key.post("/api/v1/units", json={"code": "90", "name": "Tỉnh Cao Nguyên", "level": "province",
                                                     "kind": "tinh", "parent_code": "VN"})
        assert unit.status_code == 201, unit.text
    users = (await client.get("/api/v1/users")).json()["items"]
    assert "puppet" not in {u["username"] for u in users}
    keys = (await client.get("/api/v1/api-keys")).json()["items"]
    assert [k["name"] for k in keys] == ["tw-sync"] and keys[0]["revoked_at"] is None
    assert [r["action"] for r in (await client.get("/api/v1/audit", params={"entity": "user"})).json()["items"]] == []
    assert (await client.get(A2021.format(code="02812"))).json()["status"] == "submitted"


async def test_the_submitter_never_approves(db, app, client):
    district = await as_user(db, app, "si-ma-cai", Role.district, "084")
    async with district:
        await put_assessment(district, code="02800", year=2021, met=12)
        await district.post(A2021.format(code="02800") + "/submit")
        assert "four-eyes" in assert_problem(await district.post(A2021.format(code="02800") + "/approve"), 403)["detail"]
        stale = await client.post(A2021.format(code="02800") + "/approve", headers={"If-Match": '"1"'})
        assert_problem(stale, 412)
        approved = await client.post(A2021.format(code="02800") + "/approve", headers={"If-Match": '"2"'})
        assert approved.status_code == 200 and approved.headers["etag"] == '"3"'


# ---- scope follows the unit -------------------------------------------------------------------

async def test_a_commune_user_of_the_new_02824_has_no_hold_on_the_old_one(db, app, client):
    sin_cheng = await as_user(db, app, "sin-cheng", Role.commune, "02824")  # bound today: the new Xã Sín Chéng
    async with sin_cheng:
        assert (await sin_cheng.get("/api/v1/users/me")).json()["unit_code"] == "02824"
        body = assert_problem(await sin_cheng.put(A2021.format(code="02824"), json={"criteria": criteria(10)}), 403)
        assert "outside its scope" in body["detail"]
        await put_assessment(client, code="02824", year=2021, met=10)
        assert_problem(await sin_cheng.post(A2021.format(code="02824") + "/submit"), 403)
        assert_problem(await upload(sin_cheng, xlsx([HEADER_19, ["02824", None, *marks(11)]])), 403)
        own = await sin_cheng.put("/api/v1/communes/02824/assessments/2026", json={"criteria": criteria(4, count=10)})
        assert own.status_code == 201, own.text
    old_province = await as_user(db, app, "lao-cai-cu", Role.province, "10")
    async with old_province:  # the old province's subtree in 2021 holds the old 02824, not the new one
        assert (await old_province.put(A2021.format(code="02824"), json={"criteria": criteria(11)})).status_code == 200
        assert_problem(await old_province.put("/api/v1/communes/02824/assessments/2026",
                                              json={"criteria": criteria(5, count=10)}), 403)


# ---- audit: before and after -------------------------------------------------------------------

async def test_revoking_a_key_and_changing_a_user_record_before_and_after(db, app, client):
    created = (await client.post("/api/v1/api-keys", json={"name": "sync", "role": "viewer", "unit_code": "084"})).json()
    assert (await client.delete(f"/api/v1/api-keys/{created['id']}")).status_code == 204
    assert (await client.delete(f"/api/v1/api-keys/{created['id']}")).status_code == 204  # again: nothing recorded
    records = (await client.get("/api/v1/audit", params={"entity": "api_key"})).json()["items"]
    assert [r["action"] for r in records] == ["revoke", "create"]
    revoke = records[0]
    assert revoke["before"]["revoked_at"] is None and revoke["after"]["revoked_at"] is not None
    assert revoke["before"]["name"] == "sync" and revoke["after"]["unit_code"] == "084"
    await client.post("/api/v1/users", json={"username": "watcher", "password": "long enough pw", "role": "viewer",
                                             "unit_code": "084"})
    await client.patch("/api/v1/users/watcher", json={"disabled": True})
    disable = (await client.get("/api/v1/audit", params={"entity": "user"})).json()["items"][0]
    assert (disable["action"], disable["before"]["disabled"], disable["after"]["disabled"]) == ("update", False, True)


# ---- problem types -----------------------------------------------------------------------------

async def test_schema_violations_and_rule_violations_have_their_own_types(client):
    schema = assert_problem(await client.put(A2021.format(code="02812"), json={"criteria": "all"}), 422)
    assert schema["type"] == "/problems/validation-error"
    rule = assert_problem(await client.put(A2021.format(code="02812"),
                                           json={"criteria_set": "2026-2030", "criteria": criteria(10, count=10)}), 422,
                          field="criteria_set")
    assert rule["type"] == "/problems/rule-violation"
    town = assert_problem(await client.put(A2021.format(code="02809"), json={"criteria": criteria(3)}), 422, field="code")
    assert town["type"] == "/problems/rule-violation"


# ---- one rule, two paths -----------------------------------------------------------------------

def _comparable(record: dict) -> tuple:
    def strip(state: dict | None) -> dict | None:
        if state is None:
            return None
        return {k: v for k, v in state.items() if k not in ("created_at", "updated_at")}

    return record["entity"], record["key"], record["actor"], strip(record["before"]), strip(record["after"])


async def _submitted_outcome(client) -> list:
    """Submit 02803, then what both paths are compared by: the two assessments as they stand, the
    before/after of every create and change, and the actions in order."""
    await client.post(A2021.format(code="02803") + "/submit")
    outcome = [(await client.get(A2021.format(code=code))).json() for code in ("02800", "02803")]
    records = (await client.get("/api/v1/audit", params={"entity": "assessment"})).json()["items"]
    return [
        [{k: v for k, v in a.items() if k not in ("created_at", "updated_at", "submitted_at")} for a in outcome],
        sorted((_comparable(r) for r in records if r["action"] != "submit"), key=lambda c: (c[1], c[4]["version"])),
        [r["action"].removeprefix("import_").replace("update", "replace") for r in reversed(records)],
    ]


async def _scenario(client, via_import: bool) -> list[tuple]:
    """Create 02800 (10 met) and 02803 (12 met), then change 02803 to 13 met, through one path."""
    steps = [{"02800": 10, "02803": 12}, {"02803": 13}]
    for step in steps:
        if via_import:
            rows = [[code, None, *marks(met)] for code, met in step.items()]
            assert (await upload(client, xlsx([HEADER_19, *rows]))).status_code == 200
        else:
            for code, met in step.items():
                await put_assessment(client, code=code, year=2021, met=met)
    return await _submitted_outcome(client)


async def test_the_api_and_the_import_reach_the_same_outcome_and_audit(db, app, client):
    api = await _scenario(client, via_import=False)
    await reset_database(db)  # the same starting point for the second path
    imported = await _scenario(client, via_import=True)
    assert imported[0] == api[0]  # the assessments as they stand, field by field
    assert imported[1] == api[1]  # before/after of every create and change, in the API's shape
    assert imported[2] == api[2] == ["create", "create", "replace", "submit"]


async def _indicator_scenario(client, via_import: bool) -> list[tuple]:
    """The same, with indicator values: 02800's criterion 10 left to its indicator (41.5 ≥ 36) and 15
    marked met against 15.1 = 80 (a conflict); 02803's 10 and 15 left to theirs, then 15.1 changed."""
    steps = [{"02800": (set(range(1, 20)) - {10}, {"10.1": 41.5, "15.1": 80}),
              "02803": (set(range(1, 13)), {"10.1": 30, "15.1": 80})},
             {"02803": (set(range(1, 14)), {"10.1": 30, "15.1": 90})}]
    codes = {10: "10.1", 15: "15.1"}
    for step in steps:
        if via_import:
            rows = [[code, None, *marks(met), values["10.1"], values["15.1"]] for code, (met, values) in step.items()]
            response = await upload(client, xlsx([[*HEADER_19, "10.1", "15.1"], *rows]))
            assert response.status_code == 200, response.text
        else:
            for code, (met, values) in step.items():
                items: list[dict] = []
                for n in range(1, 20):
                    item: dict = {"number": n}
                    if n in codes:
                        item["indicators"] = {codes[n]: values[codes[n]]}
                    if n in met or n not in codes:  # a blank mark with an indicator column: met omitted
                        item["met"] = n in met
                    items.append(item)
                response = await client.put(A2021.format(code=code), json={"criteria": items})
                assert response.status_code in (200, 201), response.text
    return await _submitted_outcome(client)


async def test_the_api_and_the_import_agree_on_indicator_values(db, app, client):
    api = await _indicator_scenario(client, via_import=False)
    await reset_database(db)
    imported = await _indicator_scenario(client, via_import=True)
    assert imported[0] == api[0] and imported[1] == api[1]
    assert imported[2] == api[2] == ["create", "create", "replace", "submit"]
    assert api[0][0]["indicator_conflicts"] == [15] and api[0][0]["criteria"][9]["met"] is True
    assert api[0][1]["met"] == [*range(1, 14), 15] and api[0][1]["criteria"][14]["met_by_indicators"] is True
