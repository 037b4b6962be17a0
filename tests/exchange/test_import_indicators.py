"""Indicator columns in the assessment import (contract v1.2 indicators, v1.3 import rules), through
the HTTP API on both databases. The built-in 2016–2020 set (in force 2021) has 10.1 (≥ 36 from 2020)
and 15.1 (≥ 85), both for the northern midland and mountain region, where Si Ma Cai's communes lie;
a yes/no indicator 17.1 is added where a test needs one. Whatever an import stores must be what a
PUT with the same values stores: the tests compare the two through GET."""

from __future__ import annotations

import csv
import io

import openpyxl
from sqlalchemy import select

from app.criteria.models import Criterion, Indicator
from tests.builders import criteria
from tests.exchange.files import HEADER_19, csv_bytes, inline_row, marks, raw_xlsx, sheet_xml, upload, xlsx
from tests.helpers import assert_problem

HEADER = [*HEADER_19, "10.1", "15.1"]  # columns V and W
URL = "/api/v1/communes/{code}/assessments/2021"
COMPARED = ("criteria", "met", "not_met", "met_count", "standard_reached", "indicator_conflicts")


async def get(client, code: str) -> dict:
    response = await client.get(URL.format(code=code))
    assert response.status_code == 200, response.text
    return response.json()


async def put(client, code: str, items: list[dict]) -> dict:
    response = await client.put(URL.format(code=code), json={"criteria": items})
    assert response.status_code in (200, 201), response.text
    return response.json()


def same_as_put(imported: dict, written: dict) -> None:
    assert {k: imported[k] for k in COMPARED} == {k: written[k] for k in COMPARED}


async def add_yes_no_indicator(db) -> None:
    """17.1, a yes/no indicator of criterion 17 that must be true (the built-in set has none)."""
    async with db.transaction() as session:
        criterion = (await session.execute(select(Criterion).where(
            Criterion.set_code == "2016-2020", Criterion.number == 17))).scalar_one()  # type: ignore[arg-type]
        session.add(Indicator(criterion_id=criterion.id, code="17.1", name="Có hệ thống xử lý nước thải",  # type: ignore[arg-type]
                              op="bool", thresholds=[{"value": True}]))


async def test_values_are_stored_and_judged_as_put_stores_them(db, client):
    row = marks(19)
    row[9] = ""  # criterion 10 left blank: its indicator decides (41.5 ≥ 36 → met)
    response = await upload(client, xlsx([HEADER, ["02812", "Sán Chải", *row, 41.5, 80]]))
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["errors"]) == (1, [])

    items = criteria(19)
    items[9] = {"number": 10, "indicators": {"10.1": 41.5}}  # met omitted: met_by_indicators
    items[14]["indicators"] = {"15.1": 80}  # met given against the indicator: a conflict
    await put(client, "02800", items)

    imported, written = await get(client, "02812"), await get(client, "02800")
    same_as_put(imported, written)
    c10, c15 = imported["criteria"][9], imported["criteria"][14]
    assert c10["met"] is True and c10["met_by_indicators"] is True and c10["indicators"] == {"10.1": 41.5}
    assert c10["evaluation"] == [{"code": "10.1", "value": 41.5, "op": ">=", "threshold": 36, "met": True}]
    assert c15["met"] is True and c15["met_by_indicators"] is False
    assert imported["indicator_conflicts"] == [15] and imported["met_count"] == 19
    flagged = (await client.get("/api/v1/units/084/flags",
                                params={"year": 2021, "flag": "indicator_conflict"})).json()["items"]
    assert sorted(r["commune_code"] for r in flagged) == ["02800", "02812"]
    # the audit record shows what GET shows
    record = (await client.get("/api/v1/audit", params={"entity": "assessment", "key": "02812/2021"})).json()
    after = next(r for r in record["items"] if r["action"] == "import_create")["after"]
    assert {k: after[k] for k in COMPARED} == {k: imported[k] for k in COMPARED}


