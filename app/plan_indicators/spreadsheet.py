"""The plan-indicator list as a spreadsheet: export (.xlsx, .csv) and import (all or nothing).

Uploads are read by ``app.core.sheets`` (streamed, every cap checked before cells are kept, no
DTD or entities, formula cells marked). Exported text that a spreadsheet would take for a
formula is written inert (a leading ``'``), and an upload takes that ``'`` off again, so an
exported file re-imports unchanged.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic import Field as PField
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from app.auth.models import Principal
from app.core import sheets
from app.core.errors import AppError, OutcomeProblem, PayloadTooLarge
from app.core.preconditions import IfMatch
from app.core.sheets import ImportRowError as ImportError_
from app.core.text import fold
from app.plan_indicators import rules, service
from app.plan_indicators.schemas import (
    MAX_ITEMS,
    NUMBER_BOUND,
    PlanIndicatorIn,
    PlanIndicatorOut,
    PlanIndicatorsOut,
    PlanIndicatorsPut,
)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
SHEET_TITLE = "Chỉ tiêu kế hoạch"

# field → the header written on export, and the headers accepted on upload (folded: no accents, lower case)
COLUMNS: dict[str, tuple[str, frozenset[str]]] = {
    "code": ("Mã chỉ tiêu", frozenset({"code", "ma", "ma chi tieu", "ma so"})),
    "name": ("Tên chỉ tiêu", frozenset({"name", "ten", "ten chi tieu", "chi tieu", "noi dung"})),
    "unit": ("Đơn vị tính", frozenset({"unit", "don vi", "don vi tinh", "dvt"})),
    "source": ("Nguồn", frozenset({"source", "nguon", "cap giao"})),
    "direction": ("Chiều", frozenset({"direction", "chieu"})),
    "plan": ("Kế hoạch", frozenset({"plan", "ke hoach", "kh"})),
    "actual": ("Thực hiện", frozenset({"actual", "thuc hien", "th"})),
    "note": ("Ghi chú", frozenset({"note", "ghi chu"})),
    "ntm": ("Liên kết NTM", frozenset({"ntm", "lien ket ntm"})),
}
DERIVED = {"achieved": "Đạt", "percent_of_plan": "% so với kế hoạch"}  # written on export, ignored on upload
DERIVED_HEADERS = frozenset({"achieved", "dat", "percent of plan", "% so voi ke hoach"})
REQUIRED = ("code", "name", "source", "direction", "plan")
DIRECTION_WORDS = {
    "higher": "higher", "cao hon": "higher", "tang": "higher", ">=": "higher", "≥": "higher",
    "lower": "lower", "thap hon": "lower", "giam": "lower", "<=": "lower", "≤": "lower",
    "equal": "equal", "bang": "equal",
}
ACHIEVED_WORDS = {True: "Đạt", False: "Không đạt", None: "Chưa có số liệu"}
MAX_ERRORS = 1000  # listed in full up to this many, then one "and N more" (contract v1.3)


# ---- export ---------------------------------------------------------------------------------------


def _number(value: Any) -> Any:
    """A workbook number: int when whole, else float (Excel keeps 15 digits in any case)."""
    if not isinstance(value, Decimal):
        return value
    return int(value) if value == value.to_integral_value() else float(value)


def _csv_field(value: Any) -> Any:
    """A CSV field: the exact decimal, written plainly (``3.5``, never ``3.5E+1``)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value != 0 else "0"
    return value


def table(indicators: list[PlanIndicatorOut]) -> list[list[Any]]:
    """Header and one row per indicator, text cells already inert; numbers stay numbers (Decimal)."""
    head = [label for label, _ in COLUMNS.values()] + list(DERIVED.values())
    rows: list[list[Any]] = [head]
    for i in indicators:
        rows.append([rules.inert(v) for v in (
            i.code, i.name, i.unit, i.source, i.direction.value, i.plan, i.actual, i.note,
            i.ntm.value if i.ntm else None, ACHIEVED_WORDS[i.achieved], i.percent_of_plan,
        )])
    return rows


