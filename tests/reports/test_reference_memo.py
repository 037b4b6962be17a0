"""Reference data kept between read transactions (``app.core.db.remembered``): units, their tree
and the criteria sets in force are read once per worker, and read again after any change that
could move them — through the API, another worker or plain SQL — while write transactions
always read them afresh."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Database, remembered
from app.units import service as units
from app.units.models import AdminUnit
from tests.builders import load_demo, put_assessment

DAY = dt.date(2021, 12, 31)

PROVINCE = "/api/v1/units/10/summary"
FRESH = {"Cache-Control": "no-cache"}  # past the response cache: the summary is computed each time


class Statements:
    """Counts the statements the database is sent that read units or criteria sets."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        event.listen(db.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        self.count += statement.startswith(("SELECT admin_unit.", "SELECT criteria_set."))


async def _district_name(client, code: str = "084") -> str:
    response = await client.get(PROVINCE, params={"year": 2021}, headers=FRESH)
    assert response.status_code == 200, response.text
    return next(child["unit_name"] for child in response.json()["children"] if child["unit_code"] == code)


async def _statements_of_a_summary(client, seen: Statements) -> int:
    before = seen.count
    assert (await client.get(PROVINCE, params={"year": 2021}, headers=FRESH)).status_code == 200
    return seen.count - before


async def test_a_summary_reads_units_and_sets_once_until_they_change(db, client, backend):
    await load_demo(db)
    seen = Statements(db)
    first = await _statements_of_a_summary(client, seen)
    assert first >= 3  # the unit, the sets in force, the tree below it
    assert await _statements_of_a_summary(client, seen) == 0  # all kept
    # an assessment moves figures, not units: they stay kept on PostgreSQL (the write declares its
    # scope); on SQLite every commit of a report table is global, so they are read again
    await put_assessment(client, code="02800", year=2021, met=18)
    assert await _statements_of_a_summary(client, seen) == (first if backend == "sqlite" else 0)
    assert await _statements_of_a_summary(client, seen) == 0
    response = await client.patch("/api/v1/units/084", json={"name": "Huyện Si Ma Cai mới"})
    assert response.status_code == 200, response.text
    assert await _statements_of_a_summary(client, seen) == first  # a unit changed: all read again
    assert await _district_name(client) == "Huyện Si Ma Cai mới"


async def test_a_rename_through_plain_sql_is_read_at_once(db, client):
    await load_demo(db)
    old = await _district_name(client)
    assert await _district_name(client) == old  # kept
    outsider = Database(db.settings)  # another process, or psql
    try:
        async with outsider.engine.begin() as conn:
            await conn.execute(text("UPDATE admin_unit SET name = 'Huyện Si Ma Cai (sửa tay)' WHERE code = '084'"))
    finally:
        await outsider.dispose()
    for _ in range(100):  # another process's commit is seen when its notification arrives
        if await _district_name(client) == "Huyện Si Ma Cai (sửa tay)":
            break
        await asyncio.sleep(0.02)
    assert await _district_name(client) == "Huyện Si Ma Cai (sửa tay)"


async def test_only_read_transactions_keep_what_they_read(db):
    reads: list[str] = []

    async def read() -> str:
        reads.append("read")
        return "value"

    for _ in range(2):
        async with db.transaction(write=False) as session:
            assert await remembered(session, "key", read) == "value"
    assert len(reads) == 1
    for _ in range(2):  # a write transaction reads what it locks and sees its own changes: always read
        async with db.transaction() as session:
            assert await remembered(session, "key", read) == "value"
    assert len(reads) == 3


async def test_a_failed_read_leaves_what_it_kept_usable(client):
    """A read that fails after finding its unit rolls back; the unit it kept stays loaded (a
    rollback would expire it, and a kept unit, no longer in any session, could not reload)."""
    missing = await client.get("/api/v1/units/084/plan-indicators/2020.csv")
    assert missing.status_code == 404, missing.text
    assert (await client.get("/api/v1/units/084/plan-indicators/2020.csv")).status_code == 404
    assert (await client.get("/api/v1/units/084/summary", params={"year": 2021}, headers=FRESH)).status_code == 200


def test_what_is_kept_is_bounded_in_entries_and_rows(db):
    """Many distinct keys (a reader walking every year from 1900 to 2100, say) never grow the
    memo past its bounds: past one, it starts again; a value over a tenth of the rows is not kept."""
    cache = db.cache
    cache.max_memo, cache.max_memo_weight = 50, 1_000
    generation = (0, 0)
    for i in range(500):
        cache.remember(("walk", i), generation, f"value {i}", weight=30)
        assert len(cache._memo) <= 50 and cache._memo_weight <= 1_000
    assert cache.recall(("walk", 499), generation) == (True, "value 499")  # the newest is kept
    cache.remember("huge", generation, "a national tree of every year", weight=101)
    assert cache.recall("huge", generation) == (False, None)
    cache.remember(("walk", 499), generation, "again", weight=30)  # replacing counts its rows once
    assert cache._memo_weight == sum(weight for _, _, weight in cache._memo.values())


async def _name_read_anew(db) -> str:
    async with db.transaction(write=False) as session:
        return (await units.find(session, "084", on=DAY)).name  # type: ignore[union-attr]


async def test_what_a_read_began_before_a_change_is_never_kept_as_current(db):
    """A read transaction that began before a rename and misses the memo after it reads the old name
    (its snapshot on SQLite; on both, the unit it had loaded already): that is labelled with the
    generation of its beginning, so the next transaction reads the unit again (found by review)."""
    await load_demo(db)
    async with db.transaction(write=False) as reader:
        await units.find(reader, "10", on=DAY)  # the snapshot begins (SQLite)
        (await reader.execute(select(AdminUnit).where(AdminUnit.code == "084"))).scalars().all()  # loaded
        async with db.transaction() as writer:
            await writer.execute(text("UPDATE admin_unit SET name = 'Huyện Si Ma Cai (sửa)' WHERE code = '084'"))
        await units.find(reader, "084", on=DAY)  # a miss, answered from what the reader holds
    assert await _name_read_anew(db) == "Huyện Si Ma Cai (sửa)"


async def test_a_read_whose_commit_fails_leaves_what_it_kept_usable(db, monkeypatch):
    """A read transaction whose COMMIT fails (the connection lost then) rolls back: the unit it
    kept was detached first, so a later read of it still works (found by review: a 500)."""
    await load_demo(db)
    real = AsyncSession.commit

    async def lost(self: AsyncSession) -> None:
        raise ConnectionResetError("connection lost at COMMIT")

    monkeypatch.setattr(AsyncSession, "commit", lost)
    try:
        async with db.transaction(write=False) as session:
            await units.find(session, "084", on=DAY)
    except ConnectionResetError:
        pass
    monkeypatch.setattr(AsyncSession, "commit", real)
    assert await _name_read_anew(db) == "Huyện Si Ma Cai"
