"""Cached reports go stale only on changes that can move them (app/core/changes.py): a sign-in, a
failed sign-in, a new user or API key, the audit trail leave them cached; an assessment does not.
On both databases, in one worker and across two."""

from __future__ import annotations

import asyncio

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from app.core import changes
from app.core.db import Database
from app.main import create_app
from tests.builders import load_demo, put_assessment
from tests.users import ADMIN, PASSWORD, bearer

SUMMARY = "/api/v1/units/084/summary"
YEAR = {"year": 2021}


async def _state(client: AsyncClient) -> str:
    return (await client.get(SUMMARY, params=YEAR)).headers["x-cache"]


async def _warm(client: AsyncClient) -> None:
    await client.get(SUMMARY, params=YEAR)
    assert await _state(client) == "hit"


async def _no_report_change(writer: AsyncClient) -> None:
    """Every write of the API that feeds no report: sign-in, failed sign-in, user, API key (+ audit)."""
    signed_in = await writer.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    refused = await writer.post("/api/v1/auth/token", data={"username": ADMIN, "password": "wrong password"})
    assert refused.status_code == 401, refused.text
    user = await writer.post("/api/v1/users", json={"username": "reader-1", "password": "a long enough password 1",
                                                    "role": "viewer", "unit_code": "084"})
    assert user.status_code == 201, user.text
    key = await writer.post("/api/v1/api-keys", json={"name": "sync-1", "role": "viewer", "unit_code": "084"})
    assert key.status_code == 201, key.text


async def test_sign_ins_users_and_keys_leave_reports_cached_an_assessment_does_not(db, client):
    await load_demo(db)
    await _warm(client)
    await _no_report_change(client)
    assert await _state(client) == "hit"
    await put_assessment(client, code="02800", year=2021, met=19)
    assert await _state(client) == "miss"
    assert (await client.get(SUMMARY, params=YEAR)).json()["total_criteria_met"] == 148


async def test_across_workers_only_report_changes_stale(db, client):
    await load_demo(db)
    other_worker = Database(db.settings)  # its own engine, pool, cache and listener, like another process
    app = create_app(db.settings, database=other_worker)
    try:
        async with AsyncClient(
            transport=ASGITransport(app=app), base_url="http://other", headers=bearer(app, ADMIN)
        ) as other:
            await _warm(client)
            await _warm(other)
            await _no_report_change(other)
            await asyncio.sleep(0.2)  # time for notifications, had any been sent
            assert (await _state(client), await _state(other)) == ("hit", "hit")
            await put_assessment(other, code="02800", year=2021, met=18)
            for _ in range(100):  # the other worker's notification arrives
                if (response := await client.get(SUMMARY, params=YEAR)).headers["x-cache"] == "miss":
                    break
                await asyncio.sleep(0.02)
            assert response.headers["x-cache"] == "miss" and response.json()["total_criteria_met"] == 147
    finally:
        await other_worker.dispose()


async def test_plain_sql_outside_the_report_tables_leaves_reports_cached(db, client):
    await load_demo(db)
    await _warm(client)
    outsider = Database(db.settings)
    try:
        async with outsider.transaction() as session:
            await session.execute(text("DELETE FROM login_failure"))
            await session.execute(text("INSERT INTO login_failure (username, at) VALUES ('x', CURRENT_TIMESTAMP)"))
    finally:
        await outsider.dispose()
    await asyncio.sleep(0.2)
    assert await _state(client) == "hit"


async def test_disabling_a_user_still_reaches_cached_reads_at_once(db, client, app):
    """The remembered accounts have their own topic: a user change stops the user's cached reads."""
    await load_demo(db)
    created = await client.post("/api/v1/users", json={"username": "reader-2", "password": "a long enough password 2",
                                                       "role": "viewer", "unit_code": "084"})
    assert created.status_code == 201, created.text
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://r", headers=bearer(app, "reader-2")) as r:
        assert (await r.get(SUMMARY, params=YEAR)).status_code == 200
        assert (await r.get(SUMMARY, params=YEAR)).headers["x-cache"] == "hit"
        assert (await client.patch("/api/v1/users/reader-2", json={"disabled": True})).status_code == 200
        assert (await r.get(SUMMARY, params=YEAR)).status_code == 401
    assert await _state(client) == "hit"  # and the reports stay cached


async def test_the_database_watches_exactly_the_listed_tables(database):
    async with database.engine.connect() as conn:
        found = {row[0] for row in await conn.execute(text(changes.watched_in_database_sql(database.dialect)))}
    assert found == changes.expected_in_database(database.dialect)


async def test_a_hand_edit_of_an_assessment_through_sqlite_stales_reports(db, client, backend):
    """Whoever writes is seen: on SQLite a plain connection of the sqlite3 module (no app code)."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL's plain-SQL case is test_cache.py::test_plain_sql_write_stales_every_unit")
    import sqlite3

    await load_demo(db)
    await _warm(client)
    outsider = sqlite3.connect(db.engine.url.database)
    try:
        outsider.execute("UPDATE assessment SET met_count = met_count - 1 WHERE commune_code = '02800' AND year = 2021")
        outsider.commit()
    finally:
        outsider.close()
    response = await client.get(SUMMARY, params=YEAR)
    assert response.headers["x-cache"] == "miss" and response.json()["total_criteria_met"] == 144


def test_topics_of_tables_and_payloads():
    assert changes.topics_of({"assessment", "audit_record", "login_failure"}) == {changes.REPORTS}
    assert changes.topics_of({"app_user", "audit_record"}) == {changes.ACCOUNTS}
    assert changes.topics_of({"login_failure", "audit_record", "import_request"}) == set()
    assert changes.topic_of_payload("api_key") == {changes.ACCOUNTS}
    assert changes.topic_of_payload("someone else's payload") == set(changes.TOPICS)
