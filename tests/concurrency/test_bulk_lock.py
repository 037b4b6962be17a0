"""The bulk writers' lock (``core.locks``) has a key space of its own: no sign-in, whatever the
username, waits for an import (an attack built a username whose sign-in lock, a bigint hash,
equalled an import's: 40 sign-ins waited for the import, each holding a pooled connection)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from app.assessments.service import bulk_lock_name
from app.core import locks

# hashtextextended('ntm-login:' || this, 0) = hashtextextended(bulk_lock_name(2024, 'chuan'), 0)
COLLIDING = "mntyadvygiwlhv9[6#SDiRngq"


async def test_a_sign_in_never_waits_for_a_bulk_writer(db, anon, backend):
    if backend != "postgresql":
        pytest.skip("SQLite has no advisory locks: its writers queue whole transactions")
    name = bulk_lock_name(2024, "chuan")
    async with db.transaction() as session:
        collide = (await session.execute(text("SELECT hashtextextended(:a, 0) = hashtextextended(:b, 0)"),
                                         {"a": "ntm-login:" + COLLIDING, "b": name})).scalar()
    assert collide  # the attack's username: the same bigint key as the import's name
    async with db.transaction() as session:  # as an import of 2024 holds it
        await locks.hold(session, [name])
        response = await asyncio.wait_for(
            anon.post("/api/v1/auth/token", data={"username": COLLIDING, "password": "wrong"}), 10)
        assert response.status_code == 401, response.text


async def test_bulk_writers_of_one_year_and_kind_take_turns(db, backend):
    if backend != "postgresql":
        pytest.skip("SQLite has no advisory locks: its writers queue whole transactions")
    names = [bulk_lock_name(2024, "chuan"), bulk_lock_name(2023, "chuan")]
    async with db.transaction() as session:
        await locks.hold(session, names)

        async def other(year: int) -> None:
            async with db.transaction() as second:
                await locks.hold(second, [bulk_lock_name(year, "chuan")])

        waiting = asyncio.create_task(other(2023))
        free = asyncio.create_task(other(2022))
        await asyncio.wait_for(free, 10)  # another year: no turn to wait for
        await asyncio.sleep(0.2)
        assert not waiting.done()
    await asyncio.wait_for(waiting, 10)  # its turn once the first transaction ended
