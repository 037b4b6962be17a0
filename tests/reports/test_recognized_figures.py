"""Recognised figures in every summary row, child row, trend row, the report workbook and CSV
(SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
from hypothesis import given
from hypothesis import strategies as st

from app.reports import rules
from tests.builders import load_demo, put_assessment

NONE = {"chuan": 0, "nang_cao": 0, "kieu_mau": 0, "hien_dai": 0}


def rec(year, **extra):
    return {"recognition_year": year, "decision_no": "1/QĐ-UBND", **extra}


async def summary(client, code, year):
    response = await client.get(f"/api/v1/units/{code}/summary", params={"year": year},
                                headers={"Cache-Control": "no-cache"})
    assert response.status_code == 200, response.text
    return response.json()


# ---- pure arithmetic ---------------------------------------------------------------------------


def test_recognized_percent_half_up_and_null():
    assert rules.recognized_percent(2, 9) == Decimal("22.2")
    assert rules.recognized_percent(6084, 7669) == Decimal("79.3")  # the national 2025 figure
    assert rules.recognized_percent(1, 8) == Decimal("12.5")
    assert rules.recognized_percent(1, 16) == Decimal("6.3")  # 6.25 → 6.3, half up
    assert rules.recognized_percent(0, 0) is None


@given(st.dictionaries(st.integers(0, 15), st.integers(0, 50)), st.integers(0, 100))
def test_recognition_figures_are_cumulative(masks, extra):
    eligible = sum(masks.values()) + extra
    got = rules.recognition_figures(masks, below_standard=0, eligible=eligible)
    counts = got.recognized_communes
    assert counts["chuan"] == sum(n for mask, n in masks.items() if mask)
    assert counts["chuan"] >= counts["nang_cao"] >= counts["kieu_mau"] and counts["chuan"] >= counts["hien_dai"]
    if eligible:
        assert got.recognized_percent == rules.round_half_up(rules.Fraction(counts["chuan"] * 100, eligible))
    else:
        assert got.recognized_percent is None


# ---- through the API -------------------------------------------------------------------------------


async def test_no_recognitions_gives_zeros(client):
    await put_assessment(client, code="02812", year=2021, met=19)
    s = await summary(client, "084", 2021)
    assert s["recognized_communes"] == NONE and s["recognized_percent"] == 0.0
    assert s["recognized_below_standard_count"] == 0 and s["recognized_districts"] is None
    assert s["unit_recognitions"] == []
    province = await summary(client, "10", 2021)
    assert province["recognized_districts"] == 0 and province["children"][0]["recognized_districts"] is None


async def test_cumulative_counts_and_percent_with_missing_communes(client):
    # only two communes assessed: the seven others are missing but count in the denominator
    await put_assessment(client, code="02812", year=2021, met=19)
    await put_assessment(client, code="02800", year=2021, met=17)
    for code, level in (("02812", "chuan"), ("02812", "nang_cao"), ("02812", "kieu_mau"), ("02800", "chuan"),
                        ("02836", "hien_dai")):
        assert (await client.put(f"/api/v1/communes/{code}/recognitions/{level}", json=rec(2021))).status_code == 201
    s = await summary(client, "084", 2021)
    assert s["eligible_count"] == 9 and s["commune_count"] == 2 and len(s["missing"]) == 7
    assert s["recognized_communes"] == {"chuan": 3, "nang_cao": 1, "kieu_mau": 1, "hien_dai": 1}
    assert s["recognized_percent"] == 33.3  # 3/9
    # Nàn Sán is recognised at 17/19; Nàn Xín is recognised but has no status: not counted below
    assert s["recognized_below_standard_count"] == 1
    # before the recognition year: nothing
    assert (await summary(client, "084", 2020))["recognized_communes"] == NONE
    # the province's row and its child row carry the same figures
    province = await summary(client, "10", 2021)
    child = province["children"][0]
    for row in (province, child):
        assert row["recognized_communes"]["chuan"] == 3 and row["recognized_percent"] == 33.3
        assert row["recognized_below_standard_count"] == 1


async def test_revoked_recognition_stops_counting_in_its_year(client):
    await put_assessment(client, code="02812", year=2021, met=18)
    await client.put("/api/v1/communes/02812/recognitions/chuan", json=rec(2021))
    assert (await summary(client, "084", 2022))["recognized_below_standard_count"] == 1
    response = await client.post("/api/v1/communes/02812/recognitions/chuan/revoke",
                                 json={"revoked_on": "2023-05-01", "decision_no": "45/QĐ-UBND"})
    assert response.status_code == 200
    assert (await summary(client, "084", 2022))["recognized_communes"]["chuan"] == 1
    s2023 = await summary(client, "084", 2023)
    assert s2023["recognized_communes"]["chuan"] == 0 and s2023["recognized_below_standard_count"] == 0
    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2023})).json()["items"]
    assert "recognized_below_standard" not in next(r for r in flags if r["commune_code"] == "02812")["flags"]
    flags = (await client.get("/api/v1/units/084/flags", params={"year": 2022})).json()["items"]
    assert "recognized_below_standard" in next(r for r in flags if r["commune_code"] == "02812")["flags"]


async def test_districts_and_unit_recognitions(client):
    await client.put("/api/v1/units/084/recognitions/chuan", json=rec(2022))
    await client.put("/api/v1/units/10/recognitions/hoan_thanh", json=rec(2023))
    p2022 = await summary(client, "10", 2022)
    assert p2022["recognized_districts"] == 1 and p2022["unit_recognitions"] == []
    assert p2022["children"][0]["unit_recognitions"] == ["chuan"]
    assert p2022["children"][0]["recognized_districts"] is None  # no district below a district
    assert (await summary(client, "10", 2021))["recognized_districts"] == 0
    assert (await summary(client, "10", 2023))["unit_recognitions"] == ["hoan_thanh"]
    national = await summary(client, "VN", 2023)
    assert national["recognized_districts"] == 1 and national["children"][0]["recognized_districts"] == 1
    # nâng cao alone does not make a district count
    await client.post("/api/v1/units/084/recognitions/chuan/revoke", json={"revoked_on": "2024-02-01"})
    await client.put("/api/v1/units/084/recognitions/nang_cao", json=rec(2024))
    p2024 = await summary(client, "10", 2024)
    assert p2024["recognized_districts"] == 0 and p2024["children"][0]["unit_recognitions"] == ["nang_cao"]
    # after the 2025 reform there are no districts: null
    assert (await summary(client, "15", 2025))["recognized_districts"] is None


async def test_merged_commune_starts_with_no_recognition(client):
    await client.put("/api/v1/communes/02824/recognitions/chuan", json=rec(2021))
    assert (await summary(client, "084", 2024))["recognized_communes"]["chuan"] == 1
    s = await summary(client, "15", 2025)
    assert s["eligible_count"] == 3 and s["recognized_communes"] == NONE and s["recognized_percent"] == 0.0


async def test_trend_rows_carry_the_figures(db, client):
    await load_demo(db)
    rows = (await client.get("/api/v1/units/084/trend", params={"from": 2020, "to": 2024})).json()["items"]
    assert [(r["year"], r["recognized_communes"]["chuan"], r["recognized_percent"]) for r in rows] == [
        (2020, 2, 22.2), (2021, 2, 22.2), (2022, 2, 22.2), (2023, 2, 22.2), (2024, 2, 22.2)]
    assert [r["recognized_communes"]["kieu_mau"] for r in rows] == [0, 0, 0, 0, 1]
    assert rows[-1]["unit_recognitions"] == ["chuan"] and rows[0]["recognized_below_standard_count"] == 2


async def test_report_workbook_and_csv_carry_the_figures(db, client):
    await load_demo(db)
    book = openpyxl.load_workbook(io.BytesIO(
        (await client.get("/api/v1/units/084/report.xlsx", params={"year": 2021})).content))
    rows = list(book["Báo cáo"].iter_rows(values_only=True))
    totals = {r[0]: r[1] for r in rows if r and r[0]}
    assert totals["Số xã đã được công nhận đạt chuẩn NTM"] == 2
    assert totals["Tỷ lệ xã được công nhận (%)"] == 22.2  # a number shown as 22,2 (contract v1.3)
    assert totals["Xã đã công nhận nhưng chưa đủ tiêu chí"] == 1
    trend = list(book["Xu hướng"].iter_rows(min_row=1, values_only=True))
    assert trend[0][8:10] == ("Số xã được công nhận", "Tỷ lệ xã được công nhận (%)")
    assert trend[-1][8:10] == (2, 22.2)
    text = (await client.get("/api/v1/units/084/report.csv", params={"year": 2021})).content.decode("utf-8-sig")
    found = {r[0]: r[1] for r in csv.reader(io.StringIO(text)) if len(r) >= 2}
    assert found["Tỷ lệ xã được công nhận (%)"] == "22,2" and found["Số xã đã được công nhận đạt chuẩn NTM"] == "2"


async def test_sql_validity_matches_the_rule_at_the_year_boundary(client):
    """The summary's SQL and ``valid_in`` agree on 31 December and 1 January."""
    import datetime as dt

    from app.recognitions.rules import valid_in

    cases = {"02812": "2023-12-31", "02800": "2024-01-01", "02803": "2023-01-01"}
    for code, revoked in cases.items():
        await client.put(f"/api/v1/communes/{code}/recognitions/chuan", json=rec(2022))
        response = await client.post(f"/api/v1/communes/{code}/recognitions/chuan/revoke", json={"revoked_on": revoked})
        assert response.status_code == 200, response.text
    for year in (2021, 2022, 2023, 2024):
        expected = sum(valid_in(year, recognition_year=2022, revoked_on=dt.date.fromisoformat(day))
                       for day in cases.values())
        assert (await summary(client, "084", year))["recognized_communes"]["chuan"] == expected, year
    assert [(await summary(client, "084", y))["recognized_communes"]["chuan"] for y in (2022, 2023, 2024)] == [3, 1, 0]