async def test_blank_marks_follow_the_indicators_or_stay_not_met(db, client):
    row = marks(19)
    row[9] = row[14] = ""
    # 10.1 = 30 < 36 → not met; 15.1 blank → undecided → not met (a blank mark always meant not met)
    response = await upload(client, xlsx([HEADER, ["02812", None, *row, 30, None]]))
    assert response.status_code == 200, response.text
    a = await get(client, "02812")
    assert a["not_met"] == [10, 15] and a["indicator_conflicts"] == []
    assert a["criteria"][9]["met_by_indicators"] is False and a["criteria"][14]["met_by_indicators"] is None

    items = criteria(set(range(1, 20)) - {10, 15})
    items[9] = {"number": 10, "met": False, "indicators": {"10.1": 30}}
    await put(client, "02800", items)
    same_as_put(a, await get(client, "02800"))


async def test_unchanged_rows_changed_values_and_kept_values(db, client):
    data = xlsx([HEADER, ["02812", None, *marks(19), 41.5, 90]])
    assert (await upload(client, data)).json()["created"] == 1
    again = await upload(client, data)
    assert (again.json()["unchanged"], again.json()["updated"]) == (1, 0)
    assert (await get(client, "02812"))["version"] == 1

    # only a value changes: the row is an update, the mark stays
    changed = await upload(client, xlsx([HEADER, ["02812", None, *marks(19), 41.5, 95]]))
    assert (changed.json()["updated"], changed.json()["unchanged"]) == (1, 0), changed.text
    a = await get(client, "02812")
    assert a["version"] == 2 and a["criteria"][14]["indicators"] == {"15.1": 95}

    # a file with only the 10.1 column, blank: 10.1's value goes, 15.1's (no column) stays
    only = await upload(client, xlsx([[*HEADER_19, "10.1"], ["02812", None, *marks(19), None]]))
    assert only.json()["updated"] == 1, only.text
    a = await get(client, "02812")
    assert a["criteria"][9]["indicators"] is None and a["criteria"][14]["indicators"] == {"15.1": 95}
    # a file without indicator columns keeps every value (as before indicator columns existed)
    plain = await upload(client, xlsx([HEADER_19, ["02812", None, *marks(19)]]))
    assert plain.json()["unchanged"] == 1
    assert (await get(client, "02812"))["criteria"][14]["indicators"] == {"15.1": 95}


async def test_csv_reads_a_decimal_comma_or_point(db, client):
    semicolon = csv_bytes([HEADER, ["02812", "", *marks(19), "41,5", "85,0"],
                           ["02800", "", *marks(19), "36", "1.234,5"]], delimiter=";")
    response = await upload(client, semicolon, name="import.csv")
    assert response.status_code == 200, response.text
    assert (await get(client, "02812"))["criteria"][9]["indicators"] == {"10.1": 41.5}
    assert (await get(client, "02800"))["criteria"][14]["indicators"] == {"15.1": 1234.5}
    # the same values as PUT would take them: 36 an integer, 85,0 a float
    items = criteria(19)
    items[9]["indicators"], items[14]["indicators"] = {"10.1": 36}, {"15.1": 1234.5}
    await put(client, "02803", items)
    same_as_put(await get(client, "02800"), await get(client, "02803"))
    comma = csv_bytes([HEADER, ["02806", "", *marks(19), "41,5", "-0"]])  # "41,5" quoted by the writer
    response = await upload(client, comma, name="import.csv")
    assert response.status_code == 200, response.text
    c = (await get(client, "02806"))["criteria"]
    assert c[9]["indicators"] == {"10.1": 41.5} and c[14]["indicators"] == {"15.1": 0}


