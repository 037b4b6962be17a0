"""Reading uploaded spreadsheets (.xlsx or .csv) into plain rows of cell values, safely.

Pure: bytes (or a binary file) in, rows out; no database, no HTTP. What a file may be is
decided from its bytes, not from its name.

**Bounded memory, whatever the file's shape.** Nothing is read whole: a workbook is a zip of
XML, and each sheet's XML is streamed out of the archive through expat, one cell at a time;
a CSV is decoded line by line. Every limit is checked *before* what it guards is built: the
archive's entry count and unpacked size (from its directory), a sheet's declared dimension
(``<dimension ref="A1:X20001"/>``), then running counts of rows, columns, cells, characters
in a cell, and distinct values. Equal cells share one ``Cell`` object (a national table is
mostly the same few marks), so what is kept grows with the distinct values, which are capped
too. DTDs and entity declarations are refused (no entity is ever expanded). A formula cell is
read with its cached value and flagged, so that the import can report it.

**What a number was shown as.** A workbook stores 90 % as 0.9 and 10/05/2021 as 44326; only the
cell's number format (``s`` → ``xl/styles.xml``: ``cellXfs`` → ``numFmtId`` → built-in id or
custom ``numFmt``) tells them from plain numbers. The styles part is streamed once, as
defensively as the sheets, into one kind per style (``"date"``, ``"percent"`` or None), and a
numeric cell carries its kind (``Cell.kind``). A CSV has no formats: its cells are text.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Generic, NoReturn, Protocol, TypeVar
from xml.parsers import expat

from pydantic import BaseModel
from pydantic import Field as PField

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls
MAX_UNZIPPED_RATIO = 100  # a real workbook compresses ~5–20×; more smells like a zip bomb
MAX_ENTRIES = 1000  # files in the archive: a workbook has a few dozen
# per sheet (Excel allows 16,384). An assessment sheet has code + name + 19 criteria + one column per
# indicator of the set (tens) + the report's derived columns; plan sheets fewer.
MAX_COLUMNS = 200
MAX_STYLES = 65_536  # cell formats (cellXfs) in styles.xml: Excel's own limit is 64,000
MAX_NUMBER_FORMATS = 4_096  # custom number formats (Excel allows ~250)
MAX_CELL_CHARS = 2000  # characters in one cell
MAX_PART_BYTES = 4 * 1024 * 1024  # workbook.xml and its relationships (a few KB in practice)
MAX_LINE_CHARS = 64 * 1024  # one CSV line
CHUNK = 64 * 1024


class SheetError(Exception):
    """The upload is not a spreadsheet we can read. ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


