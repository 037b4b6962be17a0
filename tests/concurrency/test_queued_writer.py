"""A write that waits for another writer's row lock works from what that writer left: its
assessment *and* its criteria (read after the lock is granted), so a replace that restores what
was there before the other writer is a change, never taken for "unchanged" and lost."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from tests.builders import criteria, put_assessment

URL = "/api/v1/communes/02812/assessments/2021"


async def test_a_write_queued_behind_another_sees_its_criteria(db, client, backend):
    if backend != "postgresql":
        pytest.skip("SQLite writers queue whole transactions (BEGIN IMMEDIATE): nothing interleaves")
    await put_assessment(client, code="02812", year=2021, met=10)  # version 1: criteria 1..10 met
    async with db.engine.connect() as other:  # another writer: criterion 11 met too
        assessment = (await other.execute(text(
            "SELECT a.id FROM assessment a JOIN admin_unit u ON u.id = a.unit_id "
            "WHERE u.code = '02812' AND a.year = 2021 FOR UPDATE OF a"))).scalar_one()
        await other.execute(text("UPDATE assessment_criterion SET met = true WHERE assessment_id = :a AND number = 11"),
                            {"a": assessment})
        await other.execute(text("UPDATE assessment SET met_count = 11, version = version + 1 WHERE id = :a"),
                            {"a": assessment})
        # this PUT restores what was there before (10 met): it waits for the other writer's lock
        queued = asyncio.create_task(client.put(URL, json={"criteria": criteria(10)}))
        await asyncio.sleep(0.5)
        assert not queued.done()
        await other.commit()
    response = await queued
    assert response.status_code == 200, response.text
    assert response.json()["met_count"] == 10 and response.json()["version"] == 3
    stored = (await client.get(URL, headers={"Cache-Control": "no-cache"})).json()
    assert stored["met_count"] == 10 and stored["version"] == 3
    assert [c["number"] for c in stored["criteria"] if c["met"]] == list(range(1, 11))
