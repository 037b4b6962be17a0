"""Read transactions (``Database.transaction(write=False)``): on PostgreSQL their statements run
without BEGIN/COMMIT (each sees what was committed before it began, as under READ COMMITTED inside
a transaction), so nothing may write in one: a write is refused before it is sent, on both
databases, and nothing of it lands."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, insert, select, text, update

from app.core.db import Database, ReadOnlyViolation
from app.units.models import AdminUnit


async def _units(db: Database) -> int:
    async with db.transaction(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(AdminUnit))).scalar_one())


async def test_a_read_transaction_refuses_every_kind_of_write(db: Database):
    before = await _units(db)
    row = {"code": "99999", "name": "Xã Thử", "name_search": "xa thu", "level": "commune", "kind": "xa"}
    attempts = [
        lambda s: s.execute(insert(AdminUnit).values(**row)),
        lambda s: s.execute(update(AdminUnit).values(name="Đổi")),
        lambda s: s.execute(text("UPDATE admin_unit SET name = 'Đổi'")),
    lambda s: s.execute(text("/* a comment */ DELETE FROM admin_unit")),
        lambda s: _add_and_flush(s, row),
    ]
    for attempt in attempts:
        with pytest.raises(ReadOnlyViolation):
            async with db.transaction(write=False) as session:
                await attempt(session)
    assert await _units(db) == before
    async with db.transaction(write=False) as session:
        names = set((await session.execute(select(AdminUnit.name))).scalars())
    assert "Đổi" not in names


async def _add_and_flush(session, row):
    session.add(AdminUnit(**row))
    await session.flush()


async def test_a_read_transaction_still_reads(db: Database):
    assert await _units(db) > 0
    async with db.transaction(write=False) as session:
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        # a write word in a string, a name or a comment is no write
        for sql in ("SELECT 'update' AS word", 'SELECT 1 AS "insert" -- no delete here', "SELECT 1 WHERE 'a' <> 'copy'"):
            assert (await session.execute(text(sql))).first() is not None
        # an attribute set to the value it has: nothing to write, nothing refused
        unit = (await session.execute(select(AdminUnit).limit(1))).scalars().one()
        unit.name = unit.name
        assert await _count_in(session) > 0


async def _count_in(session) -> int:
    return int((await session.execute(select(func.count()).select_from(AdminUnit))).scalar_one())


async def test_postgresql_writes_run_under_read_committed_whatever_the_server_default(db: Database, backend: str):
    """The service's rules (a queued writer re-reads the row it locked; a read's statements each on
    their own snapshot) are READ COMMITTED's: a database whose default is another level changes nothing."""
    if backend != "postgresql":
        pytest.skip("SQLite has one isolation level (serializable)")
    name = db.engine.url.database
    async with db.engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
            text(f'ALTER DATABASE "{name}" SET default_transaction_isolation = \'repeatable read\''))
    other = Database(db.settings)  # new connections: they take the database's default
    try:
        async with other.transaction() as session:
            level = (await session.execute(text("SELECT current_setting('transaction_isolation')"))).scalar_one()
        assert level == "read committed"
    finally:
        await other.dispose()
        async with db.engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
                text(f'ALTER DATABASE "{name}" RESET default_transaction_isolation'))


async def test_postgresql_reads_hold_no_transaction_open_between_statements(db: Database, backend: str):
    """PostgreSQL: a read's second statement starts a transaction of its own (no idle-in-transaction
    connection, no BEGIN/COMMIT round trips). SQLite keeps the read transaction: one snapshot."""
    async with db.transaction(write=False) as session:
        await session.execute(text("SELECT 1"))
        await asyncio.sleep(0.2)
        if backend == "postgresql":
            # how long before this statement its transaction began: 0.2 s inside the first one's
            began = (await session.execute(text("SELECT extract(epoch FROM statement_timestamp() - now())")))
            assert began.scalar_one() < 0.1
        else:
            assert session.in_transaction()
