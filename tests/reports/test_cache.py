"""Report caching: repeated requests are served from the worker's cache, and any change of the
tables the reports are computed from — through this worker, another worker, or plain SQL —
makes the next request recompute the reports it can change: on PostgreSQL, for an assessment or
target written through the API, only those of the units above it covering its year or later;
otherwise all of them. Concurrent misses compute once (single flight). Which changes stale
nothing: test_invalidation.py."""

from __future__ import annotations

import asyncio

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from app.core.cache import WriteScope, parse_scope
from app.core.db import Database
from app.main import create_app
from app.reports.router import report_subject
from tests.builders import criteria, load_demo, put_assessment, put_target
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


async def test_api_key_clients_get_cache_hits_too(db, client, app):
    await load_demo(db)
    key = (await client.post("/api/v1/api-keys", json={"name": "sync", "role": "viewer", "unit_code": "084"})).json()["key"]
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://k", headers={"X-API-Key": key}) as system:
        first = await system.get(SUMMARY, params={"year": 2021})
        second = await system.get(SUMMARY, params={"year": 2021})
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert first.json() == second.json()


# ---- scoped invalidation: a write stales only the reports of the units it can change ------------

# a second district in another province, so that one district's writes can be seen not to touch it
OTHER_UNITS = [
    {"code": "11", "name": "Tỉnh Điện Biên", "level": "province", "kind": "tinh", "parent_code": "VN"},
    {"code": "095", "name": "Huyện Mường Nhé", "level": "district", "kind": "huyen", "parent_code": "11"},
    {"code": "03100", "name": "Xã Sín Thầu", "level": "commune", "kind": "xa", "parent_code": "095"},
]
REPORTS = {code: f"/api/v1/units/{code}/summary" for code in ("084", "10", "VN", "095", "11")}


async def _with_other_district(db, client: AsyncClient) -> None:
    await load_demo(db)
    for unit in OTHER_UNITS:
        body = {**unit, "region": "trung_du_mien_nui_phia_bac", "valid_to": "2025-06-30"}
        response = await client.post("/api/v1/units", json=body)
        assert response.status_code == 201, response.text
    await put_assessment(client, code="03100", year=2021, met=12)


async def _warm(client: AsyncClient) -> None:
    for path in REPORTS.values():
        await client.get(path, params={"year": 2021})
        assert (await client.get(path, params={"year": 2021})).headers["x-cache"] == "hit"


async def _cache_states(client: AsyncClient) -> dict[str, str]:
    return {code: (await client.get(path, params={"year": 2021})).headers["x-cache"] for code, path in REPORTS.items()}


def _expected(stale: set[str], backend: str) -> dict[str, str]:
    """PostgreSQL stales only the write's units; SQLite cannot tell, and stales everything."""
    return {code: "miss" if backend == "sqlite" or code in stale else "hit" for code in REPORTS}


async def test_an_assessment_write_stales_only_its_communes_units(db, client, backend):
    await _with_other_district(db, client)
    await _warm(client)
    await put_assessment(client, code="03100", year=2021, met=13)  # district 095, province 11
    assert await _cache_states(client) == _expected({"095", "11", "VN"}, backend)
    figures = (await client.get(REPORTS["095"], params={"year": 2021})).json()
    assert figures["total_criteria_met"] == 13


async def test_a_scoped_write_through_another_worker_stales_the_same_units(db, client, backend):
    await _with_other_district(db, client)
    other_worker = Database(db.settings)
    app = create_app(db.settings, database=other_worker)
    try:
        async with AsyncClient(
            transport=ASGITransport(app=app), base_url="http://other", headers=bearer(app, ADMIN)
        ) as other:
            await _warm(client)
            await put_assessment(other, code="02800", year=2021, met=18)  # district 084, province 10
            await _eventually_total(client, 147)  # the notification has arrived (084 recomputed)
            states = await _cache_states(client)
            assert states.pop("084") == "hit"  # as just recomputed by the line above
            assert states == {c: s for c, s in _expected({"10", "VN"}, backend).items() if c != "084"}
            national = (await client.get(REPORTS["VN"], params={"year": 2021})).json()
            assert national["total_criteria_met"] == 147 + 12
    finally:
        await other_worker.dispose()


async def test_a_target_write_stales_its_unit_and_those_above(db, client, backend):
    await _with_other_district(db, client)
    await _warm(client)
    await put_target(client, code="084", year=2021, average_criteria=16.5)
    assert await _cache_states(client) == _expected({"084", "10", "VN"}, backend)
    province = (await client.get(REPORTS["10"], params={"year": 2021})).json()
    assert [c["target_average"] for c in province["children"] if c["unit_code"] == "084"] == [16.5]


async def test_a_refused_write_leaves_the_cache_in_place_and_unscoped_writes_stale_all(db, client):
    await _with_other_district(db, client)
    await _warm(client)
    stale = await client.put(  # refused after its scope was announced: the rollback drops the notice too
        "/api/v1/communes/02800/assessments/2021", json={"criteria": criteria(17)}, headers={"If-Match": '"99"'}
    )
    assert stale.status_code == 412, stale.text
    await asyncio.sleep(0.1)  # time for a notification, had one been sent
    assert await _cache_states(client) == {code: "hit" for code in REPORTS}  # nothing changed
    # a change of the unit tree is not scoped: every cached report goes
    response = await client.patch("/api/v1/units/095", json={"name": "Huyện Mường Nhé mới"})
    assert response.status_code == 200, response.text
    assert await _cache_states(client) == {code: "miss" for code in REPORTS}


