"""Small keyword-only builders that make data through the API, as a client would."""

from __future__ import annotations

from collections.abc import Iterable

from httpx import AsyncClient


def criteria(met: Iterable[int] | int, *, count: int = 19) -> list[dict]:
    """Criteria payload: ``met`` is the set of met numbers, or how many (the first n)."""
    met_set = set(range(1, met + 1)) if isinstance(met, int) else set(met)
    return [{"number": n, "met": n in met_set} for n in range(1, count + 1)]


async def put_assessment(
    client: AsyncClient, *, code: str, year: int, met: Iterable[int] | int, count: int = 19, expect: int | None = None
) -> dict:
    response = await client.put(f"/api/v1/communes/{code}/assessments/{year}", json={"criteria": criteria(met, count=count)})
    if expect is not None:
        assert response.status_code == expect, response.text
    else:
        assert response.status_code in (200, 201), response.text
    return response.json()


async def put_target(client: AsyncClient, *, code: str, year: int, **body) -> dict:
    response = await client.put(f"/api/v1/units/{code}/targets/{year}", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def load_demo(db) -> None:
    from app.demo import load_demo as load

    async with db.transaction() as session:
        await load(session)
    # the demo's plan indicators read summaries, whose stored aggregates are written in the
    # background: done before the test goes on (a test that then blocks its event loop on a
    # server of its own would otherwise hold that store, and its write lock, meanwhile)
    await db.settle()
