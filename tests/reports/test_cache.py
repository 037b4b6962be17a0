"""Report caching: repeated requests are served from the worker's cache, and any commit —
through this worker, another worker, or plain SQL — makes the next request recompute."""

from __future__ import annotations

import asyncio

from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from app.core.db import Database
from app.main import create_app
from tests.builders import load_demo, put_assessment
from tests.users import ADMIN, bearer

SUMMARY = "/api/v1/units/084/summary"


async def _eventually_total(client: AsyncClient, expected: int) -> dict:
    """Another worker sees a commit when its change notification arrives: poll briefly."""
    for _ in range(100):
        response = await client.get(SUMMARY, params={"year": 2021})
        if response.json()["total_criteria_met"] == expected:
            return response
        await asyncio.sleep(0.02)
    raise AssertionError(f"summary never showed {expected}: {response.json()['total_criteria_met']}")


async def test_repeated_summary_is_a_cache_hit_until_a_write(db, client):
    await load_demo(db)
    first = await client.get(SUMMARY, params={"year": 2021})
    second = await client.get(SUMMARY, params={"year": 2021})
    assert first.headers["x-cache"] == "miss" and second.headers["x-cache"] == "hit"
    assert first.json() == second.json() and first.json()["total_criteria_met"] == 145

    await put_assessment(client, code="02800", year=2021, met=19)  # was 16
    third = await client.get(SUMMARY, params={"year": 2021})
    assert third.headers["x-cache"] == "miss" and third.json()["total_criteria_met"] == 148


async def test_query_order_does_not_split_the_cache(db, client):
    await load_demo(db)
    await client.get("/api/v1/units/084/flags", params=[("year", 2021), ("flag", "regressed")])
    again = await client.get("/api/v1/units/084/flags", params=[("flag", "regressed"), ("year", 2021)])
    assert again.headers["x-cache"] == "hit" and [r["commune_code"] for r in again.json()["items"]] == ["02821"]


async def test_errors_are_not_cached(client):
    for _ in range(2):
        response = await client.get("/api/v1/units/999/summary", params={"year": 2021})
        assert response.status_code == 404 and "x-cache" not in response.headers


async def test_write_through_another_worker_invalidates(db, client):
    await load_demo(db)
    other_worker = Database(db.settings)  # its own engine, pool and cache, like another process
    app = create_app(db.settings, database=other_worker)
    try:
        async with AsyncClient(
            transport=ASGITransport(app=app), base_url="http://other", headers=bearer(app, ADMIN)
        ) as other:
            assert (await client.get(SUMMARY, params={"year": 2021})).json()["total_criteria_met"] == 145
            assert (await client.get(SUMMARY, params={"year": 2021})).headers["x-cache"] == "hit"
            await put_assessment(other, code="02800", year=2021, met=18)
            await _eventually_total(client, 147)
    finally:
        await other_worker.dispose()


async def test_plain_sql_write_invalidates(db, client):
    await load_demo(db)
    assert (await client.get(SUMMARY, params={"year": 2021})).json()["total_criteria_met"] == 145
    outsider = Database(db.settings)
    try:
        async with outsider.engine.begin() as conn:
            await conn.execute(text("UPDATE assessment SET met_count = met_count - 1 WHERE commune_code = '02800' "
                                    "AND year = 2021"))
    finally:
        await outsider.dispose()
    await _eventually_total(client, 144)


async def test_api_key_clients_get_cache_hits_too(db, client, app):
    await load_demo(db)
    key = (await client.post("/api/v1/api-keys", json={"name": "sync", "role": "viewer", "unit_code": "084"})).json()["key"]
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://k", headers={"X-API-Key": key}) as system:
        first = await system.get(SUMMARY, params={"year": 2021})
        second = await system.get(SUMMARY, params={"year": 2021})
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert first.json() == second.json()
