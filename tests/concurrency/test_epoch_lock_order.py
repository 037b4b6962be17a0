"""Lock order. Data rows: bulk writers of a year's assessments of a kind (imports, ``ntm
assessments rejudge``) take turns (``core.locks``); single-row writers lock one row. Epoch rows:
every writer takes its data rows first and its parents' report epoch rows last (the deferred
epoch triggers at the commit; an import, many parents, in code order after its rows:
``aggregate_epochs.hold``). So imports and PUTs writing the same assessments queue one behind
the other, whichever goes first. (The import used to take the epochs before its rows: with a PUT
creating the same assessment, each held what the other waited for, and PostgreSQL killed one
after a second — a 500.)"""

from __future__ import annotations

import asyncio

import pytest

from app.assessments import service as assessments_service
from app.core import aggregate_epochs
from tests.builders import criteria
from tests.exchange.files import HEADER_19, marks, upload, xlsx

COMMUNE, YEAR = "02812", 2022
URL = f"/api/v1/communes/{COMMUNE}/assessments/{YEAR}"
FILE = xlsx([HEADER_19, [COMMUNE, "Sán Chải", *marks(15)], ["02800", "Nàn Sán", *marks(9)]])


def _pause(monkeypatch, module, name: str, *, after: bool) -> tuple[asyncio.Event, asyncio.Event]:
    """The first call of ``module.name`` stops, after running or before, until ``go_on`` is set:
    (reached, go_on)."""
    reached, go_on = asyncio.Event(), asyncio.Event()
    original = getattr(module, name)

    async def paused(*args, **kwargs):
        if reached.is_set():
            return await original(*args, **kwargs)
        result = await original(*args, **kwargs) if after else None
        reached.set()
        await go_on.wait()
        return result if after else await original(*args, **kwargs)

    monkeypatch.setattr(module, name, paused)
    return reached, go_on


async def _two_imports(client, one: bytes, other: bytes, pause: tuple[asyncio.Event, asyncio.Event], *,
                       between=None):
    """Import ``one`` until ``pause`` stops it; ``between()``; import ``other``, which must wait for
    the first. Both answers."""
    reached, go_on = pause
    ahead = asyncio.create_task(upload(client, one, year=2021))
    try:
        await asyncio.wait_for(reached.wait(), 10)
        if between is not None:
            await between()
        behind = asyncio.create_task(upload(client, other, year=2021))
        await asyncio.sleep(0.3)
        assert not behind.done(), behind.result().text  # it waits for the first
    finally:
        go_on.set()
    return await asyncio.wait_for(ahead, 10), await asyncio.wait_for(behind, 10)


@pytest.mark.parametrize("first", ["put", "import"])
async def test_an_import_and_a_put_creating_the_same_assessment_queue(client, backend, monkeypatch, first):
    if backend != "postgresql":
        pytest.skip("SQLite writers queue whole transactions (BEGIN IMMEDIATE): nothing interleaves")
    if first == "put":  # the PUT has inserted its new row (not committed) when the import comes
        reached, go_on = _pause(monkeypatch, assessments_service, "_audit", after=False)
        ahead = asyncio.create_task(client.put(URL, json={"criteria": criteria(12)}))
    else:  # the import has written its rows and holds its epochs when the PUT comes
        reached, go_on = _pause(monkeypatch, aggregate_epochs, "hold", after=True)
        ahead = asyncio.create_task(upload(client, FILE, year=YEAR))
    try:
        await asyncio.wait_for(reached.wait(), 10)
        behind = asyncio.create_task(upload(client, FILE, year=YEAR) if first == "put"
                                     else client.put(URL, json={"criteria": criteria(12)}))
        await asyncio.sleep(0.3)
        assert not behind.done(), behind.result().text  # it waits for the one ahead
    finally:
        go_on.set()
    responses = {first: await asyncio.wait_for(ahead, 10),
                 "import" if first == "put" else "put": await asyncio.wait_for(behind, 10)}
    assert responses[first].status_code in (200, 201), responses[first].text
    # the one behind finds the assessment created meanwhile: a conflict, to reload and send again;
    # never a deadlock (500, or 503 once PostgreSQL has killed one)
    behind = responses["import" if first == "put" else "put"]
    assert behind.status_code == 409, behind.text
    stored = (await client.get(URL, headers={"Cache-Control": "no-cache"})).json()
    assert stored["met_count"] == (12 if first == "put" else 15)