async def test_a_recognition_write_stales_the_cached_summary(client):
    url, params = "/api/v1/units/10/summary", {"year": 2022}
    first = await client.get(url, params=params)
    again = await client.get(url, params=params)
    assert again.headers["x-cache"] == "hit" and first.json()["recognized_communes"]["chuan"] == 0
    await client.put("/api/v1/communes/02812/recognitions/chuan", json=rec(2021))
    after = await client.get(url, params=params)
    assert after.headers["x-cache"] == "miss" and after.json()["recognized_communes"]["chuan"] == 1
    await client.get(url, params=params)
    await client.post("/api/v1/communes/02812/recognitions/chuan/revoke", json={"revoked_on": "2022-06-01"})
    revoked = await client.get(url, params=params)
    assert revoked.headers["x-cache"] == "miss" and revoked.json()["recognized_communes"]["chuan"] == 0
    await client.get(url, params=params)
    await client.put("/api/v1/units/084/recognitions/chuan", json=rec(2022))
    district = await client.get(url, params=params)
    assert district.headers["x-cache"] == "miss" and district.json()["recognized_districts"] == 1


async def test_recognized_percent_is_null_without_eligible_communes(client):
    body = {"code": "099", "name": "Huyện Trống", "level": "district", "kind": "huyen", "parent_code": "10",
            "valid_to": "2025-06-30"}
    assert (await client.post("/api/v1/units", json=body)).status_code == 201
    town = {"code": "09901", "name": "Thị trấn Trống", "level": "commune", "kind": "thi_tran", "parent_code": "099",
            "valid_to": "2025-06-30"}
    assert (await client.post("/api/v1/units", json=town)).status_code == 201
    s = await summary(client, "099", 2021)
    assert s["eligible_count"] == 0 and s["recognized_percent"] is None and s["recognized_communes"] == NONE
    assert (await client.put("/api/v1/units/099/recognitions/hoan_thanh", json=rec(2021))).status_code == 201
    province = await summary(client, "10", 2021)
    assert province["recognized_districts"] == 1  # the town-only district completed its NTM task
    assert [c["unit_code"] for c in province["children"]] == ["084"]  # no eligible communes: no child row
