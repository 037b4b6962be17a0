"""Optimistic concurrency (If-Match / If-None-Match) and parallel writers, on both databases."""

from __future__ import annotations

import asyncio

import pytest
from httpx import ASGITransport, AsyncClient

from app.core.preconditions import IfMatch, PreconditionFailed, PreconditionRequired, not_modified
from app.main import create_app
from tests.builders import criteria, put_assessment
from tests.helpers import assert_problem
from tests.users import ADMIN, bearer

URL = "/api/v1/communes/02812/assessments/2021"


def test_if_match_rules():
    IfMatch(None).check(3)
    IfMatch('"3"').check(3)
    IfMatch('W/"3", "4"').check(4)
    IfMatch("*").check(1)
    with pytest.raises(PreconditionFailed):
        IfMatch('"2"').check(3)
    with pytest.raises(PreconditionFailed):
        IfMatch('"1"').check(None)
    with pytest.raises(PreconditionRequired):
        IfMatch(None, required=True).check(3)
    IfMatch(None, required=True).check(None)  # creating needs no ETag
    assert not_modified('"3"', 3) and not not_modified('"2"', 3) and not not_modified(None, 3)


async def test_stale_if_match_is_412_with_the_current_version(client):
    await put_assessment(client, code="02812", year=2021, met=10)
    ok = await client.patch(f"{URL}/criteria/11", json={"met": True}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = await client.put(URL, json={"criteria": criteria(19)}, headers={"If-Match": '"1"'})
    body = assert_problem(stale, 412)
    assert body["current_version"] == 2
    assert (await client.get(URL)).json()["met_count"] == 11


async def test_get_with_current_etag_is_304(client):
    await put_assessment(client, code="02812", year=2021, met=10)
    response = await client.get(URL, headers={"If-None-Match": '"1"'})
    assert response.status_code == 304 and response.headers["etag"] == '"1"' and response.content == b""
    assert (await client.get(URL, headers={"If-None-Match": '"0"'})).status_code == 200
    await client.put("/api/v1/units/084/targets/2021", json={"average_criteria": 16.1})
    target = await client.get("/api/v1/units/084/targets/2021", headers={"If-None-Match": '"1"'})
    assert target.status_code == 304


async def test_required_if_match_is_428_when_missing(db):
    app = create_app(db.settings.model_copy(update={"require_if_match": True}), database=db)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t", headers=bearer(app, ADMIN)) as http:
        assert (await http.put(URL, json={"criteria": criteria(10)})).status_code == 201  # creation
        body = assert_problem(await http.put(URL, json={"criteria": criteria(12)}), 428)
        assert body["current_version"] == 1
        assert (await http.put(URL, json={"criteria": criteria(12)}, headers={"If-Match": '"1"'})).status_code == 200
        assert (await http.put("/api/v1/units/084/targets/2021", json={"average_criteria": 16})).status_code == 201
        assert_problem(await http.put("/api/v1/units/084/targets/2021", json={"average_criteria": 15}), 428)


async def test_parallel_writers_of_different_criteria_lose_nothing(client):
    await put_assessment(client, code="02812", year=2021, met=set())
    results = await asyncio.gather(*(
        client.patch(f"{URL}/criteria/{n}", json={"met": True, "note": f"writer {n}"}) for n in range(1, 20)
    ))
    assert [r.status_code for r in results] == [200] * 19, [r.text for r in results if r.status_code != 200]
    final = (await client.get(URL)).json()
    assert final["met_count"] == 19 and final["version"] == 20
    assert [c["note"] for c in final["criteria"]] == [f"writer {n}" for n in range(1, 20)]
    versions = sorted(r.json()["version"] for r in results)
    assert versions == list(range(2, 21))  # each writer saw its own, distinct version


async def test_twenty_writers_across_two_worker_processes(db, client):
    """20 simultaneous PATCHes, 10 to each of two assessments, through a real server with two worker
    processes (separate pools, separate event loops): no update is lost, versions stay consistent."""
    import threading

    import httpx

    from tests.servers import running
    from tests.users import PASSWORD

    for code in ("02812", "02800"):
        await put_assessment(client, code=code, year=2021, met=set())
    with running(db.settings.database_url, workers=2) as base:
        token = httpx.post(f"{base}/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        barrier = threading.Barrier(20)
        results: dict[tuple[str, int], httpx.Response] = {}

        def write(code: str, number: int) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                barrier.wait()
                results[(code, number)] = http.patch(
                    f"/api/v1/communes/{code}/assessments/2021/criteria/{number}",
                    json={"met": True, "note": f"writer {code}/{number}"})

        threads = [threading.Thread(target=write, args=(code, n)) for code in ("02812", "02800") for n in range(1, 11)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert len(results) == 20
    assert all(r.status_code == 200 for r in results.values()), [r.text for r in results.values() if r.status_code != 200]
    for code in ("02812", "02800"):
        final = (await client.get(f"/api/v1/communes/{code}/assessments/2021")).json()
        assert final["met"] == list(range(1, 11)) and final["version"] == 11
        assert [c["note"] for c in final["criteria"][:10]] == [f"writer {code}/{n}" for n in range(1, 11)]
        versions = sorted(r.json()["version"] for (c, _), r in results.items() if c == code)
        assert versions == list(range(2, 12))