async def test_two_imports_of_the_same_communes_in_crossing_orders_queue(client, backend, monkeypatch):
    """Two files listing the same communes in opposite orders, read a chunk at a time: the second
    import waits for the first (before, each held the row the other waited for)."""
    if backend != "postgresql":
        pytest.skip("SQLite writers queue whole transactions (BEGIN IMMEDIATE): nothing interleaves")
    from app.exchange import service as exchange_service
    from tests.builders import put_assessment

    for code in ("02800", "02812"):
        await put_assessment(client, code=code, year=2021, met=5)
    monkeypatch.setattr(exchange_service, "WRITE_CHUNK", 1)  # a row at a time, in the file's order
    pause = _pause(monkeypatch, exchange_service, "_existing", after=True)  # the first import, its first row read
    one = xlsx([HEADER_19, ["02800", "Nàn Sán", *marks(15)], [COMMUNE, "Sán Chải", *marks(15)]])
    other = xlsx([HEADER_19, [COMMUNE, "Sán Chải", *marks(9)], ["02800", "Nàn Sán", *marks(9)]])
    first, second = await _two_imports(client, one, other, pause)
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text  # then runs on what the first left: no deadlock
    for code in ("02800", COMMUNE):
        stored = (await client.get(f"/api/v1/communes/{code}/assessments/2021", headers={"Cache-Control": "no-cache"})).json()
        assert stored["met_count"] == 9


async def test_two_imports_creating_the_same_assessments_in_crossing_orders_queue(client, backend, monkeypatch):
    """No assessment exists yet: the new rows go in in each file's order (before, the two held each
    other's new rows: a deadlock)."""
    if backend != "postgresql":
        pytest.skip("SQLite writers queue whole transactions (BEGIN IMMEDIATE): nothing interleaves")
    from app.exchange import service as exchange_service

    monkeypatch.setattr(exchange_service, "WRITE_CHUNK", 1)
    pause = _pause(monkeypatch, exchange_service, "_create", after=True)  # the first import, its first row in
    one = xlsx([HEADER_19, ["02800", "Nàn Sán", *marks(15)], [COMMUNE, "Sán Chải", *marks(15)]])
    other = xlsx([HEADER_19, [COMMUNE, "Sán Chải", *marks(9)], ["02800", "Nàn Sán", *marks(9)]])
    first, second = await _two_imports(client, one, other, pause)
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert second.json()["updated"] == 2  # it ran after the first, on what the first had created


async def test_an_assessment_created_while_an_import_runs_leaves_no_deadlock(client, backend, monkeypatch):
    """A PUT creates an assessment the running import will read next; another import of the same
    communes comes meanwhile (before, it locked that row first and waited for the import's)."""
    if backend != "postgresql":
        pytest.skip("SQLite writers queue whole transactions (BEGIN IMMEDIATE): nothing interleaves")
    from app.exchange import service as exchange_service
    from tests.builders import put_assessment

    await put_assessment(client, code=COMMUNE, year=2021, met=5)
    pause = _pause(monkeypatch, exchange_service, "_existing", after=False)  # the import, before it reads

    async def put_new() -> None:
        response = await client.put("/api/v1/communes/02800/assessments/2021", json={"criteria": criteria(12)})
        assert response.status_code == 201, response.text

    one = xlsx([HEADER_19, ["02800", "Nàn Sán", *marks(15)], [COMMUNE, "Sán Chải", *marks(15)]])
    other = xlsx([HEADER_19, ["02800", "Nàn Sán", *marks(9)], [COMMUNE, "Sán Chải", *marks(9)]])
    first, second = await _two_imports(client, one, other, pause, between=put_new)
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
