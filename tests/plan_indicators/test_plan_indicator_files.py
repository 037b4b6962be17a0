"""The plan-indicator list as a spreadsheet: export (.xlsx, .csv) and all-or-nothing import, both databases."""

from __future__ import annotations

import csv
import io

import openpyxl

from app.auth.models import Role
from tests.exchange.files import csv_bytes, xlsx
from tests.helpers import assert_problem
from tests.plan_indicators.helpers import load_demo_figures as load_demo
from tests.users import bearer, make_user

URL = "/api/v1/units/084/plan-indicators/2020"
HEADER = ["Mã chỉ tiêu", "Tên chỉ tiêu", "Đơn vị tính", "Nguồn", "Chiều", "Kế hoạch", "Thực hiện", "Ghi chú",
          "Liên kết NTM"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def item(code: str, **fields) -> dict:
    return {"code": code, "name": f"Chỉ tiêu {code}", "unit": "%", "source": "hdnd", "direction": "higher",
            "plan": 10, **fields}


async def upload(client, data: bytes, *, name: str = "list.xlsx", dry_run: bool = False, url: str = URL, headers=None):
    return await client.post(f"{url}/import", params={"dry_run": str(dry_run).lower()},
                             files={"file": (name, data, XLSX if name.endswith(".xlsx") else "text/csv")},
                             headers=headers or {})


def sheet_rows(data: bytes) -> list[list]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


async def test_export_then_import_changes_nothing(client, db):
    await load_demo(db)
    body = {"indicators": [item("A", actual=12, note="=HYPERLINK(\"http://x\")"), item("B", name="+ tăng", unit="-", plan=3.5),
                           item("N", ntm="average", plan=15.5, unit="tiêu chí/xã")]}
    assert (await client.put(URL, json=body)).status_code == 201
    r = await client.get(f"{URL}.xlsx")
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    assert 'filename="chi-tieu-ke-hoach-084-2020.xlsx"' in r.headers["content-disposition"]
    rows = sheet_rows(r.content)
    assert rows[0][:9] == HEADER
    a, b, n = rows[1:4]
    assert a[:8] == ["A", "Chỉ tiêu A", "%", "hdnd", "higher", 10, 12, "'=HYPERLINK(\"http://x\")"]  # inert, not a formula
    assert b[1] == "'+ tăng" and b[2] == "'-" and b[5] == 3.5  # numbers stay numbers
    assert n[6] == 15.4 and n[8] == "average" and n[9] == "Không đạt" and n[10] == 99.6
    # uploading the export as it is changes nothing
    back = await upload(client, r.content)
    assert back.status_code == 200, back.text
    out = back.json()
    assert (out["rows"], out["created"], out["updated"], out["unchanged"], out["removed"]) == (3, 0, 0, 3, 0)
    assert out["version"] == 1 and out["errors"] == []
    got = (await client.get(URL)).json()
    assert got["version"] == 1 and got["indicators"][0]["note"] == "=HYPERLINK(\"http://x\")"

    c = await client.get(f"{URL}.csv")
    assert c.status_code == 200 and c.headers["content-type"].startswith("text/csv")
    assert c.content.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(c.content.decode("utf-8-sig"))))
    assert lines[0][:9] == HEADER and lines[1][7] == "'=HYPERLINK(\"http://x\")" and lines[2][2] == "'-"
    assert lines[3][6] == "15.4"
    back = await upload(client, c.content, name="list.csv")
    assert back.status_code == 200, back.text and back.json()["unchanged"] == 3


