"""The report workbook, the CSV and the charts, on both databases (demo data: Si Ma Cai)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import openpyxl

from tests.builders import load_demo, put_assessment
from tests.exchange.files import upload
from tests.helpers import assert_problem


def _totals(ws) -> dict[str, object]:
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r and r[0] == "Tổng hợp")
    return {r[0]: r[1] for r in rows[start:] if r and r[0]}


async def test_report_workbook_2021(db, client):
    await load_demo(db)
    response = await client.get("/api/v1/units/084/report.xlsx", params={"year": 2021})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="ntm-bao-cao-084-2021.xlsx"' in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Báo cáo", "Theo tiêu chí", "Xu hướng"]
    ws = book["Báo cáo"]
    assert ws.freeze_panes == "C2" and ws.column_dimensions["B"].width == 26
    header = [c.value for c in ws[1]]
    assert header == ["Mã xã", "Tên xã", *[str(n) for n in range(1, 20)], "10.1", "15.1",  # the set's indicators
                      "Số tiêu chí đạt", "Nhóm", "Cảnh báo"]
    communes = {r[0]: r for r in ws.iter_rows(min_row=2, max_row=10, values_only=True)}
    san_chai = communes["02812"]
    assert san_chai[1] == "Xã Sán Chải" and set(san_chai[2:21]) == {"Đạt"} and san_chai[21:23] == (None, None)
    assert san_chai[23:25] == (19, "19")
    assert "Đạt chuẩn" in san_chai[25] and "Kế hoạch đạt chuẩn" in san_chai[25]
    totals = _totals(ws)
    assert totals["Số xã"] == 9 and totals["Tổng số tiêu chí đạt"] == 145
    # figures are numbers shown with one decimal (16,1 in a Vietnamese Excel), not text
    assert totals["Bình quân tiêu chí/xã"] == 16.1 and totals["Kế hoạch bình quân tiêu chí/xã"] == 16.1
    assert totals["Tỷ lệ so với kế hoạch (%)"] == 100.1 and totals["Đạt kế hoạch"] == "Có"
    formats = {r[0].value: r[1].number_format for r in ws.iter_rows() if r[0].value and len(r) > 1}
    assert formats["Bình quân tiêu chí/xã"] == formats["Tỷ lệ so với kế hoạch (%)"] == "0.0"
    assert totals["Số tiêu chí còn thiếu để đạt kế hoạch"] == 0 and totals["Số xã đạt chuẩn NTM"] == 1
    assert totals["Số tiêu chí tăng thêm so với năm trước"] == 6 and totals["Số xã đạt 19 tiêu chí"] == 1
    coverage = list(book["Theo tiêu chí"].iter_rows(min_row=2, values_only=True))
    assert len(coverage) == 19 and coverage[18][2] == 9 and coverage[18][3] == 100.0
    trend = list(book["Xu hướng"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[3], r[4], r[5]) for r in trend] == [(2020, 139, 15.4, 15.5), (2021, 145, 16.1, 16.1)]
    assert {c.number_format for c in book["Xu hướng"]["E"][1:]} == {"0.0"}


async def test_report_2020_percent_of_plan(db, client):
    await load_demo(db)
    book = openpyxl.load_workbook(io.BytesIO(
        (await client.get("/api/v1/units/084/report.xlsx", params={"year": 2020})).content))
    totals = _totals(book["Báo cáo"])
    assert totals["Bình quân tiêu chí/xã"] == 15.4 and totals["Tỷ lệ so với kế hoạch (%)"] == 99.6
    assert totals["Số tiêu chí còn thiếu để đạt kế hoạch"] == 1 and totals["Đạt kế hoạch"] == "Chưa"


async def test_exported_report_reimports_unchanged(db, client):
    await load_demo(db)
    await put_assessment(client, code="02812", year=2022, met=19)  # others carried forward from 2021
    for year in (2021, 2022):
        for fmt in ("xlsx", "csv"):
            exported = await client.get(f"/api/v1/units/084/report.{fmt}", params={"year": year})
            assert exported.status_code == 200
            before = (await client.get("/api/v1/units/084/summary", params={"year": year})).json()
            result = await upload(client, exported.content, year=year, name=f"report.{fmt}")
            assert result.status_code == 200, result.text
            body = result.json()
            assert (body["created"], body["updated"]) == (0, 0), (year, fmt, body)
            expected_rows = 9 if year == 2021 else 1
            assert body["unchanged"] == expected_rows and body["skipped"] == 9 - expected_rows
            after = (await client.get("/api/v1/units/084/summary", params={"year": year},
                                      headers={"Cache-Control": "no-cache"})).json()
            assert after == before


async def test_report_csv_has_a_bom_and_the_official_figures(db, client):
    await load_demo(db)
    response = await client.get("/api/v1/units/084/report.csv", params={"year": 2021})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Mã xã", "Tên xã"]
    assert ["Bình quân tiêu chí/xã", "16,1"] in rows and ["Tỷ lệ so với kế hoạch (%)", "100,1"] in rows
    assert any(r[:2] == ["02812", "Xã Sán Chải"] for r in rows)


def _svg_text(content: bytes) -> str:
    root = ET.fromstring(content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return " ".join(t for t in root.itertext() if t.strip())


async def test_charts(db, client):
    await load_demo(db)
    trend = await client.get("/api/v1/units/084/trend.svg")
    assert trend.status_code == 200 and trend.headers["content-type"].startswith("image/svg+xml")
    text = _svg_text(trend.content)
    assert "Huyện Si Ma Cai" in text and "15,4" in text and "16,1" in text and "Kế hoạch" in text
    assert "Matplotlib" in trend.text  # drawn by the plotting library, not by hand
    bands = await client.get("/api/v1/units/084/bands.svg", params={"year": 2021})
    assert bands.status_code == 200
    text = _svg_text(bands.content)
    for label in ("19", "15-18", "10-14", "5-9", "0-4", "Số xã"):
        assert label in text
    empty = await client.get("/api/v1/units/10/trend.svg", params={"from": 2019, "to": 2019})
    assert empty.status_code == 200 and "Chưa có số liệu" in _svg_text(empty.content)


async def test_exchange_errors_are_problems(db, client, anon):
    assert_problem(await client.get("/api/v1/units/999/report.xlsx", params={"year": 2021}), 404)
    assert_problem(await client.get("/api/v1/units/02812/report.csv", params={"year": 2021}), 422, field="code")
    assert_problem(await client.get("/api/v1/units/084/bands.svg"), 422, field="year")
    assert_problem(await client.get("/api/v1/imports/assessments/template.xlsx", params={"unit": "084",
                                                                                          "year": 1990}), 422)
    assert_problem(await anon.get("/api/v1/units/084/report.xlsx", params={"year": 2021}), 401)


async def test_control_characters_stored_in_a_name_do_not_break_the_workbooks(db, client):
    # found by schemathesis: a unit created with a control character in its name made
    # report.xlsx and template.xlsx fail (XML 1.0 cannot hold it); the API refuses such names
    # now, and names stored before (or by plain SQL) lose the character in the workbook
    from sqlalchemy import text

    await load_demo(db)
    async with db.transaction() as session:
        await session.execute(text("UPDATE admin_unit SET name = :name WHERE code = '02812'"), {"name": "Xã Sán\x07Chải"})
    for path in ("/api/v1/units/084/report.xlsx", "/api/v1/imports/assessments/template.xlsx"):
        params = {"year": 2021} if "report" in path else {"year": 2021, "unit": "084"}
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        names = {row[0]: row[1] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True) if row[0]}
        assert names["02812"] == "Xã SánChải", path
    new_unit = {"code": "02815", "name": "Xã\x07Mới", "level": "commune", "kind": "xa", "parent_code": "084"}
    body = assert_problem(await client.post("/api/v1/units", json=new_unit), 422, field="name")
    assert "U+0007" in body["errors"][0]["message"]


EVIL = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]


async def test_exports_are_inert(db, client):
    """Names that a spreadsheet would run as formulas get a leading ' in report.xlsx, report.csv and
    template.xlsx; numbers stay numbers (contract v1.3, "Exports are inert")."""
    from sqlalchemy import text

    await load_demo(db)
    codes = ["02800", "02803", "02806", "02812", "02818", "02821"]
    async with db.transaction() as session:  # as plain SQL could have stored them
        for code, name in zip(codes, EVIL, strict=True):
            await session.execute(text("UPDATE admin_unit SET name = :n WHERE code = :c"), {"n": name, "c": code})
    expected = {code: "'" + name for code, name in zip(codes, EVIL, strict=True)}

    for path in ("/api/v1/units/084/report.xlsx", "/api/v1/imports/assessments/template.xlsx"):
        params = {"year": 2021} if "report" in path else {"unit": "084", "year": 2021}
        response = await client.get(path, params=params)
        assert response.status_code == 200, response.text
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        ws = book.worksheets[0]
        names = {r[0].value: r[1] for r in ws.iter_rows(min_row=2) if r[0].value in expected}
        # (XML reads a raw CR back as LF)
        assert {c: cell.value for c, cell in names.items()} == {c: v.replace("\r", "\n") for c, v in expected.items()}
        assert {cell.data_type for cell in names.values()} == {"s"}
        assert not [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.data_type == "f"]
        if "report" in path:
            totals = _totals(ws)
            assert isinstance(totals["Số xã"], int) and isinstance(totals["Bình quân tiêu chí/xã"], float)

    response = await client.get("/api/v1/units/084/report.csv", params={"year": 2021})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    assert {r[0]: r[1] for r in rows if r and r[0] in expected} == expected
    assert not [f for r in rows for f in r if f and f[0] in "=+-@\t\r"]
