"""Administrative units through the HTTP API (runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import unicodedata

import pytest

from tests.helpers import assert_problem

SI_MA_CAI_UNITS = {
    "02800": ("Xã Nàn Sán", "xa"),
    "02803": ("Xã Thào Chư Phìn", "xa"),
    "02806": ("Xã Bản Mế", "xa"),
    "02809": ("Thị trấn Si Ma Cai", "thi_tran"),
    "02812": ("Xã Sán Chải", "xa"),
    "02818": ("Xã Lùng Thẩn", "xa"),
    "02821": ("Xã Cán Cấu", "xa"),
    "02824": ("Xã Sín Chéng", "xa"),
    "02827": ("Xã Quan Hồ Thẩn", "xa"),
    "02836": ("Xã Nàn Xín", "xa"),
}


@pytest.mark.parametrize("q", ["san chai", "SÁN CHẢI", unicodedata.normalize("NFD", "Sán Chải"), "Sán Chải"])
async def test_search_ignores_case_and_diacritics(client, q):
    response = await client.get("/api/v1/units", params={"q": q})
    assert response.status_code == 200
    body = response.json()
    assert [u["code"] for u in body["items"]] == ["02812"]
    unit = body["items"][0]
    assert unit["name"] == "Xã Sán Chải"
    assert unit["parent_code"] == "084"
    assert body["total"] == 1 and body["limit"] == 50 and body["offset"] == 0


async def test_search_folds_d_with_stroke(client):
    created = await client.post(
        "/api/v1/units",
        json={"code": "02899", "name": "Xã Đồng Tâm", "level": "commune", "kind": "xa", "parent_code": "084",
              "valid_to": "2025-06-30"},
    )
    assert created.status_code == 201, created.text
    found = (await client.get("/api/v1/units", params={"q": "dong tam"})).json()
    assert [u["code"] for u in found["items"]] == ["02899"]


async def test_si_ma_cai_district_lists_its_ten_units(client):
    body = (await client.get("/api/v1/units", params={"parent": "084"})).json()
    assert body["total"] == 10
    got = {u["code"]: (u["name"], u["kind"]) for u in body["items"]}
    assert got == SI_MA_CAI_UNITS
    eligible = {u["code"] for u in body["items"] if u["ntm_eligible"]}
    assert eligible == set(SI_MA_CAI_UNITS) - {"02809"}
    assert all(u["valid_to"] == "2025-06-30" for u in body["items"])


async def test_national_root_sits_above_provinces(client):
    root = (await client.get("/api/v1/units/VN")).json()
    assert root["level"] == "country" and root["kind"] == "quoc_gia" and root["parent_code"] is None
    provinces = (await client.get("/api/v1/units", params={"level": "province"})).json()
    assert {p["code"] for p in provinces["items"]} == {"10", "15"}
    assert all(p["parent_code"] == "VN" for p in provinces["items"])


async def test_reused_code_resolves_by_date(client):
    town = (await client.get("/api/v1/units/02809", params={"on": "2020-12-31"})).json()
    assert town["name"] == "Thị trấn Si Ma Cai" and town["kind"] == "thi_tran" and not town["ntm_eligible"]
    commune = (await client.get("/api/v1/units/02809", params={"on": "2025-07-01"})).json()
    assert commune["name"] == "Xã Si Ma Cai" and commune["kind"] == "xa" and commune["ntm_eligible"]
    assert commune["parent_code"] == "15" and commune["valid_from"] == "2025-07-01"
    assert commune["predecessor_codes"] == ["02800", "02809", "02812", "02821", "02827"]


async def test_abolished_units_stay_readable(client):
    district = await client.get("/api/v1/units/084", params={"on": "2026-03-01"})
    assert district.status_code == 200
    assert district.json()["name"] == "Huyện Si Ma Cai"
    assert district.json()["valid_to"] == "2025-06-30"
    commune = (await client.get("/api/v1/units/02812")).json()  # default: today, after the reform
    assert commune["name"] == "Xã Sán Chải" and commune["successor_codes"] == ["02809"]


async def test_lineage_shows_successor_across_reform(client):
    body = (await client.get("/api/v1/units/02812/lineage")).json()
    assert body["unit"]["code"] == "02812"
    assert body["predecessors"] == []
    [successor] = body["successors"]
    assert successor["depth"] == 1
    assert successor["unit"]["code"] == "02809"
    assert successor["unit"]["name"] == "Xã Si Ma Cai"
    assert successor["unit"]["valid_from"] == "2025-07-01"


async def test_lineage_of_new_commune_lists_its_predecessors(client):
    body = (await client.get("/api/v1/units/02824/lineage", params={"on": "2026-01-01"})).json()
    assert body["unit"]["name"] == "Xã Sín Chéng" and body["unit"]["valid_from"] == "2025-07-01"
    assert [p["unit"]["code"] for p in body["predecessors"]] == ["02803", "02806", "02824", "02836"]
    assert body["successors"] == []


async def test_lists_filter_by_validity(client):
    in_2020 = (await client.get("/api/v1/units", params={"year": 2020, "limit": 500})).json()
    codes_2020 = {u["code"] for u in in_2020["items"]}
    assert {"10", "084", "02812"} <= codes_2020 and "02848" not in codes_2020 and "15" not in codes_2020
    in_2026 = (await client.get("/api/v1/units", params={"on": "2026-01-01", "limit": 500})).json()
    codes_2026 = {u["code"] for u in in_2026["items"]}
    assert codes_2026 == {"VN", "15", "02809", "02824", "02848"}
    everything = (await client.get("/api/v1/units", params={"limit": 500})).json()
    assert everything["total"] == 17
    assert [u["kind"] for u in everything["items"] if u["code"] == "02809"] == ["thi_tran", "xa"]


async def test_search_finds_historical_commune_without_a_date(client):
    body = (await client.get("/api/v1/units", params={"q": "lung than"})).json()
    assert [(u["code"], u["valid_to"]) for u in body["items"]] == [("02818", "2025-06-30")]


async def test_pagination_is_stable_and_counted(client):
    first = (await client.get("/api/v1/units", params={"limit": 5, "offset": 0})).json()
    second = (await client.get("/api/v1/units", params={"limit": 5, "offset": 5})).json()
    assert first["total"] == second["total"] == 17
    assert len(first["items"]) == len(second["items"]) == 5
    keys = [(u["code"], u["valid_from"]) for u in first["items"] + second["items"]]
    assert len(set(keys)) == 10 and keys == sorted(keys, key=lambda k: (k[0], k[1] is not None, k[1] or ""))


async def test_limit_above_cap_is_refused_naming_limit(client):
    body = assert_problem(await client.get("/api/v1/units", params={"limit": 501}), 422, field="limit")
    assert body["errors"][0]["location"] == "query"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"level": "hamlet"}, "level"), ({"kind": "village"}, "kind"), ({"parent": "8a"}, "parent"),
     ({"on": "2020-02-30"}, "on"), ({"on": "2020-01-01", "year": 2020}, "year"), ({"offset": -1}, "offset")],
)
async def test_bad_list_filters_are_refused_naming_the_field(client, params, field):
    assert_problem(await client.get("/api/v1/units", params=params), 422, field=field)


async def test_unknown_unit_is_404_problem(client):
    body = assert_problem(await client.get("/api/v1/units/99999"), 404)
    assert "99999" in body["detail"]
    assert_problem(await client.get("/api/v1/units/99999/lineage"), 404)


async def test_malformed_code_is_422_naming_code(client):
    assert_problem(await client.get("/api/v1/units/12ab"), 422, field="code")


# ---- writes -----------------------------------------------------------------------------------

NEW_COMMUNE = {"code": "02815", "name": unicodedata.normalize("NFD", "Xã  Mới"), "level": "commune", "kind": "xa", "parent_code": "084",
               "region": "trung_du_mien_nui_phia_bac", "valid_from": "2021-01-01", "valid_to": "2025-06-30"}


async def test_create_unit_stores_nfc_name_and_answers_201(client):
    response = await client.post("/api/v1/units", json=NEW_COMMUNE)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Xã Mới" and unicodedata.is_normalized("NFC", body["name"])
    assert body["ntm_eligible"] is True
    fetched = (await client.get("/api/v1/units/02815", params={"on": "2022-01-01"})).json()
    assert fetched == body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "huyen"}, "kind"),
        ({"level": "hamlet"}, "level"),
        ({"code": "2815"}, "code"),
        ({"code": "028150"}, "code"),
        ({"valid_from": "2025-01-01", "valid_to": "2024-01-01"}, "valid_to"),
        ({"name": "   "}, "name"),
        ({"parent_code": None}, "parent_code"),
        ({"region": "mars"}, "region"),
    ],
)
async def test_create_unit_rejects_bad_fields(client, change, field):
    assert_problem(await client.post("/api/v1/units", json={**NEW_COMMUNE, **change}), 422, field=field)
    listed = (await client.get("/api/v1/units", params={"limit": 500})).json()
    assert listed["total"] == 17  # nothing written


async def test_create_unit_under_parent_of_wrong_level_is_422(client):
    body = assert_problem(
        await client.post("/api/v1/units", json={**NEW_COMMUNE, "parent_code": "VN"}), 422, field="parent_code"
    )
    assert "country" in body["detail"]


async def test_create_unit_under_unknown_parent_is_404(client):
    assert_problem(await client.post("/api/v1/units", json={**NEW_COMMUNE, "parent_code": "999"}), 404)


async def test_create_unit_with_overlapping_reused_code_is_409(client):
    body = assert_problem(
        await client.post("/api/v1/units", json={**NEW_COMMUNE, "code": "02812"}), 409
    )
    assert "Sán Chải" in body["detail"]


async def test_create_unit_with_predecessors_records_lineage(client):
    data = {"code": "02850", "name": "Xã Thử Nghiệm", "level": "commune", "kind": "xa", "parent_code": "15",
            "valid_from": "2026-01-01", "predecessor_codes": ["02848"]}
    assert (await client.post("/api/v1/units", json=data)).status_code == 201
    lineage = (await client.get("/api/v1/units/02848/lineage")).json()
    assert [s["unit"]["code"] for s in lineage["successors"]] == ["02850"]
    # followed transitively: Lùng Thẩn → Lùng Phình (2025) → the new unit (2026)
    deep = (await client.get("/api/v1/units/02818/lineage")).json()
    assert [(s["unit"]["code"], s["depth"]) for s in deep["successors"]] == [("02848", 1), ("02850", 2)]


async def test_create_unit_with_unknown_predecessor_is_422(client):
    data = {"code": "02850", "name": "Xã Thử", "level": "commune", "kind": "xa", "parent_code": "15",
            "valid_from": "2026-01-01", "predecessor_codes": ["02848", "77777"]}
    assert_problem(await client.post("/api/v1/units", json=data), 422, field="predecessor_codes[1]")
    assert_problem(await client.get("/api/v1/units/02850"), 404)


async def test_patch_renames_and_closes_unit(client):
    response = await client.patch("/api/v1/units/02848", json={"name": "Xã Lùng Phình Mới", "valid_to": "2026-06-30"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Xã Lùng Phình Mới" and body["valid_to"] == "2026-06-30"
    assert [u["code"] for u in (await client.get("/api/v1/units", params={"q": "lung phinh moi"})).json()["items"]] == ["02848"]


async def test_patch_with_kind_of_other_level_is_422(client):
    assert_problem(await client.patch("/api/v1/units/02848", json={"kind": "huyen"}), 422, field="kind")
    assert (await client.get("/api/v1/units/02848")).json()["kind"] == "xa"


async def test_patch_closing_before_start_is_422(client):
    assert_problem(await client.patch("/api/v1/units/02848", json={"valid_to": "2025-01-01"}), 422, field="valid_to")


async def test_patch_reopening_into_reused_code_period_is_409(client):
    # the town 02809 closed on 2025-06-30; reopening it would overlap Xã Si Ma Cai (02809 from 2025-07-01)
    assert_problem(
        await client.patch("/api/v1/units/02809", params={"on": "2020-01-01"}, json={"valid_to": None}), 409
    )


async def test_list_pages_carry_link_headers(client):
    first = await client.get("/api/v1/units", params={"limit": 5})
    assert first.headers["link"] == '<http://test/api/v1/units?limit=5&offset=5>; rel="next"'
    middle = await client.get("/api/v1/units", params={"limit": 5, "offset": 5})
    assert 'offset=10>; rel="next"' in middle.headers["link"] and 'offset=0>; rel="prev"' in middle.headers["link"]
    last = await client.get("/api/v1/units", params={"limit": 5, "offset": 15})
    assert last.headers["link"] == '<http://test/api/v1/units?limit=5&offset=10>; rel="prev"'
    assert "link" not in (await client.get("/api/v1/units", params={"limit": 500})).headers
