"""Access control, walked through the OWASP API Security Top 10 (2023) items that apply.
Every refusal also checks that nothing changed. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from app.auth.models import Role
from app.core.config import InsecureConfiguration, Settings
from app.main import create_app
from tests.builders import criteria, load_demo, put_assessment
from tests.helpers import assert_problem
from tests.users import PASSWORD, TEST_SECRET, bearer, make_user

A2021 = "/api/v1/communes/{code}/assessments/2021"


async def as_user(db, app, username, role, unit=None, *, disabled=False) -> AsyncClient:
    await make_user(db, username=username, role=role, unit_code=unit, disabled=disabled)
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://test", headers=bearer(app, username))


async def version_of(client, code="02812"):
    response = await client.get(A2021.format(code=code))
    return response.json()["version"] if response.status_code == 200 else None


# ---- API2: broken authentication --------------------------------------------------------------

async def test_no_credentials_is_401_for_reads_and_writes(anon):
    body = assert_problem(await anon.get("/api/v1/units/084"), 401)
    assert "auth/token" in body["detail"]
    assert_problem(await anon.put(A2021.format(code="02812"), json={"criteria": criteria(19)}), 401)


async def test_password_login_gives_a_working_token(db, app, anon):
    await make_user(db, username="si-ma-cai", role=Role.district, unit_code="084")
    response = await anon.post("/api/v1/auth/token", data={"username": "si-ma-cai", "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    me = await anon.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.json() == {**me.json(), "username": "si-ma-cai", "role": "district", "unit_code": "084"}
    assert "password" not in me.text and "hash" not in me.text


async def test_wrong_password_is_401_and_repeated_failures_are_429(db, app, anon):
    await make_user(db, username="guessme", role=Role.viewer, unit_code="084")
    for _ in range(10):
        response = await anon.post("/api/v1/auth/token", data={"username": "guessme", "password": "wrong-password"})
        assert_problem(response, 401)
    locked = await anon.post("/api/v1/auth/token", data={"username": "guessme", "password": PASSWORD})
    body = assert_problem(locked, 429)
    assert int(locked.headers["retry-after"]) > 0 and "guessme" in body["detail"]
    other = await anon.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
    assert other.status_code == 200  # the throttle is per username


def _token(claims, key=TEST_SECRET, alg="HS256"):
    return jwt.encode(claims, key, algorithm=alg)


@pytest.mark.parametrize("case", ["tampered", "expired", "alg_none", "wrong_key", "garbage", "no_scheme"])
async def test_bad_tokens_are_401(anon, case):
    now = dt.datetime.now(dt.UTC)
    good = {"sub": "admin", "iat": now, "exp": now + dt.timedelta(hours=1), "typ": "access"}
    token = {
        "tampered": _token(good)[:-3] + "AAA",
        "expired": _token({**good, "iat": now - dt.timedelta(hours=2), "exp": now - dt.timedelta(hours=1)}),
        "alg_none": jwt.encode(good, None, algorithm="none"),
        "wrong_key": _token(good, key="another-key-of-sufficient-length-000000"),
        "garbage": "not-a-token",
        "no_scheme": None,
    }[case]
    header = f"Bearer {token}" if token else _token(good)
    assert_problem(await anon.get("/api/v1/units/084", headers={"Authorization": header}), 401)


async def test_disabled_user_and_revoked_key_are_refused(db, app, client):
    officer = await as_user(db, app, "old-officer", Role.district, "084")
    async with officer:
        assert (await officer.get("/api/v1/units/084")).status_code == 200
        assert (await client.patch("/api/v1/users/old-officer", json={"disabled": True})).status_code == 200
        assert_problem(await officer.get("/api/v1/units/084"), 401)

    created = await client.post("/api/v1/api-keys", json={"name": "lao-cai-sync", "role": "province", "unit_code": "10"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    listed = (await client.get("/api/v1/api-keys")).json()
    assert "key" not in listed["items"][0] and key not in str(listed)
    system = AsyncClient(transport=ASGITransport(app=app), base_url="http://test", headers={"X-API-Key": key})
    async with system:
        put = await system.put(A2021.format(code="02812"), json={"criteria": criteria(15)})
        assert put.status_code == 201
        history = (await client.get("/api/v1/audit", params={"entity": "assessment"})).json()
        assert history["items"][0]["actor"] == "api-key:lao-cai-sync"
        assert (await client.delete(f"/api/v1/api-keys/{created.json()['id']}")).status_code == 204
        assert_problem(await system.get("/api/v1/units/084"), 401)
        assert_problem(await system.put(A2021.format(code="02812"), json={"criteria": criteria(19)}), 401)
    assert await version_of(client) == 1


async def test_revoking_a_key_id_beyond_any_database_integer_is_422_not_500(client):
    # found by schemathesis: PostgreSQL refused the id as out of range, which surfaced as a 500
    assert_problem(await client.delete("/api/v1/api-keys/43064670783519334400"), 422, field="key_id")
    assert_problem(await client.delete("/api/v1/api-keys/0"), 422, field="key_id")
    assert_problem(await client.delete(f"/api/v1/api-keys/{2**31 - 1}"), 404)


async def test_cached_report_is_not_served_without_valid_credentials(db, app, client, anon):
    await load_demo(db)
    assert (await client.get("/api/v1/units/084/summary", params={"year": 2021})).status_code == 200
    assert (await client.get("/api/v1/units/084/summary", params={"year": 2021})).headers["x-cache"] == "hit"
    assert_problem(await anon.get("/api/v1/units/084/summary", params={"year": 2021}), 401)
    viewer = await as_user(db, app, "watcher", Role.viewer, "084")
    async with viewer:
        assert (await viewer.get("/api/v1/units/084/summary", params={"year": 2021})).status_code == 200
        await client.patch("/api/v1/users/watcher", json={"disabled": True})
        assert_problem(await viewer.get("/api/v1/units/084/summary", params={"year": 2021}), 401)


async def test_public_read_opens_gets_only(db):
    settings = db.settings.model_copy(update={"public_read": True})
    app = create_app(settings, database=db)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as anon:
        assert (await anon.get("/api/v1/units/084")).status_code == 200
        assert_problem(await anon.put(A2021.format(code="02812"), json={"criteria": criteria(19)}), 401)
        assert_problem(await anon.post("/api/v1/units", json={}), 401)


# ---- API1: broken object-level authorisation ----------------------------------------------------

async def test_commune_officer_cannot_write_a_neighbours_assessment(db, app, client):
    officer = await as_user(db, app, "san-chai", Role.commune, "02812")
    async with officer:
        body = assert_problem(
            await officer.put(A2021.format(code="02800"), json={"criteria": criteria(19)}), 403
        )
        assert "outside its scope" in body["detail"]
        assert await version_of(client, "02800") is None
        own = await officer.put(A2021.format(code="02812"), json={"criteria": criteria(16)})
        assert own.status_code == 201
        assert_problem(await officer.patch(A2021.format(code="02800") + "/criteria/1", json={"met": True}), 403)


async def test_district_scope_stops_at_its_district(db, app, client):
    other = await as_user(db, app, "bac-ha", Role.district, "084")
    async with other:
        assert (await other.put("/api/v1/units/084/targets/2021", json={"average_criteria": 16.1})).status_code == 201
        assert_problem(await other.put("/api/v1/units/10/targets/2021", json={"average_criteria": 16.1}), 403)
        assert_problem(await client.get("/api/v1/units/10/targets/2021"), 404)
    province = await as_user(db, app, "lao-cai", Role.province, "10")
    async with province:
        assert (await province.put(A2021.format(code="02836"), json={"criteria": criteria(12)})).status_code == 201
        # after the reform the province is 15: the old province's users have no hold on it
        assert_problem(await province.put("/api/v1/communes/02809/assessments/2026",
                                          json={"criteria": criteria(5, count=10)}), 403)


# ---- API3: broken object-property authorisation (mass assignment) ------------------------------

async def test_client_cannot_set_server_fields(db, app, client):
    body = {"criteria": criteria(19), "version": 99, "status": "approved", "met_count": 3, "approved_by": "me"}
    created = (await client.put(A2021.format(code="02812"), json=body)).json()
    assert (created["version"], created["status"], created["met_count"], created["approved_by"]) == (1, "draft", 19, None)
    extra = await client.post("/api/v1/users", json={"username": "sneaky", "password": "long enough pw", "role": "viewer",
                                                     "unit_code": "084", "password_hash": "x", "disabled": False})
    assert_problem(extra, 422, field="password_hash")
    assert_problem(await client.patch("/api/v1/users/admin", json={"created_at": "2020-01-01T00:00:00Z"}), 422,
                   field="created_at")


async def test_no_response_carries_a_password_hash(db, app, client):
    created = await client.post("/api/v1/users", json={"username": "new-viewer", "password": "long enough pw",
                                                       "role": "viewer", "unit_code": "084"})
    assert created.status_code == 201, created.text
    for response in (created, await client.get("/api/v1/users"), await client.get("/api/v1/audit")):
        assert "argon2" not in response.text and "long enough pw" not in response.text


# ---- API5: broken function-level authorisation ------------------------------------------------

async def test_roles_are_held_to_their_functions(db, app, client):
    await put_assessment(client, code="02812", year=2021, met=18)
    assert (await client.post(A2021.format(code="02812") + "/submit")).status_code == 200
    commune = await as_user(db, app, "san-chai", Role.commune, "02812")
    viewer = await as_user(db, app, "watcher", Role.viewer, "084")
    district = await as_user(db, app, "si-ma-cai", Role.district, "084")
    async with commune, viewer, district:
        assert_problem(await commune.post(A2021.format(code="02812") + "/approve"), 403)
        assert_problem(await viewer.put(A2021.format(code="02812"), json={"criteria": criteria(19)}), 403)
        assert_problem(await viewer.put("/api/v1/units/084/targets/2021", json={"average_criteria": 15}), 403)
        new_unit = {"code": "02899", "name": "Xã X", "level": "commune", "kind": "xa", "parent_code": "084"}
        assert_problem(await district.post("/api/v1/units", json=new_unit), 403)
        assert_problem(await district.post("/api/v1/users", json={"username": "boss", "password": "long enough pw",
                                                                   "role": "admin"}), 403)
        assert_problem(await district.patch("/api/v1/users/si-ma-cai", json={"role": "admin"}), 403)
        assert_problem(await district.post("/api/v1/api-keys", json={"name": "mine", "role": "admin"}), 403)
        assert_problem(await commune.get("/api/v1/audit"), 403)
    assert (await client.get(A2021.format(code="02812"))).json()["status"] == "submitted"
    assert (await client.get("/api/v1/users", params={"limit": 500})).json()["total"] == 4


# ---- API6: sensitive business flows (four eyes, locking) -------------------------------------

async def test_approval_needs_a_second_person_and_locks(db, app, client):
    district = await as_user(db, app, "si-ma-cai", Role.district, "084")
    province = await as_user(db, app, "lao-cai", Role.province, "10")
    async with district, province:
        await put_assessment(district, code="02812", year=2021, met=19)
        submitted = (await district.post(A2021.format(code="02812") + "/submit")).json()
        assert submitted["status"] == "submitted" and submitted["submitted_by"] == "si-ma-cai"
        body = assert_problem(await district.post(A2021.format(code="02812") + "/approve"), 403)
        assert "four-eyes" in body["detail"]
        approved = (await province.post(A2021.format(code="02812") + "/approve")).json()
        assert approved["status"] == "approved" and approved["approved_by"] == "lao-cai"
        assert_problem(await district.put(A2021.format(code="02812"), json={"criteria": criteria(10)}), 409)
        assert_problem(await district.patch(A2021.format(code="02812") + "/criteria/1", json={"met": False}), 409)
        assert (await client.get(A2021.format(code="02812"))).json()["met_count"] == 19
        reopened = (await province.post(A2021.format(code="02812") + "/reopen")).json()
        assert reopened["status"] == "draft" and reopened["approved_by"] is None
        assert (await district.put(A2021.format(code="02812"), json={"criteria": criteria(10)})).status_code == 200
        assert_problem(await district.post(A2021.format(code="02812") + "/approve"), 409)  # a draft


async def test_approved_only_figures(db, app, client):
    await load_demo(db)
    s = (await client.get("/api/v1/units/084/summary", params={"year": 2021, "approved_only": True})).json()
    assert s["commune_count"] == 0 and len(s["missing"]) == 9
    district = await as_user(db, app, "si-ma-cai", Role.district, "084")
    async with district:
        await client.post(A2021.format(code="02812") + "/submit")
        await district.post(A2021.format(code="02812") + "/approve")
    s = (await client.get("/api/v1/units/084/summary", params={"year": 2021, "approved_only": True})).json()
    assert (s["commune_count"], s["total_criteria_met"]) == (1, 19)
    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2021, "approved_only": True})).json()
    assert [r["commune_code"] for r in flags["items"] if "missing" not in r["flags"]] == ["02812"]


# ---- audit ----------------------------------------------------------------------------------

async def test_every_write_is_audited_with_request_id_and_scoped_reads(db, app, client):
    response = await client.put(A2021.format(code="02812"), json={"criteria": criteria(15)},
                                headers={"X-Request-ID": "req-123"})
    assert response.headers["x-request-id"] == "req-123"
    await client.patch(A2021.format(code="02812") + "/criteria/19", json={"met": True})
    await client.put("/api/v1/units/084/targets/2021", json={"average_criteria": 16.1})
    await client.put(A2021.format(code="02809").replace("2021", "2026"), json={"criteria": criteria(5, count=10)})
    records = (await client.get("/api/v1/audit")).json()["items"]
    assert [(r["entity"], r["action"], r["key"]) for r in records] == [
        ("assessment", "create", "02809/2026"), ("target", "create", "084/2021"),
        ("assessment", "update_criterion", "02812/2021#19"), ("assessment", "create", "02812/2021"),
    ]
    first = records[-1]
    assert first["request_id"] == "req-123" and first["actor"] == "admin" and first["before"] is None
    assert first["after"]["met_count"] == 15 and records[2]["before"]["met_count"] == 15 and records[2]["after"]["met_count"] == 16
    district = await as_user(db, app, "si-ma-cai", Role.district, "084")
    async with district:
        mine = (await district.get("/api/v1/audit")).json()
        assert {r["key"] for r in mine["items"]} == {"02812/2021", "02812/2021#19", "084/2021"}
    unit = (await client.get("/api/v1/audit", params={"unit": "15"})).json()
    assert [r["key"] for r in unit["items"]] == ["02809/2026"]


async def test_nul_in_a_multipart_sign_in_is_a_422(db, anon):
    """U+0000 in a multipart form field is refused like in a URL-encoded one (on PostgreSQL it
    reached the login lock's key: a 500)."""
    response = await anon.post("/api/v1/auth/token", files={"username": (None, "a\x00b"), "password": (None, "x")})
    assert_problem(response, 422, field="username")
    page = await anon.post("/login", files={"username": (None, "a\x00b"), "password": (None, "x")})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")


async def test_audit_period_takes_dates_and_times_without_offset_as_utc(db, client):
    """``since``/``until``: a date is its midnight, a date-time without an offset is UTC (both
    answered 500 before), one past year 9999 or before year 1 once in UTC is a 422."""
    await client.put("/api/v1/units/084/targets/2021", json={"average_criteria": 16.1})
    stamped = (await client.get("/api/v1/audit")).json()["items"][0]["at"]
    day = stamped[:10]
    for params, count in (({"since": day}, 1), ({"until": day}, 0), ({"since": stamped[:19]}, 1),
                          ({"until": "2020-01-01T00:00:00"}, 0), ({"since": f"{day}T00:00:00+07:00"}, 1),
                          ({"since": "9999-12-31T23:00:00+01:00"}, 0)):
        response = await client.get("/api/v1/audit", params={**params, "entity": "target"})
        assert response.status_code == 200, (params, response.text)
        assert response.json()["total"] == count, params
    for value in ("0001-01-01T00:30:00+01:00", "9999-12-31T23:00:00-14:00"):
        assert_problem(await client.get("/api/v1/audit", params={"since": value}), 422, field="since")


async def test_audit_records_cannot_be_changed(db, backend):
    """Append-only triggers on both databases: plain SQL cannot change or delete a record."""
    from sqlalchemy.exc import DBAPIError

    now = "now()" if backend == "postgresql" else "CURRENT_TIMESTAMP"
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO audit_record (at, actor, action, entity, key) "
                                   f"VALUES ({now}, 'x', 'create', 'unit', 'k')"))
    for statement in ("UPDATE audit_record SET actor = 'y'", "DELETE FROM audit_record"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.transaction() as session:
                await session.execute(text(statement))
    async with db.transaction() as session:
        assert (await session.execute(text("SELECT actor FROM audit_record"))).scalars().all() == ["x"]


async def test_refused_write_leaves_no_audit_record(db, app, client):
    officer = await as_user(db, app, "san-chai", Role.commune, "02812")
    async with officer:
        await officer.put(A2021.format(code="02800"), json={"criteria": criteria(19)})
    assert (await client.get("/api/v1/audit")).json()["total"] == 0


# ---- API4: unrestricted resource consumption; API8: misconfiguration; API9: inventory --------

async def test_oversized_body_is_413(client):
    big = {"criteria": criteria(19), "padding": "x" * (1024 * 1024 + 10)}
    assert_problem(await client.put(A2021.format(code="02812"), json=big), 413)
    assert await version_of(client) is None


async def test_cors_only_for_listed_origins_and_security_headers(db):
    settings = db.settings.model_copy(update={"cors_origins": ["https://ntm.laocai.gov.vn"]})
    app = create_app(settings, database=db)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        ok = await http.options("/api/v1/units", headers={"Origin": "https://ntm.laocai.gov.vn",
                                                         "Access-Control-Request-Method": "GET"})
        assert ok.headers["access-control-allow-origin"] == "https://ntm.laocai.gov.vn"
        evil = await http.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
        assert evil.headers["x-content-type-options"] == "nosniff" and evil.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("env", ["production", "test"])
@pytest.mark.parametrize("secret", ["", "changeme", "short", "x" * 31, "é" * 15])
def test_missing_short_or_placeholder_secret_refuses_to_start(env, secret, monkeypatch):
    monkeypatch.delenv("NTM_SECRET_KEY", raising=False)
    with pytest.raises(InsecureConfiguration):
        create_app(Settings(env=env, secret_key=secret, _env_file=None))


def test_development_without_a_secret_signs_with_a_random_key_not_in_the_source():
    import ast
    from pathlib import Path

    key = Settings(env="development", secret_key="short", _env_file=None).signing_key
    assert len(key) >= 32 and key == Settings(env="development", _env_file=None).signing_key  # one per process
    literals = {node.value for path in Path("app").rglob("*.py")
                for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Constant)}
    assert key not in literals


def test_a_weak_first_admin_password_is_refused():
    settings = Settings(env="production", secret_key="k" * 48, admin_username="root", admin_password="x",
                        _env_file=None)
    with pytest.raises(InsecureConfiguration, match="at least 10"):
        settings.check_admin_password()


def test_production_accepts_a_real_secret():
    app = create_app(Settings(env="production", secret_key="k" * 48, _env_file=None))
    assert app.state.settings.signing_key == "k" * 48


async def test_every_api_route_declares_its_security(client):
    spec = (await client.get("/openapi.json")).json()
    assert set(spec["components"]["securitySchemes"]) == {"OAuth2Password", "ApiKey"}
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in operations.items():
            if path == "/api/v1/auth/token":
                assert "security" not in operation
                continue
            assert operation["security"] == [{"OAuth2Password": []}, {"ApiKey": []}], f"{method} {path}"
            assert "401" in operation["responses"], f"{method} {path}"