async def test_plain_sql_write_stales_every_unit(db, client):
    await _with_other_district(db, client)
    await _warm(client)
    assert (await client.get(SUMMARY, params={"year": 2021})).json()["total_criteria_met"] == 145
    outsider = Database(db.settings)
    try:
        async with outsider.engine.begin() as conn:
            await conn.execute(text("UPDATE assessment SET met_count = met_count - 1 WHERE commune_code = '02800' "
                                    "AND year = 2021"))
    finally:
        await outsider.dispose()
    await _eventually_total(client, 144)
    assert (await client.get(REPORTS["095"], params={"year": 2021})).headers["x-cache"] == "miss"


async def test_a_write_leaves_reports_of_earlier_years_cached(db, client, backend):
    """An assessment of 2021 moves 2021 and later figures (carried forward), never 2020's."""
    await load_demo(db)
    reads = {
        "2020": ("/api/v1/units/084/summary", {"year": 2020}),
        "2021": ("/api/v1/units/084/summary", {"year": 2021}),
        "flags 2020": ("/api/v1/units/084/flags", {"year": 2020}),
        "trend to 2020": ("/api/v1/units/084/trend", {"from": 2019, "to": 2020}),
        "trend": ("/api/v1/units/084/trend", {}),  # up to the last year with data: any write may extend it
    }
    for path, params in reads.values():
        await client.get(path, params=params)
        assert (await client.get(path, params=params)).headers["x-cache"] == "hit"
    await put_assessment(client, code="02800", year=2021, met=19)
    states = {name: (await client.get(path, params=params)).headers["x-cache"] for name, (path, params) in reads.items()}
    stale = {"2021", "trend"} if backend == "postgresql" else set(reads)
    assert states == {name: "miss" if name in stale else "hit" for name in reads}
    trend = (await client.get("/api/v1/units/084/trend")).json()["items"]
    assert [row["total_criteria_met"] for row in trend if row["year"] == 2021] == [148]


def test_scope_payloads_name_a_year_and_units_and_anything_else_is_global():
    # the payload scope_writes builds in SQL: scope:<year>:<code>,<code>…
    assert parse_scope("scope:2026:084,10,VN") == WriteScope(2026, frozenset({"084", "10", "VN"}))
    for other in ("assessment", "scope:", "scope:2026:", "scope::084", "scope:20x6:084", ""):
        assert parse_scope(other) is None, other


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/api/v1/units/084/summary", b"year=2021", ("084", 2021)),
        ("/api/v1/units/VN/flags", b"flag=regressed&year=2024&limit=5", ("VN", 2024)),
        ("/api/v1/units/10/trend", b"from=2016&to=2020", ("10", 2020)),
        ("/api/v1/units/10/trend", b"from=2016", ("10", None)),  # up to whatever has data: every year
        ("/api/v1/units/084/summary", b"year=2020&year=2021", ("084", None)),  # ambiguous: every year
        ("/api/v1/units/084/summary", b"year=%C2%B2", ("084", None)),  # "²" is a digit to str.isdigit
        ("/api/v1/units/084/summary", b"", ("084", None)),
        ("/api/v1/units/084/targets/2021", b"", None),
        ("/api/v1/units/084/summary/x", b"year=2021", None),
    ],
)
def test_report_subject(path, query, expected):
    assert report_subject(path, query) == expected


# ---- single flight: concurrent misses compute once -----------------------------------------------


async def test_concurrent_misses_run_one_computation(db, app, client, monkeypatch):
    from app.reports import service

    await load_demo(db)
    app.state.turns.limit = 0  # every request runs at once (no turns): single flight alone computes once
    runs = []
    original = service.summary

    async def slow_summary(*args, **kwargs):
        runs.append(1)
        await asyncio.sleep(0.1)  # long enough for every request below to miss meanwhile
        return await original(*args, **kwargs)

    monkeypatch.setattr(service, "summary", slow_summary)
    responses = await asyncio.gather(*(client.get(SUMMARY, params={"year": 2021}) for _ in range(16)))
    assert [r.status_code for r in responses] == [200] * 16
    assert {r.json()["total_criteria_met"] for r in responses} == {145}
    assert len(runs) == 1 and {r.headers["x-cache"] for r in responses} == {"miss"}
    assert (await client.get(SUMMARY, params={"year": 2021})).headers["x-cache"] == "hit"

    # after a write, a new burst computes once more, and sees the write
    await put_assessment(client, code="02800", year=2021, met=19)
    responses = await asyncio.gather(*(client.get(SUMMARY, params={"year": 2021}) for _ in range(8)))
    assert {r.json()["total_criteria_met"] for r in responses} == {148} and len(runs) == 2
    # Cache-Control: no-cache computes on its own
    await asyncio.gather(*(client.get(SUMMARY, params={"year": 2021}, headers={"Cache-Control": "no-cache"})
                           for _ in range(3)))
    assert len(runs) == 5


async def test_concurrent_misses_of_an_unknown_unit_all_answer_404(db, client):
    responses = await asyncio.gather(*(client.get("/api/v1/units/999/summary", params={"year": 2021}) for _ in range(8)))
    assert [r.status_code for r in responses] == [404] * 8
    assert all(r.headers["content-type"] == "application/problem+json" for r in responses)
