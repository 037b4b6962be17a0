"""Stored per-parent report aggregates (issue 14): whatever was written, and however (the API,
plain SQL), a summary or trend summed from the stored rows equals the one computed live over
every commune (``Settings.report_aggregates`` off), on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from app.core.aggregate_epochs import TABLES, triggers_in_database_sql
from app.core.db import AGGREGATES_KEY, Database
from app.main import create_app
from app.reports import service, stored
from app.reports.tables import EVERYTHING, ReportAgg, ReportAggEpoch
from app.units.service import resolve, resolve_unit_above_commune
from tests.builders import criteria, load_demo, put_assessment
from tests.conftest import reset_database
from tests.users import ADMIN, bearer

OLD = ["02800", "02803", "02806", "02812", "02818", "02821", "02824", "02827", "02836"]  # to 2025-06-30, in 084
NEW = ["02809", "02824", "02848"]  # from 2025-07-01, directly in the new province 15
COMMUNES = sorted(set(OLD + NEW))
YEARS = list(range(2019, 2028))
READ_UNITS = ["VN", "10", "084", "15"]


async def _figures(db: Database, use_aggregates: bool, code: str, year: int, approved_only: bool, what: str) -> Any:
    try:
        return await _compute(db, use_aggregates, code, year, approved_only, what)
    finally:
        await db.settle()  # what the read computed is stored in the background: wait for it


async def _compute(db: Database, use_aggregates: bool, code: str, year: int, approved_only: bool, what: str) -> Any:
    async with db.transaction(write=False) as session:
        session.info[AGGREGATES_KEY] = use_aggregates
        try:
            if what == "summary":
                unit = await resolve_unit_above_commune(session, code, year)
                return (await service.summary(session, unit, year, approved_only=approved_only)).model_dump(mode="json")
            unit = await resolve(session, code, on=dt.date(year, 12, 31))
            rows = await service.trend(session, unit, first=2019, last=year, approved_only=approved_only)
            return [r.model_dump(mode="json") for r in rows]
        except Exception as error:  # the same refusal either way (a unit not valid in the year, …)
            return ("refused", type(error).__name__, getattr(error, "status_code", None))


async def assert_same(db: Database, code: str, year: int, approved_only: bool, what: str = "summary") -> None:
    live = await _figures(db, False, code, year, approved_only, what)
    first = await _figures(db, True, code, year, approved_only, what)  # may compute and store
    again = await _figures(db, True, code, year, approved_only, what)  # from what was stored
    assert first == live, (code, year, approved_only, what)
    assert again == live, (code, year, approved_only, what)


# ---- one step of a random history -------------------------------------------------------------

writes = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(COMMUNES), st.sampled_from(YEARS), st.integers(0, 2**19 - 1)),
    st.tuples(st.just("status"), st.sampled_from(COMMUNES), st.sampled_from(YEARS),
              st.sampled_from(["approved", "draft", "submitted"])),
    st.tuples(st.just("delete"), st.sampled_from(COMMUNES), st.sampled_from(YEARS), st.none()),
    st.tuples(st.just("recognise"), st.sampled_from(COMMUNES), st.sampled_from(YEARS), st.none()),
    st.tuples(st.just("revoke"), st.sampled_from(COMMUNES), st.sampled_from(YEARS), st.none()),
    st.tuples(st.just("close"), st.sampled_from(COMMUNES), st.sampled_from(YEARS), st.none()),
    st.tuples(st.just("create"), st.sampled_from(COMMUNES), st.sampled_from(YEARS), st.none()),
)
reads = st.tuples(st.just("read"), st.sampled_from(READ_UNITS), st.sampled_from(YEARS),
                  st.tuples(st.booleans(), st.sampled_from(["summary", "summary", "trend"])))


async def _write(db: Database, http: AsyncClient, op: tuple, created: list[str]) -> None:
    action, code, year, arg = op
    day = dt.date(year, 12, 31) if year <= 2025 else dt.date(year, 6, 1)
    if action == "put":
        count = 19 if year <= 2025 else 10
        met = {n for n in range(1, count + 1) if arg >> (n - 1) & 1}
        await http.put(f"/api/v1/communes/{code}/assessments/{year}", json={"criteria": criteria(met, count=count)})
        return
    if action == "recognise":
        await http.put(f"/api/v1/communes/{code}/recognitions/chuan", params={"on": day.isoformat()},
                       json={"recognition_year": year, "decision_no": "1/QĐ"})
        return
    if action == "revoke":
        await http.post(f"/api/v1/communes/{code}/recognitions/chuan/revoke", params={"on": day.isoformat()},
                        json={"revoked_on": dt.date(year, 5, 1).isoformat()})
        return
    # plain SQL, as psql or sqlite3 would: only the triggers know (in a write transaction, BEGIN
    # IMMEDIATE on SQLite: a background store may commit between a read and a write of a deferred one)
    async with db.transaction() as conn:
        if action == "status":
            await conn.execute(text("UPDATE assessment SET status = :s WHERE commune_code = :c AND year = :y"),
                               {"s": arg, "c": code, "y": year})
        elif action == "delete":
            await conn.execute(text("DELETE FROM assessment_criterion WHERE assessment_id IN "
                                    "(SELECT id FROM assessment WHERE commune_code = :c AND year = :y)"), {"c": code, "y": year})
            await conn.execute(text("DELETE FROM assessment WHERE commune_code = :c AND year = :y"), {"c": code, "y": year})
        elif action == "close":  # the commune (its row valid on the day) ends on 31 December of the year before
            await conn.execute(
                text("UPDATE admin_unit SET valid_to = :end WHERE code = :c AND kind = 'xa' "
                     "AND (valid_from IS NULL OR valid_from <= :day) AND (valid_to IS NULL OR valid_to >= :day)"),
                {"c": code, "day": day, "end": dt.date(year - 1, 12, 31)})
        elif action == "create":  # a new commune beside it, from the first day of the year
            new_code = f"09{len(created):03d}"
            created.append(new_code)
            columns = [c for c in (await conn.execute(text("SELECT * FROM admin_unit WHERE 1 = 0"))).keys()
                       if c not in ("id", "code", "valid_from", "valid_to")]
            cols = ", ".join(columns)
            await conn.execute(
                text(f"INSERT INTO admin_unit (code, valid_from, valid_to, {cols}) SELECT :n, :start, valid_to, {cols} "
                     "FROM admin_unit WHERE code = :c AND (valid_from IS NULL OR valid_from <= :day) "
                     "AND (valid_to IS NULL OR valid_to >= :day)"),
                {"n": new_code, "c": code, "day": day, "start": dt.date(year, 1, 1)})


async def _history(settings_: Any, steps: list[tuple]) -> None:
    db = Database(settings_)  # this thread's own engine (its own event loop)
    try:
        await reset_database(db)
        await load_demo(db)
        app = create_app(db.settings, database=db)
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test", headers=bearer(app, ADMIN)) as http:
            created: list[str] = []
            for step in steps:
                if step[0] == "read":
                    _, code, year, (approved_only, what) = step
                    await assert_same(db, code, year, approved_only, what)
                else:
                    await _write(db, http, step, created)
            for code in ("VN", "10", "15"):  # and at the end, every year of the whole country
                for year in (2020, 2021, 2025, 2026):
                    await assert_same(db, code, year, False)
    finally:
        await db.dispose()


async def test_stored_aggregates_equal_the_live_computation_over_random_histories(db):
    @settings(max_examples=12, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(st.lists(st.one_of(writes, reads), min_size=1, max_size=14))
    def check(steps: list[tuple]) -> None:
        asyncio.run(_history(db.settings, steps))

    await asyncio.to_thread(check)


async def test_a_plain_sql_update_of_an_assessment_moves_its_parents_epoch(db):
    await load_demo(db)
    await assert_same(db, "10", 2021, False)  # stored now
    async with db.transaction(write=False) as session:
        before = (await session.execute(select(ReportAggEpoch.epoch).where(ReportAggEpoch.parent_code == "084"))).scalar()
        kept = (await session.execute(select(ReportAgg.epoch).where(ReportAgg.parent_code == "084", ReportAgg.year == 2021,
                                                                    ReportAgg.kind == "chuan"))).scalar()
    assert kept == (before or 0)
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE assessment SET met_count = met_count - 1, met_bits = met_bits / 2 "
                                "WHERE commune_code = '02812' AND year = 2021"))
    async with db.transaction(write=False) as session:
        after = (await session.execute(select(ReportAggEpoch.epoch).where(ReportAggEpoch.parent_code == "084"))).scalar()
    assert after is not None and after > (before or 0)
    await assert_same(db, "10", 2021, False)
    assert (await _figures(db, True, "084", 2021, False, "summary"))["total_criteria_met"] == 144


async def test_a_writer_between_the_epoch_read_and_the_store_leaves_no_used_stale_row(db, client, monkeypatch):
    """The rows computed by a read that a write overtook are stored with the epochs read before: never used."""
    await load_demo(db)
    original = stored.compute
    wrote = []

    async def compute_then_write(session, parents, years, **kw):
        result = await original(session, parents, years, **kw)
        if not wrote:  # a writer commits after the reader read the epochs and computed
            wrote.append(True)
            await put_assessment(client, code="02812", year=2021, met=10)
        return result

    monkeypatch.setattr(stored, "compute", compute_then_write)
    overtaken = await _figures(db, True, "084", 2021, False, "summary")
    assert overtaken["total_criteria_met"] == 145  # the reader's own snapshot (or earlier): the demo's figure
    monkeypatch.setattr(stored, "compute", original)
    # the stored row is stale: the next read recomputes and sees the write
    assert (await _figures(db, True, "084", 2021, False, "summary"))["total_criteria_met"] == 136
    await assert_same(db, "084", 2021, False)
    await assert_same(db, "10", 2021, False)


async def test_aggregate_triggers_are_installed(db):
    async with db.transaction(write=False) as session:
        found = set((await session.execute(text(triggers_in_database_sql(db.dialect)))).scalars())
    assert found == set(TABLES)


async def test_storing_aggregates_stales_no_cached_report(db, client):
    await load_demo(db)
    await client.get("/api/v1/units/084/summary", params={"year": 2021})
    async with db.transaction() as session:
        await session.execute(ReportAgg.__table__.delete())  # type: ignore[attr-defined]
    # (deleting stored rows is no change of the figures: still a hit)
    assert (await client.get("/api/v1/units/084/summary", params={"year": 2021})).headers["x-cache"] == "hit"
    response = await client.get("/api/v1/units/VN/summary", params={"year": 2021})  # computes and stores
    assert response.headers["x-cache"] == "miss"
    await db.settle()  # the store runs in the background: done before the checks
    assert (await client.get("/api/v1/units/084/summary", params={"year": 2021})).headers["x-cache"] == "hit"
    async with db.transaction(write=False) as session:
        assert (await session.execute(select(ReportAgg.parent_code).where(ReportAgg.parent_code == "084"))).first()
        assert EVERYTHING in set((await session.execute(select(ReportAggEpoch.parent_code))).scalars())




async def _valid_years(db: Database, parent: str) -> dict[str, list[int]]:
    """Per kind, the years whose stored row of ``parent`` (approved_only false) is still valid."""
    async with db.transaction(write=False) as session:
        epoch = (await session.execute(select(ReportAggEpoch.epoch).where(ReportAggEpoch.parent_code == parent))).scalar()
        rows = (await session.execute(select(ReportAgg.kind, ReportAgg.year, ReportAgg.epoch)
                                      .where(ReportAgg.parent_code == parent, ReportAgg.approved_only.is_(False)))).all()
    out: dict[str, list[int]] = {}
    for kind, year, tag in rows:
        if tag == epoch:
            out.setdefault(kind, []).append(year)
    return {kind: sorted(years) for kind, years in out.items()}


async def test_a_write_keeps_valid_the_stored_rows_it_cannot_move(db, client):
    """An assessment of kind K in year Y moves the figures of kind K from Y on only: the rows of the
    years before, and of the other kinds, stay valid (re-tagged by the trigger), in the API's
    transaction and in plain SQL alike; the figures still equal the live computation."""
    await load_demo(db)
    await assert_same(db, "084", 2024, False, "trend")  # stores 084's chuan rows of 2019…2024 (its last year)
    async with db.transaction(write=False) as session:
        epochs = {code: epoch for code, epoch in await session.execute(select(ReportAggEpoch.parent_code, ReportAggEpoch.epoch))}
    # and rows of another kind, as its reads would have stored them
    await stored.store(db, [stored._tagged("084", "nang_cao", False, y, epochs, []) for y in YEARS])
    assert await _valid_years(db, "084") == {"chuan": list(range(2019, 2025)), "nang_cao": YEARS}

    await put_assessment(client, code="02812", year=2023, met=10)
    assert await _valid_years(db, "084") == {"chuan": [2019, 2020, 2021, 2022], "nang_cao": YEARS}
    async with db.transaction() as conn:  # plain SQL, two rows in one statement
        await conn.execute(text("UPDATE assessment SET status = 'draft' WHERE commune_code IN ('02803', '02806') "
                                "AND year IN (2021, 2022) AND kind = 'chuan'"))
    assert await _valid_years(db, "084") == {"chuan": [2019, 2020], "nang_cao": YEARS}
    async with db.transaction() as conn:  # moved to another year: stales from the earlier of the two
        await conn.execute(text("UPDATE assessment SET year = 2018 WHERE commune_code = '02812' AND year = 2020"))
    assert await _valid_years(db, "084") == {"nang_cao": YEARS}
    async with db.transaction() as conn:  # moved to another kind: both kinds from the year on
        await conn.execute(text("UPDATE assessment SET kind = 'nang_cao' WHERE commune_code = '02812' AND year = 2023"))
    assert await _valid_years(db, "084") == {"nang_cao": [2019, 2020, 2021, 2022]}
    for year in (2019, 2020, 2021, 2022, 2023, 2024):
        await assert_same(db, "084", year, False)
        await assert_same(db, "10", year, False)
    await assert_same(db, "084", 2024, False, "trend")


async def test_a_committing_writer_skips_the_stored_rows_a_store_holds(db, client, backend):
    """PostgreSQL: a row that a reader's store holds locked is not waited for by a writer's re-tag
    (a store may wait for the writer's rows: no cycle); it is left stale, which is always safe."""
    if backend != "postgresql":
        pytest.skip("SQLite writers and stores are serialised: nothing is held meanwhile")
    await load_demo(db)
    await assert_same(db, "084", 2024, False, "trend")  # stores 084's rows of 2019…2024
    async with db.engine.connect() as store:  # as a store holding the row of 2019
        await store.execute(text("SELECT 1 FROM report_agg WHERE parent_code = '084' AND year = 2019 "
                                 "AND kind = 'chuan' AND NOT approved_only FOR UPDATE"))
        put = asyncio.create_task(put_assessment(client, code="02812", year=2023, met=10))
        await asyncio.wait_for(put, 10)  # done while the row is still held
        await store.rollback()
    assert await _valid_years(db, "084") == {"chuan": [2020, 2021, 2022]}
    await assert_same(db, "084", 2024, False, "trend")