async def test_bad_values_are_row_errors_naming_row_and_column(db, client):
    await add_yes_no_indicator(db)
    header = [*HEADER, "17.1"]  # X
    bad_text = csv_bytes([
        header,
        ["02812", "", *marks(19), "abc", "", ""],
        ["02800", "", *marks(19), "1e309", "inf", ""],
        ["02803", "", *marks(19), "NaN", "9" * 400, ""],
        ["02806", "", *marks(19), "", "", "có lẽ"],
        ["02818", "", *marks(19), "40", "90", "x"],  # a good row
    ])
    body = assert_problem(await upload(client, bad_text, name="import.csv"), 422)
    assert [(e["row"], e["column"]) for e in body["errors"]] == [
        (2, "V"), (3, "V"), (3, "W"), (4, "V"), (4, "W"), (5, "X")]
    messages = [e["message"] for e in body["errors"]]
    assert all("takes a finite number" in m for m in messages[:5])
    assert "criterion 10" in messages[0] and body["errors"][0]["value"] == "abc"
    assert "yes/no" in messages[5] and body["errors"][5]["value"] == "có lẽ"
    # workbook cells: a boolean under a numeric indicator, a number under a yes/no one
    bad_cells = xlsx([header, ["02812", "", *marks(19), True, None, None],
                      ["02800", "", *marks(19), None, None, 2]])
    body = assert_problem(await upload(client, bad_cells), 422)
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(2, "V"), (3, "X")]
    # numeric cells no spreadsheet writes but a crafted file can: 1e309 (inf), NaN, INF
    crafted = raw_xlsx(sheet_xml([
        inline_row(1, header),
        inline_row(2, ["02812", "", *["x"] * 19])[:-6] + b'<c r="V2"><v>1e309</v></c><c r="W2"><v>NaN</v></c></row>',
        inline_row(3, ["02800", "", *["x"] * 19])[:-6] + b'<c r="V3"><v>-INF</v></c><c r="W3"><v>-0</v></c></row>',
    ]))
    body = assert_problem(await upload(client, crafted), 422)
    assert [(e["row"], e["column"], e["value"]) for e in body["errors"]] == [
        (2, "V", "inf"), (2, "W", "nan"), (3, "V", "-inf")]
    for code in ("02812", "02800", "02803", "02806", "02818"):
        assert (await client.get(URL.format(code=code))).status_code == 404  # nothing written


async def test_indicator_headers_the_set_does_not_know_are_errors(db, client):
    unknown = assert_problem(await upload(client, xlsx([[*HEADER_19, "10.2"], ["02812", None, *marks(19), 1]])), 422)
    assert [(e["row"], e["column"], e["value"]) for e in unknown["errors"]] == [(1, "V", "10.2")]
    assert "unknown column" in unknown["errors"][0]["message"] and "`10.1`" in unknown["errors"][0]["message"]
    twice = assert_problem(await upload(client, xlsx([[*HEADER, "10.1"], ["02812", None, *marks(19), 40, 90, 41]])),
                           422)
    assert [(e["row"], e["column"]) for e in twice["errors"]] == [(1, "X")]
    assert "two columns (V and X)" in twice["errors"][0]["message"]
    # 2022 uses the 2021–2025 set, which has no indicators: 10.1 is a column it does not know
    later = assert_problem(await upload(client, xlsx([HEADER, ["02812", None, *marks(19), 40, 90]]), year=2022), 422)
    assert "has no indicators" in later["errors"][0]["message"]
    # values under a column without a header are not silently dropped
    headless = assert_problem(await upload(client, xlsx([[*HEADER, None], ["02812", None, *marks(19), 40, 90, 7]])),
                              422)
    assert [(e["row"], e["column"]) for e in headless["errors"]] == [(2, "X")]
    assert "no header" in headless["errors"][0]["message"]
    # a header-only blank column with nothing under it is fine
    fine = await upload(client, xlsx([[*HEADER_19, None, "10.1"], ["02812", None, *marks(19), None, 40]]))
    assert fine.status_code == 200, fine.text
    assert (await get(client, "02812"))["criteria"][9]["indicators"] == {"10.1": 40}


async def test_frozen_assessments_refuse_changed_values(db, client):
    items = criteria(19)
    items[9]["indicators"] = {"10.1": 41.5}
    await put(client, "02812", items)
    assert (await client.post(URL.format(code="02812") + "/submit")).status_code == 200
    same = await upload(client, xlsx([HEADER, ["02812", None, *marks(19), 41.5, None]]))
    assert same.status_code == 200 and same.json()["unchanged"] == 1, same.text
    changed = assert_problem(await upload(client, xlsx([HEADER, ["02812", None, *marks(19), 42, None]])), 422)
    assert [(e["row"], e["column"]) for e in changed["errors"]] == [(2, "A")]
    assert "submitted" in changed["errors"][0]["message"]
    assert (await get(client, "02812"))["criteria"][9]["indicators"] == {"10.1": 41.5}