async def test_import_replaces_the_list(client):
    await client.put(URL, json={"indicators": [item("A"), item("OLD")]})
    data = xlsx([HEADER, ["A", "Chỉ tiêu A", "%", "hdnd", "higher", 10, 11, None, None],
                 ["S", "Trường đạt chuẩn quốc gia", "trường", "hdnd", "cao hơn", 2, 1, "01/02", None],
                 [None] * 9,
                 ["P", "Giảm tỷ lệ hộ nghèo", "%", "tinh", "higher", "3,5", "3,1", None, None]])
    dry = await upload(client, data, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert (dry.json()["created"], dry.json()["updated"], dry.json()["removed"], dry.json()["dry_run"]) == (2, 1, 1, True)
    assert (await client.get(URL)).json()["version"] == 1  # a dry run writes nothing
    r = await upload(client, data)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    got = (await client.get(URL)).json()["indicators"]
    assert [(i["code"], i["direction"], i["plan"], i["actual"], i["source"]) for i in got] == [
        ("A", "higher", 10, 11, "hdnd"), ("S", "higher", 2, 1, "hdnd"), ("P", "higher", 3.5, 3.1, "tinh")]
    audit = (await client.get("/api/v1/audit", params={"entity": "plan_indicators"})).json()["items"]
    assert audit[0]["action"] == "import_replace" and len(audit[0]["after"]["indicators"]) == 3


async def test_a_file_with_errors_writes_nothing_and_lists_every_error(client, db):
    await load_demo(db)
    await client.put(URL, json={"indicators": [item("A")]})
    data = csv_bytes([
        ["code", "name", "source", "direction", "plan", "actual", "ntm"],
        ["A", "ok", "hdnd", "higher", "10", "", ""],
        ["B", "", "hdnd", "higher", "10", "", ""],  # no name
        ["C", "c", "hdnd", "sideways", "10", "", ""],  # bad direction
        ["D", "d", "hdnd", "higher", "mười", "", ""],  # not a number
        ["a", "dup", "hdnd", "higher", "1", "", ""],  # duplicate of A
        ["N", "n", "hdnd", "higher", "15.5", "15.5", "average"],  # an actual for a computed item (live: 15.4)
        ["E", "e", "hdnd", "higher", "1e400", "", ""],
    ])
    r = await upload(client, data, name="list.csv")
    problem = assert_problem(r, 422)
    assert problem["type"] == "/problems/rule-violation"
    errors = [(e["row"], e["column"]) for e in problem["errors"]]
    assert errors == [(3, "B"), (4, "D"), (5, "E"), (6, "A"), (7, "F"), (8, "E")], problem["errors"]
    assert all({"row", "column", "value", "message"} <= set(e) for e in problem["errors"])
    assert "15.4" in problem["errors"][4]["message"]
    got = (await client.get(URL)).json()
    assert got["version"] == 1 and [i["code"] for i in got["indicators"]] == ["A"]


async def test_bad_headers_and_files(client):
    unknown = xlsx([HEADER + ["Mục tiêu"], ["A", "a", "", "hdnd", "higher", 1, None, None, None, "x"]])
    problem = assert_problem(await upload(client, unknown), 422)
    assert problem["errors"][0]["row"] == 1 and problem["errors"][0]["column"] == "J"
    missing = xlsx([["Mã chỉ tiêu", "Tên chỉ tiêu"], ["A", "a"]])
    assert "missing column" in assert_problem(await upload(client, missing), 422)["errors"][0]["message"]
    no_table = xlsx([["Mã xã", "1"], ["02812", "x"]])
    assert_problem(await upload(client, no_table), 422)
    assert_problem(await upload(client, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, name="old.xls"), 415)
    assert_problem(await upload(client, b"PK\x03\x04 not a zip", name="x.xlsx"), 415)
    assert_problem(await upload(client, b""), 422)
    assert_problem(await client.get(URL), 404)


async def test_formula_cells_are_refused(client):
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(HEADER)
    ws.append(["A", "a", "%", "hdnd", "higher", "=1+1", None, None, None])
    out = io.BytesIO()
    book.save(out)
    problem = assert_problem(await upload(client, out.getvalue()), 422)
    assert problem["errors"][0]["row"] == 2 and problem["errors"][0]["column"] == "F"
    assert "formula" in problem["errors"][0]["message"]


async def test_import_follows_the_write_rules(client, app, db, anon):
    data = xlsx([HEADER, ["A", "a", "%", "hdnd", "higher", 1, None, None, None]])
    await make_user(db, username="other", role=Role.district, unit_code="085")
    await make_user(db, username="watcher", role=Role.viewer, unit_code="084")
    assert_problem(await upload(client, data, headers=bearer(app, "other")), 403)
    assert_problem(await upload(client, data, headers=bearer(app, "watcher")), 403)
    assert_problem(await upload(anon, data), 401)
    assert_problem(await upload(client, data, url="/api/v1/units/02812/plan-indicators/2020"), 422)
    assert (await upload(client, data)).status_code == 200
    assert_problem(await upload(client, data, headers={"If-Match": '"7"'}), 412)


async def test_export_of_a_missing_list_is_404(client):
    assert_problem(await client.get(f"{URL}.xlsx"), 404)
    assert_problem(await client.get(f"{URL}.csv"), 404)
    assert_problem(await client.get("/api/v1/units/02812/plan-indicators/2020.xlsx"), 422)


async def test_the_report_workbook_has_a_sheet_of_the_plan_indicators(client, db):
    await load_demo(db)
    before = openpyxl.load_workbook(io.BytesIO((await client.get("/api/v1/units/084/report.xlsx?year=2020")).content))
    assert "Chỉ tiêu kế hoạch" not in before.sheetnames  # no list, no sheet
    await client.put(URL, json={"indicators": [item("N", ntm="average", plan=15.5),
                                               item("X", name="=1+1", actual=11)]})
    r = await client.get("/api/v1/units/084/report.xlsx?year=2020")
    assert r.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames[:3] == ["Báo cáo", "Theo tiêu chí", "Xu hướng"] and book.sheetnames[3] == "Chỉ tiêu kế hoạch"
    rows = [list(row) for row in book["Chỉ tiêu kế hoạch"].iter_rows(values_only=True)]
    assert rows[0][:9] == HEADER
    assert rows[1][0] == "N" and rows[1][6] == 15.4 and rows[1][10] == 99.6
    assert rows[2][1] == "'=1+1" and rows[2][6] == 11  # inert text, numbers as numbers
    assert (await client.get("/api/v1/units/084/report.xlsx?year=2021")).status_code == 200


async def test_the_error_list_is_capped(client):
    rows = [HEADER] + [[f"C{i}", "", "%", "hdnd", "sideways", "x", None, None, None] for i in range(520)]
    problem = assert_problem(await upload(client, csv_bytes(rows), name="list.csv"), 422)
    assert len(problem["errors"]) == 1001
    assert problem["errors"][-1]["message"] == "and 41 more"  # 520 rows × 2 errors, and over 500 indicators
    assert problem["detail"].startswith("1041 errors in the file")  # every error counted, not the listed ones
    assert len((await upload(client, csv_bytes(rows), name="list.csv")).content) < 1_000_000
