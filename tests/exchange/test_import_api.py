"""POST /api/v1/imports/assessments through the HTTP API, on both databases."""

from __future__ import annotations

import io
import zipfile

from app.auth.models import Role
from tests.builders import load_demo, put_assessment
from tests.exchange.files import HEADER_19, csv_bytes, marks, upload, xlsx
from tests.helpers import assert_problem
from tests.users import bearer, make_user

SI_MA_CAI = ["02800", "02803", "02806", "02812", "02818", "02821", "02824", "02827", "02836"]


async def audit_count(client, **params) -> int:
    response = await client.get("/api/v1/audit", params={"entity": "assessment", **params})
    assert response.status_code == 200, response.text
    return response.json()["total"]


async def test_import_creates_updates_and_leaves_unchanged(db, client):
    await put_assessment(client, code="02800", year=2021, met=10)
    await put_assessment(client, code="02803", year=2021, met=12)
    before_audit = await audit_count(client)
    data = xlsx([
        HEADER_19,
        ["02800", "Xã Nàn Sán", *marks(10)],          # same as stored: unchanged
        ["02803", "Thào Chư Phìn", *marks(13, yes="Đạt", no="Không")],  # one more criterion: updated
        [2812, "sán chải", *marks(19, yes=1, no=0)],  # number cell, lower case, no accents needed
        ["02806", None, *marks(range(1, 20, 2), yes=True, no=False)],
    ])
    response = await upload(client, data)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["rows"], body["created"], body["updated"], body["unchanged"], body["errors"]) == (4, 2, 1, 1, [])
    assert body["criteria_set"] == "2016-2020" and body["dry_run"] is False
    san_chai = (await client.get("/api/v1/communes/02812/assessments/2021")).json()
    assert san_chai["met_count"] == 19 and san_chai["standard_reached"] is True and san_chai["version"] == 1
    thao = (await client.get("/api/v1/communes/02803/assessments/2021")).json()
    assert thao["met"] == list(range(1, 14)) and thao["version"] == 2
    odd = (await client.get("/api/v1/communes/02806/assessments/2021")).json()
    assert odd["met"] == list(range(1, 20, 2))
    summary = (await client.get("/api/v1/units/084/summary", params={"year": 2021})).json()
    assert summary["total_criteria_met"] == 10 + 13 + 19 + 10
    # one audit record per assessment created or changed, none for the unchanged one
    assert await audit_count(client) == before_audit + 3
    records = (await client.get("/api/v1/audit", params={"entity": "assessment", "limit": 3})).json()["items"]
    assert {r["action"] for r in records} == {"import_create", "import_update"}
    update = next(r for r in records if r["action"] == "import_update")
    assert update["before"]["met_count"] == 12 and update["after"]["met_count"] == 13
    assert update["after"]["version"] == 2 and update["request_id"]


async def test_any_error_writes_nothing_and_every_error_is_listed(db, client):
    data = xlsx([
        HEADER_19,
        ["02812", "Sán Chải", *marks(19)],
        ["99999", "Nowhere", *marks(3)],
        ["02809", "Si Ma Cai", *marks(3)],        # the town (thị trấn) before 2025: never assessed
        ["02800", "Cán Cấu", *marks(3)],          # name of another commune
        ["02803", None, "x", "maybe", *marks(0)[2:]],
    ])
    response = await upload(client, data)
    body = assert_problem(response, 422)
    assert body["rows"] == 4 and body["created"] == 1
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(3, "A"), (4, "A"), (5, "B"), (6, "D")]
    messages = [e["message"] for e in body["errors"]]
    assert "no unit has the code 99999 in 2021" in messages[0]
    assert "only communes (xã)" in messages[1]
    assert "does not match commune 02800" in messages[2]
    assert "not a mark" in messages[3] and body["errors"][3]["value"] == "maybe"
    assert "nothing was written" in body["detail"]
    assert (await client.get("/api/v1/communes/02812/assessments/2021")).status_code == 404
    assert await audit_count(client) == 0


async def test_dry_run_checks_and_writes_nothing(db, client):
    response = await upload(client, xlsx([HEADER_19, ["02812", "Sán Chải", *marks(19)]]), dry_run=True)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1 and response.json()["dry_run"] is True
    assert (await client.get("/api/v1/communes/02812/assessments/2021")).status_code == 404


async def test_csv_upload(db, client):
    data = csv_bytes([["commune_code", "name", *[f"TC{n:02d}" for n in range(1, 20)]],
                      ["02812", "Sán Chải", *marks(17)]], delimiter=";")
    response = await upload(client, data, name="import.csv")
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1