def to_csv(body: PlanIndicatorsOut) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([[_csv_field(v) for v in row] for row in table(body.indicators)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_sheet(ws: Any, indicators: list[PlanIndicatorOut]) -> None:
    """The table into an openpyxl worksheet, header styled and frozen (also the report's sheet)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    for row in table(indicators):
        # openpyxl writes a str starting with "=" as a formula: inert() has already prefixed those
        ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else _number(v) for v in row])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for index, width in enumerate([12, 48, 12, 10, 10, 12, 12, 30, 20, 16, 16], start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "C2"
    for row in ws.iter_rows(min_row=2, min_col=6, max_col=7):
        for cell in row:
            if isinstance(cell.value, float):
                cell.number_format = "#,##0.0##"


def to_xlsx(body: PlanIndicatorsOut, unit_name: str) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = SHEET_TITLE
    write_sheet(ws, body.indicators)
    notes = book.create_sheet("Hướng dẫn")
    for line in (
        f"Chỉ tiêu kế hoạch năm {body.year} — {unit_name} ({body.unit_code}).",
        "Chiều: higher (đạt khi thực hiện ≥ kế hoạch), lower (≤), equal (=).",
        "Liên kết NTM: average, standard_communes, recognized_communes — số thực hiện lấy từ số liệu NTM; để trống cột Thực hiện.",
        "Các cột Đạt và % so với kế hoạch được tính, bỏ qua khi tải lên.",
    ):
        notes.append([line])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---- import ---------------------------------------------------------------------------------------


class PlanIndicatorImportResult(BaseModel):
    """What an import did (or, for a dry run or a refused file, would have done) to the year's list."""

    unit_code: str = PField(examples=["084"])
    year: int = PField(examples=[2020])
    dry_run: bool = False
    rows: int = PField(description="Indicator rows read (blank rows excluded)")
    created: int = PField(description="Indicators new to the list")
    updated: int = PField(description="Indicators whose stored fields change")
    unchanged: int
    removed: int = PField(description="Indicators of the stored list absent from the file (the file replaces it)")
    version: int | None = PField(description="The list's version after the import (before it, for a dry run)")
    errors: list[ImportError_] = PField(default_factory=list)


class PlanIndicatorImportProblem(PlanIndicatorImportResult):
    """422: the file has errors and nothing was written; every error is listed."""

    type: str = "/problems/rule-violation"
    title: str = "Import rejected"
    status: int = 422
    detail: str


class UnsupportedFile(AppError):
    status, title, slug = 415, "Unsupported file", "unsupported-file"


class ImportRejected(OutcomeProblem):
    # rows that break the list's rules: a domain rule no schema can state (contract v1.3), as the assessment import
    status, title, slug = 422, "Import rejected", "rule-violation"

    def __init__(self, outcome: PlanIndicatorImportResult, count: int | None = None) -> None:
        count = len(outcome.errors) if count is None else count  # all of them: the list stops at MAX_ERRORS
        super().__init__(f"{count} error{'s' if count != 1 else ''} in the file; nothing was written.", outcome)


@dataclass(frozen=True)
class _Row:
    number: int
    item: PlanIndicatorIn


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = rules.uninert(str(value).strip())
    return text or None


def _figure(value: Any) -> Decimal | None | str:
    """A number cell: Decimal, None when blank, or the reason it is not a number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return "not a number"
    if isinstance(value, int | float):
        try:
            number = rules.figure(value)
        except (ValueError, ArithmeticError):
            return "not a finite number"
    else:
        parsed = rules.parse_number(str(value))
        if parsed is None:
            return "not a number (write it as 3,5 or 3.5; 45.000.000 for thousands)"
        number = parsed
    if abs(number) > Decimal(int(NUMBER_BOUND)):
        return f"beyond ±{int(NUMBER_BOUND):,}"
    return number


def _layout(header: list[sheets.Cell]) -> tuple[dict[str, int], list[ImportError_]]:
    columns: dict[str, int] = {}
    errors: list[ImportError_] = []
    for index, cell in enumerate(header):
        key = fold(str(cell.value)).replace("_", " ") if cell.value is not None else ""
        if not key or key in DERIVED_HEADERS:
            continue
        field = next((f for f, (_, names) in COLUMNS.items() if key in names), None)
        letter = sheets.column_letter(index)
        if field is None:
            errors.append(ImportError_(row=1, column=letter, value=str(cell.value)[:200],
                                       message="unknown column; known: " + ", ".join(COLUMNS)))
        elif field in columns:
            errors.append(ImportError_(row=1, column=letter, value=str(cell.value)[:200],
                                       message=f"a second `{field}` column"))
        else:
            columns[field] = index
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        errors.append(ImportError_(row=1, column=None, value=None,
                                   message="missing column(s): " + ", ".join(missing)))
    return columns, errors


def _find_table(found: list[sheets.Sheet]) -> sheets.Sheet | None:
    """The first sheet whose row 1 names an indicator code column."""
    for sheet in found:
        if sheet.rows and any(cell.value is not None and fold(str(cell.value)).replace("_", " ") in COLUMNS["code"][1]
                              for cell in sheet.rows[0]):
            return sheet
    return None


def _collected(errors: list[ImportError_]) -> sheets.Errors[ImportError_]:
    out: sheets.Errors[ImportError_] = sheets.Errors(cap=MAX_ERRORS)
    out.extend(errors)
    return out


def parse(found: list[sheets.Sheet]) -> tuple[list[_Row], sheets.Errors[ImportError_], int, dict[str, str]]:
    """Rows as items, every error (counted; the first ``MAX_ERRORS`` kept, ``sheets.Errors``), the
    number of indicator rows read, and each field's column letter. Pure."""
    sheet = _find_table(found)
    if sheet is None:
        names = ", ".join(repr(s.name) for s in found)
        return [], _collected([ImportError_(row=1, column=None, value=None,
                                            message=f"no sheet has an indicator code column (`code` or `Mã chỉ "
                                                    f"tiêu`) in row 1; sheets found: {names}")]), 0, {}
    columns, header_errors = _layout(sheet.rows[0])
    letters = {f: sheets.column_letter(i) for f, i in columns.items()}
    errors = _collected(header_errors)
    if errors:
        return [], errors, 0, letters
    out: list[_Row] = []
    read = 0
    for number, cells in enumerate(sheet.rows[1:], start=2):
        values = {f: cells[i] for f, i in columns.items() if i < len(cells)}
        if all(_text(c.value) is None for c in values.values()):
            continue  # a blank row
        read += 1
        row_errors: list[ImportError_] = []

        def err(field: str, value: Any, message: str, *, number: int = number, sink: list[ImportError_] = row_errors) -> None:
            sink.append(ImportError_(row=number, column=sheets.column_letter(columns[field]),
                                     value=None if value is None else str(value)[:200], message=message))

        data: dict[str, Any] = {}
        for field, cell in values.items():
            if cell.formula:
                err(field, cell.value, "a formula; write the value itself")
                continue
            if field in ("plan", "actual"):
                parsed = _figure(cell.value)
                if isinstance(parsed, str):
                    err(field, cell.value, f"{field}: {parsed}")
                elif parsed is not None:
                    data[field] = float(parsed)
            elif field == "direction":
                text = _text(cell.value)
                word = DIRECTION_WORDS.get(fold(text)) if text else None
                if text is not None and word is None:
                    err(field, text, "direction: higher (≥ plan), lower (≤ plan) or equal")
                elif word:
                    data[field] = word
            else:
                text = _text(cell.value)
                if text is not None:
                    data[field] = text
        if row_errors:
            errors.extend(row_errors)
            continue
        try:
            item = PlanIndicatorIn.model_validate(data)
        except ValidationError as exc:
            for e in exc.errors():
                field = str(e["loc"][0]) if e["loc"] else "code"
                message = e["msg"].removeprefix("Value error, ")
                if e["type"] == "missing":
                    message = "required"
                err(field if field in columns else "code", data.get(field), f"{field}: {message}")
            errors.extend(row_errors)
            continue
        out.append(_Row(number, item))
    if read > MAX_ITEMS:
        errors.add(ImportError_(row=MAX_ITEMS + 2, column=None, value=None,
                                   message=f"a list holds at most {MAX_ITEMS} indicators; the file has {read}"))
    return out, errors, read, letters


async def import_list(
    session: AsyncSession, principal: Principal | None, *, code: str, year: int, data: bytes,
    dry_run: bool, if_match: IfMatch, settings: Any,
) -> PlanIndicatorImportResult:
    """Check the whole file, then replace the year's list with it (unless ``dry_run``); any error →
    ``ImportRejected`` and nothing written."""
    unit, _, _ = await service.authorized_unit(session, principal, code, year)
    try:
        found = await run_in_threadpool(sheets.read, data, max_rows=min(settings.import_max_rows, 10 * MAX_ITEMS),
                                        max_unzipped_bytes=settings.import_max_unzipped_bytes)
    except sheets.SheetError as exc:
        if exc.status == 415:
            raise UnsupportedFile(exc.message) from None
        if exc.status == 413:
            raise PayloadTooLarge(exc.message) from None
        found, early = [], [ImportError_(row=1, column=None, value=None, message=exc.message)]
    else:
        early = []
    rows, errors, read, letters = parse(found) if not early else ([], _collected(early), 0, {})
    version, before = await service.stored_items(session, unit, year)
    items = [r.item for r in rows]
    # the rules the schema cannot state, reported by spreadsheet row
    figures: rules.NtmFigures | None = None
    seen: set[str] = set()
    for r in rows:
        key = r.item.code.casefold()
        if key in seen:
            errors.add(ImportError_(row=r.number, column=letters.get("code"), value=r.item.code,
                                       message=f"the code {r.item.code!r} is already used in an earlier row"))
        seen.add(key)
        if r.item.code in service.RESERVED_CODES:
            errors.add(ImportError_(row=r.number, column=letters.get("code"), value=r.item.code,
                                       message=f"{r.item.code!r} is reserved (a sibling resource's name)"))
        if r.item.ntm is not None and r.item.actual is not None:
            if figures is None:
                figures = await service.ntm_figures(session, unit, year, {i.ntm for i in items if i.ntm})
            live, _ = figures.actual(r.item.ntm)
            if live is None or live != r.item.actual:
                errors.add(ImportError_(
                    row=r.number, column=letters.get("actual"), value=str(r.item.actual),
                    message=f"{r.item.code}: the actual is computed from the NTM figures (ntm: {r.item.ntm.value}"
                            f"{'' if live is None else f', now {live}'}); leave the cell blank"))
            else:  # the figure an export wrote: not a value of its own
                r.item.actual = None
    after = service.stored_form(items) if not errors else {}
    outcome = PlanIndicatorImportResult(
        unit_code=unit.code, year=year, dry_run=dry_run, rows=read,
        created=sum(1 for c in after if c not in before),
        updated=sum(1 for c, v in after.items() if c in before and _comparable(before[c]) != _comparable(v)),
        unchanged=sum(1 for c, v in after.items() if c in before and _comparable(before[c]) == _comparable(v)),
        removed=sum(1 for c in before if c not in after) if not errors else 0,
        version=version, errors=errors.listed(lambda row, text: ImportError_(row=row, column=None, value=None,
                                                                             message=text)),
    )
    if errors:
        raise ImportRejected(outcome, errors.count)
    if dry_run:
        if_match.check(version)
        return outcome
    written = await service.replace(session, principal, code=code, year=year,
                                    data=PlanIndicatorsPut(indicators=items), if_match=if_match,
                                    action_prefix="import_")
    return outcome.model_copy(update={"version": written.body.version})


def _comparable(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "position"}
