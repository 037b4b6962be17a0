"""What a reviewer found in the import's set choice, the sets' texts and the dashboard's order
(SQLite and PostgreSQL where a database is used)."""

from __future__ import annotations

import io

import openpyxl
from hypothesis import given
from hypothesis import strategies as st

from app.core.text import vi_sort_key
from tests.builders import put_assessment
from tests.criteria.test_managed_sets import new_set
from tests.exchange.files import XLSX, csv_bytes
from tests.helpers import assert_problem


def _adaptation(codes, names=None):
    """Lào Cai (15) 2026 adaptation, 19 criteria, criterion 10 with the given indicator codes."""
    body = new_set("LC15-2026", issuer="15", first=2026, last=2030, count=19)
    body["base_set"] = None
    for crit in body["criteria"]:
        crit["indicators"] = []
    body["criteria"][9]["indicators"] = [
        {"code": c, "name": (names or {}).get(c, f"Chỉ tiêu {c}"), "unit": "%", "op": ">=",
         "thresholds": [{"value": 50}]} for c in codes]
    return body


async def test_texts_a_workbook_cannot_hold_and_codes_that_read_as_formulas_are_refused(client):
    control = await client.post("/api/v1/criteria-sets", json=_adaptation(["10.1"], {"10.1": "Tỷ lệ\u0007hộ"}))
    assert_problem(control, 422, field="criteria[9].indicators[0].name")
    formula = await client.post("/api/v1/criteria-sets", json=_adaptation(["10.1", "=1+1", "@A1"]))
    body = assert_problem(formula, 422)
    assert {e["field"] for e in body["errors"]} == {"criteria[9].indicators[1].code", "criteria[9].indicators[2].code"}
    # a set with plain codes: its template opens and re-imports unchanged
    assert (await client.post("/api/v1/criteria-sets", json=_adaptation(["10.1", "10.2"]))).status_code == 201
    template = await client.get("/api/v1/imports/assessments/template.xlsx", params={"unit": "15", "year": 2026})
    header = [c.value for c in openpyxl.load_workbook(io.BytesIO(template.content)).worksheets[0][1]]
    assert header[21:23] == ["10.1", "10.2"]
    back = await client.post("/api/v1/imports/assessments", params={"year": 2026},
                             files={"file": ("t.xlsx", template.content, XLSX)})
    assert back.status_code == 200 and back.json()["criteria_set"] == "LC15-2026", back.text


async def _lao_cai_set_and_another_province(client):
    """Lào Cai (10) adapts the 2022–2025 set; province 11 (commune 03001) keeps the national one."""
    assert (await client.post("/api/v1/criteria-sets", json=new_set("LC-2022-2025", issuer="10"))).status_code == 201
    for unit in ({"code": "11", "name": "Tỉnh Thử", "level": "province", "kind": "tinh", "parent_code": "VN",
                  "region": "trung_du_mien_nui_phia_bac", "valid_from": "2000-01-01", "valid_to": "2025-06-30"},
                 {"code": "03001", "name": "Xã Thử", "level": "commune", "kind": "xa", "parent_code": "11",
                  "region": "trung_du_mien_nui_phia_bac", "valid_from": "2000-01-01", "valid_to": "2025-06-30"}):
        assert (await client.post("/api/v1/units", json=unit)).status_code == 201


async def test_the_national_template_reimports_unchanged_beside_a_provincial_adaptation(client):
    """The template's untouched rows (every mark blank: skipped) do not take part in choosing the
    file's set: the national template re-imports though Lào Cai has its own set."""
    await _lao_cai_set_and_another_province(client)
    await put_assessment(client, code="03001", year=2022, met=9)
    template = await client.get("/api/v1/imports/assessments/template.xlsx", params={"unit": "VN", "year": 2022})
    back = await client.post("/api/v1/imports/assessments", params={"year": 2022},
                             files={"file": ("t.xlsx", template.content, XLSX)})
    assert back.status_code == 200, back.text
    assert (back.json()["criteria_set"], back.json()["unchanged"]) == ("2021-2025", 1)


