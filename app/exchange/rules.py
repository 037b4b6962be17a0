"""Import rules: which header means what, which marks mean met, what a good row is.

Pure functions over plain values (cells already read by ``sheets``). The database checks
(does the commune exist in the year, may this user write it) come after, in ``service``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.core.sheets import Cell, Sheet, column_letter
from app.core.text import fold, nfc

CODE_HEADERS = {"commune code", "ma xa", "code", "ma"}
NAME_HEADERS = {"name", "ten xa", "commune name", "ten"}
# Columns our own exports add; read-only, ignored on upload (so an exported report re-imports).
DERIVED_HEADERS = {
    "met count", "so tieu chi dat", "band", "nhom", "flags", "canh bao", "nhom dat chuan",
}
END_MARKERS = ("tong hop", "totals")  # a row starting with this ends the table (the report's totals block)
_CRITERION = re.compile(r"^(?:tc|tieu chi|criterion|criteria)?\s*[_.\-#]?\s*0*(\d{1,3})$")

MET_MARKS = {"x", "dat", "1", "true", "yes", "co"}
NOT_MET_MARKS = {"", "khong", "khong dat", "chua dat", "0", "false", "no"}
MARKS_HELP = "met: x, Đạt, 1, true; not met: empty, Không, 0, false"
MET_MARK = "Đạt"
NOT_MET_MARK = "Không"


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    value: str | None
    message: str


@dataclass(frozen=True)
class Layout:
    """Where things are in the sheet: column indexes (0-based)."""

    code: int
    name: int | None
    criteria: dict[int, int]  # criterion number → column index


@dataclass(frozen=True)
class ParsedRow:
    row: int
    code: str
    name: str | None
    met: frozenset[int]


@dataclass
class Parsed:
    rows: list[ParsedRow] = field(default_factory=list)
    skipped: int = 0  # rows with a code and every criterion blank (the template's untouched rows)
    code_column: str | None = None
    name_column: str | None = None
    errors: list[RowError] = field(default_factory=list)


def header_key(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return fold(str(value)).replace("_", " ")


def criterion_number(header: str) -> int | None:
    found = _CRITERION.match(header)
    return int(found.group(1)) if found else None


def layout(header: list[Cell], criteria_count: int) -> tuple[Layout | None, list[RowError]]:
    """Map header row cells to fields; every problem with the header is reported."""
    errors: list[RowError] = []
    code = name = None
    criteria: dict[int, int] = {}
    for index, cell in enumerate(header):
        raw = cell.value
        key = header_key(raw)
        letter = column_letter(index)
        if not key:
            continue
        if key in CODE_HEADERS:
            if code is not None:
                errors.append(RowError(1, letter, _text(raw), "the commune code column appears twice"))
            code = index
        elif key in NAME_HEADERS:
            name = index
        elif key in DERIVED_HEADERS:
            continue
        elif (number := criterion_number(key)) is not None:
            if not 1 <= number <= criteria_count:
                errors.append(RowError(1, letter, _text(raw),
                                       f"criterion {number} is not in the set in force, which has 1–{criteria_count}"))
            elif number in criteria:
                errors.append(RowError(1, letter, _text(raw), f"criterion {number} has two columns "
                                       f"({column_letter(criteria[number])} and {letter})"))
            else:
                criteria[number] = index
        else:
            errors.append(RowError(1, letter, _text(raw),
                                   "unknown column: expected `commune_code`/`Mã xã`, `name`/`Tên xã`, or a criterion "
                                   "number (`1`, `TC01`, `Tiêu chí 1`)"))
    if code is None:
        errors.append(RowError(1, None, None, "no commune code column: the header row (row 1) needs "
                                              "`commune_code` or `Mã xã`"))
    missing = [n for n in range(1, criteria_count + 1) if n not in criteria]
    if missing:
        errors.append(RowError(1, None, None, f"criteria {_ranges(missing)} have no column; every criterion of "
                                              f"the set in force (1–{criteria_count}) needs one"))
    if errors or code is None:
        return None, errors
    return Layout(code=code, name=name, criteria=criteria), []


def find_table(sheets: list[Sheet]) -> Sheet | None:
    """The first sheet whose header row has a commune code column."""
    for sheet in sheets:
        if sheet.rows and any(header_key(c.value) in CODE_HEADERS for c in sheet.rows[0]):
            return sheet
    return None


def mark(value: Any) -> bool | None:
    """True for a met mark, False for not met, None when the value is not a mark."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return {1: True, 0: False}.get(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        key = fold(value)
        if key in MET_MARKS:
            return True
        if key in NOT_MET_MARKS:
            return False
    return None