async def test_yes_no_indicators_read_marks(db, client):
    await add_yes_no_indicator(db)
    header = [*HEADER_19, "17.1"]
    row = marks(19)
    row[16] = ""
    response = await upload(client, xlsx([header, ["02812", None, *row, "Không"], ["02800", None, *row, "x"]]))
    assert response.status_code == 200, response.text
    no, yes = await get(client, "02812"), await get(client, "02800")
    assert no["criteria"][16]["indicators"] == {"17.1": False} and no["not_met"] == [17]
    assert yes["criteria"][16]["indicators"] == {"17.1": True} and yes["met_count"] == 19
    items = criteria(19)
    items[16] = {"number": 17, "indicators": {"17.1": False}}
    await put(client, "02803", items)
    same_as_put(no, await get(client, "02803"))


async def test_template_and_report_round_trip_with_values(db, client):
    await add_yes_no_indicator(db)
    items = criteria(19)
    items[9]["indicators"], items[14]["indicators"], items[16]["indicators"] = {"10.1": 41.5}, {"15.1": 80}, {"17.1": True}
    await put(client, "02812", items)
    template = await client.get("/api/v1/imports/assessments/template.xlsx", params={"unit": "084", "year": 2021})
    assert template.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(template.content))
    ws = book.worksheets[0]
    assert [c.value for c in ws[1]][21:] == ["10.1", "15.1", "17.1"]
    rows = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    assert [c.value for c in rows["02812"][21:]] == [41.5, 80, "Đạt"]
    assert any("X2" in str(v.sqref) for v in ws.data_validations.dataValidation)  # 17.1 has the mark dropdown
    unchanged = (await upload(client, template.content)).json()
    assert (unchanged["unchanged"], unchanged["skipped"], unchanged["created"]) == (1, 8, 0)

    # filled in: a commune's indicator values and a blank mark its indicator decides
    cells = rows["02800"]
    for cell in cells[2:21]:
        cell.value = "Đạt"
    cells[11].value = None  # criterion 10
    cells[21].value, cells[22].value, cells[23].value = "40,5", 85, "Không"
    out = io.BytesIO()
    book.save(out)
    filled = await upload(client, out.getvalue())
    assert filled.status_code == 200 and filled.json()["created"] == 1, filled.text
    a = await get(client, "02800")
    assert a["criteria"][9]["met"] is True and a["criteria"][9]["indicators"] == {"10.1": 40.5}
    assert a["indicator_conflicts"] == [17]  # 17 marked met, its yes/no indicator says no

    for path, name in (("report.xlsx", "r.xlsx"), ("report.csv", "r.csv")):
        report = await client.get(f"/api/v1/units/084/{path}", params={"year": 2021})
        again = await upload(client, report.content, name=name)
        assert again.status_code == 200, again.text
        assert (again.json()["unchanged"], again.json()["updated"], again.json()["created"]) == (2, 0, 0)
    rows_csv = list(csv.reader(io.StringIO((await client.get("/api/v1/units/084/report.csv",
                                                            params={"year": 2021})).content.decode("utf-8-sig"))))
    assert rows_csv[0][21:24] == ["10.1", "15.1", "17.1"]
    assert next(r for r in rows_csv if r[0] == "02812")[21:24] == ["41.5", "80", "Đạt"]


async def test_hostile_numbers(db, client):
    huge = "9" * 300  # a finite integer a double holds (≈1e300)
    tiny = "0," + "0" * 20 + "1"
    response = await upload(client, csv_bytes([HEADER, ["02812", "", *marks(19), huge, tiny]]), name="i.csv")
    assert response.status_code == 200, response.text
    c = (await get(client, "02812"))["criteria"]
    assert c[9]["indicators"] == {"10.1": int(huge)} and c[14]["indicators"] == {"15.1": 1e-21}
    # what was stored re-exports and re-imports unchanged
    report = await client.get("/api/v1/units/084/report.csv", params={"year": 2021})
    again = await upload(client, report.content, name="r.csv")
    assert again.status_code == 200 and again.json()["unchanged"] == 1, again.text
