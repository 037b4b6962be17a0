"""Reading uploaded spreadsheets (.xlsx or .csv) into plain rows of cell values, safely.

Pure: bytes in, rows out; no database, no HTTP. What a file may be is decided from its
bytes, not from its name. Workbooks are zip archives of XML: the archive is checked for
size and compression ratio before it is opened. Workbooks without formulas (the usual
case) are read by calamine (``python-calamine``, Rust; ~20× faster than openpyxl on a
national workbook, and its XML reader never expands DTD entities). A workbook with formula
cells is read by openpyxl, which says which cells hold formulas so each can be reported;
openpyxl parses through ``defusedxml`` (a dependency), refusing entities and DTDs.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls
MAX_UNZIPPED_RATIO = 100  # a real workbook compresses ~5–20×; more smells like a zip bomb
_FORMULA_ELEMENT = re.compile(rb"<(?:\w+:)?f[\s/>]")  # <f>…</f>, <f t="shared" …/>, <x:f>


class SheetError(Exception):
    """The upload is not a spreadsheet we can read. ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Cell:
    value: Any
    formula: bool = False


@dataclass
class Sheet:
    """One table: ``rows[i]`` is spreadsheet row ``i + 1`` (the header is row 1)."""

    name: str
    rows: list[list[Cell]] = field(default_factory=list)
    kind: str = "xlsx"


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


def read(data: bytes, *, max_rows: int, max_unzipped_bytes: int, progress: Progress | None = None) -> list[Sheet]:
    """Every sheet of the upload (a CSV is one sheet named ``csv``); ``progress`` is told every few hundred rows."""
    if not data:
        raise SheetError("The file is empty.")
    if data.startswith(XLSX_MAGIC):
        return _read_xlsx(data, max_rows=max_rows, max_unzipped_bytes=max_unzipped_bytes, progress=progress)
    if data.startswith(OLE_MAGIC):
        raise SheetError(
            "This is an old binary Excel file (.xls); save it as an Excel workbook (.xlsx) or CSV and upload that.",
            status=415,
        )
    return [_read_csv(data, max_rows=max_rows, progress=progress)]


def _read_csv(data: bytes, *, max_rows: int, progress: Progress | None = None) -> Sheet:
    if b"\x00" in data[:8192]:
        raise SheetError("The file is neither an Excel workbook (.xlsx) nor a CSV text file.", status=415)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetError(
            f"The CSV file is not UTF-8 text (byte {exc.start} is not valid UTF-8); "
            "save it as 'CSV UTF-8' or upload the .xlsx workbook.",
            status=415,
        ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    sheet = Sheet(name="csv", kind="csv")
    total = text.count("\n") + 1 if progress else None
    try:
        for number, record in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            if number > max_rows + 1:
                raise SheetError(f"The file has more than {max_rows} data rows (the limit per upload).", status=413)
            sheet.rows.append([Cell(value) for value in record])
            if progress and number % PROGRESS_EVERY == 0:
                progress(number, total)
    except csv.Error as exc:
        raise SheetError(f"The CSV file cannot be read: {exc}.") from None
    return sheet


def _check_archive(data: bytes, max_unzipped_bytes: int) -> bool:
    """Refuse what is not a workbook or unpacks too large; tell whether any sheet holds a formula."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise SheetError("The file looks like a zip archive but cannot be opened; it is not a valid .xlsx.",
                         status=415) from None
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names:
        raise SheetError("The file is a zip archive but not an Excel workbook (.xlsx).", status=415)
    unzipped = sum(m.file_size for m in members)
    if unzipped > max_unzipped_bytes or unzipped > MAX_UNZIPPED_RATIO * max(len(data), 1) + 1_000_000:
        raise SheetError(
            f"The workbook unpacks to {unzipped:,} bytes, more than this service accepts "
            f"({max_unzipped_bytes:,} bytes, at most {MAX_UNZIPPED_RATIO}× the upload).",
            status=413,
        )
    try:
        return any(_FORMULA_ELEMENT.search(archive.read(m)) for m in members
                   if m.filename.startswith("xl/worksheets/") and m.filename.endswith(".xml"))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, zipfile.LargeZipFile):
        raise SheetError("The workbook's archive is damaged.", status=415) from None


def _read_xlsx(data: bytes, *, max_rows: int, max_unzipped_bytes: int, progress: Progress | None) -> list[Sheet]:
    if not _check_archive(data, max_unzipped_bytes):
        return _read_calamine(data, max_rows=max_rows, progress=progress)
    import openpyxl  # imported on use: only uploads with formulas need it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Data Validation extension is not supported"
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for broken or hostile files
        raise SheetError(f"The workbook cannot be read: {_reason(exc)}.", status=422) from None
    sheets: list[Sheet] = []
    try:
        for ws in book.worksheets:
            sheet = Sheet(name=ws.title)
            total = ws.max_row if progress else None  # from the sheet's declared dimension, when it has one
            for number, row in enumerate(_rows(ws), start=1):
                if number > max_rows + 1:
                    raise SheetError(f"Sheet {ws.title!r} has more than {max_rows} data rows (the limit per upload).",
                                     status=413)
                sheet.rows.append(row)
                if progress and number % PROGRESS_EVERY == 0:
                    progress(number, total)
            sheets.append(sheet)
    except SheetError:
        raise
    except Exception as exc:
        raise SheetError(f"The workbook cannot be read: {_reason(exc)}.", status=422) from None
    finally:
        book.close()
    return sheets


def _read_calamine(data: bytes, *, max_rows: int, progress: Progress | None) -> list[Sheet]:
    import python_calamine

    sheets: list[Sheet] = []
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        for name in book.sheet_names:
            ws = book.get_sheet_by_name(name)
            if ws.height > max_rows + 1:
                raise SheetError(f"Sheet {name!r} has more than {max_rows} data rows (the limit per upload).",
                                 status=413)
            sheet = Sheet(name=name)
            for number, values in enumerate(ws.to_python(skip_empty_area=False), start=1):
                cells = [Cell(v) for v in values]
                while cells and _blank(cells[-1].value):
                    cells.pop()
                sheet.rows.append(cells)
                if progress and number % PROGRESS_EVERY == 0:
                    progress(number, ws.height)
            sheets.append(sheet)
    except SheetError:
        raise
    except Exception as exc:  # calamine raises its own kinds for broken or hostile files
        raise SheetError(f"The workbook cannot be read: {_reason(exc)}.", status=422) from None
    return sheets


def _rows(ws: Any) -> Iterator[list[Cell]]:
    for row in ws.iter_rows():
        cells = [Cell(c.value, formula=getattr(c, "data_type", None) == "f") for c in row]
        while cells and _blank(cells[-1].value):
            cells.pop()
        yield cells


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _reason(exc: Exception) -> str:
    name = type(exc).__name__
    if "DTD" in name or "Entit" in name or "Forbidden" in name:
        return "it declares XML entities or a DTD, which are refused"
    text = str(exc).strip().rstrip(".")
    return text[:200] if text else name
