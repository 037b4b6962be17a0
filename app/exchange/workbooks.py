"""Writing the import template, the report workbook and the report CSV (openpyxl, csv).

Pure: plain data in (``ReportData``), bytes out. The report's first sheet is also a valid
import sheet: its commune table re-imports unchanged (the derived columns are ignored on
upload, the totals block starts with ``Tổng hợp``, which ends the table, and communes
without an own assessment in the year have blank criterion cells, which upload skips). The
set's indicators follow the criteria, one column each headed by its code (``10.1``), holding
the communes' recorded values: numbers as numbers, yes/no values as marks.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from app.exchange.rules import MET_MARK, NOT_MET_MARK
from app.reports.models import FlagName, Summary, SummaryRow
from app.reports.rules import round_half_up

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"

FLAG_LABELS: dict[str, str] = {
    FlagName.standard_target: "Kế hoạch đạt chuẩn",
    FlagName.standard_reached: "Đạt chuẩn",
    FlagName.at_risk: "Có nguy cơ không đạt",
    FlagName.regressed: "Giảm tiêu chí",
    FlagName.behind_plan: "Chậm kế hoạch",
    FlagName.recognized_below_standard: "Đã công nhận, chưa đủ tiêu chí",
    FlagName.carried_forward: "Dùng kết quả năm trước",
    FlagName.missing: "Chưa có đánh giá",
    FlagName.indicator_conflict: "Mâu thuẫn với chỉ tiêu",
}
TOTALS_TITLE = "Tổng hợp"
# the kind of assessment a file is about, said after the set's code (the standard says nothing)
KIND_SUFFIX = {"nang_cao": " (xã NTM nâng cao)", "kieu_mau": " (xã NTM kiểu mẫu)", "hien_dai": " (xã NTM hiện đại)"}


@dataclass(frozen=True)
class CommuneLine:
    code: str
    name: str
    met: frozenset[int] | None  # None: no own assessment in the year (criterion cells left blank)
    met_count: int | None
    band: str | None
    flags: Sequence[str] = ()
    indicators: Mapping[str, Any] = field(default_factory=dict)  # recorded indicator values by code


@dataclass(frozen=True)
class IndicatorColumn:
    """An indicator of the set, as a column: headed by its code, after the criteria."""

    number: int  # its criterion
    code: str
    name: str
    unit: str | None = None
    yes_no: bool = False  # a ``bool`` indicator: its values are marks


@dataclass
class ReportData:
    unit_code: str
    unit_name: str
    year: int
    criteria_set: str
    criteria: list[tuple[int, str]]  # (number, name)
    communes: list[CommuneLine]
    indicators: list[IndicatorColumn] = field(default_factory=list)
    summary: Summary | None = None
    trend: Sequence[SummaryRow] = field(default_factory=list)
    plan_indicators: list[Any] = field(default_factory=list)  # PlanIndicatorOut, for the report's sheet
    kind: str = "chuan"  # the assessments' kind (contract v1.1); named in the sheets when not the standard


# OWASP CSV injection: a spreadsheet takes a field starting with one of these for a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """Text that a spreadsheet would read as a formula gets a leading ``'``; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class Figure(Decimal):
    """An official figure in a workbook: a number, shown with one decimal (``0.0``), which a
    Vietnamese Excel displays as ``16,1``."""

    NUMBER_FORMAT = "0.0"


def figure(value: Decimal | Fraction | None, places: int = 1) -> Figure | str:
    """The figure rounded half up, as a number for a workbook cell; empty for none."""
    return "" if value is None else Figure(round_half_up(value, places))


def decimal_comma(value: Decimal | Fraction | None, places: int = 1) -> str:
    """The official way to write a figure: ``16,1`` (half up to ``places`` decimals); empty for none."""
    if value is None:
        return ""
    return str(round_half_up(value, places)).replace(".", ",")


def _header(data: ReportData, derived: bool) -> list[str]:
    head = ["Mã xã", "Tên xã", *(str(n) for n, _ in data.criteria), *(i.code for i in data.indicators)]
    return head + ["Số tiêu chí đạt", "Nhóm", "Cảnh báo"] if derived else head


def _marks(line: CommuneLine, data: ReportData) -> list[str]:
    if line.met is None:
        return ["" for _ in data.criteria]
    return [MET_MARK if n in line.met else NOT_MET_MARK for n, _ in data.criteria]