async def test_another_provinces_communes_are_out_of_scope_not_a_set_conflict(db, client, app):
    """The file's set is chosen by the communes the caller may write: a Lào Cai user whose file
    also holds a commune of another province (judged by another set) gets that row refused as out
    of scope (403), not a 422 naming the other province's set; nothing is written."""
    from app.auth.models import Role
    from tests.exchange.files import HEADER_19, marks, xlsx
    from tests.users import bearer, make_user

    await _lao_cai_set_and_another_province(client)
    await make_user(db, username="laocai", role=Role.province, unit_code="10")
    both = xlsx([HEADER_19, ["02812", "Sán Chải", *marks(17)], ["03001", "Xã Thử", *marks(9)]])
    refused = assert_problem(await client.post("/api/v1/imports/assessments", params={"year": 2022},
                                               files={"file": ("f.xlsx", both, XLSX)}, headers=bearer(app, "laocai")), 403)
    assert [(e["row"], e["value"]) for e in refused["errors"]] == [(3, "03001")]
    assert refused["criteria_set"] == "LC-2022-2025"
    # an administrator may write both: the file mixes two provinces' sets (422, as before)
    mixed = assert_problem(await client.post("/api/v1/imports/assessments", params={"year": 2022},
                                             files={"file": ("f.xlsx", both, XLSX)}), 422)
    assert "different criteria sets" in mixed["errors"][0]["message"]
    assert (await client.get("/api/v1/communes/02812/assessments/2022")).status_code == 404


async def test_a_kind_is_named_by_its_value(client):
    response = await client.post("/api/v1/imports/assessments", params={"year": 2022, "kind": "hien_dai"},
                                 files={"file": ("a.csv", csv_bytes([["Mã xã"], ["02812"]]))})
    detail = assert_problem(response, 422)["detail"]
    assert "'hien_dai'" in detail and "AssessmentKind" not in detail


def test_vietnamese_alphabetical_order():
    from app.web.communes import CommuneLine, name_ranks, sort_lines

    names = ["Xã Yên Bình", "Xã Đồng Tâm", "Xã Ân Thi", "Xã Bắc Hà", "Xã An Khê", "Xã Ô Quy Hồ", "Xã Ăn Cư"]
    lines = [CommuneLine(code=f"{i:05d}", name=n, met_count=1, criteria_count=19, status_year=None, status=None,
                         flags=[], recognition=None, conflicts=[]) for i, n in enumerate(names)]
    shown = [line.name for line in sort_lines(lines, "name", False)]
    assert shown == ["Xã An Khê", "Xã Ăn Cư", "Xã Ân Thi", "Xã Bắc Hà", "Xã Đồng Tâm", "Xã Ô Quy Hồ", "Xã Yên Bình"]
    ranks = name_ranks(lines)
    assert [line.name for line in sorted(lines, key=lambda line: ranks[line.code])] == shown
    # tones after letters: a à ả ã á ạ, then the next letter
    assert sorted(["ạ", "á", "b", "a", "ã", "à", "ả"], key=vi_sort_key) == ["a", "à", "ả", "ã", "á", "ạ", "b"]


@given(st.lists(st.text(alphabet="aăâbdđeêoôơuưyAĂÂĐÔƠƯ àáảãạ", max_size=6), max_size=8))
def test_the_order_ignores_case_and_composition(names):
    import unicodedata

    def letters(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return vi_sort_key(text)[:2]

    for name in names:
        assert letters(name) == letters(name.upper()) == letters(unicodedata.normalize("NFD", name))
    ordered = sorted(names, key=vi_sort_key)
    assert all(letters(a) <= letters(b) for a, b in zip(ordered, ordered[1:], strict=False))
