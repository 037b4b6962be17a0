"""Big uploads in bounded memory (contract v1.3, "Additions"): the error list is collected capped
but every error counted, and clean files are written a chunk (``service.WRITE_CHUNK``) at a time, all
or nothing. SQLite and PostgreSQL (the ``db``/``client`` fixtures)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, text

from app.audit.models import AuditRecord
from app.core import sheets
from app.exchange import service
from app.models import AdminUnit, Assessment, AssessmentCriterion
from tests.exchange.files import HEADER_19, csv_bytes, marks, upload
from tests.helpers import assert_problem


def test_the_collector_keeps_the_first_errors_in_any_order_and_counts_all():
    errors: sheets.Errors[sheets.ImportRowError] = sheets.Errors(cap=3)
    found = [(row, column) for row in range(50, 0, -1) for column in ("C", "A", None)]
    for row, column in found:
        errors.add(sheets.ImportRowError(row=row, column=column, value=None, message=f"{row}{column}"))
    assert errors.count == 150
    listed = errors.listed(lambda row, message: sheets.ImportRowError(row=row, column=None, value=None,
                                                                     message=message))
    assert [(e.row, e.column) for e in listed] == [(1, None), (1, "A"), (1, "C"), (2, None)]
    assert listed[-1].message == "and 147 more"


async def test_an_error_heavy_file_lists_the_first_1000_in_order_and_counts_the_rest(db, client):
    """Parse errors (two bad marks in even rows) merge with the later row errors (an unknown code in
    odd rows): the first 1,000 by row then column, then "and N more" with the exact N."""
    rows = [HEADER_19]
    expected: list[tuple[int, str]] = []
    for i in range(1500):
        number = i + 2
        if i % 2 == 0:
            rows.append([f"{90000 + i:05d}", "", "x", "bad", "zz", *marks(0)[3:]])
            expected += [(number, "D"), (number, "E")]
        else:
            rows.append([f"{90000 + i:05d}", "", *marks(3)])
            expected.append((number, "A"))
    response = await upload(client, csv_bytes(rows), name="errors.csv", dry_run=True)
    body = assert_problem(response, 422)
    assert body["detail"].startswith(f"{len(expected)} errors")
    assert [(e["row"], e["column"]) for e in body["errors"][:1000]] == sorted(expected)[:1000]
    assert body["errors"][1000] == {"row": sorted(expected)[1000][0], "column": None, "value": None,
                                    "message": f"and {len(expected) - 1000} more"}
    assert len(body["errors"]) == 1001


async def _communes(db, count: int) -> list[tuple[str, str]]:
    made = [(f"{60000 + i}", f"Xã Thử Nhiều {i}") for i in range(count)]
    async with db.transaction() as session:
        await session.execute(insert(AdminUnit.__table__), [  # type: ignore[attr-defined]
            {"code": code, "name": name, "name_search": name.lower(), "level": "commune", "kind": "xa",
             "parent_code": "084", "region": "trung_du_mien_nui_phia_bac"} for code, name in made])
    return made


async def _counts(db) -> tuple[int, int, int, int]:
    async with db.transaction() as session:
        assessments = (await session.execute(select(func.count()).select_from(Assessment).where(
            Assessment.commune_code >= "60000"))).scalar_one()
        criteria = (await session.execute(select(func.count()).select_from(AssessmentCriterion))).scalar_one()
        created = (await session.execute(select(func.count()).select_from(AuditRecord).where(
            text("action = 'import_create'")))).scalar_one()
        updated = (await session.execute(select(func.count()).select_from(AuditRecord).where(
            text("action = 'import_update'")))).scalar_one()
    return assessments, criteria, created, updated


@pytest.mark.parametrize("count", [service.WRITE_CHUNK, service.WRITE_CHUNK + 1, 2 * service.WRITE_CHUNK + 1, 1001])
async def test_a_large_clean_import_writes_every_row_and_audit_record_across_chunks(db, client, count):
    made = await _communes(db, count)
    before = await _counts(db)
    rows = [HEADER_19, *[[code, name, *marks(i % 19 + 1)] for i, (code, name) in enumerate(made)]]
    dry = await upload(client, csv_bytes(rows), name="many.csv", dry_run=True)
    assert dry.status_code == 200, dry.text
    assert (dry.json()["created"], dry.json()["rows"]) == (count, count)
    assert await _counts(db) == before  # a dry run writes nothing

    response = await upload(client, csv_bytes(rows), name="many.csv")
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["updated"]) == (count, 0)
    assessments, criteria, created, updated = await _counts(db)
    assert (assessments, criteria - before[1], created - before[2], updated) == (count, 19 * count, count,
                                                                                 before[3])
    async with db.transaction() as session:  # the marks of every row, the last chunk's too
        met = dict((await session.execute(select(Assessment.commune_code, Assessment.met_count).where(
            Assessment.commune_code >= "60000"))).all())
    assert met == {code: i % 19 + 1 for i, (code, _) in enumerate(made)}

    # again with other marks: every row changed, audited once each
    again = [HEADER_19, *[[code, name, *marks((i + 1) % 19 + 1)] for i, (code, name) in enumerate(made)]]
    response = await upload(client, csv_bytes(again), name="again.csv")
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["updated"], response.json()["unchanged"]) == (0, count, 0)
    assessments, criteria, created, updated = await _counts(db)
    assert (assessments, created - before[2], updated - before[3]) == (count, count, count)
    assert criteria - before[1] == 19 * count


async def test_an_error_in_the_last_chunk_writes_nothing(db, client):
    made = await _communes(db, service.WRITE_CHUNK + 1)
    before = await _counts(db)
    rows = [HEADER_19, *[[code, name, *marks(5)] for code, name in made]]
    rows[-1][1] = "Xã Khác Hẳn"  # the last row (chunk 2) names another commune
    response = await upload(client, csv_bytes(rows), name="bad-last.csv")
    body = assert_problem(response, 422)
    assert [e["row"] for e in body["errors"]] == [service.WRITE_CHUNK + 2]
    assert await _counts(db) == before
