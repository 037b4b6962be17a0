"""Writing the import template, the report workbook and the report CSV (openpyxl, csv).

Pure: plain data in (``ReportData``), bytes out. The report's first sheet is also a valid
import sheet: its commune table re-imports unchanged (the derived columns are ignored on
upload, the totals block starts with ``Tổng hợp``, which ends the table, and communes
without an own assessment in the year have blank criterion cells, which upload skips).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
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
}
TOTALS_TITLE = "Tổng hợp"


@dataclass(frozen=True)
class CommuneLine:
    code: str
    name: str
    met: frozenset[int] | None  # None: no own assessment in the year (criterion cells left blank)
    met_count: int | None
    band: str | None
    flags: Sequence[str] = ()


@dataclass
class ReportData:
    unit_code: str
    unit_name: str
    year: int
    criteria_set: str
    criteria: list[tuple[int, str]]  # (number, name)
    communes: list[CommuneLine]
    summary: Summary | None = None
    trend: list[SummaryRow] = field(default_factory=list)
    plan_indicators: list[Any] = field(default_factory=list)  # PlanIndicatorOut, for the report's sheet


def decimal_comma(value: Decimal | Fraction | None, places: int = 1) -> str:
    """The official way to write a figure: ``16,1`` (half up to ``places`` decimals); empty for none."""
    if value is None:
        return ""
    return str(round_half_up(value, places)).replace(".", ",")


def _header(data: ReportData, derived: bool) -> list[str]:
    head = ["Mã xã", "Tên xã", *(str(n) for n, _ in data.criteria)]
    return head + ["Số tiêu chí đạt", "Nhóm", "Cảnh báo"] if derived else head


def _marks(line: CommuneLine, data: ReportData) -> list[str]:
    if line.met is None:
        return ["" for _ in data.criteria]
    return [MET_MARK if n in line.met else NOT_MET_MARK for n, _ in data.criteria]


def _commune_rows(data: ReportData, derived: bool) -> list[list[Any]]:
    rows = []
    for line in data.communes:
        row: list[Any] = [line.code, line.name, *_marks(line, data)]
        if derived:
            row += [line.met_count if line.met_count is not None else "", line.band or "",
                    ", ".join(FLAG_LABELS.get(f, f) for f in line.flags)]
        rows.append(row)
    return rows


def totals(data: ReportData) -> list[tuple[str, Any]]:
    """The totals block: label, value; averages and percentages as text with a decimal comma."""
    s = data.summary
    if s is None:
        return []
    out: list[tuple[str, Any]] = [
        (TOTALS_TITLE, f"{data.unit_name} ({data.unit_code}), năm {data.year}"),
        ("Bộ tiêu chí", s.criteria_set),
        ("Số xã", s.eligible_count),
        ("Số xã có kết quả đánh giá", s.commune_count),
        ("Tổng số tiêu chí đạt", s.total_criteria_met),
        ("Bình quân tiêu chí/xã", decimal_comma(s.average)),
        ("Kế hoạch bình quân tiêu chí/xã", decimal_comma(s.target_average)),
        ("Đạt kế hoạch", "" if s.target_met is None else ("Có" if s.target_met else "Chưa")),
        ("Tỷ lệ so với kế hoạch (%)", decimal_comma(s.percent_of_target)),
        ("Số tiêu chí còn thiếu để đạt kế hoạch",
         "" if s.additional_criteria_needed is None else s.additional_criteria_needed),
        ("Số xã đạt chuẩn NTM", s.standard_communes_count),
        ("Số tiêu chí tăng thêm so với năm trước",
         "" if s.additional_criteria_gained is None else s.additional_criteria_gained),
    ]
    out += [(f"Số xã đạt {label} tiêu chí", count) for label, count in s.bands.items()]
    return out


def report_csv(data: ReportData) -> bytes:
    """Sheet 1 as CSV, UTF-8 with a BOM so that Excel shows Vietnamese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_header(data, derived=True))
    writer.writerows(_commune_rows(data, derived=True))
    block = totals(data)
    if block:
        writer.writerow([])
        writer.writerows([label, value] for label, value in block)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# ---- xlsx -----------------------------------------------------------------------------------


def _append(sheet: Any, values: Iterable[Any]) -> None:
    """A row of cells. Text loses the control characters a workbook cannot hold (XML 1.0 forbids
    them; openpyxl refuses them): names stored before they were checked, or by plain SQL, must
    not make a report fail."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in values])


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


def template_xlsx(data: ReportData) -> bytes:
    """Communes × criteria, pre-filled with the communes' own assessments, with a dropdown per cell."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = _book()
    ws = book.active
    ws.title = TEMPLATE_SHEET
    _append(ws, _header(data, derived=False))
    for row in _commune_rows(data, derived=False):
        _append(ws, row)
    _style_header(ws, 2 + len(data.criteria))
    _widths(ws, [10, 26, *([6] * len(data.criteria))])
    if data.criteria:
        last_row = max(2, len(data.communes) + 1)
        first, last = get_column_letter(3), get_column_letter(2 + len(data.criteria))
        marks = DataValidation(type="list", formula1=f'"{MET_MARK},{NOT_MET_MARK}"', allow_blank=True,
                               showErrorMessage=True, errorTitle="Dấu không hợp lệ",
                               error=f"Chọn {MET_MARK} hoặc {NOT_MET_MARK}")
        marks.add(f"{first}2:{last}{last_row}")
        ws.add_data_validation(marks)
    _criteria_sheet(book, data, "Tiêu chí")
    notes = book.create_sheet("Hướng dẫn")
    for line in (
        f"Mẫu nhập kết quả đánh giá năm {data.year} — {data.unit_name} ({data.unit_code}), bộ tiêu chí {data.criteria_set}.",
        f"Mỗi dòng một xã; mỗi cột một tiêu chí: '{MET_MARK}' (hoặc x, 1) là đạt, '{NOT_MET_MARK}' (hoặc để trống, 0) là chưa đạt.",
        "Dòng để trống tất cả các tiêu chí sẽ được bỏ qua khi tải lên.",
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
    _style_header(ws, 5 + len(data.criteria))
    _widths(ws, [10, 26, *([6] * len(data.criteria)), 14, 10, 40])
    block = totals(data)
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
        share = decimal_comma(Fraction(met * 100, counted)) if counted else ""
        _append(coverage, [number, name, met, share])
    _style_header(coverage, 4)
    _widths(coverage, [10, 60, 12, 16])

    trend = book.create_sheet("Xu hướng")
    _append(trend, ["Năm", "Bộ tiêu chí", "Số xã", "Tổng số tiêu chí đạt", "Bình quân tiêu chí/xã",
                    "Kế hoạch", "Tỷ lệ so với kế hoạch (%)", "Số xã đạt chuẩn"])
    for row in data.trend:
        _append(trend, [row.year, row.criteria_set, row.commune_count, row.total_criteria_met,
                        decimal_comma(row.average), decimal_comma(row.target_average),
                        decimal_comma(row.percent_of_target), row.standard_communes_count])
    _style_header(trend, 8)
    _widths(trend, [8, 14, 8, 18, 18, 10, 20, 14])
    _plan_indicator_sheet(book, data)
    return _save(book)


def _plan_indicator_sheet(book: Any, data: ReportData) -> None:
    """The year's plan indicators (contract v1.2), as their own export writes them (inert text); no sheet
    when the unit has no list for the year."""
    from app.plan_indicators.spreadsheet import SHEET_TITLE, write_sheet

    if data.plan_indicators:
        write_sheet(book.create_sheet(SHEET_TITLE), data.plan_indicators)
