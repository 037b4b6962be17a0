"""Cache keys: junk query parameters neither multiply entries nor change answers; the cache is
capped by bytes. SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from app.core.cache import ResponseCache
from tests.builders import load_demo

SUMMARY = "/api/v1/units/084/summary"


async def test_junk_parameters_share_one_entry_and_one_answer(db, client):
    await load_demo(db)
    first = await client.get(SUMMARY, params={"year": 2021})
    assert first.headers["x-cache"] == "miss"
    entries = len(db.cache)
    for i in range(400):
        response = await client.get(f"{SUMMARY}?junk{i}={'x' * 50}&year=2021&z={i}")
        assert response.status_code == 200 and response.headers["x-cache"] == "hit"
        assert response.content == first.content
    assert len(db.cache) == entries
    other = await client.get(SUMMARY, params={"year": 2020, "approved_only": "false"})
    assert other.headers["x-cache"] == "miss" and other.json()["year"] == 2020
    flags = [await client.get("/api/v1/units/084/flags", params={"year": 2021, "pad": str(i)}) for i in range(3)]
    assert [r.headers["x-cache"] for r in flags] == ["miss", "hit", "hit"]
    trend = await client.get("/api/v1/units/084/trend", params={"to": 2021, "from": 2020, "x": "y"})
    again = await client.get("/api/v1/units/084/trend", params={"from": 2020, "to": 2021})
    assert (trend.headers["x-cache"], again.headers["x-cache"]) == ("miss", "hit")


def test_the_cache_is_capped_by_bytes():
    cache = ResponseCache(make_url("sqlite+aiosqlite:///x.db"), max_bytes=8000)
    stamp = (0, 0, 0)
    for i in range(20):
        cache.put(("k", i), stamp, b"x" * 900)
    assert cache.bytes <= 8000 and len(cache) == 8
    assert cache.get(("k", 0), stamp) is None and cache.get(("k", 19), stamp) == b"x" * 900
    cache.put(("big",), stamp, b"y" * 2000)  # more than an eighth of the room: not kept
    assert cache.get(("big",), stamp) is None
    cache.put(("k", 19), stamp, b"z" * 100)  # a replaced entry gives its room back
    assert cache.bytes == 7 * 900 + 100