def _values(line: CommuneLine, data: ReportData) -> list[Any]:
    """The indicator cells: a number as a number, a yes/no value as a mark, blank for no value."""
    out: list[Any] = []
    for column in data.indicators:
        value = line.indicators.get(column.code)
        if value is None:
            out.append("")
        elif isinstance(value, bool):
            out.append(MET_MARK if value else NOT_MET_MARK)
        else:
            out.append(value)
    return out


def _csv_value(value: Any) -> Any:
    """A CSV field: a float written plainly (``0.0000001``, never ``1e-07``, which no import reads), with
    a decimal point even when whole (``5.81e16`` as ``58106218823178940.0``) so that it reads back as the
    same float, not as an integer near it."""
    if isinstance(value, float) and math.isfinite(value):
        text = format(Decimal(repr(value)), "f")
        return text if "." in text else text + ".0"
    return value


def _commune_rows(data: ReportData, derived: bool) -> list[list[Any]]:
    rows = []
    for line in data.communes:
        row: list[Any] = [line.code, line.name, *_marks(line, data), *_values(line, data)]
        if derived:
            row += [line.met_count if line.met_count is not None else "", line.band or "",
                    ", ".join(FLAG_LABELS.get(f, f) for f in line.flags)]
        rows.append(row)
    return rows


RECOGNITION_LABELS = {
    "chuan": "đạt chuẩn NTM", "nang_cao": "NTM nâng cao", "kieu_mau": "NTM kiểu mẫu", "hien_dai": "NTM hiện đại",
    "hoan_thanh": "hoàn thành nhiệm vụ xây dựng NTM",
}


def totals(data: ReportData, fmt: Any = decimal_comma) -> list[tuple[str, Any]]:
    """The totals block: label, value; averages and percentages by ``fmt``: text with a decimal
    comma (CSV), or numbers with a one-decimal format (``figure``, workbooks)."""
    s = data.summary
    if s is None:
        return []
    out: list[tuple[str, Any]] = [
        (TOTALS_TITLE, f"{data.unit_name} ({data.unit_code}), năm {data.year}"),
        ("Bộ tiêu chí", s.criteria_set + KIND_SUFFIX.get(data.kind, "")),
        ("Số xã", s.eligible_count),
        ("Số xã có kết quả đánh giá", s.commune_count),
        ("Tổng số tiêu chí đạt", s.total_criteria_met),
        ("Bình quân tiêu chí/xã", fmt(s.average)),
        ("Kế hoạch bình quân tiêu chí/xã", fmt(s.target_average)),
        ("Đạt kế hoạch", "" if s.target_met is None else ("Có" if s.target_met else "Chưa")),
        ("Tỷ lệ so với kế hoạch (%)", fmt(s.percent_of_target)),
        ("Số tiêu chí còn thiếu để đạt kế hoạch",
         "" if s.additional_criteria_needed is None else s.additional_criteria_needed),
        ("Số xã đạt chuẩn NTM", s.standard_communes_count),
        ("Số tiêu chí tăng thêm so với năm trước",
         "" if s.additional_criteria_gained is None else s.additional_criteria_gained),
    ]
    out += [(f"Số xã đạt {label} tiêu chí", count) for label, count in s.bands.items()]
    rc = s.recognized_communes
    out += [
        ("Số xã đã được công nhận đạt chuẩn NTM", rc.chuan),
        ("Tỷ lệ xã được công nhận (%)", fmt(s.recognized_percent)),
        ("Trong đó: xã NTM nâng cao", rc.nang_cao),
        ("Trong đó: xã NTM kiểu mẫu", rc.kieu_mau),
        ("Xã NTM hiện đại", rc.hien_dai),
        ("Xã đã công nhận nhưng chưa đủ tiêu chí", s.recognized_below_standard_count),
        ("Số huyện đạt chuẩn / hoàn thành nhiệm vụ NTM",
         "" if s.recognized_districts is None else s.recognized_districts),
        ("Đơn vị được công nhận", ", ".join(RECOGNITION_LABELS.get(x, x) for x in s.unit_recognitions)),
    ]
    return out


