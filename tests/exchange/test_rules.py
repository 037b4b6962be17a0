"""The pure import rules: marks, headers, codes, rows; and the official decimal comma."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import sheets
from app.exchange import rules
from app.exchange.workbooks import decimal_comma
from tests.exchange.files import HEADER_19, csv_bytes, marks, xlsx

pytestmark = pytest.mark.pure


@pytest.mark.parametrize("value", ["x", "X", "Đạt", "đạt", "ĐẠT", " x ", "1", 1, 1.0, True, "true", "TRUE"])
def test_met_marks(value):
    assert rules.mark(value) is True


@pytest.mark.parametrize("value", [None, "", "  ", "Không", "không", "0", 0, False, "false", "Chưa đạt"])
def test_not_met_marks(value):
    assert rules.mark(value) is False


@pytest.mark.parametrize("value", ["có lẽ", "2", 2, 0.5, "xx", "-"])
def test_anything_else_is_not_a_mark(value):
    assert rules.mark(value) is None


@pytest.mark.parametrize(
    ("header", "number"),
    [("1", 1), ("19", 19), ("TC01", 1), ("tc 7", 7), ("Tiêu chí 1", 1), ("Tiêu chí 19", 19), ("Tieu chi 05", 5)],
)
def test_criterion_headers(header, number):
    assert rules.criterion_number(rules.header_key(header)) == number


@pytest.mark.parametrize(("value", "code"), [("02812", "02812"), (2812, "02812"), (2812.0, "02812"), (" 02812 ", "02812")])
def test_commune_codes_keep_their_zeros(value, code):
    assert rules.commune_code(value) == code


@pytest.mark.parametrize("value", ["Sán Chải", "2812", "028123", "", None, True, 1234567, 28.5])
def test_not_commune_codes(value):
    assert rules.commune_code(value) is None


def test_names_match_without_accents_case_or_unit_word():
    assert rules.same_name("Sán Chải", "Xã Sán Chải")
    assert rules.same_name("xa san chai", "Xã Sán Chải")
    assert not rules.same_name("Cán Cấu", "Xã Sán Chải")


def _parse(rows, count=19):
    return rules.parse(sheets.read(xlsx(rows), max_rows=100, max_unzipped_bytes=10**8)[0], count)


def test_parse_reads_rows_marks_and_reports_every_error():
    parsed = _parse([
        HEADER_19,
        ["02812", "Sán Chải", *marks(19)],
        [],  # blank rows are skipped silently
        ["02800", "Bản Mế", *marks(5, yes="Đạt", no="Không")],
        ["abc", "?", *marks(3)],
        ["02803", "Thào Chư Phìn", "x", "có lẽ", *marks(0)[2:]],
        ["02812", "again", *marks(1)],
        ["02806", "Cán Cấu", *[""] * 19],  # every criterion blank: skipped, not an error
    ])
    assert [(r.row, r.code, len(r.met)) for r in parsed.rows] == [(2, "02812", 19), (4, "02800", 5)]
    assert parsed.skipped == 1
    assert [(e.row, e.column, e.value) for e in parsed.errors] == [
        (5, "A", "abc"), (6, "D", "có lẽ"), (7, "A", "02812")]
    assert "appears twice (also in row 2)" in parsed.errors[2].message


def test_header_errors_are_all_reported():
    parsed = _parse([["Tên xã", "1", "2", "2", "25", "Ghi chú"]])
    messages = " | ".join(e.message for e in parsed.errors)
    assert "no commune code column" in messages
    assert "criterion 2 has two columns" in messages
    assert "criterion 25 is not in the set" in messages
    assert "unknown column" in messages
    assert "criteria 3, 4" in messages
    assert all(e.row == 1 for e in parsed.errors)


def test_formulas_are_refused():
    parsed = _parse([HEADER_19, ["02812", "Sán Chải", "=1+0", *marks(0)[1:]]])
    assert parsed.rows == [] and parsed.errors[0].column == "C"
    assert "formulas are not accepted" in parsed.errors[0].message


def test_table_ends_at_the_totals_block():
    parsed = _parse([HEADER_19, ["02812", "Sán Chải", *marks(19)], [], ["Tổng hợp", "Huyện Si Ma Cai"],
                     ["Số xã", 9]])
    assert len(parsed.rows) == 1 and parsed.errors == []


def test_csv_semicolons_and_bom():
    sheet = sheets.read(csv_bytes([HEADER_19, ["02812", "Sán Chải", *marks(2)]], delimiter=";"),
                        max_rows=10, max_unzipped_bytes=10**8)[0]
    parsed = rules.parse(sheet, 19)
    assert parsed.errors == [] and parsed.rows[0].met == {1, 2} and parsed.rows[0].name == "Sán Chải"


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"", 422, "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, 415, ".xls"),
        (b"\x89PNG\r\n\x1a\n\0\0\0", 415, "neither"),
        (b"PK\x03\x04garbage", 415, "cannot be opened"),
        ("Mã xã,1\n02812,x\n".encode("latin-1"), 415, "not UTF-8"),
    ],
)
def test_unreadable_files(data, status, words):
    with pytest.raises(sheets.SheetError) as caught:
        sheets.read(data, max_rows=10, max_unzipped_bytes=10**8)
    assert caught.value.status == status and words in caught.value.message


def test_row_cap():
    with pytest.raises(sheets.SheetError) as caught:
        sheets.read(csv_bytes([HEADER_19, *[["02812"]] * 11]), max_rows=10, max_unzipped_bytes=10**8)
    assert caught.value.status == 413


@pytest.mark.parametrize(("value", "text"), [(Decimal("16.1"), "16,1"), (Decimal("99.6"), "99,6"),
                                             (Fraction(139, 9), "15,4"), (Fraction(1, 20), "0,1"), (None, "")])
def test_decimal_comma(value, text):
    assert decimal_comma(value) == text


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=10**4))
def test_decimal_comma_is_the_rounded_figure_with_a_comma(total, count):
    from app.reports.rules import round_half_up

    text = decimal_comma(Fraction(total, count))
    assert text == str(round_half_up(Fraction(total, count), 1)).replace(".", ",")
    whole, _, tenth = text.partition(",")
    assert len(tenth) == 1 and abs(Fraction(int(whole) * 10 + int(tenth), 10) - Fraction(total, count)) <= Fraction(1, 20)


def test_row_values_are_a_compact_mapping_of_criteria_to_values():
    values = rules.RowValues(((10, "10.1"), (10, "10.2"), (15, "15.1")), (41.5, None, 90))
    assert values == {10: {"10.1": 41.5, "10.2": None}, 15: {"15.1": 90}}
    assert values.get(10) == {"10.1": 41.5, "10.2": None} and values.get(3) is None and 15 in values
    assert list(values) == [10, 15] and len(values) == 2