DATE = "date"
PERCENT = "percent"


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell's value; ``formula``: typed as a formula (``value`` is its cached result); ``kind``:
    how a workbook showed a number (``"date"``: ``value`` is a date serial or an ISO text,
    ``"percent"``: ``value`` is the fraction, 0.9 for 90 %), None for anything else."""

    value: Any
    formula: bool = False
    kind: str | None = None


BLANK = Cell(None)


@dataclass
class Sheet:
    """One table: ``rows[i]`` is spreadsheet row ``i + 1`` (the header is row 1)."""

    name: str
    rows: list[list[Cell]] = field(default_factory=list)
    kind: str = "xlsx"


class Budget:
    """What one upload may keep: cell positions, distinct values and their characters. Equal
    cells are one shared object, so a legitimate national table (codes, names, a few marks) is
    far below every cap, and a hostile one is stopped before it costs memory."""

    def __init__(self, max_rows: int) -> None:
        # cells: a position is a pointer to a shared cell (8 bytes); 60 per row admits code, name,
        # 19 criteria and tens of indicator columns on every row of the largest upload
        self.max_cells = 60 * (max_rows + 1)
        # distinct values: each costs ~250 bytes of peak server memory through the import (its
        # text, its Cell, the interning entry, then the parsed value), so this cap is what keeps
        # the 50 MB promise (bench/upload_memory: at most 30.5 MB for the files at the cap, each
        # alone on a fresh server, 2026-12-01). It admits a code and a name per row plus ~4
        # columns of all-distinct measured values on 20,000 rows,
        # ~11 on 10,000 (the review's 8,000 × 12: 112,000); 20,000 × 30 distinct values does not
        # fit 50 MB with a Python object per value (≈ 120 MB measured) and stays refused (413).
        self.max_distinct = 6 * max_rows + 10_000
        self.max_chars = 4_000_000
        self.cells = 0
        self.chars = 0
        # (type, formula, kind) → value → the shared Cell: a percent 0.9, a plain 0.9 and a formula's
        # 0.9 are three cells; keyed by the value alone inside (no key tuple per distinct value)
        self._interned: dict[tuple[type, bool, str | None], dict[Any, Cell]] = {}
        self.distinct = 0

    def cell(self, value: Any, formula: bool = False, kind: str | None = None) -> Cell:
        if value is None and not formula:
            return BLANK
        group = self._interned.get((type(value), formula, kind))
        if group is None:
            group = self._interned[(type(value), formula, kind)] = {}
        found = group.get(value)
        if found is None:
            if self.distinct >= self.max_distinct:
                raise SheetError(f"The file holds more than {self.max_distinct:,} distinct cell values (the limit "
                                 "per upload).", status=413)
            if isinstance(value, str):
                self.chars += len(value)
                if self.chars > self.max_chars:
                    raise SheetError(f"The file holds more than {self.max_chars:,} characters of distinct text "
                                     "(the limit per upload).", status=413)
            found = group[value] = Cell(value, formula, kind)
            self.distinct += 1
        return found

    def row(self, width: int) -> None:
        self.cells += width
        if self.cells > self.max_cells:
            raise SheetError(f"The file has more than {self.max_cells:,} cells (the limit per upload).", status=413)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


Progress = Callable[[int, int | None], None]  # (rows read so far, rows in all when known)
PROGRESS_EVERY = 500
Source = bytes | IO[bytes]


def read(data: Source, *, max_rows: int, max_unzipped_bytes: int, progress: Progress | None = None) -> list[Sheet]:
    """Every sheet of the upload (a CSV is one sheet named ``csv``); ``progress`` is told every few
    hundred rows. ``data``: the bytes, or a seekable binary file (read in place, never whole)."""
    stream: IO[bytes] = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    stream.seek(0)
    start = stream.read(8192)
    stream.seek(0)
    if not start:
        raise SheetError("The file is empty.")
    budget = Budget(max_rows)
    if start.startswith(XLSX_MAGIC):
        return _read_xlsx(stream, max_rows=max_rows, max_unzipped_bytes=max_unzipped_bytes, progress=progress,
                          budget=budget)
    if start.startswith(OLE_MAGIC):
        raise SheetError(
            "This is an old binary Excel file (.xls); save it as an Excel workbook (.xlsx) or CSV and upload that.",
            status=415,
        )
    if b"\x00" in start:
        raise SheetError("The file is neither an Excel workbook (.xlsx) nor a CSV text file.", status=415)
    return [_read_csv(stream, max_rows=max_rows, progress=progress, budget=budget)]


# ---- CSV ----------------------------------------------------------------------------------------


def _read_csv(stream: IO[bytes], *, max_rows: int, progress: Progress | None, budget: Budget) -> Sheet:
    first = stream.readline(MAX_LINE_CHARS).decode("utf-8-sig", errors="replace")
    delimiter = max((",", ";", "\t"), key=first.count)
    total = None
    if progress:
        stream.seek(0)
        total = sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(CHUNK), b"")) + 1
    stream.seek(0)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")

    def lines() -> Iterator[str]:
        while line := text.readline(MAX_LINE_CHARS):
            if line.count(delimiter) >= MAX_COLUMNS:  # counted before the fields are made
                raise SheetError(f"A line of the CSV file has more than {MAX_COLUMNS} columns (the limit).",
                                 status=413)
            if len(line) >= MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
                raise SheetError(f"A line of the CSV file is longer than {MAX_LINE_CHARS:,} characters.", status=413)
            yield line

    sheet = Sheet(name="csv", kind="csv")
    try:
        for number, record in enumerate(csv.reader(lines(), delimiter=delimiter), start=1):
            if number > max_rows + 1:
                raise SheetError(f"The file has more than {max_rows} data rows (the limit per upload).", status=413)
            for index, value in enumerate(record):
                if len(value) > MAX_CELL_CHARS:
                    raise SheetError(f"Cell {column_letter(index)}{number} holds more than {MAX_CELL_CHARS:,} "
                                     "characters.")
            while record and not record[-1].strip():
                record.pop()
            budget.row(len(record))
            sheet.rows.append([budget.cell(value) if value else budget.cell("") for value in record])
            if progress and number % PROGRESS_EVERY == 0:
                progress(number, total)
    except UnicodeDecodeError:
        raise SheetError(
            "The CSV file is not UTF-8 text; save it as 'CSV UTF-8' or upload the .xlsx workbook.", status=415,
        ) from None
    except csv.Error as exc:
        raise SheetError(f"The CSV file cannot be read: {exc}.") from None
    finally:
        text.detach()  # leave the caller's file open
    return sheet


# ---- xlsx ---------------------------------------------------------------------------------------


def _check_archive(stream: IO[bytes], max_unzipped_bytes: int) -> zipfile.ZipFile:
    """Refuse what is not a workbook, has too many entries or unpacks too large."""
    size = stream.seek(0, io.SEEK_END)
    entries = _declared_entries(stream, size)
    if entries is not None and entries > MAX_ENTRIES:
        raise SheetError(f"The archive holds {entries:,} files; a workbook has a few dozen.", status=413)
    stream.seek(0)
    try:
        archive = zipfile.ZipFile(stream)
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise SheetError("The file looks like a zip archive but cannot be opened; it is not a valid .xlsx.",
                         status=415) from None
    if len(members) > MAX_ENTRIES:
        raise SheetError(f"The archive holds {len(members):,} files; a workbook has a few dozen.", status=413)
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names:
        raise SheetError("The file is a zip archive but not an Excel workbook (.xlsx).", status=415)
    unzipped = sum(m.file_size for m in members)
    if unzipped > max_unzipped_bytes or unzipped > MAX_UNZIPPED_RATIO * max(size, 1) + 1_000_000:
        raise SheetError(
            f"The workbook unpacks to {unzipped:,} bytes, more than this service accepts "
            f"({max_unzipped_bytes:,} bytes, at most {MAX_UNZIPPED_RATIO}× the upload).",
            status=413,
        )
    return archive


def _declared_entries(stream: IO[bytes], size: int) -> int | None:
    """The entry count in the archive's end record, read before the directory is parsed (a
    directory of a million entries would cost hundreds of MB to load)."""
    tail_size = min(size, 65_536 + 22)
    stream.seek(size - tail_size)
    tail = stream.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    entries = int.from_bytes(tail[at + 10:at + 12], "little")
    if entries == 0xFFFF or b"PK\x06\x06" in tail:  # zip64: a count this format cannot hold
        return MAX_ENTRIES + 1 if entries == 0xFFFF else entries
    return entries


_LOCAL: dict[str, str] = {}


def _local(name: str) -> str:
    """``c`` for ``c``, ``x:c`` or ``{ns}c`` (memoised: called for every element)."""
    found = _LOCAL.get(name)
    if found is None:
        found = name.rpartition("}")[2].rpartition(":")[2]
        if len(_LOCAL) < 1000:
            _LOCAL[name] = found
    return found


def _parser(start: Callable[..., None] | None = None, end: Callable[..., None] | None = None,
            text: Callable[[str], None] | None = None) -> Any:
    """An expat parser that refuses DTDs and entity declarations (nothing is ever expanded)."""
    parser = expat.ParserCreate()  # qualified names as written (`c`, `x:c`): no namespace work per element
    parser.buffer_text = True  # text in one call up to 8 KB (longer text still comes in pieces)

    def refuse(*_args: Any) -> NoReturn:
        raise SheetError("The workbook declares a DTD or XML entities, which are refused.")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    if start:
        parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text
    return parser


def _feed(parser: Any, member: IO[bytes]) -> None:
    try:
        while chunk := member.read(CHUNK):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise SheetError(f"The workbook cannot be read: its XML is malformed ({exc}).") from None


def _open(archive: zipfile.ZipFile, name: str, *, cap: int | None = None) -> IO[bytes]:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise SheetError(f"The workbook is damaged: {name} is missing.", status=415) from None
    if cap is not None and info.file_size > cap:
        raise SheetError(f"The workbook's {name} is larger than {cap:,} bytes.", status=413)
    return archive.open(info)


def _worksheets(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(name, archive path) of each worksheet, in the workbook's order."""
    sheets: list[tuple[str, str]] = []
    targets: dict[str, str] = {}

    def on_sheet(name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "sheet":
            rid = next((v for k, v in attrs.items() if _local(k) == "id" and k != "sheetId"), "")
            sheets.append((attrs.get("name", ""), rid))

    def on_rel(name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "Relationship" and attrs.get("Type", "").endswith("/worksheet"):
            target = attrs.get("Target", "")
            targets[attrs.get("Id", "")] = target.lstrip("/") if target.startswith("/") else "xl/" + target

    with _open(archive, "xl/workbook.xml", cap=MAX_PART_BYTES) as member:
        _feed(_parser(start=on_sheet), member)
    try:
        with _open(archive, "xl/_rels/workbook.xml.rels", cap=MAX_PART_BYTES) as member:
            _feed(_parser(start=on_rel), member)
    except SheetError as exc:
        if exc.status != 415:
            raise
    return [(name, targets[rid]) for name, rid in sheets if rid in targets]


def _shared_strings(archive: zipfile.ZipFile, budget: Budget) -> list[str]:
    """The shared strings table, within the upload's distinct-values and characters caps."""
    if "xl/sharedStrings.xml" not in archive.namelist():
        return []
    strings: list[str] = []
    parts: list[str] = []
    state = {"depth_rph": 0, "in_t": False, "chars": 0, "all": 0}

    def start(name: str, _attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "si":
            parts.clear()
            state["chars"] = 0
            if len(strings) >= budget.max_distinct:
                raise SheetError(f"The workbook holds more than {budget.max_distinct:,} distinct texts (the limit "
                                 "per upload).", status=413)
        elif local == "rPh":
            state["depth_rph"] += 1
        elif local == "t" and not state["depth_rph"]:
            state["in_t"] = True

    def end(name: str) -> None:
        local = _local(name)
        if local == "si":
            strings.append("".join(parts))
        elif local == "rPh":
            state["depth_rph"] -= 1
        elif local == "t":
            state["in_t"] = False

    def text(data: str) -> None:
        if state["in_t"]:
            state["chars"] += len(data)
            state["all"] += len(data)
            if state["chars"] > MAX_CELL_CHARS:
                raise SheetError(f"A text of the workbook holds more than {MAX_CELL_CHARS:,} characters.")
            if state["all"] > budget.max_chars:
                raise SheetError(f"The workbook holds more than {budget.max_chars:,} characters of text (the limit "
                                 "per upload).", status=413)
            parts.append(data)

    with archive.open("xl/sharedStrings.xml") as member:
        _feed(_parser(start, end, text), member)
    return strings


# Built-in number formats (ECMA-376 §18.8.30) that show a number as a date/time or a percentage.
# Ids 27–36 and 50–58 are dates only in East Asian locales: left plain, as their formats are unknown.
_BUILTIN_KINDS: dict[int, str] = {9: PERCENT, 10: PERCENT, **dict.fromkeys([*range(14, 23), 45, 46, 47], DATE)}
_LITERALS = re.compile(r'"[^"]*"?|\\.|[_*].?|\[[^\]]*\]?')  # quoted text, \x, _x / *x, [colour, locale, …]
_ELAPSED = re.compile(r"\[(?:h+|m+|s+)\]", re.IGNORECASE)  # [h]:mm, [mm]:ss: a duration, shown as time
_DATE_TOKENS = frozenset("dmyhsDMYHS")
_FORMAT_KINDS: dict[str, str | None] = {}


def format_kind(code: str) -> str | None:
    """``"date"`` when a number format shows a date or time (a d, m, y, h or s token, or an elapsed
    ``[h]``, outside quotes and brackets), ``"percent"`` when it shows a percentage (a ``%`` outside
    quotes), else None: ``d/m/yyyy``, ``[$-409]d/m/yyyy;@`` and ``[h]:mm`` are dates; ``0.0%`` is a
    percentage; ``0.0"%"``, ``[Red]0.0``, ``General`` and ``@`` are plain."""
    found = _FORMAT_KINDS.get(code, "")
    if found != "":
        return found
    bare = _LITERALS.sub("", code)
    if _ELAPSED.search(code):
        found = DATE
    elif bare.lower() == "general":
        found = None
    elif any(ch in _DATE_TOKENS for ch in bare):
        found = DATE
    elif "%" in bare:
        found = PERCENT
    else:
        found = None
    if len(_FORMAT_KINDS) < 10_000:
        _FORMAT_KINDS[code] = found
    return found


def _styles(archive: zipfile.ZipFile) -> list[str | None]:
    """The kind of each cell format (a cell's ``s`` is an index into ``cellXfs``): streamed, DTDs
    refused, counts and lengths capped; a workbook without styles shows every number plain."""
    if "xl/styles.xml" not in archive.namelist():
        return []
    custom: dict[int, str | None] = {}
    kinds: list[str | None] = []
    state = {"in_xfs": False}

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "numFmt":
            if len(custom) >= MAX_NUMBER_FORMATS:
                raise SheetError(f"The workbook defines more than {MAX_NUMBER_FORMATS:,} number formats.", status=413)
            code = attrs.get("formatCode", "")
            if len(code) > MAX_CELL_CHARS:
                raise SheetError(f"A number format of the workbook is longer than {MAX_CELL_CHARS:,} characters.")
            given = attrs.get("numFmtId", "")
            if given.isdigit():
                custom[int(given)] = format_kind(code)
        elif local == "cellXfs":
            state["in_xfs"] = True
        elif local == "xf" and state["in_xfs"]:
            if len(kinds) >= MAX_STYLES:
                raise SheetError(f"The workbook defines more than {MAX_STYLES:,} cell formats.", status=413)
            given = attrs.get("numFmtId", "0")
            number = int(given) if given.isdigit() and len(given) < 10 else 0
            kinds.append(custom[number] if number in custom else _BUILTIN_KINDS.get(number))

    def end(name: str) -> None:
        if _local(name) == "cellXfs":
            state["in_xfs"] = False

    with archive.open("xl/styles.xml") as member:
        _feed(_parser(start, end), member)
    return kinds


_REF = re.compile(r"([A-Z]{1,3})([0-9]{1,7})$")
_DIGITS = "0123456789"
_COLUMNS: dict[str, int] = {}


def _column_index(letters: str) -> int:
    found = _COLUMNS.get(letters)
    if found is None:
        found = -1
        for ch in letters:
            found = (found + 1) * 26 + ord(ch) - 65 if found >= 0 else ord(ch) - 65
        if not letters.isascii() or not letters.isalpha() or not letters.isupper() or len(letters) > 3:
            raise SheetError("The workbook is damaged: a cell reference is not valid.")
        if len(_COLUMNS) < 20_000:
            _COLUMNS[letters] = found
    return found


def _number(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text


class _SheetReader:
    """expat callbacks over one worksheet's XML: checks, then keeps, one cell at a time."""

    def __init__(self, name: str, *, shared: list[str], budget: Budget, max_rows: int,
                 progress: Progress | None, styles: list[str | None] | None = None) -> None:
        self.sheet = Sheet(name=name)
        self.shared, self.budget, self.max_rows, self.progress = shared, budget, max_rows, progress
        self.styles = styles or []
        self.style_kind: str | None = None
        self.declared_rows: int | None = None
        self.row_number = 0
        self.row: list[Cell] = []
        self.next_column = 0
        self.in_cell = self.collecting = self.formula = False
        self.in_inline = 0
        self.rph = 0
        self.cell_type = "n"
        self.column = 0
        self.parts: list[str] = []
        self.chars = 0

    def _too_many_rows(self) -> SheetError:
        return SheetError(f"Sheet {self.sheet.name!r} has more than {self.max_rows} data rows (the limit per upload).",
                          status=413)

    def _too_many_columns(self) -> SheetError:
        return SheetError(f"Sheet {self.sheet.name!r} has more than {MAX_COLUMNS} columns (the limit).", status=413)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = _LOCAL.get(name) or _local(name)
        if local == "c":
            ref = attrs.get("r")
            self.column = _column_index(ref.rstrip(_DIGITS)) if ref else self.next_column
            if self.column >= MAX_COLUMNS:
                raise self._too_many_columns()
            self.cell_type = attrs.get("t", "n")
            style = attrs.get("s")
            self.style_kind = None
            if style and self.styles:
                index = int(style) if style.isdigit() and len(style) < 10 else -1
                self.style_kind = self.styles[index] if 0 <= index < len(self.styles) else None
            self.in_cell, self.formula = True, False
            self.parts, self.chars = [], 0
        elif local == "v" and self.in_cell:
            self.collecting = True
        elif local == "is" and self.in_cell:
            self.in_inline += 1
        elif local == "rPh":
            self.rph += 1
        elif local == "t" and self.in_inline and not self.rph:
            self.collecting = True
        elif local == "f" and self.in_cell:
            self.formula = True
        elif local == "row":
            given = attrs.get("r", "")
            number = int(given) if given.isdigit() else self.row_number + 1
            if number <= self.row_number:
                raise SheetError(f"Sheet {self.sheet.name!r} is damaged: its rows are out of order.")
            if number > self.max_rows + 1:
                raise self._too_many_rows()
            self.row_number = number
            self.row, self.next_column = [], 0
        elif local == "dimension":
            last = attrs.get("ref", "").rpartition(":")[2]
            if found := _REF.match(last):
                if _column_index(found.group(1)) >= MAX_COLUMNS:
                    raise self._too_many_columns()
                self.declared_rows = int(found.group(2))
                if self.declared_rows > self.max_rows + 1:
                    raise self._too_many_rows()

    def text(self, data: str) -> None:
        if self.collecting:
            self.chars += len(data)
            if self.chars > MAX_CELL_CHARS:
                raise SheetError(f"Cell {column_letter(self.column)}{self.row_number} of sheet {self.sheet.name!r} "
                                 f"holds more than {MAX_CELL_CHARS:,} characters.")
            self.parts.append(data)

    def end(self, name: str) -> None:
        local = _LOCAL.get(name) or _local(name)
        if local == "v" or local == "t":
            self.collecting = False
        elif local == "is":
            self.in_inline -= 1
        elif local == "rPh":
            self.rph -= 1
        elif local == "c":
            self.in_cell = False
            self.next_column = self.column + 1
            value = self._value("".join(self.parts))
            if value is None and not self.formula:
                return
            if len(self.row) < self.column:
                self.row.extend([BLANK] * (self.column - len(self.row)))
            kind = None
            if self.cell_type == "d":
                kind = DATE
            elif self.style_kind is not None and self.cell_type == "n" and isinstance(value, int | float):
                kind = self.style_kind
            cell = self.budget.cell(value, self.formula, kind)
            if len(self.row) == self.column:
                self.row.append(cell)
            else:
                self.row[self.column] = cell
        elif local == "row":
            while self.row and _blank(self.row[-1].value) and not self.row[-1].formula:
                self.row.pop()
            self.budget.row(len(self.row))
            rows = self.sheet.rows
            while len(rows) < self.row_number - 1:
                rows.append([])
            rows.append(self.row)
            self.row = []
            if self.progress and self.row_number % PROGRESS_EVERY == 0:
                self.progress(self.row_number, self.declared_rows)

    def _value(self, text: str) -> Any:
        kind = self.cell_type
        if kind == "s":
            if not text.strip():
                return None
            try:
                return self.shared[int(text)]
            except (ValueError, IndexError):
                raise SheetError(f"Sheet {self.sheet.name!r} is damaged: a cell names a text that does not "
                                 "exist.") from None
        if kind == "b":
            return text.strip() == "1"
        if kind in ("inlineStr", "str", "e", "d"):
            return text if text else None
        return _number(text)


def _read_xlsx(stream: IO[bytes], *, max_rows: int, max_unzipped_bytes: int, progress: Progress | None,
               budget: Budget) -> list[Sheet]:
    archive = _check_archive(stream, max_unzipped_bytes)
    try:
        shared = _shared_strings(archive, budget)
        styles = _styles(archive)
        sheets: list[Sheet] = []
        for name, path in _worksheets(archive):
            reader = _SheetReader(name, shared=shared, budget=budget, max_rows=max_rows, progress=progress,
                                  styles=styles)
            with _open(archive, path) as member:
                _feed(_parser(reader.start, reader.end, reader.text), member)
            sheets.append(reader.sheet)
        return sheets
    except SheetError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zipfile.LargeZipFile, RuntimeError) as exc:
        raise SheetError(f"The workbook's archive is damaged ({_reason(exc)}).", status=415) from None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _reason(exc: Exception) -> str:
    text = str(exc).strip().rstrip(".")
    return text[:200] if text else type(exc).__name__


# ---- the error of one row, as uploads of every kind answer it ---------------------------------


class ImportRowError(BaseModel):
    """One error of an upload: where in the sheet, the value read, and why it was refused."""

    row: int = PField(description="Spreadsheet row number; the header is row 1", examples=[5])
    column: str | None = PField(description="Spreadsheet column letter, when the error is in one cell",
                                examples=["D"])
    value: str | None = PField(description="The cell's value as read", examples=["có lẽ"])
    message: str = PField(examples=["criterion 2: not a mark (met: x, Đạt, 1, true; not met: empty, Không, 0, false)"])


MAX_LISTED_ERRORS = 1000  # contract v1.3: at most 1,000 errors listed, then one entry "and N more"


class _Located(Protocol):
    @property
    def row(self) -> int: ...

    @property
    def column(self) -> str | None: ...


E = TypeVar("E", bound=_Located)


def error_order(error: _Located) -> tuple[int, str]:
    """How an upload's errors are listed: by row, then column (ties: in the order found)."""
    return error.row, error.column or ""


class Errors(Generic[E]):
    """An upload's errors in bounded memory: every one counted (``count``), but only the first
    ``cap`` + 1 in ``error_order`` kept (the one past the cap gives the "and N more" entry its row),
    whatever order they are added in: the list is sorted (stably) and cut whenever it reaches twice
    that, so a file of 400,000 errors never holds more than ~2,000."""

    def __init__(self, cap: int = MAX_LISTED_ERRORS) -> None:
        self.cap = cap
        self.count = 0
        self._kept: list[E] = []

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, error: E) -> None:
        self.count += 1
        self._kept.append(error)
        if len(self._kept) >= 2 * (self.cap + 1):
            self._cut()

    def extend(self, errors: Errors[E] | list[E]) -> None:
        """Add another list's errors; all of another ``Errors`` counted, its kept ones added."""
        if isinstance(errors, Errors):
            for error in errors.kept():
                self.add(error)
            self.count += errors.count - len(errors.kept())
        else:
            for error in errors:
                self.add(error)

    def tally(self, count: int) -> None:
        """Count ``count`` errors known to come after every one kept (another list's rest)."""
        self.count += count

    def _cut(self) -> None:
        self._kept.sort(key=error_order)
        del self._kept[self.cap + 1:]

    def kept(self) -> list[E]:
        """The first ``cap`` + 1 (at most), in ``error_order``."""
        self._cut()
        return list(self._kept)

    def listed(self, more: Callable[[int, str], E]) -> list[E]:
        """As an answer lists them: the first ``cap``, then ``more(row, "and N more")`` (the row of
        the first one left out) when there are more."""
        kept = self.kept()
        if self.count <= self.cap:
            return kept
        return [*kept[:self.cap], more(kept[self.cap].row, f"and {self.count - self.cap} more")]
