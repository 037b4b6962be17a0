"""Import rules: which header means what, which marks mean met, what a good row is.

Pure functions over plain values (cells already read by ``sheets``). The database checks
(does the commune exist in the year, may this user write it) come after, in ``service``.

Indicator columns (contract v1.2): a column headed by an indicator code of the set (``10.1``)
carries that indicator's value. A cell becomes the value a PUT body would carry (a number, or
for a ``bool`` indicator the mark read as true/false), and is checked and judged by the same
functions as PUT (``app.assessments.rules.indicator_errors``, ``judged``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.assessments import rules as assessment_rules
from app.assessments.schemas import CriterionResult
from app.core.sheets import DATE, PERCENT, Cell, Errors, Sheet, column_letter
from app.core.text import decimal_text, fold, nfc
from app.criteria.thresholds import Op

IndicatorRules = Mapping[int, Sequence[assessment_rules.IndicatorRule]]  # the set's indicators by criterion
NO_INDICATORS: IndicatorRules = {}

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
NUMBER_HELP = "a number such as 41,5 or 41.5"
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
    indicators: dict[str, tuple[int, int]] = field(default_factory=dict)  # code → (criterion number, column index)


class RowValues(Mapping[int, Mapping[str, Any]]):
    """A row's indicator values by criterion (``{10: {"10.1": 41.5}}``) held as one tuple, in the
    order of the sheet's indicator columns (``columns``: (criterion, code) of each, shared by the
    rows): a dict per criterion per row cost ~80 MB for a national file with 18 indicator columns."""

    __slots__ = ("_columns", "_values")

    def __init__(self, columns: tuple[tuple[int, str], ...], values: tuple[Any, ...]) -> None:
        self._columns, self._values = columns, values

    def __getitem__(self, criterion: int) -> dict[str, Any]:
        out = {code: value for (number, code), value in zip(self._columns, self._values, strict=True)
               if number == criterion}
        if not out:
            raise KeyError(criterion)
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(dict.fromkeys(number for number, _ in self._columns))

    def __len__(self) -> int:
        return len(set(number for number, _ in self._columns))

    def __repr__(self) -> str:
        return repr(dict(self.items()))


@dataclass(frozen=True, slots=True)
class ParsedRow:
    row: int
    code: str
    name: str | None
    met: frozenset[int]  # criteria marked met
    blank: frozenset[int] = frozenset()  # criteria whose mark cell is blank
    # the indicator columns' values by criterion: {10: {"10.1": 41.5}}; None for a blank cell (no value)
    indicators: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)


def has_values(row: ParsedRow) -> bool:
    """Whether the row gives any indicator a value (a blank cell gives none)."""
    return any(v is not None for vs in row.indicators.values() for v in vs.values())


@dataclass
class Parsed:
    rows: list[ParsedRow] = field(default_factory=list)
    skipped: int = 0  # rows with a code and every criterion blank (the template's untouched rows)
    code_column: str | None = None
    name_column: str | None = None
    indicator_columns: int = 0  # how many indicator columns the sheet has
    # the first errors (``core.sheets.Errors``: at most the cap + 1, by row then column); ``more``: how many others
    errors: list[RowError] = field(default_factory=list)
    more: int = 0


def header_key(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return fold(str(value)).replace("_", " ")


def criterion_number(header: str) -> int | None:
    found = _CRITERION.match(header)
    return int(found.group(1)) if found else None


def column_code(code: str) -> bool:
    """Whether an indicator code can head a column: not a header that means something else (``5``,
    ``TC05``, ``name``), which a set may in principle use as a code."""
    key = header_key(code)
    return bool(key) and criterion_number(key) is None and key not in CODE_HEADERS | NAME_HEADERS | DERIVED_HEADERS


def indicator_headers(indicators: IndicatorRules) -> dict[str, tuple[int, str] | None]:
    """Header key → (criterion number, indicator code) for each indicator of the set that can head a
    column; None for a code that two criteria share (its column could be either's)."""
    out: dict[str, tuple[int, str] | None] = {}
    for number in sorted(indicators):
        for rule in indicators[number]:
            if column_code(rule.code):
                key = header_key(rule.code)
                out[key] = (number, rule.code) if key not in out else None
    return out


def _known_codes(indicators: IndicatorRules) -> str:
    codes = [r.code for n in sorted(indicators) for r in indicators[n]]
    if not codes:
        return "the set in force has no indicators"
    shown = ", ".join(f"`{c}`" for c in codes[:8])
    return f"an indicator code of the set in force ({shown}{', …' if len(codes) > 8 else ''})"


def layout(header: list[Cell], criteria_count: int, indicators: IndicatorRules = NO_INDICATORS
           ) -> tuple[Layout | None, list[RowError]]:
    """Map header row cells to fields; every problem with the header is reported. ``indicators``:
    the set's indicators by criterion, whose codes may head columns of values."""
    errors: list[RowError] = []
    code = name = None
    criteria: dict[int, int] = {}
    by_header = indicator_headers(indicators)
    found: dict[str, tuple[int, int]] = {}
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
        elif key in by_header:
            target = by_header[key]
            if target is None:
                owners = sorted(n for n, rs in indicators.items() if any(header_key(r.code) == key for r in rs))
                errors.append(RowError(1, letter, _text(raw), f"indicator {_text(raw)} belongs to criteria "
                                       f"{_ranges(owners)}: its column cannot be read"))
            elif target[1] in found:
                errors.append(RowError(1, letter, _text(raw), f"indicator {target[1]} has two columns "
                                       f"({column_letter(found[target[1]][1])} and {letter})"))
            else:
                found[target[1]] = (target[0], index)
        else:
            errors.append(RowError(1, letter, _text(raw),
                                   "unknown column: expected `commune_code`/`Mã xã`, `name`/`Tên xã`, a criterion "
                                   f"number (`1`, `TC01`, `Tiêu chí 1`), or {_known_codes(indicators)}"))
    if code is None:
        errors.append(RowError(1, None, None, "no commune code column: the header row (row 1) needs "
                                              "`commune_code` or `Mã xã`"))
    missing = [n for n in range(1, criteria_count + 1) if n not in criteria]
    if missing:
        errors.append(RowError(1, None, None, f"criteria {_ranges(missing)} have no column; every criterion of "
                                              f"the set in force (1–{criteria_count}) needs one"))
    if errors or code is None:
        return None, errors
    return Layout(code=code, name=name, criteria=criteria, indicators=found), []


def commune_codes(sheet: Sheet, *, carrying: bool = True) -> list[str]:
    """The commune codes of a table's rows that carry marks or values (``carrying``; else every
    row's), read from its code column before anything else (which criteria set judges them depends
    on where they lie). Rows whose other cells are blank — a template's untouched rows, which the
    import skips — and rows past an end marker are left out."""
    header = [header_key(c.value) for c in sheet.rows[0]] if sheet.rows else []
    index = next((i for i, key in enumerate(header) if key in CODE_HEADERS), None)
    if index is None:
        return []
    filled = [i for i, key in enumerate(header)
              if key and key not in CODE_HEADERS and key not in NAME_HEADERS and key not in DERIVED_HEADERS]
    out: list[str] = []
    for row in sheet.rows[1:]:
        first = _cell(row, 0).value
        if isinstance(first, str) and fold(first).startswith(END_MARKERS):
            break
        code = commune_code(_cell(row, index).value)
        if code is not None and (not carrying or any(not _blank(_cell(row, i).value) for i in filled)):
            out.append(code)
    return sorted(set(out))


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
        if re.fullmatch(r"[0-9]{5}", value):
            return value
    return None


def indicator_value(value: Any, op: Op | None, kind: str | None = None) -> Any:
    """A cell as the value a PUT body would carry for the indicator (None: blank, no value). A
    ``bool`` indicator reads a mark (``x``, ``Đạt``, ``1``, ``true`` / ``Không``, ``0``, ``false``);
    any other reads a number: a numeric cell as it is, text as ``core.text.decimal_text`` reads it
    (``41,5`` or ``41.5``; whole → int, else float, as JSON would give them). What cannot be read
    stays as it is, for ``indicator_errors`` to refuse. ``kind="percent"``: a workbook's number shown
    as a percentage (0.855 shown as 85.5 %) reads as the percentage shown, as the CSV's ``85,5%``
    reads (×100 exactly, in decimal: 85.5, not 85.49999…)."""
    if _blank(value):
        return None
    if kind == PERCENT and isinstance(value, int | float) and not isinstance(value, bool):
        return _exact(percent(value))
    if op == Op.boolean:
        found = mark(value)
        return value if found is None else found
    if isinstance(value, str):
        number = decimal_text(value)
        if number is None:
            return value.strip()
        return _exact(number)
    return value


def percent(value: int | float) -> Decimal:
    """The percentage a workbook shows for the fraction it stores: 0.9 → 90, 0.855 → 85.5 (the
    number's shortest decimal text times 100, exactly; a float's binary error is not multiplied)."""
    if isinstance(value, float) and not math.isfinite(value):
        return Decimal(repr(value))
    return (Decimal(repr(value)) * 100).normalize()


def _exact(number: Decimal) -> Any:
    """A decimal as JSON would give it: whole → int, else float (NaN/inf stay float, for the checks)."""
    if not number.is_finite():
        return float(number)
    exponent = number.as_tuple().exponent
    return int(number) if isinstance(exponent, int) and exponent >= 0 else float(number)


def merged_indicators(kept: Mapping[str, Any] | None, given: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A criterion's indicator values after an import: the file's columns over the values recorded
    (a blank cell removes the value; an indicator without a column keeps its own). None: no values."""
    if not given:
        return dict(kept) if kept is not None else None
    out = dict(kept or {})
    for code, value in given.items():
        if value is not None:
            out[code] = value
        elif out.get(code) is not None:
            del out[code]
    if kept is not None and out == dict(kept):
        return dict(kept)
    return out or None


def row_criteria(row: ParsedRow, count: int, kept: Sequence[CriterionResult], judge: assessment_rules.Judge
                 ) -> list[CriterionResult]:
    """The criteria 1..count an import row leaves, as PUT would store them: its marks; the notes and
    indicator values recorded against the same set (``kept``) with the file's indicator values over
    them. A blank mark of a criterion whose indicators have columns in the file is what they judge
    (``met_by_indicators``, as PUT fills an omitted ``met``), not met when they do not decide it
    (a blank mark always meant not met); elsewhere a blank mark is not met, as before."""
    old = {c.number: c for c in kept}
    out: list[CriterionResult] = []
    for number in range(1, count + 1):
        before = old.get(number)
        values = merged_indicators(before.indicators if before is not None else None, row.indicators.get(number))
        derive = number in row.blank and number in row.indicators
        item = CriterionResult(number=number, met=None if derive else number in row.met,
                               note=before.note if before is not None else None, indicators=values)
        if derive:
            item = item.model_copy(update={"met": assessment_rules.judged(item, judge).met})
        out.append(item)
    return out


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value)
    return text if len(text) <= 100 else text[:97] + "…"


def _not_a(cell: Cell) -> str:
    """``"a date: "`` / ``"a percentage: "`` for a cell a workbook shows as one, to start its error."""
    return {DATE: "a date: ", PERCENT: "a percentage: "}.get(cell.kind or "", "")


_EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # the 1900 date system (Excel's default; 1904 is rare)


def _shown(cell: Cell) -> str | None:
    """A cell's value as the workbook shows it, for an error: a date serial as its date, a
    percentage as ``90%``; otherwise as read."""
    value = cell.value
    if cell.kind == DATE and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            shown = _EXCEL_EPOCH + dt.timedelta(days=value)
        except (OverflowError, ValueError):
            return _text(value)
        return shown.date().isoformat() if shown.time() == dt.time() else shown.isoformat(timespec="seconds")
    if cell.kind == PERCENT and isinstance(value, int | float) and not isinstance(value, bool):
        return _text(f"{percent(value):f}%")
    return _text(value)


def _ranges(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers))


def _cell(row: list[Cell], index: int | None) -> Cell:
    return row[index] if index is not None and index < len(row) else Cell(None)


MEMO_CELLS = 4096  # indicator cells whose reading ``parse`` remembers (equal cells are one ``Cell``)


def parse(sheet: Sheet, criteria_count: int, indicators: IndicatorRules = NO_INDICATORS, *,
          consume: bool = False) -> Parsed:
    """The commune rows of a sheet, or every error found in it. ``indicators``: the set's
    indicators by criterion (their codes may head columns; their values are checked as PUT checks them).
    ``consume``: each row's cells are dropped from the sheet once read (the sheet and the parsed
    rows are never both whole in memory); the sheet is left with its header row only."""
    out = Parsed()
    if not sheet.rows:
        out.errors.append(RowError(1, None, None, "the sheet is empty: row 1 must be the header row"))
        return out
    table, header_errors = layout(sheet.rows[0], criteria_count, indicators)
    if table is None:
        out.errors.extend(header_errors)
        return out
    out.code_column = column_letter(table.code)
    out.name_column = column_letter(table.name) if table.name is not None else None
    out.indicator_columns = len(table.indicators)
    judge = assessment_rules.Judge(year=0, indicators=indicators)  # the checks need the set's indicators only
    ops = {r.code: r.op for rs in indicators.values() for r in rs}
    known = {table.code, *table.criteria.values(), *([table.name] if table.name is not None else []),
             *(index for _, index in table.indicators.values())}
    headed = {index for index, cell in enumerate(sheet.rows[0]) if header_key(cell.value)}
    seen: dict[str, int] = {}
    columns = tuple((criterion, code) for code, (criterion, _) in table.indicators.items())
    interned: dict[frozenset[int], frozenset[int]] = {}  # rows share their sets of marks: one object each
    found: Errors[RowError] = Errors()  # every error counted, the first ones kept
    # the reading of an indicator cell (its value, its problems) by (cell, indicator): a sheet's equal
    # cells are one object, so rows that repeat a value share one parsed value (a float each was ~9 MB
    # for 20,000 rows × 18 columns); the memo holds the cell, so its id stays its own
    memo: dict[tuple[int, str], tuple[Cell, Any, list[str]]] = {}
    rows = sheet.rows
    for number in range(2, len(rows) + 1):
        row = rows[number - 1]
        if consume:
            rows[number - 1] = []
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
            elif index not in headed and not _blank(cell.value):  # a column the set cannot know
                row_errors.append(RowError(number, column_letter(index), _text(cell.value),
                                           "this column has no header in row 1: head it with a criterion number or "
                                           "an indicator code, or leave its cells empty"))
        code_cell = _cell(row, table.code)
        code = commune_code(code_cell.value) if code_cell.kind is None else None
        if code is None:
            row_errors.append(RowError(number, column_letter(table.code), _shown(code_cell),
                                       f"{_not_a(code_cell)}not a commune code (5 digits, e.g. 02812)"))
        elif code in seen:
            row_errors.append(RowError(number, column_letter(table.code), code,
                                       f"commune {code} appears twice (also in row {seen[code]})"))
        else:
            seen[code] = number
        met: set[int] = set()
        blank: set[int] = set()
        for criterion, index in sorted(table.criteria.items()):
            cell = _cell(row, index)
            if cell.formula:
                continue
            if _blank(cell.value):
                blank.add(criterion)
                continue
            value = mark(cell.value) if cell.kind is None else None
            if value is None:
                row_errors.append(RowError(number, column_letter(index), _shown(cell),
                                           f"criterion {criterion}: {_not_a(cell)}not a mark ({MARKS_HELP})"))
            elif value:
                met.add(criterion)
        values: dict[int, dict[str, Any]] = {}
        for indicator, (criterion, index) in table.indicators.items():
            cell = _cell(row, index)
            if cell.formula:
                continue
            if cell.kind == DATE or (cell.kind == PERCENT and ops.get(indicator) == Op.boolean):
                hint = MARKS_HELP if ops.get(indicator) == Op.boolean else NUMBER_HELP
                row_errors.append(RowError(number, column_letter(index), _shown(cell),
                                           f"criterion {criterion}: {_not_a(cell).removesuffix(': ')} is not a "
                                           f"value of indicator {indicator} ({hint})"))
                continue
            known_reading = memo.get((id(cell), indicator))
            if known_reading is None:
                value = indicator_value(cell.value, ops.get(indicator), cell.kind)
                problems = [p.message for p in assessment_rules.indicator_errors(criterion, {indicator: value}, judge,
                                                                                 prefix="")]
                if len(memo) < MEMO_CELLS:
                    memo[(id(cell), indicator)] = (cell, value, problems)
            else:
                _, value, problems = known_reading
            values.setdefault(criterion, {})[indicator] = value
            for message in problems:
                hint = MARKS_HELP if ops.get(indicator) == Op.boolean else NUMBER_HELP
                row_errors.append(RowError(number, column_letter(index), _text(cell.value),
                                           f"criterion {criterion}: {message} ({hint})"))
        if row_errors:
            found.extend(row_errors)
            continue
        if len(blank) == len(table.criteria) and all(v is None for vs in values.values() for v in vs.values()):
            out.skipped += 1
            continue
        name_value = _cell(row, table.name).value
        name = nfc(str(name_value)) if not _blank(name_value) else None
        out.rows.append(ParsedRow(
            row=number, code=code, name=name,  # type: ignore[arg-type]
            met=interned.setdefault(frozenset(met), frozenset(met)),
            blank=interned.setdefault(frozenset(blank), frozenset(blank)),
            indicators=RowValues(columns, tuple(values.get(criterion, {}).get(code) for criterion, code in columns))))
    if consume:
        del rows[1:]
    out.errors, out.more = found.kept(), found.count - len(found.kept())
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
