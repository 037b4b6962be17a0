"""Tokens die with a password change or a disable (also on the cached paths); the sign-in
throttle is atomic; credentials are never cached. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from httpx import ASGITransport, AsyncClient

from app.auth import service
from app.auth.models import Role
from tests.builders import load_demo
from tests.helpers import assert_problem
from tests.users import PASSWORD, make_user

SUMMARY = "/api/v1/units/084/summary?year=2020"


async def _sign_in(anon: AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = await anon.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_a_password_change_revokes_earlier_tokens_on_every_path(db, app, client, anon):
    await load_demo(db)
    await make_user(db, username="si-ma-cai", role=Role.district, unit_code="084")
    old = await _sign_in(anon, "si-ma-cai")
    assert (await anon.get("/api/v1/users/me", headers=old)).status_code == 200
    assert (await anon.get("/api/v1/users/me", headers=old)).status_code == 200  # the cached principal
    assert (await anon.get(SUMMARY, headers=old)).status_code == 200
    assert (await anon.get(SUMMARY, headers=old)).headers["x-cache"] == "hit"  # answered before routing

    changed = await client.patch("/api/v1/users/si-ma-cai", json={"password": "a brand new passphrase"})
    assert changed.status_code == 200, changed.text

    assert_problem(await anon.get("/api/v1/users/me", headers=old), 401)
    assert_problem(await anon.get(SUMMARY, headers=old), 401)
    assert_problem(await anon.get("/api/v1/units/084", headers=old), 401)
    new = await _sign_in(anon, "si-ma-cai", "a brand new passphrase")
    assert (await anon.get(SUMMARY, headers=new)).status_code == 200


async def test_a_disable_revokes_tokens_for_good(db, app, client, anon):
    await make_user(db, username="viewer1", role=Role.viewer, unit_code="084")
    old = await _sign_in(anon, "viewer1")
    assert (await anon.get("/api/v1/units/084", headers=old)).status_code == 200
    assert (await client.patch("/api/v1/users/viewer1", json={"disabled": True})).status_code == 200
    assert_problem(await anon.get("/api/v1/units/084", headers=old), 401)
    assert (await client.patch("/api/v1/users/viewer1", json={"disabled": False})).status_code == 200
    assert_problem(await anon.get("/api/v1/units/084", headers=old), 401)  # enabling again revives nothing
    assert (await anon.get("/api/v1/units/084", headers=await _sign_in(anon, "viewer1"))).status_code == 200


async def test_a_role_change_keeps_tokens(db, app, client, anon):
    await make_user(db, username="viewer2", role=Role.viewer, unit_code="084")
    token = await _sign_in(anon, "viewer2")
    assert (await client.patch("/api/v1/users/viewer2", json={"role": "district"})).status_code == 200
    me = await anon.get("/api/v1/users/me", headers=token)
    assert me.status_code == 200 and me.json()["role"] == "district"


async def test_fifty_parallel_wrong_passwords_check_exactly_ten(db, app, monkeypatch):
    await make_user(db, username="target", role=Role.viewer, unit_code="084")
    checks = 0
    real = service.verify_password

    def counting(password, password_hash):
        nonlocal checks
        checks += 1
        return real(password, password_hash)

    monkeypatch.setattr(service, "verify_password", counting)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as http:
        responses = await asyncio.gather(*[
            http.post("/api/v1/auth/token", data={"username": "target", "password": f"wrong-{i}"}) for i in range(50)
        ])
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [401] * 10 + [429] * 40, statuses
        assert checks == 10
        # the right password is refused too while the window lasts, without a check
        assert_problem(await http.post("/api/v1/auth/token", data={"username": "target", "password": PASSWORD}), 429)
        assert checks == 10


async def test_a_right_password_leaves_no_failure_behind(db, app, anon):
    await make_user(db, username="regular", role=Role.viewer, unit_code="084")
    for _ in range(9):
        assert_problem(await anon.post("/api/v1/auth/token", data={"username": "regular", "password": "nope-nope"}), 401)
    for _ in range(5):  # each success removes the attempt it reserved
        await _sign_in(anon, "regular")
    assert_problem(await anon.post("/api/v1/auth/token", data={"username": "regular", "password": "nope-nope"}), 401)
    assert_problem(await anon.post("/api/v1/auth/token", data={"username": "regular", "password": PASSWORD}), 429)


async def test_credentials_are_never_cached(client, anon):
    failed = await anon.post("/api/v1/auth/token", data={"username": "admin", "password": "wrong-password"})
    assert failed.headers["cache-control"] == "no-store"
    created = await client.post("/api/v1/api-keys", json={"name": "sync-key", "role": "viewer", "unit_code": "084"})
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