def report_csv(data: ReportData) -> bytes:
    """Sheet 1 as CSV, UTF-8 with a BOM so that Excel shows Vietnamese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([inert(v) for v in _header(data, derived=True)])
    writer.writerows([_csv_value(inert(v)) for v in row] for row in _commune_rows(data, derived=True))
    block = totals(data)
    if block:
        writer.writerow([])
        writer.writerows([inert(label), inert(value)] for label, value in block)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# ---- xlsx -----------------------------------------------------------------------------------


def _append(sheet: Any, values: Iterable[Any]) -> None:
    """A row of cells. Text loses the control characters a workbook cannot hold (XML 1.0 forbids
    them; openpyxl refuses them): names stored before they were checked, or by plain SQL, must
    not make a report fail. Text that would be a formula is made inert (a leading ``'``; never a
    formula cell); figures are numbers with their display format."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    values = list(values)
    sheet.append([inert(ILLEGAL_CHARACTERS_RE.sub("", v)) if isinstance(v, str) else v for v in values])
    for column, value in enumerate(values, start=1):
        cell = sheet.cell(row=sheet.max_row, column=column)
        if isinstance(value, Figure):
            cell.number_format = Figure.NUMBER_FORMAT
        elif isinstance(value, str) and cell.data_type != "s":
            cell.data_type = "s"  # what openpyxl would take for a formula or a number stays text


def _book() -> Any:
    import openpyxl

    return openpyxl.Workbook()


def _style_header(ws: Any, columns: int) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[1][:columns]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.freeze_panes = "C2" if ws.title in (REPORT_SHEET, TEMPLATE_SHEET) else "A2"


def _widths(ws: Any, widths: Sequence[float]) -> None:
    from openpyxl.utils import get_column_letter

    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width


def _save(book: Any) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _criteria_sheet(book: Any, data: ReportData, title: str) -> None:
    ws = book.create_sheet(title)
    _append(ws, ["Tiêu chí", "Nội dung"])
    for number, name in data.criteria:
        _append(ws, [number, name])
    _style_header(ws, 2)
    _widths(ws, [10, 60])


REPORT_SHEET = "Báo cáo"
TEMPLATE_SHEET = "Đánh giá"


def _indicator_comments(ws: Any, data: ReportData, first_column: int) -> None:
    """Each indicator column's header cell carries the indicator's criterion, name and unit as a comment
    (the import reads the cell's value, the code, never the comment)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.comments import Comment

    for offset, column in enumerate(data.indicators):
        unit = f" ({column.unit})" if column.unit else ""
        what = "có/không: Đạt hoặc Không" if column.yes_no else "số, ví dụ 41,5"
        text = f"Tiêu chí {column.number} — {column.name}{unit}. Giá trị: {what}; để trống nếu chưa có."
        # as in cells: a character XML 1.0 cannot hold (names stored before they were checked) is dropped
        ws.cell(row=1, column=first_column + offset).comment = Comment(ILLEGAL_CHARACTERS_RE.sub("", text), "NTM")


def template_xlsx(data: ReportData) -> bytes:
    """Communes × criteria, then the set's indicators, pre-filled with the communes' own assessments,
    with a dropdown per mark cell (criteria and yes/no indicators)."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = _book()
    ws = book.active
    ws.title = TEMPLATE_SHEET
    _append(ws, _header(data, derived=False))
    for row in _commune_rows(data, derived=False):
        _append(ws, row)
    _style_header(ws, 2 + len(data.criteria) + len(data.indicators))
    _widths(ws, [10, 26, *([6] * len(data.criteria)), *([9] * len(data.indicators))])
    _indicator_comments(ws, data, 3 + len(data.criteria))
    if data.criteria:
        last_row = max(2, len(data.communes) + 1)
        first, last = get_column_letter(3), get_column_letter(2 + len(data.criteria))
        marks = DataValidation(type="list", formula1=f'"{MET_MARK},{NOT_MET_MARK}"', allow_blank=True,
                               showErrorMessage=True, errorTitle="Dấu không hợp lệ",
                               error=f"Chọn {MET_MARK} hoặc {NOT_MET_MARK}")
        marks.add(f"{first}2:{last}{last_row}")
        for offset, column in enumerate(data.indicators):
            if column.yes_no:
                letter = get_column_letter(3 + len(data.criteria) + offset)
                marks.add(f"{letter}2:{letter}{last_row}")
        ws.add_data_validation(marks)
    _criteria_sheet(book, data, "Tiêu chí")
    notes = book.create_sheet("Hướng dẫn")
    for line in (
        f"Mẫu nhập kết quả đánh giá năm {data.year} — {data.unit_name} ({data.unit_code}), bộ tiêu chí "
        f"{data.criteria_set}{KIND_SUFFIX.get(data.kind, '')}.",
        f"Mỗi dòng một xã; mỗi cột một tiêu chí: '{MET_MARK}' (hoặc x, 1) là đạt, '{NOT_MET_MARK}' (hoặc để trống, 0) là chưa đạt.",
        "Các cột sau tiêu chí (mã chỉ tiêu, ví dụ 10.1) là giá trị chỉ tiêu: số (41,5 hoặc 41.5), hoặc "
        f"'{MET_MARK}'/'{NOT_MET_MARK}' cho chỉ tiêu có/không; để trống là chưa có giá trị. Tiêu chí để trống mà "
        "các chỉ tiêu của nó đủ để đánh giá thì lấy kết quả theo chỉ tiêu.",
        "Dòng để trống tất cả các tiêu chí và chỉ tiêu sẽ được bỏ qua khi tải lên.",
        "Không dùng công thức; không đổi tên cột 'Mã xã'.",
    ):
        _append(notes, [line])
    _widths(notes, [120])
    return _save(book)


