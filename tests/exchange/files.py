"""Building upload files for the import tests."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

HEADER_19 = ["Mã xã", "Tên xã", *[str(n) for n in range(1, 20)]]


def marks(met: Iterable[int] | int, count: int = 19, yes: Any = "x", no: Any = "") -> list[Any]:
    met_set = set(range(1, met + 1)) if isinstance(met, int) else set(met)
    return [yes if n in met_set else no for n in range(1, count + 1)]


def xlsx(rows: Sequence[Sequence[Any]], *, title: str = "Đánh giá", extra_sheets: Sequence[str] = ()) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    for name in extra_sheets:  # sheets before the table
        book.create_sheet(name, 0).append(["Ghi chú"])
    ws = book.worksheets[len(extra_sheets)]
    ws.title = title
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: Sequence[Sequence[Any]], *, delimiter: str = ",", bom: bool = True) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def upload(client, data: bytes, *, year: int = 2021, dry_run: bool = False, name: str = "import.xlsx",
                 headers: dict[str, str] | None = None):
    return await client.post(
        "/api/v1/imports/assessments", params={"year": year, "dry_run": str(dry_run).lower()},
        files={"file": (name, data, XLSX if name.endswith(".xlsx") else "text/csv")}, headers=headers or {},
    )


def raw_xlsx(sheet_xml: bytes | Iterable[bytes], *, shared: Sequence[str] = (), name: str = "Đánh giá",
             compression: int | None = None) -> bytes:
    """A workbook written by hand (no library normalises it): for crafted, hostile shapes. ``sheet_xml``
    is the worksheet's XML, or pieces of it written one after another (streamed into the archive)."""
    import zipfile
    from xml.sax.saxutils import escape

    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression or zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                         'package/2006/content-types"/>')
        archive.writestr("xl/workbook.xml", f'<?xml version="1.0"?><workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
                         f'<sheet name="{escape(name)}" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.'
                         'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
                         'openxmlformats.org/officeDocument/2006/relationships/worksheet" '
                         'Target="worksheets/sheet1.xml"/></Relationships>')
        if shared:
            archive.writestr("xl/sharedStrings.xml", f'<?xml version="1.0"?><sst xmlns="{main}">'
                             + "".join(f"<si><t>{escape(s)}</t></si>" for s in shared) + "</sst>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for piece in [sheet_xml] if isinstance(sheet_xml, bytes) else sheet_xml:
                member.write(piece)
    return out.getvalue()


def sheet_xml(rows: Iterable[bytes], *, dimension: str | None = None) -> Iterable[bytes]:
    """A worksheet around ``rows`` (each ``<row>…</row>``), optionally declaring its dimension."""
    yield b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    if dimension:
        yield f'<dimension ref="{dimension}"/>'.encode()
    yield b"<sheetData>"
    yield from rows
    yield b"</sheetData></worksheet>"


def inline_row(number: int, values: Sequence[str]) -> bytes:
    from xml.sax.saxutils import escape

    from openpyxl.utils import get_column_letter

    cells = "".join(f'<c r="{get_column_letter(i + 1)}{number}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
                    for i, v in enumerate(values))
    return f'<row r="{number}">{cells}</row>'.encode()
