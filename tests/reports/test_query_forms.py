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


async def test_the_district_count_walks_no_commune_and_agrees_with_the_full_walk(db):
    """`district_recognitions` walks the tree above the communes only (a national count of
    districts read ~10,000 communes): the same rows as the walk of every unit."""
    from sqlalchemy import case, exists, func, select

    from app.recognitions.rules import DISTRICT_COUNTED

    await load_demo(db)
    # the demo recognises district 084 (chuan): counted below 10 and VN
    def full(year_count: int):
        tree = queries._tree(year_count)
        rec = queries.RECOGNITIONS.alias("drec")
        held = exists().where(rec.c.unit_id == tree.c.id, rec.c.level.in_(DISTRICT_COUNTED),
                              queries._valid_recognition(rec, tree.c.y))
        own = (tree.c.code == tree.c.top).label("own")
        return (select(tree.c.y, tree.c.top, own, func.count().label("districts"),
                       func.sum(case((held, 1), else_=0)).label("recognized"))
                .where(tree.c.kind.in_(queries.DISTRICT_KINDS)).group_by(tree.c.y, tree.c.top, own))

    for unit in ("VN", "10", "084", "15"):
        params = {"parent": unit, **queries.year_params(2019, 2026)}
        walked = await _rows(db, full(8), params)
        assert await _rows(db, queries._districts_stmt(8), params) == walked, unit
        if unit in ("VN", "10"):
            assert any(r[-1] for r in walked), unit  # the recognised district is counted