def report_xlsx(data: ReportData) -> bytes:
    """Sheet 1: communes with their marks, count, band and flags, then the totals block;
    sheet 2: coverage per criterion; sheet 3: the trend."""
    from openpyxl.styles import Font

    book = _book()
    ws = book.active
    ws.title = REPORT_SHEET
    _append(ws, _header(data, derived=True))
    for row in _commune_rows(data, derived=True):
        _append(ws, row)
    _style_header(ws, 5 + len(data.criteria) + len(data.indicators))
    _widths(ws, [10, 26, *([6] * len(data.criteria)), *([9] * len(data.indicators)), 14, 10, 40])
    block = totals(data, figure)
    if block:
        _append(ws, [])
        for label, value in block:
            _append(ws, [label, value])
            ws.cell(row=ws.max_row, column=1).font = Font(bold=label == TOTALS_TITLE)

    coverage = book.create_sheet("Theo tiêu chí")
    _append(coverage, ["Tiêu chí", "Nội dung", "Số xã đạt", "Tỷ lệ xã đạt (%)"])
    s = data.summary
    met_by_number = {c.number: c.communes_met for c in s.criteria_coverage} if s else {}
    counted = s.commune_count if s else 0
    for number, name in data.criteria:
        met = met_by_number.get(number, 0)
        share = figure(Fraction(met * 100, counted)) if counted else ""
        _append(coverage, [number, name, met, share])
    _style_header(coverage, 4)
    _widths(coverage, [10, 60, 12, 16])

    trend = book.create_sheet("Xu hướng")
    _append(trend, ["Năm", "Bộ tiêu chí", "Số xã", "Tổng số tiêu chí đạt", "Bình quân tiêu chí/xã",
                    "Kế hoạch", "Tỷ lệ so với kế hoạch (%)", "Số xã đạt chuẩn", "Số xã được công nhận",
                    "Tỷ lệ xã được công nhận (%)"])
    for year_row in data.trend:
        _append(trend, [year_row.year, year_row.criteria_set, year_row.commune_count, year_row.total_criteria_met,
                        figure(year_row.average), figure(year_row.target_average),
                        figure(year_row.percent_of_target), year_row.standard_communes_count,
                        year_row.recognized_communes.chuan, figure(year_row.recognized_percent)])
    _style_header(trend, 10)
    _widths(trend, [8, 14, 8, 18, 18, 10, 20, 14, 18, 22])
    _plan_indicator_sheet(book, data)
    return _save(book)


def _plan_indicator_sheet(book: Any, data: ReportData) -> None:
    """The year's plan indicators (contract v1.2), as their own export writes them (inert text); no sheet
    when the unit has no list for the year."""
    from app.plan_indicators.spreadsheet import SHEET_TITLE, write_sheet

    if data.plan_indicators:
        write_sheet(book.create_sheet(SHEET_TITLE), data.plan_indicators)