def commune_code(value: Any) -> str | None:
    """A GSO commune code from a cell: 5 digits as text; a number (Excel strips leading zeros) is padded back."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        value = str(value).zfill(5) if 0 < value < 100000 else str(value)
    if isinstance(value, str):
        value = value.strip()
        if re.fullmatch(r"\d{5}", value):
            return value
    return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= 100 else text[:97] + "…"


def _ranges(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers))


def _cell(row: list[Cell], index: int | None) -> Cell:
    return row[index] if index is not None and index < len(row) else Cell(None)


def parse(sheet: Sheet, criteria_count: int) -> Parsed:
    """The commune rows of a sheet, or every error found in it."""
    out = Parsed()
    if not sheet.rows:
        out.errors.append(RowError(1, None, None, "the sheet is empty: row 1 must be the header row"))
        return out
    table, header_errors = layout(sheet.rows[0], criteria_count)
    if table is None:
        out.errors.extend(header_errors)
        return out
    out.code_column = column_letter(table.code)
    out.name_column = column_letter(table.name) if table.name is not None else None
    known = {table.code, *table.criteria.values(), *([table.name] if table.name is not None else [])}
    seen: dict[str, int] = {}
    for number, row in enumerate(sheet.rows[1:], start=2):
        if all(_blank(c.value) for c in row):
            continue
        first = _cell(row, 0).value
        if isinstance(first, str) and fold(first).startswith(END_MARKERS):
            break
        row_errors: list[RowError] = []
        for index, cell in enumerate(row):
            if cell.formula and (index in known):
                row_errors.append(RowError(number, column_letter(index), _text(cell.value),
                                           "formulas are not accepted: type the value itself"))
        code_cell = _cell(row, table.code)
        code = commune_code(code_cell.value)
        if code is None:
            row_errors.append(RowError(number, column_letter(table.code), _text(code_cell.value),
                                       "not a commune code (5 digits, e.g. 02812)"))
        elif code in seen:
            row_errors.append(RowError(number, column_letter(table.code), code,
                                       f"commune {code} appears twice (also in row {seen[code]})"))
        else:
            seen[code] = number
        met: set[int] = set()
        blanks = 0
        for criterion, index in sorted(table.criteria.items()):
            cell = _cell(row, index)
            if cell.formula:
                continue
            if _blank(cell.value):
                blanks += 1
                continue
            value = mark(cell.value)
            if value is None:
                row_errors.append(RowError(number, column_letter(index), _text(cell.value),
                                           f"criterion {criterion}: not a mark ({MARKS_HELP})"))
            elif value:
                met.add(criterion)
        if row_errors:
            out.errors.extend(row_errors)
            continue
        if blanks == len(table.criteria):
            out.skipped += 1
            continue
        name_value = _cell(row, table.name).value
        name = nfc(str(name_value)) if not _blank(name_value) else None
        out.rows.append(ParsedRow(row=number, code=code, name=name, met=frozenset(met)))  # type: ignore[arg-type]
    return out


_UNIT_PREFIXES = ("xa ", "phuong ", "thi tran ")


def same_name(given: str, official: str) -> bool:
    """``Sán Chải``, ``san chai`` and ``Xã Sán Chải`` all name ``Xã Sán Chải``."""

    def key(text: str) -> str:
        folded = fold(text)
        for prefix in _UNIT_PREFIXES:
            if folded.startswith(prefix):
                return folded[len(prefix):]
        return folded

    return key(given) == key(official)
