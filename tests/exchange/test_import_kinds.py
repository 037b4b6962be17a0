"""The import, the template and the report files by kind (contract v1.1 "Assessments by kind"), and
the set that judges an import: the one that applies to the file's communes (SQLite and PostgreSQL)."""

from __future__ import annotations

import io

import openpyxl

from tests.assessments.test_kinds import advanced_set
from tests.builders import put_assessment
from tests.criteria.test_managed_sets import new_set
from tests.exchange.files import HEADER_19, XLSX, csv_bytes, marks, xlsx
from tests.helpers import assert_problem

HEADER_10 = ["Mã xã", "Tên xã", *[str(n) for n in range(1, 11)]]


async def _import(client, data: bytes, *, year: int, kind: str | None = None, name: str = "import.xlsx"):
    params: dict[str, object] = {"year": year}
    if kind is not None:
        params["kind"] = kind
    return await client.post("/api/v1/imports/assessments", params=params,
                             files={"file": (name, data, XLSX if name.endswith(".xlsx") else "text/csv")})


async def test_an_import_of_another_kind_writes_that_kind_only(client):
    assert (await client.post("/api/v1/criteria-sets", json=advanced_set())).status_code == 201
    await put_assessment(client, code="02812", year=2022, met=15)
    data = xlsx([HEADER_10, ["02812", "Xã Sán Chải", *marks(8, count=10)], ["02818", "Xã Lùng Thẩn", *marks(3, count=10)]])
    done = await _import(client, data, year=2022, kind="nang_cao")
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["kind"], body["criteria_set"], body["created"], body["updated"]) == ("nang_cao", "NC-2021-2025", 2, 0)
    advanced = (await client.get("/api/v1/communes/02812/assessments/2022", params={"kind": "nang_cao"})).json()
    assert (advanced["kind"], advanced["met_count"], advanced["criteria_count"]) == ("nang_cao", 8, 10)
    standard = (await client.get("/api/v1/communes/02812/assessments/2022")).json()
    assert (standard["met_count"], standard["version"]) == (15, 1)  # untouched
    assert (await client.get("/api/v1/communes/02818/assessments/2022")).status_code == 404
    # the same file again: unchanged; the audit keys name the kind
    again = (await _import(client, data, year=2022, kind="nang_cao")).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    keys = {r["key"] for r in (await client.get("/api/v1/audit", params={"entity": "assessment"})).json()["items"]}
    assert {"02812/2022/nang_cao", "02818/2022/nang_cao", "02812/2022"} <= keys
    # a 19-column file under kind=nang_cao: criteria outside its set are header errors, nothing written
    wrong = await _import(client, xlsx([HEADER_19, ["02800", "Xã Nàn Sán", *marks(5)]]), year=2022, kind="nang_cao")
    assert assert_problem(wrong, 422)["errors"][0]["row"] == 1
    # a kind with no set that year: a rule violation, nothing read
    none = await _import(client, data, year=2022, kind="kieu_mau")
    assert assert_problem(none, 422)["type"].endswith("/problems/rule-violation")


async def test_template_and_report_of_a_kind_round_trip(client):
    assert (await client.post("/api/v1/criteria-sets", json=advanced_set())).status_code == 201
    r = await _import(client, xlsx([HEADER_10, ["02812", "Xã Sán Chải", *marks(8, count=10)]]), year=2022,
                      kind="nang_cao")
    assert r.status_code == 200, r.text
    template = await client.get("/api/v1/imports/assessments/template.xlsx",
                                params={"unit": "084", "year": 2022, "kind": "nang_cao"})
    assert template.status_code == 200, template.text
    sheet = openpyxl.load_workbook(io.BytesIO(template.content)).worksheets[0]
    header = [c.value for c in next(sheet.iter_rows(min_row=1, max_row=1))]
    assert [h for h in header if h is not None and str(h).isdigit()] == [str(n) for n in range(1, 11)]
    back = await _import(client, template.content, year=2022, kind="nang_cao")
    assert back.status_code == 200, back.text
    assert back.json()["updated"] == 0 and back.json()["unchanged"] == 1
    report = await client.get("/api/v1/units/084/report.csv", params={"year": 2022, "kind": "nang_cao"})
    assert report.status_code == 200
    text = report.content.decode("utf-8-sig")
    assert "NC-2021-2025 (xã NTM nâng cao)" in text
    standard = (await client.get("/api/v1/units/084/report.csv", params={"year": 2022})).content.decode("utf-8-sig")
    assert "(xã NTM nâng cao)" not in standard and "Bộ tiêu chí,2021-2025\r\n" in standard
    assert (await client.get("/api/v1/units/084/report.xlsx", params={"year": 2022, "kind": "nang_cao"})).status_code == 200
    for chart in ("trend.svg", "bands.svg"):
        svg = await client.get(f"/api/v1/units/084/{chart}", params={"year": 2022, "kind": "nang_cao"})
        assert svg.status_code == 200 and b"<svg" in svg.content


async def test_an_import_is_judged_by_the_set_that_applies_to_its_communes(client):
    """A province's adaptation judges the import of its communes, as it judges their PUT and
    builds their template; a file mixing communes judged by different sets is refused."""
    lc = new_set("LC-2022-2025", issuer="10", count=19)
    assert (await client.post("/api/v1/criteria-sets", json=lc)).status_code == 201
    done = await _import(client, csv_bytes([HEADER_19, ["02812", "Xã Sán Chải", *marks(12)]]), year=2022,
                         name="import.csv")
    assert done.status_code == 200, done.text
    assert done.json()["criteria_set"] == "LC-2022-2025"
    assert (await client.get("/api/v1/communes/02812/assessments/2022")).json()["criteria_set"] == "LC-2022-2025"
    template = await client.get("/api/v1/imports/assessments/template.xlsx", params={"unit": "084", "year": 2022})
    back = await _import(client, template.content, year=2022)
    assert back.status_code == 200, back.text
    assert (back.json()["criteria_set"], back.json()["unchanged"]) == ("LC-2022-2025", 1)
    # a commune of another province (no adaptation: the national set) in the same file
    for unit in ({"code": "11", "name": "Tỉnh Thử", "level": "province", "kind": "tinh", "parent_code": "VN",
                  "region": "trung_du_mien_nui_phia_bac", "valid_from": "2000-01-01", "valid_to": "2025-06-30"},
                 {"code": "03001", "name": "Xã Thử", "level": "commune", "kind": "xa", "parent_code": "11",
                  "region": "trung_du_mien_nui_phia_bac", "valid_from": "2000-01-01", "valid_to": "2025-06-30"}):
        created = await client.post("/api/v1/units", json=unit)
        assert created.status_code == 201, created.text
    mixed = await _import(client, xlsx([HEADER_19, ["02818", "Xã Lùng Thẩn", *marks(12)],
                                        ["03001", "Xã Thử", *marks(9)]]), year=2022)
    body = assert_problem(mixed, 422)
    assert "LC-2022-2025" in body["errors"][0]["message"] and "2021-2025" in body["errors"][0]["message"]
    assert (await client.get("/api/v1/communes/02818/assessments/2022")).status_code == 404
    alone = await _import(client, xlsx([HEADER_19, ["03001", "Xã Thử", *marks(9)]]), year=2022)
    assert alone.status_code == 200 and alone.json()["criteria_set"] == "2021-2025"
