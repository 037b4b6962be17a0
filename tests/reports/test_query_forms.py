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


async def test_the_walk_agrees_with_the_full_tree_of_every_year(db):
    """`walk.walk` reads the units above communes below a unit once for all the years and tells
    the years apart in Python: per year, the same parents (with the direct child above each), the
    same children and the same district counts as the SQL walk of every unit, communes included."""
    from sqlalchemy import case, exists, func, select

    from app.recognitions import service as recognitions_service
    from app.recognitions.rules import DISTRICT_COUNTED
    from app.reports.walk import OWN, district_counts, walk
    from app.units.models import KINDS_BY_LEVEL, AdminUnit, UnitLevel

    await load_demo(db)
    years = range(2019, 2027)  # the 2025 reform in the middle: 084 moves under 15, then ends
    tree = queries._tree(len(years))
    rec = queries.RECOGNITIONS.alias("drec")
    held = exists().where(rec.c.unit_id == tree.c.id, rec.c.level.in_(DISTRICT_COUNTED),
                          queries._valid_recognition(rec, tree.c.y))
    counted = (select(tree.c.y, tree.c.top, (tree.c.code == tree.c.top).label("own"), func.count(),
                      func.sum(case((held, 1), else_=0)))
               .where(tree.c.kind.in_(queries.DISTRICT_KINDS)).group_by(tree.c.y, tree.c.top, "own"))
    # a parent is a unit that some commune of the tree names as its parent
    parents = select(tree.c.y, tree.c.code, tree.c.top).where(tree.c.kind.not_in(KINDS_BY_LEVEL[UnitLevel.commune]))
    recognised = 0
    for code in ("VN", "10", "084", "15"):
        params = {"parent": code, **queries.year_params(years[0], years[-1])}
        full_counts = await _rows(db, counted, params)
        full_parents = await _rows(db, parents, params)
        async with db.transaction() as session:
            unit = (await session.execute(select(AdminUnit).where(AdminUnit.code == code)
                                          .order_by(AdminUnit.valid_from.desc()))).scalars().first()
            found = await walk(session, unit, years)
            levels = await recognitions_service.valid_levels(session, found.district_ids(), years)
        counts = district_counts(found, levels)
        mine = sorted(((y, top, own, n, r) for y, (_, by_child) in counts.items() for top, c in by_child.items()
                       for own, n, r in [(False, c.districts, c.recognized)] if n), key=repr)
        assert mine == sorted(((y, top, own, n, int(r)) for y, top, own, n, r in full_counts if not own), key=repr), code
        for y in years:
            whole = counts[y][0]
            assert whole.districts == sum(n for yy, _, _, n, _ in full_counts if yy == y), (code, y)
            assert whole.recognized == sum(int(r) for yy, _, _, _, r in full_counts if yy == y), (code, y)
            recognised += whole.recognized
            assert {c: t for c, t in found.tops[y].items() if t != OWN or c != code} == {
                c: t for yy, c, t in full_parents if yy == y}, (code, y)
            assert [u.code for u in found.children[y]] == sorted({t for yy, _, t in full_parents if yy == y}), (code, y)
    assert recognised  # the demo recognises district 084 (chuan): counted below 10 and VN


async def test_recognitions_of_many_units_above_communes_read_as_named(db):
    """`valid_levels(..., above_communes=True)` reads every recognition of a unit above the
    communes when more than `NAMED` ids are asked for: the same levels as naming them."""
    from sqlalchemy import text

    from app.recognitions import service as recognitions_service

    await load_demo(db)
    async with db.transaction() as session:
        above = list((await session.execute(text("SELECT id FROM admin_unit WHERE level <> 'commune'"))).scalars())
        communes = list((await session.execute(text(
            "SELECT r.unit_id FROM recognition r JOIN admin_unit u ON u.id = r.unit_id WHERE u.level = 'commune'"
        ))).scalars())
        many = above + [10**9 + i for i in range(recognitions_service.NAMED)]  # no such units: more than NAMED ids
        years = range(2019, 2027)
        named = await recognitions_service.valid_levels(session, above, years)
        read_all = await recognitions_service.valid_levels(session, many, years, above_communes=True)
        with_communes = await recognitions_service.valid_levels(session, communes, years)
    assert named, "the demo recognises district 084"
    assert read_all == named
    assert with_communes and not set(with_communes) & set(read_all)  # the communes' own are not asked for
