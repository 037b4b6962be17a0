"""Uploads cost bounded memory whatever their shape: limits checked before cells are made (sheets
are streamed), error lists capped, imports per worker limited. The API tests run on SQLite and
PostgreSQL; the reader's own tests need no database."""

from __future__ import annotations

import asyncio
import random
import time
import zipfile

import pytest

from app.core import sheets
from tests.exchange.files import (
    HEADER_19,
    csv_bytes,
    inline_row,
    marks,
    raw_xlsx,
    sheet_xml,
    upload,
    xlsx,
)
from tests.helpers import assert_problem

LIMITS = {"max_rows": 20_000, "max_unzipped_bytes": 200 * 1024 * 1024}


def _refused(data: bytes, status: int, words: str) -> None:
    with pytest.raises(sheets.SheetError) as caught:
        sheets.read(data, **LIMITS)
    assert caught.value.status == status and words in caught.value.message, caught.value.message


def test_a_streamed_workbook_reads_as_before():
    data = raw_xlsx(sheet_xml([inline_row(1, HEADER_19), inline_row(2, ["02812", "Xã Sán Chải", *marks(19)])]),
                    name="Đánh giá")
    [sheet] = sheets.read(data, **LIMITS)
    assert sheet.name == "Đánh giá" and sheet.rows[1][0].value == "02812" and sheet.rows[1][2].value == "x"
    book = sheets.read(xlsx([HEADER_19, ["02812", "Sán Chải", *marks(19, yes=1, no=0)]]), **LIMITS)[0]
    assert [c.value for c in book.rows[1][:4]] == ["02812", "Sán Chải", 1, 1]
    assert book.rows[1][2] is book.rows[1][3]  # equal cells are one object


def test_declared_dimension_refuses_before_reading_rows():
    started = time.perf_counter()
    _refused(raw_xlsx(sheet_xml([], dimension="A1:S1000000")), 413, "more than 20000 data rows")
    _refused(raw_xlsx(sheet_xml([], dimension="A1:XFD2")), 413, "more than 200 columns")
    assert time.perf_counter() - started < 5


def test_running_counts_refuse_a_sheet_that_lies_about_its_size():
    rows = (f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>'.encode() for n in range(1, 1_000_001))
    _refused(raw_xlsx(sheet_xml(rows, dimension="A1:A2")), 413, "more than 20000 data rows")
    _refused(raw_xlsx(sheet_xml([b'<row r="1"><c r="KZ1"><v>1</v></c></row>'])), 413, "more than 200 columns")
    _refused(raw_xlsx(sheet_xml([b'<row r="5000000"><c><v>1</v></c></row>'])), 413, "more than 20000 data rows")


def test_distinct_values_and_long_cells_are_capped():
    rows = (inline_row(n, [f"v{n}-{i}" for i in range(50)]) for n in range(1, 5000))
    _refused(raw_xlsx(sheet_xml(rows)), 413, "distinct cell values")
    _refused(raw_xlsx(sheet_xml([inline_row(1, ["x" * 5000])])), 422, "more than 2,000 characters")
    _refused(raw_xlsx(sheet_xml([b'<row r="1"><c t="s"><v>0</v></c></row>']), shared=["y" * 5000]), 422,
             "more than 2,000 characters")


def test_dtd_and_entities_are_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            b'<row r="1"><c t="inlineStr"><is><t>&b;</t></is></c></row></sheetData></worksheet>')
    _refused(raw_xlsx(bomb), 422, "DTD")


def test_an_archive_of_many_entries_is_refused_before_its_directory_is_read():
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        for i in range(2000):
            archive.writestr(f"x/{i}", b"")
    _refused(out.getvalue(), 413, "2,001 files")


def test_csv_with_half_a_million_columns_is_refused_before_its_fields_exist():
    data = ("," * 500_000 + "\n").encode()
    started = time.perf_counter()
    _refused(data, 413, "more than 200 columns")
    assert time.perf_counter() - started < 2
    _refused(b"a" * 100_000, 413, "longer than")


async def test_error_lists_are_capped_and_small(db, client):
    rows = [HEADER_19, *[[f"{90000 + i:05d}", "?", *marks(0)[:-1], "bad" * 30] for i in range(1500)]]
    response = await upload(client, csv_bytes(rows), name="many.csv")
    body = assert_problem(response, 422)
    assert len(body["errors"]) == 1001 and body["errors"][-1]["message"].startswith("and ")
    listed = 1000
    assert body["errors"][-1]["message"] == f"and {int(body['detail'].split()[0]) - listed} more"
    assert len(response.content) < 1024 * 1024


async def test_an_unknown_column_is_an_error(db, client):
    response = await upload(client, csv_bytes([[*HEADER_19, "ghi chú"], ["02812", "Xã Sán Chải", *marks(19)]]),
                            name="extra.csv")
    body = assert_problem(response, 422)
    assert any("unknown column" in e["message"] and e["column"] == "V" for e in body["errors"])


async def test_imports_beyond_the_worker_limit_get_503_with_retry_after(db, client, app):
    app.state.import_slots = asyncio.Semaphore(1)
    async with app.state.import_slots:  # another import holds the only slot
        response = await upload(client, csv_bytes([HEADER_19, ["02812", "Xã Sán Chải", *marks(19)]]), name="a.csv")
        body = assert_problem(response, 503)
        assert response.headers["retry-after"] == "5" and "imports" in body["detail"]
    response = await upload(client, csv_bytes([HEADER_19, ["02812", "Xã Sán Chải", *marks(19)]]), name="a.csv")
    assert response.status_code == 200, response.text


def test_a_national_file_with_measured_indicator_values_is_admitted():
    """The review's real file: 8,000 communes × 12 indicator columns of 3-decimal values (1.2 MB
    CSV, 112,000 distinct values), under the distinct-values cap (6 × rows + 10,000)."""
    rng = random.Random(1)
    head = "Mã xã;Tên xã;" + ";".join(str(n) for n in range(1, 20)) + "".join(f";{n}.1" for n in range(1, 13))
    body = [f"{10000 + i:05d};Xã {i};" + ";".join(["x"] * 19)
            + "".join(f";{rng.uniform(0, 1000):.3f}".replace(".", ",") for _ in range(12)) for i in range(8000)]
    found = sheets.read("\n".join([head, *body]).encode(), **LIMITS)
    assert len(found[0].rows) == 8001 and len(found[0].rows[1]) == 33