async def test_idempotency_key_replays_the_first_result(db, client):
    data = xlsx([HEADER_19, ["02812", "Sán Chải", *marks(17)]])
    first = await upload(client, data, headers={"Idempotency-Key": "upload-1"})
    assert first.status_code == 200 and first.json()["created"] == 1
    # meanwhile someone changes the commune; the retried upload must not overwrite it
    await put_assessment(client, code="02812", year=2021, met=18)
    again = await upload(client, data, headers={"Idempotency-Key": "upload-1"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (await client.get("/api/v1/communes/02812/assessments/2021")).json()["met_count"] == 18
    other = await upload(client, xlsx([HEADER_19, ["02812", "Sán Chải", *marks(5)]]),
                         headers={"Idempotency-Key": "upload-1"})
    assert_problem(other, 422, field="Idempotency-Key")


async def test_approved_assessments_are_locked(db, client, app):
    await make_user(db, username="district", role=Role.district, unit_code="084")
    await put_assessment(client, code="02812", year=2021, met=17)
    await client.post("/api/v1/communes/02812/assessments/2021/submit")
    approved = await client.post("/api/v1/communes/02812/assessments/2021/approve", headers=bearer(app, "district"))
    assert approved.status_code == 200, approved.text
    same = await upload(client, xlsx([HEADER_19, ["02812", "Sán Chải", *marks(17)]]))
    assert same.status_code == 200 and same.json()["unchanged"] == 1
    changed = await upload(client, xlsx([HEADER_19, ["02812", "Sán Chải", *marks(18)]]))
    body = assert_problem(changed, 422)
    assert "approved and locked" in body["errors"][0]["message"]


async def test_permissions_follow_single_writes(db, client, app, anon):
    await make_user(db, username="commune", role=Role.commune, unit_code="02812")
    await make_user(db, username="viewer", role=Role.viewer)
    own = xlsx([HEADER_19, ["02812", "Sán Chải", *marks(17)]])
    both = xlsx([HEADER_19, ["02812", "Sán Chải", *marks(17)], ["02800", None, *marks(3)]])
    assert_problem(await upload(anon, own), 401)
    assert_problem(await upload(client, own, headers=bearer(app, "viewer")), 403)
    refused = assert_problem(await upload(client, both, headers=bearer(app, "commune")), 403)
    assert [e["row"] for e in refused["errors"]] == [3]
    assert (await client.get("/api/v1/communes/02812/assessments/2021")).status_code == 404
    ok = await upload(client, own, headers=bearer(app, "commune"))
    assert ok.status_code == 200 and ok.json()["created"] == 1
    records = (await client.get("/api/v1/audit", params={"actor": "commune"})).json()["items"]
    assert [r["key"] for r in records] == ["02812/2021"]


async def test_bad_files_get_clear_4xx(db, client):
    body = assert_problem(await upload(client, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, name="x.png"), 415)
    assert "neither" in body["detail"]
    assert_problem(await upload(client, b"PK\x03\x04 not a zip", name="x.xlsx"), 415)
    assert_problem(await upload(client, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, name="x.xls"), 415)
    body = assert_problem(await upload(client, xlsx([["Ghi chú"], ["nothing"]], extra_sheets=["Bìa"])), 422)
    assert "no sheet has a commune code column" in body["errors"][0]["message"]
    assert "'Bìa'" in body["errors"][0]["message"]
    body = assert_problem(await upload(client, xlsx([HEADER_19[:10], ["02812"]])), 422)
    assert "have no column" in body["errors"][0]["message"] and body["errors"][0]["row"] == 1
    formula = xlsx([HEADER_19, ["02812", "Sán Chải", "=IF(1,\"x\",\"\")", *marks(0)[1:]]])
    body = assert_problem(await upload(client, formula), 422)
    assert body["errors"][0]["column"] == "C" and "formula" in body["errors"][0]["message"]
    # a year with no criteria set in force
    assert_problem(await upload(client, xlsx([HEADER_19]), year=1990), 422, field="year")
    # no file at all
    assert_problem(await client.post("/api/v1/imports/assessments", params={"year": 2021}), 422, field="file")


async def test_the_sheet_with_the_table_is_found(db, client):
    data = xlsx([HEADER_19, ["02812", "Sán Chải", *marks(17)]], extra_sheets=["Bìa", "Hướng dẫn"])
    response = await upload(client, data)
    assert response.status_code == 200 and response.json()["created"] == 1


def _zip(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue()


async def test_hostile_workbooks_are_refused_not_expanded(db, client, app):
    # a zip bomb: a tiny upload that unpacks to far more than a workbook ever does
    bomb = _zip({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b" " * 30_000_000})
    body = assert_problem(await upload(client, bomb), 413)
    assert "unpacks to" in body["detail"]
    # XML entity expansion ("billion laughs") inside a real workbook's sheet
    good = xlsx([HEADER_19, ["02812", "Sán Chải", *marks(17)]])
    doctype = (b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
               b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
               b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>')
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    sheet = entries["xl/worksheets/sheet1.xml"]
    start = sheet.index(b"?>") + 2 if b"?>" in sheet else 0
    entries["xl/worksheets/sheet1.xml"] = sheet[:start] + doctype + sheet[start:].replace(
        b"S\xc3\xa1n Ch\xe1\xba\xa3i", b"&lol3;")
    body = assert_problem(await upload(client, _zip(entries), dry_run=True), 422)
    assert "entities" in body["errors"][0]["message"] or "cannot be read" in body["errors"][0]["message"]
    # the answer is about this request: its year and dry run (it said year 0), no set judged it
    assert (body["year"], body["dry_run"], body["kind"], body["criteria_set"], body["rows"]) == (2021, True, "chuan", "", 0)
    assert (await client.get("/api/v1/communes/02812/assessments/2021")).status_code == 404


async def test_upload_size_cap(db, client, app):
    from app.main import create_app

    small = create_app(db.settings.model_copy(update={"import_max_bytes": 2048}), database=db)
    from httpx import ASGITransport, AsyncClient

    async with AsyncClient(transport=ASGITransport(app=small), base_url="http://test",
                           headers=dict(client.headers)) as capped:
        big = xlsx([HEADER_19, *[[f"{n:05d}", "x" * 50, *marks(19)] for n in range(200)]])
        body = assert_problem(await upload(capped, big), 413)
        assert "2048" in body["detail"]


async def test_template_round_trip_changes_nothing(db, client):
    await load_demo(db)
    response = await client.get("/api/v1/imports/assessments/template.xlsx", params={"unit": "084", "year": 2021})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(response.content))
    ws = book.worksheets[0]
    assert ws.freeze_panes == "C2"
    header = [c.value for c in ws[1]]
    # the set's indicators (10.1, 15.1 in the 2016–2020 set) follow the criteria, headed by their codes
    assert header[:2] == ["Mã xã", "Tên xã"] and header[2:] == [*(str(n) for n in range(1, 20)), "10.1", "15.1"]
    assert "Tiêu chí 10" in ws["V1"].comment.text
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert sorted(rows) == SI_MA_CAI
    assert rows["02812"][1] == "Xã Sán Chải" and set(rows["02812"][2:21]) == {"Đạt"}
    assert rows["02812"][21:] == (None, None)  # no indicator values recorded
    assert ws.data_validations.dataValidation[0].formula1 == '"Đạt,Không"'
    again = await upload(client, response.content)
    assert again.status_code == 200, again.text
    assert (again.json()["rows"], again.json()["created"], again.json()["updated"]) == (9, 0, 0)
    assert again.json()["unchanged"] == 9
    # a year with no assessments yet: every row blank, all skipped
    empty = await client.get("/api/v1/imports/assessments/template.xlsx", params={"unit": "084", "year": 2022})
    result = (await upload(client, empty.content, year=2022)).json()
    assert (result["rows"], result["skipped"], result["created"]) == (0, 9, 0)


async def test_import_keeps_indicator_values_and_records_conflicts(db, client):
    """Contract v1.2: an import that flips a criterion against its kept indicator values leaves
    the assessment listing the conflict, and /flags carrying indicator_conflict."""
    url = "/api/v1/communes/02812/assessments/2021"
    criteria = [{"number": n, "met": True} for n in range(1, 20)]
    criteria[9]["indicators"] = {"10.1": 41.5}
    assert (await client.put(url, json={"criteria": criteria})).status_code == 201
    response = await upload(client, xlsx([HEADER_19, ["02812", "Sán Chải", *marks(set(range(1, 20)) - {10})]]))
    assert response.status_code == 200, response.text
    assert response.json()["updated"] == 1
    a = (await client.get(url)).json()
    assert a["criteria"][9]["indicators"] == {"10.1": 41.5} and a["criteria"][9]["met"] is False
    assert a["criteria"][9]["met_by_indicators"] is True and a["indicator_conflicts"] == [10]
    flagged = await client.get("/api/v1/units/084/flags", params={"year": 2021, "flag": "indicator_conflict"})
    assert [r["commune_code"] for r in flagged.json()["items"]] == ["02812"]
    record = (await client.get("/api/v1/audit", params={"entity": "assessment", "limit": 1})).json()["items"][0]
    assert record["action"] == "import_update" and record["after"]["indicator_conflicts"] == [10]
