"""What a workbook shows, not what it stores: a percentage cell (0.9 shown as 90 %) reads as the
percentage, as the CSV's ``90%`` does; a date cell is no indicator value, mark or commune code.
Through the HTTP API on both databases (see test_import_indicators for the set and helpers)."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl

from tests.exchange.files import csv_bytes, marks, upload
from tests.exchange.test_import_indicators import HEADER, add_yes_no_indicator, get
from tests.helpers import assert_problem

V, W = "V", "W"  # 10.1 (≥ 36) and 15.1 (≥ 85), both in %


def styled(rows, formats) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    for ref, fmt in formats.items():
        sheet[ref].number_format = fmt
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_a_percentage_cell_reads_as_the_percentage_shown(db, client):
    data = styled([HEADER, ["02812", None, *marks(19), 0.415, 0.9],
                   ["02800", None, *marks(19), 0.855, 1],
                   ["02803", None, *marks(19), 41.5, 0.9]],  # W3 a plain 0.9: read as 0.9, as before
                  {"V2": "0.0%", "W2": "0%", "V3": "[$-409]0.00%", "W3": "0%"})
    response = await upload(client, data)
    assert response.status_code == 200, response.text
    assert (await get(client, "02812"))["criteria"][9]["indicators"] == {"10.1": 41.5}
    assert (await get(client, "02812"))["criteria"][14]["indicators"] == {"15.1": 90}
    assert (await get(client, "02800"))["criteria"][9]["indicators"] == {"10.1": 85.5}  # not 85.49999…
    assert (await get(client, "02800"))["criteria"][14]["indicators"] == {"15.1": 100}
    assert (await get(client, "02803"))["criteria"][14]["indicators"] == {"15.1": 0.9}
    # the same as the CSV's text
    text = csv_bytes([HEADER, ["02806", "", *marks(19), "41,5%", "90%"]])
    assert (await upload(client, text, name="i.csv")).status_code == 200
    assert [c["indicators"] for c in (await get(client, "02806"))["criteria"][9:15:5]] == [
        {"10.1": 41.5}, {"15.1": 90}]


async def test_a_date_cell_is_refused_naming_row_and_column(db, client):
    await add_yes_no_indicator(db)
    header = [*HEADER, "17.1"]  # X
    row = ["02812", None, *marks(19), dt.datetime(2021, 5, 10), 44326, None]
    body = assert_problem(await upload(client, styled([header, row], {"W2": "[$-409]d/m/yyyy"})), 422)
    assert [(e["row"], e["column"], e["value"]) for e in body["errors"]] == [
        (2, V, "2021-05-10"), (2, W, "2021-05-10")]
    assert body["errors"][0]["message"].startswith("criterion 10: a date is not a value of indicator 10.1")
    assert "indicator 15.1" in body["errors"][1]["message"]
    # a mark column, the yes/no indicator and the code column
    rows = [header, ["02812", None, *marks(19, yes=1), None, None, 1],
            [44326, None, *marks(19), None, None, None]]  # C2: 1 shown as a date (a text cell keeps its text)
    data = styled(rows, {"C2": "d/m/yyyy", "X2": "dd/mm/yyyy", "A3": "yyyy-mm-dd"})
    body = assert_problem(await upload(client, data), 422)
    found = [(e["row"], e["column"]) for e in body["errors"]]
    assert found == [(2, "C"), (2, "X"), (3, "A")], body["errors"]
    assert "a date" in body["errors"][0]["message"] and "not a mark" in body["errors"][0]["message"]
    assert "a date is not a value of indicator 17.1" in body["errors"][1]["message"]
    assert "a date" in body["errors"][2]["message"] and "commune code" in body["errors"][2]["message"]
    assert (await client.get("/api/v1/communes/02812/assessments/2021")).status_code == 404  # nothing written


async def test_marks_stay_strict_for_percentage_cells(db, client):
    await add_yes_no_indicator(db)
    header = [*HEADER, "17.1"]
    row = ["02812", None, *marks(19, yes=1), None, None, 1]  # 1 is a mark; shown as 100 % it is not
    data = styled([header, row], {"C2": "0%", "X2": "0%"})
    body = assert_problem(await upload(client, data), 422)
    assert [(e["row"], e["column"], e["value"]) for e in body["errors"]] == [(2, "C", "100%"), (2, "X", "100%")]
    assert "a percentage" in body["errors"][0]["message"] and "not a mark" in body["errors"][0]["message"]
    assert "a percentage is not a value of indicator 17.1" in body["errors"][1]["message"]
    plain = styled([header, row], {})
    assert (await upload(client, plain)).status_code == 200
