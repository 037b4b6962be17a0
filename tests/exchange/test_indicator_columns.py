"""The pure rules of indicator columns in the import: reading a cell as PUT's value, merging with the
values recorded, deriving a blank mark, the header, and the template/report round trip."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.assessments import rules as assessment_rules
from app.assessments.rules import IndicatorRule, Judge
from app.assessments.schemas import CriterionResult
from app.core import sheets
from app.core.sheets import Cell
from app.core.text import decimal_text
from app.criteria.thresholds import Op, Threshold
from app.exchange import rules, workbooks
from app.exchange.workbooks import CommuneLine, IndicatorColumn, ReportData
from tests.exchange.files import HEADER_19, csv_bytes, marks

pytestmark = pytest.mark.pure

REGION = "trung_du_mien_nui_phia_bac"
INDICATORS = {
    10: [IndicatorRule("10.1", Op.at_least, (Threshold(36, region=REGION),))],
    15: [IndicatorRule("15.1", Op.at_least, (Threshold(85),)), IndicatorRule("15.2", Op.at_most, (Threshold(5),))],
    17: [IndicatorRule("17.1", Op.boolean, (Threshold(True),))],
}
JUDGE = Judge(year=2021, region=REGION, indicators=INDICATORS)


def _header(*extra: str) -> list[Cell]:
    return [Cell(v) for v in [*HEADER_19, *extra]]


@pytest.mark.parametrize(("cell", "value"), [
    ("41,5", 41.5), ("41.5", 41.5), (" 1.234,5 ", 1234.5), ("45.000.000", 45_000_000), ("-0", 0), ("-0,0", -0.0),
    (41.5, 41.5), (36, 36), ("", None), (None, None), ("  ", None),
    ("abc", "abc"), ("1e309", "1e309"), ("inf", "inf"), ("NaN", "NaN"), (True, True),
])
def test_numeric_cells_read_as_put_values(cell, value):
    got = rules.indicator_value(cell, Op.at_least)
    assert got == value and type(got) is type(value)


def test_whole_numbers_read_as_integers_and_decimals_as_floats():
    assert type(rules.indicator_value("36", None)) is int and type(rules.indicator_value("36,0", None)) is float


@pytest.mark.parametrize(("cell", "value"), [
    ("x", True), ("Đạt", True), (1, True), ("true", True), ("Không", False), (0, False), ("false", False),
    ("", None), (None, None), ("có lẽ", "có lẽ"), (2, 2),
])
def test_yes_no_cells_read_as_marks(cell, value):
    assert rules.indicator_value(cell, Op.boolean) == value


@pytest.mark.parametrize("cell", ["abc", "1e309", "inf", "NaN", True, float("nan"), float("inf"), 10**400, "9" * 400])
def test_what_is_not_a_finite_number_is_refused_by_puts_check(cell):
    value = rules.indicator_value(cell, Op.at_least)
    assert assessment_rules.indicator_errors(10, {"10.1": value}, JUDGE, prefix="")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_survives_the_csv_export_and_a_decimal_comma(value):
    written = workbooks._csv_value(value)
    assert rules.indicator_value(written, Op.at_least) == value
    assert rules.indicator_value(written.replace(".", ","), Op.at_least) == value


def test_decimal_text():
    assert decimal_text("3,5") == Decimal("3.5") and decimal_text("1,234.5") == Decimal("1234.5")
    assert decimal_text("3,5 %") == Decimal("3.5")
    for text in ("1e5", "NaN", "inf", "-inf", "3,5,6", "", "0x10"):
        assert decimal_text(text) is None
    # spaces group thousands (45 000 000, with a no-break space too) or stand around the number;
    # anywhere else they part two numbers, which is not one value (36 40 was read as 3640)
    assert decimal_text("45 000 000") == Decimal("45000000") and decimal_text("1\u00a0234,5") == Decimal("1234.5")
    assert decimal_text(" 85,5 % ") == Decimal("85.5")
    for text in ("36 40", "1  500", "12 3456", "3, 5", "- 3", " ", "%"):
        assert decimal_text(text) is None, text


@given(st.integers(min_value=-10**12, max_value=10**12), st.sampled_from([" ", "\u00a0"]))
def test_decimal_text_reads_thousands_grouped_by_spaces(number, space):
    grouped = f"{abs(number):,}".replace(",", space)
    assert decimal_text(("-" if number < 0 else "") + grouped) == number


@pytest.mark.parametrize(("kept", "given", "merged"), [
    (None, None, None),
    ({"15.1": 90}, None, {"15.1": 90}),
    (None, {"15.1": 90}, {"15.1": 90}),
    ({"15.1": 90, "15.2": 3}, {"15.1": 95}, {"15.1": 95, "15.2": 3}),
    ({"15.1": 90, "15.2": 3}, {"15.1": None}, {"15.2": 3}),
    ({"15.1": 90}, {"15.1": None}, None),
    ({"15.1": None}, {"15.1": None}, {"15.1": None}),  # PUT may record a null: nothing to remove
    (None, {"15.1": None}, None),
])
def test_merged_indicators(kept, given, merged):
    assert rules.merged_indicators(kept, given) == merged


def _row(met: set[int], blank: set[int], values: dict[int, dict]) -> rules.ParsedRow:
    return rules.ParsedRow(row=2, code="02812", name=None, met=frozenset(met), blank=frozenset(blank),
                           indicators=values)


def test_row_criteria_derive_blank_marks_only_where_the_file_has_indicator_columns():
    everything = set(range(1, 20))
    kept = [CriterionResult(number=n, met=True, note="ghi chú" if n == 15 else None,
                            indicators={"15.2": 3} if n == 15 else None) for n in range(1, 20)]
    row = _row(everything - {10, 15, 16}, {10, 15, 16}, {10: {"10.1": 41.5}, 15: {"15.1": 80}})
    out = {c.number: c for c in rules.row_criteria(row, 19, kept, JUDGE)}
    assert out[10].met is True and out[10].indicators == {"10.1": 41.5}  # judged met
    assert out[15].met is False and out[15].indicators == {"15.1": 80, "15.2": 3}  # 80 < 85 with the kept 15.2
    assert out[15].note == "ghi chú"  # notes are kept
    assert out[16].met is False  # blank, no indicator column: not met, as ever
    # what an omitted `met` in PUT gives, for the same values
    put = assessment_rules.judged(CriterionResult(number=10, indicators={"10.1": 41.5}), JUDGE)
    assert put.met is out[10].met
    # a blank mark whose indicators do not decide it: not met (a blank mark never failed a row)
    undecided = _row(everything - {15}, {15}, {15: {"15.1": 90}})
    assert {c.number: c for c in rules.row_criteria(undecided, 19, [], JUDGE)}[15].met is False
    # a given mark stays, whatever the indicators say (a conflict, as PUT)
    given = _row(everything, set(), {10: {"10.1": 20}})
    c10 = {c.number: c for c in rules.row_criteria(given, 19, [], JUDGE)}[10]
    assert c10.met is True and assessment_rules.conflicts([assessment_rules.judged(c10, JUDGE)]) == [10]


def test_indicator_headers():
    table, errors = rules.layout(_header("10.1", "17.1"), 19, INDICATORS)
    assert errors == [] and table is not None
    assert table.indicators == {"10.1": (10, 21), "17.1": (17, 22)}
    _, errors = rules.layout(_header("10.1", "10.1"), 19, INDICATORS)
    assert [(e.column, "two columns" in e.message) for e in errors] == [("W", True)]
    _, errors = rules.layout(_header("10.2"), 19, INDICATORS)
    assert errors[0].column == "V" and "unknown column" in errors[0].message and "`17.1`" in errors[0].message
    _, errors = rules.layout(_header("10.1"), 19)
    assert "has no indicators" in errors[0].message
    shared = {**INDICATORS, 3: [IndicatorRule("10.1", Op.at_least)]}  # two criteria use one code
    _, errors = rules.layout(_header("10.1"), 19, shared)
    assert "belongs to criteria 3, 10" in errors[0].message
    # a code that reads as another header heads no indicator column (the criterion's column wins)
    odd = {**INDICATORS, 4: [IndicatorRule("TC05", Op.at_least), IndicatorRule("ten", Op.at_least)]}
    assert not rules.column_code("TC05") and not rules.column_code("Tên") and rules.column_code("10.1")
    table, errors = rules.layout(_header(), 19, odd)
    assert errors == [] and table is not None and table.criteria[5] == 6 and table.indicators == {}
    # a numeric header cell (Excel turns a typed 10.1 into a number) names the indicator too
    table, errors = rules.layout([*_header(), Cell(10.1)], 19, INDICATORS)
    assert errors == [] and table is not None and table.indicators == {"10.1": (10, 21)}


def test_rows_with_only_indicator_values_are_not_skipped():
    sheet = sheets.read(csv_bytes([[*HEADER_19, "10.1"], ["02812", "", *marks(0), "40"],
                                   ["02800", "", *marks(0), ""]]), max_rows=10, max_unzipped_bytes=10**6)[0]
    parsed = rules.parse(sheet, 19, INDICATORS)
    assert parsed.errors == [] and parsed.skipped == 1
    assert [(r.code, r.indicators) for r in parsed.rows] == [("02812", {10: {"10.1": 40}})]


def _data() -> ReportData:
    columns = [IndicatorColumn(10, "10.1", "Thu nhập", "triệu đồng"), IndicatorColumn(15, "15.1", "BHYT", "%"),
               IndicatorColumn(17, "17.1", "Nước thải", yes_no=True)]
    lines = [CommuneLine("02812", "Xã Sán Chải", frozenset(range(1, 20)), 19, "19",
                         indicators={"10.1": 41.5, "15.1": -3, "17.1": False}),
             CommuneLine("02800", "Xã Nàn Sán", frozenset({1}), 1, "0-4", indicators={"10.1": 1e-7}),
             CommuneLine("02803", "Xã Thào Chư Phìn", None, None, None)]
    return ReportData(unit_code="084", unit_name="Si Ma Cai", year=2021, criteria_set="2016-2020",
                      criteria=[(n, f"TC{n}") for n in range(1, 20)], communes=lines, indicators=columns)


@pytest.mark.parametrize("write", [workbooks.template_xlsx, workbooks.report_xlsx, workbooks.report_csv])
def test_written_files_read_back_the_same_values(write):
    table = rules.find_table(sheets.read(write(_data()), max_rows=100, max_unzipped_bytes=10**7))
    assert table is not None
    parsed = rules.parse(table, 19, INDICATORS)
    assert parsed.errors == [] and parsed.skipped == 1
    values = {r.code: r.indicators for r in parsed.rows}
    assert values["02812"] == {10: {"10.1": 41.5}, 15: {"15.1": -3}, 17: {"17.1": False}}
    assert values["02800"] == {10: {"10.1": 1e-7}, 15: {"15.1": None}, 17: {"17.1": None}}


def _sheet_with_repeats() -> sheets.Sheet:
    """Rows repeating values (equal cells are one ``Cell``), bad values among them, a blank row and
    an end marker: what ``parse`` must read the same whether or not it consumes the sheet."""
    rows = [[*HEADER_19, "10.1", "15.1", "17.1"]]
    for i in range(40):
        rows.append([f"{10000 + i:05d}", f"Xã {i}", *marks(i % 20), ["41,5", "36", "abc", ""][i % 4],
                     ["90", "1e309", "85,0"][i % 3], ["x", "Không", "có lẽ", ""][i % 4]])
    rows += [[""] * 5, ["02812", "", *marks(3), "40", "", "x"], ["Tổng hợp", "", "x"], ["02800", "", "x"]]
    return sheets.read(csv_bytes(rows), max_rows=100, max_unzipped_bytes=10**6)[0]


def test_parse_reads_the_same_rows_and_errors_when_it_consumes_the_sheet():
    kept = _sheet_with_repeats()
    consumed = _sheet_with_repeats()
    header = list(consumed.rows[0])
    parsed = rules.parse(kept, 19, INDICATORS)
    assert parsed.rows and parsed.errors and parsed.skipped == 0
    assert rules.parse(consumed, 19, INDICATORS, consume=True) == parsed
    assert consumed.rows == [header]  # each row dropped once read; the header left
    assert len(kept.rows) == 45


def test_rows_repeating_a_value_share_its_parsed_value_and_its_errors():
    parsed = rules.parse(_sheet_with_repeats(), 19, INDICATORS)
    by_row = {row: [(e.column, e.message) for e in parsed.errors if e.row == row] for row in (4, 8)}
    # rows 4 and 8 repeat 10.1's "abc" and 17.1's "có lẽ" (i = 2 and 6): the same errors, read once
    assert [column for column, _ in by_row[4]] == ["V", "X"] and by_row[4] == by_row[8]
    first, again = parsed.rows[0], next(r for r in parsed.rows[1:] if r.indicators[10] == {"10.1": 41.5})
    assert first.indicators[10]["10.1"] is again.indicators[10]["10.1"]  # one float, not one per row


def test_a_true_cell_and_a_one_cell_are_read_apart():
    """The memo of readings is by cell, not by equal value (``True == 1``)."""
    sheet = sheets.Sheet("t", [[Cell(v) for v in [*HEADER_19, "17.1", "10.1"]],
                               [Cell("02812"), sheets.BLANK, *[sheets.BLANK] * 19, Cell(1), Cell(True)],
                               [Cell("02800"), sheets.BLANK, *[sheets.BLANK] * 19, Cell(True), Cell(1)]])
    parsed = rules.parse(sheet, 19, INDICATORS)
    assert [(e.row, e.column) for e in parsed.errors] == [(2, "W")]  # a yes/no is not a number
    assert parsed.rows[0].indicators[17] == {"17.1": True} and parsed.rows[0].indicators[10] == {"10.1": 1}
    assert type(parsed.rows[0].indicators[10]["10.1"]) is int


@pytest.mark.parametrize(("values", "has"), [((), False), ((None,), False), ((None, 0), True), ((False,), True)])
def test_has_values(values, has):
    columns = tuple((10, f"10.{k}") for k in range(len(values)))
    row = rules.ParsedRow(row=2, code="02812", name=None, met=frozenset(),
                          indicators=rules.RowValues(columns, tuple(values)))
    assert rules.has_values(row) is has
