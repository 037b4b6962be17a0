"""The report SQL has a form per database (PostgreSQL: LATERAL; SQLite: the latest assessment's
id, then its row) beside the portable one (max() probes): all give the same rows."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text

from app.reports import queries
from tests.builders import load_demo, put_assessment

COMMUNES = ["02800", "02803", "02806", "02812", "02818", "02821", "02824", "02827", "02836"]


async def _rows(db, stmt, params) -> list[tuple]:
    async with db.transaction() as session:
        return sorted((tuple(r) for r in await session.execute(stmt, params)), key=repr)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_every_form_of_the_status_query_agrees(db, client, seed):
    await load_demo(db)
    rng = random.Random(seed)
    for _ in range(12):  # more years, gaps (carried forward), and one commune with none (missing)
        year = rng.randint(2017, 2021)
        code = rng.choice(COMMUNES[1:])
        await put_assessment(client, code=code, year=year, met=set(rng.sample(range(1, 20), rng.randint(0, 19))))
    async with db.transaction() as session:
        await session.execute(text("DELETE FROM assessment WHERE commune_code = '02800'"))
        for code in rng.sample(COMMUNES[1:], 4):
            await session.execute(text(f"UPDATE assessment SET status = 'approved' WHERE commune_code = '{code}' "
                                       f"AND year <= {rng.randint(2018, 2021)}"))
    native = db.dialect
    for unit in ("084", "10", "VN"):
        for first, last in ((2018, 2018), (2019, 2022), (2021, 2021)):
            params = {"parent": unit, "kind": "chuan", **queries.year_params(first, last)}
            for approved_only in (False, True):
                for by_child in (False, True):
                    portable = await _rows(db, queries._aggregate_stmt(19, last - first + 1, by_child, approved_only,
                                                                       "portable"), params)
                    assert portable, (unit, first, last)
                    assert await _rows(db, queries._aggregate_stmt(19, last - first + 1, by_child, approved_only,
                                                                   native), params) == portable
                if first == last:
                    portable = await _rows(db, queries._commune_rows_stmt(approved_only, "portable"), params)
                    assert await _rows(db, queries._commune_rows_stmt(approved_only, native), params) == portable
